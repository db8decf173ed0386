/**
 * The differential oracle shared by differential.test.ts and socket-fuzz.test.ts (moved out of
 * differential.test.ts unchanged): an echo app on node:http (llhttp) and on hyperlane, the
 * outcome of one exchange with each, the deliberate differences between the two, and `compare()`.
 *
 * Each app echoes the parsed request as JSON `{ method, url, headers, body }` (headers:
 * lower-case name → value, repeated lines joined with ", " — Cookie with "; "; body base64).
 * For each response in order `compare()` checks accept (2xx) against not accepted (4xx/5xx, or
 * closed) and, when both accept, method, url, headers and body. Hyperlane must also send
 * well-formed responses, close after every refusal, and close (answering nothing more) after a
 * request that asked to close. Refusing vs. still waiting for bytes is not a mismatch.
 *
 * A difference is excused only by a rule below that applies to the request at which the two
 * diverge: a "stricter" rule when hyperlane answered with the rule's status; a "laxer" rule when
 * a counterfactual holds (the same bytes with the point of difference undone are accepted by
 * node:http and parsed exactly as hyperlane parsed the original).
 *
 * Deliberate differences (the lead's rules):
 *   extension-method         RFC 9110 §9.1, §5.6.2    any token is a method; node:http knows a fixed
 *                                                    list (400 otherwise). Counterfactual: method → POST.
 *   obs-fold                 RFC 9112 §5.2            obs-fold → 400.
 *   ws-before-colon          RFC 9112 §5.1            whitespace before the colon → 400.
 *   ctl-in-value             RFC 9110 §5.5            NUL, bare CR, other CTLs in a field value → 400.
 *   duplicate-content-length RFC 9112 §6.3(5), RFC 9110 §8.6  any repeated or list-valued
 *                                                    Content-Length → 400, identical values too.
 *   te-and-cl                RFC 9112 §6.3(3), §11.2  Transfer-Encoding with Content-Length → 400.
 *   te-not-chunked           RFC 9112 §6.3(4), §6.1   Transfer-Encoding other than exactly chunked:
 *                                                    final coding not chunked → 400; other codings
 *                                                    before chunked → 501 (node accepts "gzip, chunked"
 *                                                    and hands over the still-gzipped body).
 *   version                  RFC 9110 §2.5, §15.6.6   only HTTP/1.0 and 1.1: other `HTTP/d.d` → 505
 *                                                    (node takes 0.9 and 2.0, and "GET /" with no
 *                                                    version as 0.9), malformed → 400.
 *   missing-host             RFC 9112 §3.2            HTTP/1.1 without Host → 400 (node agrees).
 *   multiple-host            RFC 9112 §3.2            more than one Host line → 400 (node joins them).
 *   invalid-host             RFC 9112 §3.2            a Host that is not host[:port] → 400 (node accepts).
 *
 * node:http quirks found by this test, decided by those rules and the RFCs (QUIRK_RULES):
 *   node-parse-ahead         RFC 9112 §9.3.2, §9.6    node parses pipelined bytes ahead and answers a
 *                                                    later error with 400 before the valid requests in
 *                                                    front of it (even after Connection: close, when
 *                                                    the rest must be ignored); we answer in order.
 *   te-in-http10             RFC 9112 §6.1            Transfer-Encoding in an HTTP/1.0 request is faulty
 *                                                    framing → 400 (node decodes it as chunked).
 *   request-line-whitespace  RFC 9112 §3              single SPs only → 400 (node takes runs of spaces).
 *   leading-bare-cr-lf       RFC 9112 §2.2            empty lines (CRLF) before the request line are
 *                                                    skipped; a bare CR or LF there → 400 (node skips).
 *   absolute-form-scheme     RFC 9112 §3.2.2          absolute-form must be http(s):// → 400 otherwise.
 *   absolute-form-host       RFC 9110 §4.2.1, §4.2.4  its authority must be a non-empty host[:port]
 *                                                    without userinfo → 400 (node takes "http://").
 *   asterisk-form            RFC 9112 §3.2.4          "*" only with OPTIONS → 400 (node takes GET *).
 *   chunk-ext-syntax         RFC 9112 §7.1.1          a chunk-ext must follow the grammar ("0;a=" → 400).
 *   expect-unknown           RFC 9110 §10.1.1         an Expect other than 100-continue → 417.
 *   te-list-normalization    RFC 9110 §5.6.1, RFC 9112 §5.1  "chunked," / "chunked<HTAB>" mean
 *                                                    chunked (node refuses them).
 *   chunk-ext-bws            RFC 9112 §7.1.1          BWS around ";" and "=" in chunk-ext is allowed
 *                                                    (node refuses "5 ; a = b").
 *   absolute-form-authority  RFC 9112 §3.2, RFC 3986  we check target bytes (visible ASCII), not URI
 *                                                    syntax; node also checks the absolute-form host.
 *
 * Added with socket-fuzz.test.ts, whose generator reaches further (pending the lead's review):
 *   head-limit               RFC 6585 §5, RFC 9110 §15.5.15  a head over httpBufferSize → 431 (414 for
 *                                                    the request line); node:http counts its 16 KiB differently.
 *   close-wins               RFC 9112 §9.3, §9.6      nothing after a request that asks to close is
 *                                                    answered; node:http keeps an HTTP/1.0
 *                                                    "Connection: keep-alive, close" connection open.
 *   content-length-ows       RFC 9112 §5.1, RFC 9110 §5.6.3  OWS (SP or HTAB) around a Content-Length
 *                                                    value is not part of it; node:http refuses a HTAB there.
 *   chunk-line-limit         RFC 9112 §7.1.1          a chunk-size line (extensions included) of 4 KiB or
 *                                                    more → 400; node:http has no such bound.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import { DEFAULT_CONFIG } from '../../src/index.js';
import {
  exchange,
  showBytes,
  startServer,
  type ExchangeResult,
  type StartedServer,
} from '../helpers/raw-client.js';

/** Once a response is complete, how long to wait for more (pipelined leftovers). */
export const QUIET_MS = 80;
/** How long to wait for a first response before calling the request "pending". */
export const TIMEOUT_MS = 500;

// ------------------------------------------------------------------------------------------------
// The two servers

/** What the echo apps answer with: the request as they saw it (body base64). */
export interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** A running echo server. */
export interface EchoServer {
  name: string;
  port: number;
  close(): Promise<void>;
}

/** The node:http echo server (the oracle) on 127.0.0.1 and a free port. */
export async function startNodeOracle(): Promise<EchoServer> {
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = (req.rawHeaders[i] as string).toLowerCase();
        const value = req.rawHeaders[i + 1] as string;
        // Repeated lines joined with ", " (RFC 9110 §5.3), except Cookie, joined with "; " as node:http's
        // own req.headers does (RFC 6265 §5.4: one cookie-string; RFC 9113 §8.2.3).
        const sep = name === 'cookie' ? '; ' : ', ';
        headers[name] = name in headers ? `${headers[name]}${sep}${value}` : value;
      }
      const echo: Echo = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers,
        body: Buffer.concat(chunks).toString('base64'),
      };
      const json = JSON.stringify(echo);
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(json),
      });
      res.end(json);
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const addr = srv.address();
  assert.ok(addr && typeof addr === 'object');
  return {
    name: 'node:http',
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  };
}

/** The hyperlane echo server (default config) on 127.0.0.1 and a free port. */
export async function startHyperlane(): Promise<EchoServer> {
  const started: StartedServer = await startServer((server) => {
    server.requestMiddleware(async (ctx) => {
      ctx.setResponseStatusCode(200).setResponseBodyJson({
        method: ctx.getRequestMethod(),
        url: ctx.getRequestUrl(),
        headers: ctx.getRequestHeaders(),
        body: Buffer.from(ctx.getRequestBody()).toString('base64'),
      });
    });
  });
  return { name: 'hyperlane', port: started.port, close: started.close };
}

// ------------------------------------------------------------------------------------------------
// Outcomes

/** What became of the i-th request: handed to the app (2xx), refused or closed, or still waiting. */
export type Kind = 'accept' | 'reject' | 'pending';

/** One final response: its status and, for a 2xx, the echo. */
export interface Item {
  status: number;
  echo?: Echo;
}

/** Everything one server answered to one input. */
export interface Side {
  items: Item[];
  closed: boolean;
  timedOut: boolean;
  parseError: string | undefined;
  raw: Buffer;
}

/** The Side of a raw exchange. */
export function toSide(x: ExchangeResult): Side {
  const items: Item[] = x.finals.map((r) => {
    const item: Item = { status: r.status };
    if (r.status >= 200 && r.status < 300) {
      try {
        item.echo = r.json<Echo>();
      } catch {
        // left without echo: compared as a difference below
      }
    }
    return item;
  });
  return { items, closed: x.closed, timedOut: x.timedOut, parseError: x.parseError, raw: x.bytes };
}

/** Send `input` on a fresh connection and collect what comes back. */
export async function run(server: EchoServer, input: Buffer): Promise<Side> {
  return toSide(await exchange(server.port, input, { quietMs: QUIET_MS, timeoutMs: TIMEOUT_MS }));
}

/** What became of request `i` on `side`. */
export function kindAt(side: Side, i: number): Kind {
  const item = side.items[i];
  if (item) return item.status >= 200 && item.status < 300 ? 'accept' : 'reject';
  return side.closed ? 'reject' : 'pending';
}

/** One line for a Side, for reports. */
export function describeSide(side: Side): string {
  const items = side.items.map((it) =>
    it.echo ? `${it.status} ${JSON.stringify(it.echo)}` : String(it.status),
  );
  const tail = side.closed ? 'closed' : side.timedOut ? 'pending (timeout)' : 'open';
  const pe = side.parseError ? ` PARSE ERROR: ${side.parseError}` : '';
  return `[${items.join(' | ')}] ${tail}${pe}`;
}

// ------------------------------------------------------------------------------------------------
// Loose request segmentation and head parsing (only to decide which rule explains a difference)

interface Head {
  /** CR / LF bytes before the request line. */
  prefix: string;
  requestLine: string;
  method: string;
  target: string;
  version: string;
  /** Field lines as sent (after the request line, before the blank line). */
  lines: string[];
  fields: Array<{ name: string; value: string; line: string }>;
}

// The parser's host[:port] grammar for an absolute-form authority (RFC 3986 host, optional port).
const ABSOLUTE_AUTHORITY = /^(?:\[[0-9A-Fa-f:.vV]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(?::\d*)?$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const NODE_METHODS = new Set(http.METHODS);

function headEnd(buf: Buffer, from: number): { end: number; bodyStart: number } | undefined {
  const m = /\r?\n\r?\n/.exec(buf.subarray(from).toString('latin1'));
  if (!m) return undefined;
  return { end: from + m.index, bodyStart: from + m.index + m[0].length };
}

function parseHead(text: string, prefix = ''): Head {
  const all = text.split(/\r?\n/);
  const requestLine = all[0] ?? '';
  const parts = requestLine.split(' ');
  const lines = all.slice(1);
  const fields = lines.map((line) => {
    const c = line.indexOf(':');
    return c < 0
      ? { name: line, value: '', line }
      : { name: line.slice(0, c), value: line.slice(c + 1).replace(/^[ \t]+|[ \t]+$/g, ''), line };
  });
  return {
    prefix,
    requestLine,
    method: parts[0] ?? '',
    target: parts[1] ?? '',
    version: parts.slice(2).join(' '),
    lines,
    fields,
  };
}

/**
 * Only SP and HTAB are whitespace in HTTP (RFC 9110 §5.6.3); String#trim also strips bytes such as
 * 0xA0, which would make "close\xa0" look like "close".
 */
function trimOws(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

function fieldValues(h: Head, name: string): string[] {
  return h.fields.filter((f) => f.name.toLowerCase() === name).map((f) => f.value);
}

/** The leading hex digits of a chunk-size line as a number (NaN if none): never negative. */
function hexSize(line: string): number {
  const m = /^[0-9A-Fa-f]+/.exec(line);
  return m ? parseInt(m[0], 16) : NaN;
}

/** Split input into the requests a lenient parser would see; the last segment takes the rest. */
function segmentRequests(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    let start = pos;
    while (start < buf.length && (buf[start] === 13 || buf[start] === 10)) start++;
    const he = headEnd(buf, start);
    if (!he) {
      out.push(buf.subarray(pos));
      break;
    }
    const h = parseHead(buf.subarray(start, he.end).toString('latin1'));
    const codings = fieldValues(h, 'transfer-encoding')
      .join(',')
      .split(',')
      .map((c) => trimOws(c).toLowerCase())
      .filter((c) => c !== '');
    const cl = fieldValues(h, 'content-length')[0];
    let end = he.bodyStart;
    if (codings[codings.length - 1] === 'chunked') {
      let p = he.bodyStart;
      let ok = false;
      for (;;) {
        const le = buf.indexOf('\r\n', p);
        if (le < 0) break;
        const size = hexSize(buf.subarray(p, le).toString('latin1'));
        if (!Number.isFinite(size)) break;
        if (size === 0) {
          const te2 = buf.indexOf('\r\n\r\n', le);
          const direct = buf.indexOf('\r\n', le + 2) === le + 2;
          end = direct ? le + 4 : te2 < 0 ? buf.length : te2 + 4;
          ok = true;
          break;
        }
        p = le + 2 + size + 2;
        if (p > buf.length) break;
      }
      if (!ok) end = buf.length;
    } else if (cl !== undefined && /^\d+$/.test(cl)) {
      end = Math.min(buf.length, he.bodyStart + Number(cl));
    }
    out.push(buf.subarray(pos, end));
    pos = end;
  }
  return out;
}

function headOfSegment(seg: Buffer | undefined): Head | undefined {
  if (!seg) return undefined;
  let start = 0;
  while (start < seg.length && (seg[start] === 13 || seg[start] === 10)) start++;
  const he = headEnd(seg, start);
  return parseHead(
    seg.subarray(start, he ? he.end : seg.length).toString('latin1'),
    seg.subarray(0, start).toString('latin1'),
  );
}

// ------------------------------------------------------------------------------------------------
// Deliberate differences

/** Where in the input the request that differs is. */
export interface Where {
  index: number;
  count: number;
  chunkLines?: string[];
  /** The request before it, if any. */
  previous?: Head;
}

/** A listed difference between node:http and hyperlane, and when it applies. */
export interface Rule {
  id: string;
  rfc: string;
  summary: string;
  /** 'stricter': we refuse (with one of `statuses`) what node:http accepts. 'laxer': the reverse. */
  direction: 'stricter' | 'laxer';
  statuses?: readonly number[];
  applies(h: Head, where: Where): boolean;
  /**
   * For 'laxer' rules: the same request with the point of difference taken away; node:http must
   * accept it and parse it exactly as hyperlane parsed the original (the method excepted when
   * `sameExcept` says so). This keeps a rule from excusing anything else wrong with the request.
   */
  counterfactual?: (seg: Buffer, h: Head) => Buffer | undefined;
  /** What the counterfactual changed, so not compared: the method and/or header names. */
  sameExcept?: { method?: boolean; url?: boolean; headers?: string[] };
  /** A 'stricter' rule that excuses hyperlane closing without an answer (no status). */
  closes?: boolean;
  /** After excusing request i, compare the requests after it (node re-run on the rest). */
  continueAfter?: boolean;
}

const CTL_IN_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

function connectionTokens(h: Head): string[] {
  return fieldValues(h, 'connection')
    .join(',')
    .split(',')
    .map((t) => trimOws(t).toLowerCase());
}

/** The request asks to close the connection after its response (RFC 9112 §9.3, §9.6). */
function asksClose(h: Head): boolean {
  const tokens = connectionTokens(h);
  if (tokens.includes('close')) return true;
  return h.version === 'HTTP/1.0' && !tokens.includes('keep-alive');
}

// RFC 9112 §7.1: chunk-size [ chunk-ext ], chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
const CHUNK_LINE =
  /^[0-9A-Fa-f]+(?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*=[ \t]*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*"))?)*$/;

/** The chunk-size lines of a chunked segment, as far as they can be found. */
function chunkLinesOf(seg: Buffer): string[] {
  const lines: string[] = [];
  rewriteChunkLines(seg, (line) => {
    lines.push(line);
    return line;
  });
  return lines;
}

/** Rewrite the chunk-size lines of a chunked segment with `fn`; undefined if it is not chunked. */
function rewriteChunkLines(seg: Buffer, fn: (line: string) => string): Buffer | undefined {
  // Empty lines before the request line are not the head's end.
  let start = 0;
  while (start < seg.length && (seg[start] === 13 || seg[start] === 10)) start++;
  const he = headEnd(seg, start);
  if (!he) return undefined;
  const out: Buffer[] = [seg.subarray(0, he.bodyStart)];
  let p = he.bodyStart;
  for (;;) {
    const le = seg.indexOf('\r\n', p);
    if (le < 0) return undefined;
    const line = fn(seg.subarray(p, le).toString('latin1'));
    out.push(Buffer.from(line + '\r\n', 'latin1'));
    const size = hexSize(line);
    if (!Number.isFinite(size)) return undefined;
    if (size === 0) {
      out.push(seg.subarray(le + 2));
      return Buffer.concat(out);
    }
    out.push(seg.subarray(le + 2, le + 2 + size + 2));
    p = le + 2 + size + 2;
    if (p > seg.length) return undefined;
  }
}

const RULES: Rule[] = [
  {
    id: 'extension-method',
    rfc: 'RFC 9110 §9.1, §5.6.2',
    summary: 'any token is a method; node:http only knows a fixed list',
    direction: 'laxer',
    applies: (h) => TOKEN.test(h.method) && !NODE_METHODS.has(h.method),
    counterfactual: (seg, h) => {
      const at = seg.indexOf(h.method);
      return Buffer.concat([
        seg.subarray(0, at),
        Buffer.from('POST'),
        seg.subarray(at + h.method.length),
      ]);
    },
    sameExcept: { method: true },
  },
  {
    id: 'obs-fold',
    rfc: 'RFC 9112 §5.2',
    summary: 'obs-fold is refused with 400',
    direction: 'stricter',
    statuses: [400],
    applies: (h) => h.lines.some((l) => /^[ \t]/.test(l)),
  },
  {
    id: 'ws-before-colon',
    rfc: 'RFC 9112 §5.1',
    summary: 'whitespace between field name and colon is refused with 400',
    direction: 'stricter',
    statuses: [400],
    applies: (h) => h.fields.some((f) => f.line.includes(':') && /[ \t]$/.test(f.name)),
  },
  {
    id: 'ctl-in-value',
    rfc: 'RFC 9110 §5.5',
    summary: 'CTL bytes (NUL, bare CR, …) in a field value are refused with 400',
    direction: 'stricter',
    statuses: [400],
    applies: (h) => h.fields.some((f) => CTL_IN_VALUE.test(f.value)),
  },
  {
    id: 'duplicate-content-length',
    rfc: 'RFC 9112 §6.3 (5), RFC 9110 §8.6',
    summary: 'any repeated or list-valued Content-Length is refused with 400',
    direction: 'stricter',
    statuses: [400],
    applies: (h) => {
      const v = fieldValues(h, 'content-length');
      return v.length > 1 || v.some((x) => x.includes(','));
    },
  },
  {
    id: 'te-and-cl',
    rfc: 'RFC 9112 §6.3 (3), §11.2',
    summary: 'Transfer-Encoding together with Content-Length is refused with 400',
    direction: 'stricter',
    statuses: [400],
    applies: (h) =>
      fieldValues(h, 'transfer-encoding').length > 0 && fieldValues(h, 'content-length').length > 0,
  },
  {
    id: 'te-not-chunked',
    rfc: 'RFC 9112 §6.3 (4), §6.1',
    summary:
      'Transfer-Encoding other than exactly chunked: 400 (final coding not chunked) or 501 (other codings first)',
    direction: 'stricter',
    statuses: [400, 501],
    applies: (h) => {
      const v = fieldValues(h, 'transfer-encoding');
      if (v.length === 0) return false;
      const codings = v
        .join(',')
        .split(',')
        .map((c) => trimOws(c).toLowerCase());
      return !(codings.length === 1 && codings[0] === 'chunked');
    },
  },
  {
    id: 'version',
    rfc: 'RFC 9110 §2.5, §15.6.6',
    summary: 'only HTTP/1.0 and HTTP/1.1: other HTTP/d.d → 505, malformed → 400',
    direction: 'stricter',
    statuses: [400, 505],
    applies: (h) => h.version !== 'HTTP/1.1' && h.version !== 'HTTP/1.0',
  },
  {
    id: 'te-in-http10',
    rfc: 'RFC 9112 §6.1',
    summary:
      'Transfer-Encoding in an HTTP/1.0 request is faulty framing: refused with 400 (node:http decodes it)',
    direction: 'stricter',
    statuses: [400],
    applies: (h) => h.version === 'HTTP/1.0' && fieldValues(h, 'transfer-encoding').length > 0,
  },
  {
    id: 'missing-host',
    rfc: 'RFC 9112 §3.2',
    summary: 'HTTP/1.1 without Host is refused with 400',
    direction: 'stricter',
    statuses: [400],
    applies: (h) => h.version === 'HTTP/1.1' && fieldValues(h, 'host').length === 0,
  },
  {
    id: 'multiple-host',
    rfc: 'RFC 9112 §3.2',
    summary: 'more than one Host line is refused with 400',
    direction: 'stricter',
    statuses: [400],
    applies: (h) => fieldValues(h, 'host').length > 1,
  },
  {
    id: 'invalid-host',
    rfc: 'RFC 9112 §3.2, RFC 3986 §3.2.2',
    summary:
      'a Host that is not a valid authority (host[:port]) is refused with 400 (node accepts it)',
    direction: 'stricter',
    statuses: [400],
    applies: (h) =>
      fieldValues(h, 'host').some(
        (value) => !/^(?:\[[0-9A-Fa-f:.vV]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(?::\d*)?$/.test(value),
      ),
  },
];

/** node:http quirks found by this test, decided by the lead's rules (see the file header). */
const QUIRK_RULES: Rule[] = [
  {
    id: 'node-parse-ahead',
    rfc: 'RFC 9112 §9.3.2, §9.6',
    summary:
      'node:http parses pipelined bytes ahead and, on an error further on, answers 400 before the complete valid ' +
      'requests in front of it (even after Connection: close, after which nothing more may be processed); we answer ' +
      'each complete request in order, then refuse the bad one (or ignore the rest after close)',
    direction: 'laxer',
    applies: (_h, where) => where.index < where.count - 1,
    counterfactual: (seg) => seg,
    continueAfter: true,
  },
  {
    id: 'te-list-normalization',
    rfc: 'RFC 9110 §5.6.1, RFC 9112 §5.1',
    summary:
      'Transfer-Encoding "chunked," / ", chunked" (empty list elements must be ignored) and "chunked<HTAB>" ' +
      '(OWS is not part of the value) mean chunked; node:http refuses them',
    direction: 'laxer',
    applies: (h) => {
      const lines = h.fields.filter((f) => f.name.toLowerCase() === 'transfer-encoding');
      if (lines.length !== 1) return false;
      const raw = (lines[0] as Head['fields'][number]).line;
      const codings = raw
        .slice(raw.indexOf(':') + 1)
        .split(',')
        .map((c) => trimOws(c).toLowerCase());
      return (
        !/^transfer-encoding: ?chunked$/i.test(raw) &&
        codings.filter((c) => c !== '').join() === 'chunked'
      );
    },
    counterfactual: (seg) =>
      Buffer.from(
        seg.toString('latin1').replace(/^(transfer-encoding:)[^\r\n]*/im, '$1 chunked'),
        'latin1',
      ),
    sameExcept: { headers: ['transfer-encoding'] },
  },
  {
    id: 'chunk-ext-bws',
    rfc: 'RFC 9112 §7.1.1',
    summary: 'chunk-ext allows BWS around ";" and "=" ("5 ; a = b"); node:http refuses it',
    direction: 'laxer',
    applies: (h) => fieldValues(h, 'transfer-encoding').length > 0,
    counterfactual: (seg) =>
      rewriteChunkLines(seg, (line) => line.replace(/[ \t]*([;=])[ \t]*/g, '$1')),
  },
];

QUIRK_RULES.push(
  {
    id: 'leading-bare-cr-lf',
    rfc: 'RFC 9112 §2.2',
    summary:
      'empty lines (CRLF) before the request line are skipped, but a bare CR or LF there is refused with 400; node:http skips those too',
    direction: 'stricter',
    statuses: [400],
    applies: (h) => h.prefix.replace(/\r\n/g, '') !== '',
  },
  {
    id: 'request-line-whitespace',
    rfc: 'RFC 9112 §3',
    summary:
      'the request line must be method SP target SP version with single spaces (400); node:http also takes runs of spaces',
    direction: 'stricter',
    statuses: [400],
    applies: (h) =>
      h.requestLine.split(' ').length !== 3 || h.requestLine.split(' ').some((p) => p === ''),
  },
  {
    id: 'expect-unknown',
    rfc: 'RFC 9110 §10.1.1',
    summary: 'an Expect other than 100-continue → 417 (node:http ignores it)',
    direction: 'stricter',
    statuses: [417],
    applies: (h) =>
      fieldValues(h, 'expect')
        .join(',')
        .split(',')
        .some((e) => trimOws(e).toLowerCase() !== '100-continue'),
  },
  {
    id: 'absolute-form-scheme',
    rfc: 'RFC 9112 §3.2.2',
    summary:
      'an absolute-form target must be http:// or https://; other schemes (or none) → 400; node:http takes any URL',
    direction: 'stricter',
    statuses: [400],
    applies: (h) =>
      h.target !== '*' && !h.target.startsWith('/') && !/^https?:\/\//i.test(h.target),
  },
  {
    id: 'absolute-form-host',
    rfc: 'RFC 9110 §4.2.1, §4.2.4',
    summary:
      'an absolute-form target must name a host (host[:port], no userinfo): "http://" or "http://u@h/" → 400; node:http takes them',
    direction: 'stricter',
    statuses: [400],
    applies: (h) => {
      const match = /^https?:\/\/([^/?#]*)/i.exec(h.target);
      if (match === null) return false;
      const authority = match[1]!;
      return authority === '' || authority.startsWith(':') || !ABSOLUTE_AUTHORITY.test(authority);
    },
  },
  {
    id: 'asterisk-form',
    rfc: 'RFC 9112 §3.2.4',
    summary: 'the asterisk-form target is only for OPTIONS; GET * → 400 (node:http accepts it)',
    direction: 'stricter',
    statuses: [400],
    applies: (h) => h.target === '*' && h.method !== 'OPTIONS',
  },
  {
    id: 'chunk-ext-syntax',
    rfc: 'RFC 9112 §7.1.1',
    summary:
      'a chunk extension must be ";" token [ "=" ( token / quoted-string ) ]: "0;a=" → 400 (node:http takes it)',
    direction: 'stricter',
    statuses: [400],
    applies: (_h, where) => (where.chunkLines ?? []).some((line) => !CHUNK_LINE.test(line)),
  },
  {
    id: 'absolute-form-authority',
    rfc: 'RFC 9112 §3.2, RFC 3986 §3.2.2',
    summary:
      'we check that a target has only visible ASCII, not full URI syntax; node:http also checks the authority of ' +
      "an absolute-form target (e.g. a '\"' in the host)",
    direction: 'laxer',
    applies: (h) => /^https?:\/\//i.test(h.target),
    counterfactual: (seg, h) => {
      const fixed = h.target.replace(/^(https?:\/\/)[^/?#]*/i, '$1example.com');
      const at = seg.indexOf(h.target);
      return Buffer.concat([
        seg.subarray(0, at),
        Buffer.from(fixed, 'latin1'),
        seg.subarray(at + h.target.length),
      ]);
    },
    sameExcept: { url: true },
  },
);

QUIRK_RULES.push(
  {
    id: 'head-limit',
    rfc: 'RFC 6585 §5, RFC 9110 §15.5.15',
    summary:
      'a head over httpBufferSize (16 KiB by default) → 431, a request line over it → 414; node:http counts its own 16 KiB limit differently',
    direction: 'stricter',
    statuses: [414, 431],
    applies: (h) => headSize(h) > DEFAULT_CONFIG.httpBufferSize,
  },
  {
    id: 'close-wins',
    rfc: 'RFC 9112 §9.3, §9.6',
    summary:
      'nothing after a request that asks to close is read; node:http keeps an HTTP/1.0 "Connection: keep-alive, close" connection open and answers the next request',
    direction: 'stricter',
    closes: true,
    applies: (_h, where) => where.previous !== undefined && asksClose(where.previous),
  },
  {
    id: 'content-length-ows',
    rfc: 'RFC 9112 §5.1, RFC 9110 §5.6.3',
    summary:
      'OWS (SP or HTAB) around a Content-Length value is not part of it; node:http refuses a HTAB there',
    direction: 'laxer',
    applies: (h) =>
      h.fields.some((f) => f.name.toLowerCase() === 'content-length' && /\t/.test(f.line)),
    counterfactual: (seg) =>
      Buffer.from(
        seg
          .toString('latin1')
          .replace(/^(content-length:)[ \t]*([^\r\n]*?)[ \t]*(?=\r\n)/im, '$1 $2'),
        'latin1',
      ),
  },
);

QUIRK_RULES.push({
  id: 'chunk-line-limit',
  rfc: 'RFC 9112 §7.1.1',
  summary:
    'a chunk-size line of 4 KiB or more (extensions included) is refused with 400 (a server may limit extensions); node:http has no such bound',
  direction: 'stricter',
  statuses: [400],
  applies: (_h, where) => (where.chunkLines ?? []).some((line) => line.length >= 4095),
});

/** Bytes of a request's head: empty lines before it, request line, field lines, blank line. */
function headSize(h: Head): number {
  let n = h.prefix.length + h.requestLine.length + 2;
  for (const line of h.lines) n += line.length + 2;
  return n + 2;
}

/** Every rule, deliberate differences first. */
export const ALL_RULES = [...RULES, ...QUIRK_RULES];

// ------------------------------------------------------------------------------------------------
// Comparison

/** The result of compare(): agreed (possibly by rules), or why not. */
export interface Verdict {
  ok: boolean;
  /** Rules that excused a difference. */
  rules: string[];
  reason?: string;
}

function echoDiff(a: Echo | undefined, b: Echo | undefined): string | undefined {
  if (!a || !b) return 'a 2xx response without a JSON echo';
  for (const k of ['method', 'url', 'body'] as const) {
    if (a[k] !== b[k])
      return `${k} differs: node ${JSON.stringify(a[k])} vs hyperlane ${JSON.stringify(b[k])}`;
  }
  if (!isDeepStrictEqual({ ...a.headers }, { ...b.headers })) {
    return `headers differ: node ${JSON.stringify(a.headers)} vs hyperlane ${JSON.stringify(b.headers)}`;
  }
  return undefined;
}

/** Hyperlane's own invariants: well-formed responses; a refusal or a close request ends the connection. */
function checkHyperlane(input: Buffer, hl: Side): string | undefined {
  if (hl.parseError) return `hyperlane sent a malformed response: ${hl.parseError}`;
  const firstReject = hl.items.findIndex((it) => it.status >= 400);
  if (firstReject >= 0) {
    if (firstReject !== hl.items.length - 1)
      return 'hyperlane answered more requests after a refusal';
    if (!hl.closed) return `hyperlane did not close after ${hl.items[firstReject]?.status}`;
  }
  const segments = segmentRequests(input);
  for (let i = 0; i < hl.items.length; i++) {
    const h = headOfSegment(segments[i]);
    if (h && kindAt(hl, i) === 'accept' && asksClose(h)) {
      if (hl.items.length !== i + 1)
        return `hyperlane answered requests after #${i}, which asked to close`;
      if (!hl.closed) return `hyperlane did not close after request #${i}, which asked to close`;
    }
  }
  return undefined;
}

/**
 * Apply the rules' counterfactuals to `seg` (in order) and check that node:http accepts the
 * result and parses it exactly as hyperlane parsed the original, except what the rules changed.
 */
async function counterfactualHolds(
  rules: readonly Rule[],
  seg: Buffer,
  hlEcho: Echo | undefined,
  oracle: EchoServer,
): Promise<boolean> {
  if (!hlEcho) return false;
  let alt: Buffer = Buffer.from(seg);
  for (const rule of rules) {
    const h = headOfSegment(alt);
    const next = h && rule.counterfactual ? rule.counterfactual(alt, h) : undefined;
    if (!next) return false;
    alt = next;
  }
  const altSide = await run(oracle, alt);
  const altEcho = altSide.items[0]?.echo;
  if (kindAt(altSide, 0) !== 'accept' || !altEcho) return false;
  const expected = { ...altEcho, headers: { ...altEcho.headers } };
  for (const rule of rules) {
    if (rule.sameExcept?.method) expected.method = hlEcho.method;
    if (rule.sameExcept?.url) expected.url = hlEcho.url;
    for (const name of rule.sameExcept?.headers ?? []) {
      if (hlEcho.headers[name] !== undefined) expected.headers[name] = hlEcho.headers[name];
    }
  }
  return echoDiff(expected, hlEcho) === undefined;
}

/**
 * Compare node:http and hyperlane on one input: hyperlane's own invariants, then request by
 * request until they diverge, where only a listed rule may excuse the difference.
 */
export async function compare(
  input: Buffer,
  node: Side,
  hl: Side,
  oracle: EchoServer,
  depth = 0,
): Promise<Verdict> {
  const rules: string[] = [];
  if (depth === 0) {
    const bad = checkHyperlane(input, hl);
    if (bad) return { ok: false, rules, reason: bad };
  }
  const segments = segmentRequests(input);
  const n = Math.max(node.items.length, hl.items.length, 1);
  for (let i = 0; i < n; i++) {
    const kn = kindAt(node, i);
    const kh = kindAt(hl, i);
    if (kn === 'accept' && kh === 'accept') {
      const d = echoDiff(node.items[i]?.echo, hl.items[i]?.echo);
      if (d) return { ok: false, rules, reason: `request #${i}: ${d}` };
      continue;
    }
    if ((kn === 'accept') === (kh === 'accept')) break; // neither accepted: the exchange is over
    const seg = segments[Math.min(i, segments.length - 1)] ?? input;
    const h = headOfSegment(seg);
    const hlStatus = hl.items[i]?.status;
    if (h) {
      const where: Where = {
        index: Math.min(i, segments.length - 1),
        count: segments.length,
        chunkLines: chunkLinesOf(seg),
        previous: i > 0 ? headOfSegment(segments[i - 1]) : undefined,
      };
      for (const rule of ALL_RULES) {
        if (!rule.applies(h, where)) continue;
        if (
          rule.direction === 'stricter' &&
          kn === 'accept' &&
          (hlStatus !== undefined
            ? rule.statuses?.includes(hlStatus)
            : rule.closes === true && hl.closed)
        ) {
          rules.push(rule.id);
          return { ok: true, rules };
        }
        if (rule.direction === 'laxer' && kh === 'accept' && rule.counterfactual) {
          if (!(await counterfactualHolds([rule], seg, hl.items[i]?.echo, oracle))) continue;
          rules.push(rule.id);
          if (!rule.continueAfter || asksClose(h)) return { ok: true, rules };
          const rest = Buffer.concat(segments.slice(i + 1));
          if (rest.length === 0) return { ok: true, rules };
          const nodeRest = await run(oracle, rest);
          const v = await compare(
            rest,
            nodeRest,
            { ...hl, items: hl.items.slice(i + 1) },
            oracle,
            depth + 1,
          );
          return { ...v, rules: [...rules, ...v.rules] };
        }
      }
      // Several laxer rules at once (e.g. an extension method and "chunked,"): undo them all.
      const laxer = ALL_RULES.filter(
        (r) =>
          r.direction === 'laxer' && r.counterfactual && !r.continueAfter && r.applies(h, where),
      );
      if (
        kh === 'accept' &&
        laxer.length > 1 &&
        (await counterfactualHolds(laxer, seg, hl.items[i]?.echo, oracle))
      ) {
        return { ok: true, rules: [...rules, laxer.map((r) => r.id).join('+')] };
      }
    }
    return {
      ok: false,
      rules,
      reason: `request #${i}: node ${kn}, hyperlane ${kh} (status ${hlStatus ?? '-'}) and no listed rule explains it`,
    };
  }
  return { ok: true, rules };
}

// ------------------------------------------------------------------------------------------------
// Running many cases

/** Run `fn` over `items`, at most `concurrency` at a time. */
export async function pool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/** A mismatch report: the input bytes and both sides. */
export function report(
  label: string,
  input: Buffer,
  node: Side,
  hl: Side,
  reason: string | undefined,
): string {
  return [
    `✗ ${label}`,
    `  input:     ${showBytes(input, 2000)}`,
    `  why:       ${reason}`,
    `  node:http: ${describeSide(node)}`,
    `  hyperlane: ${describeSide(hl)}`,
  ].join('\n');
}

/**
 * Re-run one input alone against both servers with more patience: a mismatch seen under load
 * may be timing. Returns the fresh outcomes and their verdict.
 */
export async function confirmAlone(
  oracle: EchoServer,
  hyper: EchoServer,
  input: Buffer,
): Promise<{ node: Side; hl: Side; verdict: Verdict }> {
  const [node, hl] = await Promise.all([
    exchange(oracle.port, input, { quietMs: 300, timeoutMs: 1500 }).then(toSide),
    exchange(hyper.port, input, { quietMs: 300, timeoutMs: 1500 }).then(toSide),
  ]);
  return { node, hl, verdict: await compare(input, node, hl, oracle) };
}
