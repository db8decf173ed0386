/**
 * The parser-level fuzz harness: feed bytes to a `RequestParser` (no sockets), whole and in
 * pieces, and check what must hold for any input:
 *
 * - nothing but `HttpParseError` is thrown, and only with a status we answer (400, 413, 414,
 *   417, 431, 501, 505);
 * - progress: every request handed over consumed bytes, `next()` that asked for more bytes asks
 *   again when called again (it never leaves work undone that a caller would wait on), at most
 *   one request per 16 bytes; a hang inside `next()` is caught by the campaign's watchdog;
 * - split-invariance: the requests (every field, body bytes) and the end state (same error
 *   status, or waiting with the same bytes buffered) are the same whole as in pieces;
 * - every request handed over is well-formed (a token method, a visible-ASCII target, lower-case
 *   token names, clean values, one Host and one Content-Length at most, a body of exactly the
 *   framed length, within the limits) and its body stays intact while later bytes are parsed.
 *
 * `minimize()` shrinks a failing input by deleting bytes while the same failure persists;
 * `runSlice()` is one worker's loop; `runCampaign()` runs workers with a hang watchdog.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { ParsedRequest } from '../../src/http/parsed-request.js';
import { HttpParseError, RequestParser, type ParserLimits } from '../../src/http/request-parser.js';
import { SeededRandom, randomSplit } from '../helpers/seeded-random.js';
import { generateCase, type FuzzCase } from './generators.js';

/** Statuses the parser may refuse with. */
export const PARSE_STATUSES: ReadonlySet<number> = new Set([400, 413, 414, 417, 431, 501, 505]);

/** The smallest possible request, `A / HTTP/1.0` CRLF CRLF, is 16 bytes. */
const MIN_REQUEST_BYTES = 16;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const LOWER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const TARGET = /^[\x21-\x7e]+$/;
// RFC 3986 host (reg-name, IPv4, IP literal) with an optional port: what Host may be.
const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.vV]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(?::\d*)?$/;
const FIELD_VALUE = /^(?:[\x21-\x7e\x80-\xff](?:[\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?$/;

// ------------------------------------------------------------------------------------------------
// Outcomes

/** A copy of everything a `ParsedRequest` reports (the parser's objects may be reused). */
export interface RequestSnapshot {
  method: string;
  target: string;
  isHttp11: boolean;
  path: string;
  query: string;
  headerNames: string[];
  headerValues: string[];
  host: string | undefined;
  contentLength: number;
  transferEncoding: string | undefined;
  connectionClose: boolean;
  connectionKeepAlive: boolean;
  connectionUpgrade: boolean;
  upgradeHeader: string | undefined;
  expectContinue: boolean;
  keepAlive: boolean;
  /** The body as latin1. */
  body: string;
}

/** How feeding ended: refused, or waiting for more bytes. */
export type End =
  | { kind: 'error'; status: number; message: string }
  | { kind: 'wait'; buffered: number; midRequest: boolean; needsContinue: boolean };

/** What a parser made of some bytes. */
export interface Outcome {
  requests: RequestSnapshot[];
  end: End;
}

/** A property of the harness that did not hold. */
export class FuzzFailure extends Error {
  /** A short stable name of what failed ('crash', 'split-mismatch', 'invariant', …). */
  readonly kind: string;

  constructor(kind: string, message: string) {
    super(message);
    this.name = 'FuzzFailure';
    this.kind = kind;
  }
}

function snapshot(req: ParsedRequest): RequestSnapshot {
  return {
    method: req.method,
    target: req.target,
    isHttp11: req.isHttp11,
    path: req.path,
    query: req.query,
    headerNames: req.headers.filter((_, i) => i % 2 === 0),
    headerValues: req.headers.filter((_, i) => i % 2 === 1),
    host: req.host,
    contentLength: req.contentLength,
    transferEncoding: req.transferEncoding,
    connectionClose: req.connectionClose,
    connectionKeepAlive: req.connectionKeepAlive,
    connectionUpgrade: req.connectionUpgrade,
    upgradeHeader: req.upgradeHeader,
    expectContinue: req.expectContinue,
    keepAlive: req.keepAlive,
    body: req.body.toString('latin1'),
  };
}

/** The well-formedness every request handed to an app must have (request smuggling guards). */
function checkRequest(req: RequestSnapshot, limits: ParserLimits): string | undefined {
  if (!TOKEN.test(req.method)) return `method ${JSON.stringify(req.method)} is not a token`;
  if (!TARGET.test(req.target)) return `target ${JSON.stringify(req.target)} has invalid bytes`;
  if (req.headerNames.length !== req.headerValues.length)
    return 'header names/values differ in length';
  let hosts = 0;
  let lengths = 0;
  for (let i = 0; i < req.headerNames.length; i++) {
    const name = req.headerNames[i]!;
    const value = req.headerValues[i]!;
    if (!LOWER_TOKEN.test(name))
      return `header name ${JSON.stringify(name)} is not a lower-case token`;
    if (!FIELD_VALUE.test(value))
      return `header ${name} value ${JSON.stringify(value)} is not clean`;
    if (name === 'host') hosts++;
    if (name === 'content-length') lengths++;
  }
  if (hosts > 1) return 'more than one Host';
  if (lengths > 1) return 'more than one Content-Length';
  if (req.isHttp11 && req.host === undefined) return 'HTTP/1.1 without a host';
  if (req.host !== undefined && !HOST_VALUE.test(req.host))
    return `host ${JSON.stringify(req.host)} is not host[:port]`;
  if (req.path !== '*' && !req.path.startsWith('/')) return `path ${JSON.stringify(req.path)}`;
  if (req.query.includes('#') || req.path.includes('#') || req.path.includes('?'))
    return `path/query split ${JSON.stringify([req.path, req.query])}`;
  if (req.body.length > limits.maxBodySize)
    return `body of ${req.body.length} bytes over the limit`;
  if (req.transferEncoding !== undefined) {
    if (req.contentLength !== -1) return 'both Transfer-Encoding and Content-Length';
    if (!req.isHttp11) return 'Transfer-Encoding on HTTP/1.0';
    const codings = req.transferEncoding
      .split(',')
      .map((c) => c.replace(/^[ \t]+|[ \t]+$/g, '').toLowerCase())
      .filter((c) => c !== '');
    if (codings.length !== 1 || codings[0] !== 'chunked')
      return `Transfer-Encoding ${JSON.stringify(req.transferEncoding)} accepted`;
  } else {
    const expected = Math.max(0, req.contentLength);
    if (req.body.length !== expected)
      return `body of ${req.body.length} bytes for Content-Length ${req.contentLength}`;
    if (req.contentLength > limits.maxBodySize) return 'Content-Length over the limit accepted';
  }
  return undefined;
}

/**
 * Feed `pieces` one after the other, draining requests after each; stops at the first refusal.
 * @throws FuzzFailure when a property of the harness does not hold
 */
export function feed(pieces: readonly Buffer[], limits: ParserLimits): Outcome {
  const parser = new RequestParser(limits);
  const requests: RequestSnapshot[] = [];
  const live: ParsedRequest[] = [];
  let total = 0;
  try {
    for (const piece of pieces) {
      parser.push(piece);
      total += piece.length;
      for (;;) {
        const before = parser.bufferedBytes();
        const req = parser.next();
        if (req === null) {
          // Asked for more bytes: asking again without any must change nothing, or a server
          // waiting for bytes that never come would hang on work it could have done.
          const waiting = parser.bufferedBytes();
          let again: ParsedRequest | null;
          try {
            again = parser.next();
          } catch (error) {
            throw new FuzzFailure(
              'stall',
              `next() asked for more bytes, then threw: ${String(error)}`,
            );
          }
          if (again !== null || parser.bufferedBytes() !== waiting)
            throw new FuzzFailure(
              'stall',
              'next() asked for more bytes, then moved on without any',
            );
          break;
        }
        if (parser.bufferedBytes() >= before)
          throw new FuzzFailure('no-progress', 'a request was handed over without consuming bytes');
        const snap = snapshot(req);
        const bad = checkRequest(snap, limits);
        if (bad) throw new FuzzFailure('invariant', `request #${requests.length}: ${bad}`);
        requests.push(snap);
        live.push(req);
        if (requests.length * MIN_REQUEST_BYTES > total)
          throw new FuzzFailure('no-progress', `${requests.length} requests from ${total} bytes`);
      }
    }
  } catch (error) {
    if (error instanceof FuzzFailure) throw error;
    if (!(error instanceof HttpParseError)) {
      const e = error as Error;
      throw new FuzzFailure('crash', `${e?.name ?? typeof error}: ${e?.message ?? String(error)}`);
    }
    if (!PARSE_STATUSES.has(error.status))
      throw new FuzzFailure('bad-status', `refused with ${error.status}: ${error.message}`);
    if (error.message.length === 0)
      throw new FuzzFailure('bad-status', 'refusal without a message');
    checkBodies(live, requests);
    return { requests, end: { kind: 'error', status: error.status, message: error.message } };
  }
  checkBodies(live, requests);
  return {
    requests,
    end: {
      kind: 'wait',
      buffered: parser.bufferedBytes(),
      midRequest: parser.isMidRequest(),
      needsContinue: parser.needsContinue,
    },
  };
}

/** Bodies handed over earlier must not change while later bytes are parsed. */
function checkBodies(live: readonly ParsedRequest[], snaps: readonly RequestSnapshot[]): void {
  for (let i = 0; i < live.length; i++) {
    if (live[i]!.body.toString('latin1') !== snaps[i]!.body)
      throw new FuzzFailure(
        'body-changed',
        `request #${i}'s body changed after it was handed over`,
      );
  }
}

const SNAPSHOT_KEYS: ReadonlyArray<keyof RequestSnapshot> = [
  'method',
  'target',
  'isHttp11',
  'path',
  'query',
  'host',
  'contentLength',
  'transferEncoding',
  'connectionClose',
  'connectionKeepAlive',
  'connectionUpgrade',
  'upgradeHeader',
  'expectContinue',
  'keepAlive',
  'body',
];

/** The first difference between two outcomes, or undefined. */
export function diffOutcomes(a: Outcome, b: Outcome): string | undefined {
  const n = Math.min(a.requests.length, b.requests.length);
  for (let i = 0; i < n; i++) {
    const x = a.requests[i]!;
    const y = b.requests[i]!;
    for (const k of SNAPSHOT_KEYS) {
      if (x[k] !== y[k])
        return `request #${i} ${k}: ${JSON.stringify(x[k])} vs ${JSON.stringify(y[k])}`;
    }
    if (x.headerNames.join('\n') !== y.headerNames.join('\n'))
      return `request #${i} header names: ${JSON.stringify(x.headerNames)} vs ${JSON.stringify(y.headerNames)}`;
    if (x.headerValues.join('\n') !== y.headerValues.join('\n'))
      return `request #${i} header values: ${JSON.stringify(x.headerValues)} vs ${JSON.stringify(y.headerValues)}`;
  }
  if (a.requests.length !== b.requests.length)
    return `${a.requests.length} vs ${b.requests.length} requests`;
  const ea = a.end;
  const eb = b.end;
  if (ea.kind !== eb.kind) return `end ${describeEnd(ea)} vs ${describeEnd(eb)}`;
  if (ea.kind === 'error' && eb.kind === 'error' && ea.status !== eb.status)
    return `end ${describeEnd(ea)} vs ${describeEnd(eb)}`;
  if (
    ea.kind === 'wait' &&
    eb.kind === 'wait' &&
    (ea.buffered !== eb.buffered ||
      ea.midRequest !== eb.midRequest ||
      ea.needsContinue !== eb.needsContinue)
  )
    return `end ${describeEnd(ea)} vs ${describeEnd(eb)}`;
  return undefined;
}

/** One line for an end state. */
export function describeEnd(e: End): string {
  return e.kind === 'error'
    ? `error ${e.status} (${e.message})`
    : `wait (buffered ${e.buffered}, mid-request ${e.midRequest}, needsContinue ${e.needsContinue})`;
}

/** A short summary of an outcome, for reports and regression expectations. */
export function describeOutcome(o: Outcome): string {
  const reqs = o.requests.map((r) => `${r.method} ${r.target} (${r.body.length}b)`);
  return `[${reqs.join(', ')}] then ${describeEnd(o.end)}`;
}

// ------------------------------------------------------------------------------------------------
// Checking one input

/** A failed property on some input, fed in `pieces`. */
export interface Failure {
  kind: string;
  detail: string;
  pieces: Buffer[];
  limits: ParserLimits;
}

function attempt(pieces: readonly Buffer[], limits: ParserLimits): Outcome | FuzzFailure {
  try {
    return feed(pieces, limits);
  } catch (error) {
    if (error instanceof FuzzFailure) return error;
    throw error;
  }
}

/**
 * Feed `pieces` and the same bytes whole; the first failed property, or undefined.
 * @param whole - the whole-feed outcome when already known
 */
export function checkPieces(
  pieces: readonly Buffer[],
  limits: ParserLimits,
  whole?: Outcome,
): Failure | undefined {
  const input = Buffer.concat(pieces);
  const fail = (f: FuzzFailure, p: readonly Buffer[]): Failure => ({
    kind: f.kind,
    detail: f.message,
    pieces: p.map((b) => Buffer.from(b)),
    limits,
  });
  const w = whole ?? attempt([input], limits);
  if (w instanceof FuzzFailure) return fail(w, [input]);
  if (pieces.length < 2) return undefined;
  const s = attempt(pieces, limits);
  if (s instanceof FuzzFailure) return fail(s, pieces);
  const d = diffOutcomes(w, s);
  if (d)
    return {
      kind: 'split-mismatch',
      detail: `whole vs split: ${d}`,
      pieces: pieces.map((b) => Buffer.from(b)),
      limits,
    };
  return undefined;
}

/** Result of checking one generated case. */
export interface CaseResult {
  outcome: Outcome | undefined;
  failure: Failure | undefined;
}

/** Check a generated case: whole, split at seeded random points, and byte by byte if small. */
export function checkCase(c: FuzzCase): CaseResult {
  const whole = attempt([c.input], c.limits);
  if (whole instanceof FuzzFailure) {
    return {
      outcome: undefined,
      failure: { kind: whole.kind, detail: whole.message, pieces: [c.input], limits: c.limits },
    };
  }
  const r = new SeededRandom(c.splitSeed);
  const cuts = r.chance(0.5) ? undefined : r.int(1, 32);
  let failure = checkPieces(randomSplit(c.input, r, cuts), c.limits, whole);
  if (!failure && c.input.length <= 300 && c.splitSeed % 8 === 0) {
    const bytes: Buffer[] = [];
    for (let i = 0; i < c.input.length; i++) bytes.push(c.input.subarray(i, i + 1));
    failure = checkPieces(bytes, c.limits, whole);
  }
  return { outcome: whole, failure };
}

// ------------------------------------------------------------------------------------------------
// Minimizing

function totalLength(pieces: readonly Buffer[]): number {
  let n = 0;
  for (const p of pieces) n += p.length;
  return n;
}

/** `pieces` with bytes [at, at + n) of their concatenation deleted (empty pieces dropped). */
function deleteSpan(pieces: readonly Buffer[], at: number, n: number): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  for (const p of pieces) {
    const start = pos;
    const end = pos + p.length;
    pos = end;
    if (end <= at || start >= at + n) {
      out.push(p);
      continue;
    }
    const keep = Buffer.concat([
      p.subarray(0, Math.max(0, at - start)),
      p.subarray(Math.min(p.length, at + n - start)),
    ]);
    if (keep.length > 0) out.push(keep);
  }
  return out;
}

/** Byte ranges [at, at + n) of each line (CRLF or LF ended) of `buf`, last line first. */
function lineSpans(buf: Buffer): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let start = 0;
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) {
    spans.push([start, i + 1 - start]);
    start = i + 1;
  }
  if (start < buf.length) spans.push([start, buf.length - start]);
  return spans.reverse();
}

/**
 * Shrink a failure: delete whole lines, then spans of bytes (halving the span size down to one
 * byte), then merge pieces, keeping each change under which the same kind of failure persists;
 * repeat while anything shrinks.
 * @param opts.budgetMs - stop shrinking after this long (default 10 s)
 * @param opts.tick - called on every attempt (a watchdog's heartbeat)
 */
export function minimize(
  failure: Failure,
  opts: { budgetMs?: number; tick?: () => void } = {},
): Failure {
  const deadline = Date.now() + (opts.budgetMs ?? 10_000);
  let best = failure;
  const still = (pieces: Buffer[]): Failure | undefined => {
    opts.tick?.();
    if (pieces.length === 0 || totalLength(pieces) === 0) return undefined;
    const f = checkPieces(pieces, failure.limits);
    return f && f.kind === failure.kind ? f : undefined;
  };
  for (let before = Infinity; totalLength(best.pieces) < before && Date.now() < deadline;) {
    before = totalLength(best.pieces);
    // Lines, from the last one back, so the positions of those not yet tried stay put.
    for (const [at, n] of lineSpans(Buffer.concat(best.pieces))) {
      if (Date.now() >= deadline) break;
      const f = still(deleteSpan(best.pieces, at, n));
      if (f) best = f;
    }
    let size = 1;
    while (size * 2 <= totalLength(best.pieces)) size *= 2;
    for (; size >= 1 && Date.now() < deadline; size = Math.floor(size / 2)) {
      let at = 0;
      while (at < totalLength(best.pieces) && Date.now() < deadline) {
        const f = still(deleteSpan(best.pieces, at, size));
        if (f) best = f;
        else at += size;
      }
    }
  }
  for (let j = best.pieces.length - 2; j >= 0 && Date.now() < deadline; j--) {
    const merged = best.pieces.slice();
    merged.splice(j, 2, Buffer.concat([best.pieces[j]!, best.pieces[j + 1]!]));
    const f = still(merged);
    if (f) best = f;
  }
  return best;
}

// ------------------------------------------------------------------------------------------------
// Reporting

/** A failure found by a campaign, minimized, with the case that found it. */
export interface Finding {
  kind: string;
  detail: string;
  /** Minimized pieces as latin1 strings (one piece: fed whole). */
  pieces: string[];
  limits: ParserLimits;
  /** The original case (seed, index), its steps and size. */
  origin: string;
}

/** A Finding from a failure (pieces converted to latin1 strings). */
export function toFinding(f: Failure, origin: string): Finding {
  return {
    kind: f.kind,
    detail: f.detail,
    pieces: f.pieces.map((p) => p.toString('latin1')),
    limits: f.limits,
    origin,
  };
}

/** A short content hash of a finding's bytes and kind (file name for test/fuzz/found/). */
export function findingHash(f: Finding): string {
  return createHash('sha256')
    .update(
      `${f.kind}\n${JSON.stringify(f.pieces)}\n${f.limits.maxHeadSize}/${f.limits.maxBodySize}`,
    )
    .digest('hex')
    .slice(0, 16);
}

/** A reproducer: what failed, the bytes, and a ready-to-paste regressions.ts entry. */
export function formatFinding(f: Finding): string {
  const whole = f.pieces.join('');
  const outcome = attempt([Buffer.from(whole, 'latin1')], f.limits);
  return [
    `kind:    ${f.kind}`,
    `detail:  ${f.detail}`,
    `origin:  ${f.origin}`,
    `limits:  maxHeadSize ${f.limits.maxHeadSize}, maxBodySize ${f.limits.maxBodySize}`,
    `bytes:   ${whole.length} (${f.pieces.length} piece${f.pieces.length === 1 ? '' : 's'})`,
    `input:   ${JSON.stringify(whole)}`,
    `pieces:  ${JSON.stringify(f.pieces)}`,
    `base64:  ${Buffer.from(whole, 'latin1').toString('base64')}`,
    `whole:   ${outcome instanceof FuzzFailure ? `${outcome.kind}: ${outcome.message}` : describeOutcome(outcome)}`,
    '',
    'regressions.ts entry:',
    `  {`,
    `    name: ${JSON.stringify(`${f.kind}: ${f.detail.slice(0, 80)}`)},`,
    `    pieces: ${JSON.stringify(f.pieces)},`,
    `    limits: { maxHeadSize: ${f.limits.maxHeadSize}, maxBodySize: ${f.limits.maxBodySize} },`,
    `  },`,
  ].join('\n');
}

// ------------------------------------------------------------------------------------------------
// Campaigns

/** What makes two failures "the same bug": the kind and the detail without values or counts. */
export function failureSignature(f: { kind: string; detail: string }): string {
  return `${f.kind}: ${f.detail.replace(/"(?:[^"\\]|\\.)*"/g, '"…"').replace(/\d+/g, 'N')}`;
}

/** Counts of what a slice of cases came to. */
export interface SliceStats {
  cases: number;
  /** Requests handed over, all cases together. */
  requests: number;
  /** Bytes fed (whole feeds only). */
  bytes: number;
  /** End states: 'wait', 'error 400', … */
  ends: Record<string, number>;
  /** Failures left out because `ignore` matched them (known, still open bugs). */
  ignored: number;
}

/** What one slice of a campaign runs (see runSlice). */
export interface SliceOptions {
  seed: number;
  /** First case index; the slice takes from, from + step, from + 2·step, … */
  from: number;
  step: number;
  /** Stop after this many cases of this slice. */
  maxCases: number;
  /** Stop at this time (ms since the epoch). */
  deadline: number;
  /** Called before each case (the watchdog's heartbeat). */
  onCase?: (index: number, done: number) => void;
  /** Called for each new failure (already minimized). */
  onFinding?: (finding: Finding) => void;
  /** Minimization budget per finding (ms). */
  minimizeMs?: number;
  /** Failures to count but not report (known bugs still open). */
  ignore?: (f: Failure) => boolean;
}

/** Run cases until `maxCases` or `deadline`; failures of a kind already seen are only counted. */
export function runSlice(opts: SliceOptions): SliceStats {
  const stats: SliceStats = { cases: 0, requests: 0, bytes: 0, ends: {}, ignored: 0 };
  const seenKinds = new Map<string, number>();
  for (let index = opts.from; stats.cases < opts.maxCases; index += opts.step) {
    // Date.now() is cheap but not free: look at the clock every 64 cases.
    if ((stats.cases & 63) === 0 && Date.now() >= opts.deadline) break;
    opts.onCase?.(index, stats.cases);
    const c = generateCase(opts.seed, index);
    const { outcome, failure } = checkCase(c);
    stats.cases++;
    stats.bytes += c.input.length;
    if (outcome) {
      stats.requests += outcome.requests.length;
      const key = outcome.end.kind === 'error' ? `error ${outcome.end.status}` : 'wait';
      stats.ends[key] = (stats.ends[key] ?? 0) + 1;
    }
    if (failure) {
      if (opts.ignore?.(failure)) {
        stats.ignored++;
        continue;
      }
      const sig = failureSignature(failure);
      const seen = seenKinds.get(sig) ?? 0;
      seenKinds.set(sig, seen + 1);
      if (seen > 0) continue;
      const tick = (): void => opts.onCase?.(index, stats.cases);
      const small = minimize(failure, { budgetMs: opts.minimizeMs ?? 10_000, tick });
      const smallSig = failureSignature(small);
      if (smallSig !== sig && seenKinds.has(smallSig)) continue;
      seenKinds.set(smallSig, 1);
      const origin = `seed ${opts.seed} case ${index} (${c.input.length} bytes; ${c.steps.join(' → ')})`;
      opts.onFinding?.(toFinding(small, origin));
    }
  }
  return stats;
}

/** How long and on how many threads a campaign runs (see runCampaign). */
export interface CampaignOptions {
  seed: number;
  /** Worker threads (default 2). */
  workers?: number;
  /** Stop after this many cases in all. */
  maxCases: number;
  /** Stop after this long. */
  seconds: number;
  /** A case that takes longer than this is a hang (default 5000 ms). */
  hangMs?: number;
  minimizeMs?: number;
  /** Report failures that match a still-open entry of regressions.ts too (default false). */
  reportKnown?: boolean;
  /** Called about every `progressMs` (default 5000). */
  onProgress?: (p: { cases: number; elapsedMs: number }) => void;
  progressMs?: number;
  onFinding?: (f: Finding) => void;
}

/** A campaign's counts and its findings (minimized; one per distinct failure). */
export interface CampaignResult extends SliceStats {
  elapsedMs: number;
  findings: Finding[];
}

interface WorkerMessage {
  type: 'finding' | 'done';
  finding?: Finding;
  stats?: SliceStats;
}

/** Heartbeat slots shared with a worker. */
const HB_INDEX = 0;
const HB_TICKS = 1;
const HB_DONE = 2;

/**
 * Run `generateCase(seed, i)` for i = 0, 1, 2, … on worker threads until `maxCases` or
 * `seconds`. A worker whose heartbeat stops for `hangMs` is terminated and its case reported as
 * a hang; a worker that dies (out of memory, a crash outside the harness) is reported too. Either
 * way a fresh worker takes over after that case.
 */
export async function runCampaign(opts: CampaignOptions): Promise<CampaignResult> {
  const workers = Math.max(1, opts.workers ?? 2);
  const started = Date.now();
  const deadline = started + opts.seconds * 1000;
  const hangMs = opts.hangMs ?? 5000;
  const findings: Finding[] = [];
  const total: SliceStats = { cases: 0, requests: 0, bytes: 0, ends: {}, ignored: 0 };
  const live: Array<{ hb: Int32Array }> = [];
  const reported = new Set<string>();
  const report = (f: Finding): void => {
    // Workers dedupe their own findings; the same bug found by two workers is reported once.
    const sig = failureSignature(f);
    if (reported.has(sig)) return;
    reported.add(sig);
    findings.push(f);
    opts.onFinding?.(f);
  };
  const merge = (s: SliceStats): void => {
    total.cases += s.cases;
    total.requests += s.requests;
    total.bytes += s.bytes;
    total.ignored += s.ignored;
    for (const [k, n] of Object.entries(s.ends)) total.ends[k] = (total.ends[k] ?? 0) + n;
  };

  const runLane = async (lane: number): Promise<void> => {
    let from = lane;
    let quota = Math.ceil((opts.maxCases - lane) / workers);
    while (quota > 0 && Date.now() < deadline) {
      const hb = new Int32Array(new SharedArrayBuffer(4 * 3));
      const slot = { hb };
      live.push(slot);
      const worker = new Worker(new URL('./parser-worker.js', import.meta.url), {
        workerData: {
          seed: opts.seed,
          from,
          step: workers,
          maxCases: quota,
          deadline,
          heartbeat: hb.buffer,
          minimizeMs: opts.minimizeMs ?? 10_000,
          reportKnown: opts.reportKnown ?? false,
        },
        resourceLimits: { maxOldGenerationSizeMb: 1024 },
      });
      const ended = await new Promise<{ stats?: SliceStats; dead?: string }>((resolve) => {
        let lastTicks = -1;
        let lastChange = Date.now();
        const watch = setInterval(() => {
          const ticks = Atomics.load(hb, HB_TICKS);
          if (ticks !== lastTicks) {
            lastTicks = ticks;
            lastChange = Date.now();
          } else if (Date.now() - lastChange > hangMs) {
            clearInterval(watch);
            void worker.terminate();
            resolve({ dead: `no progress for ${hangMs} ms (hang)` });
          }
        }, 100);
        worker.on('message', (m: WorkerMessage) => {
          if (m.type === 'finding' && m.finding) report(m.finding);
          if (m.type === 'done') {
            clearInterval(watch);
            resolve({ stats: m.stats });
          }
        });
        worker.on('error', (error) => {
          clearInterval(watch);
          resolve({ dead: `worker died: ${error.message}` });
        });
        worker.on('exit', (code) => {
          clearInterval(watch);
          resolve({ dead: `worker exited with code ${code}` });
        });
      });
      live.splice(live.indexOf(slot), 1);
      const done = Atomics.load(hb, HB_DONE);
      if (ended.stats) {
        merge(ended.stats);
        return;
      }
      // The worker is gone mid-case: report that case and carry on after it.
      const index = Atomics.load(hb, HB_INDEX);
      const c = generateCase(opts.seed, index);
      report({
        kind: ended.dead?.includes('hang') ? 'hang' : 'worker-death',
        detail: ended.dead ?? 'unknown',
        pieces: [c.input.toString('latin1')],
        limits: c.limits,
        origin: `seed ${opts.seed} case ${index} (${c.input.length} bytes; ${c.steps.join(' → ')}; split seed ${c.splitSeed})`,
      });
      merge({ cases: done + 1, requests: 0, bytes: 0, ends: {}, ignored: 0 });
      from = index + workers;
      quota -= done + 1;
    }
  };

  const progressMs = opts.progressMs ?? 5000;
  const progress = opts.onProgress
    ? setInterval(() => {
        let cases = total.cases;
        for (const { hb } of live) cases += Atomics.load(hb, HB_DONE);
        opts.onProgress?.({ cases, elapsedMs: Date.now() - started });
      }, progressMs)
    : undefined;
  try {
    await Promise.all(Array.from({ length: workers }, (_, lane) => runLane(lane)));
  } finally {
    if (progress) clearInterval(progress);
  }
  return { ...total, elapsedMs: Date.now() - started, findings };
}

/** Heartbeat slot indexes, shared with parser-worker.ts. */
export const HEARTBEAT = { INDEX: HB_INDEX, TICKS: HB_TICKS, DONE: HB_DONE } as const;
