/**
 * Differential test of the HTTP/1.1 request parser: node:http (llhttp) is the oracle.
 *
 * Every corpus entry (./corpus.ts) and thousands of seeded random mutations of the valid entries
 * (byte flips; inserted CR / LF / NUL / SP / ":" / HTAB; deleted bytes; duplicated, deleted or
 * inserted header lines; changed Content-Length, Transfer-Encoding, version, method and chunk
 * sizes; CRLF → LF; truncation) are sent over real sockets to BOTH a node:http server and a
 * hyperlane server. Each app echoes the parsed request as JSON `{ method, url, headers, body }`
 * (headers: lower-case name → value, repeated lines joined with ", " — Cookie with "; ", as
 * node's own req.headers and hyperlane both do; body base64). For each response in order we
 * compare accept (2xx) against not accepted (4xx/5xx, or closed) and, when both accept,
 * method, url, headers and body. Hyperlane must also: send well-formed responses, close after
 * every refusal, and close (answering nothing more) after a request that asked to close.
 *
 * Refusing vs. still waiting for bytes is not a mismatch (neither side hands the request to the
 * app; llhttp judges each byte as it comes, hyperlane judges a line once it is complete).
 *
 * A difference is excused only by a listed rule (the deliberate differences and the node:http
 * quirks, each with its RFC section): see ./oracle.ts, which holds the servers, the rules and
 * the comparison, shared with socket-fuzz.test.ts.
 *
 * Bounded: FUZZ_MUTATIONS cases (default 3000, ~10 s on 2 cores) from seed FUZZ_SEED; a
 * mismatch prints the input bytes (JSON-escaped) and both outcomes. FUZZ_VERBOSE=1 prints every
 * case whose first outcomes differ, excused or not.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { showBytes } from '../helpers/raw-client.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { CORPUS, INVALID, VALID, expectedStatuses, type CorpusEntry } from './corpus.js';
import {
  ALL_RULES,
  compare,
  confirmAlone,
  describeSide,
  kindAt,
  pool,
  report,
  run,
  startHyperlane,
  startNodeOracle,
  type EchoServer,
  type Side,
} from './oracle.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 0x5eed2025);
const MUTATIONS = Number(process.env['FUZZ_MUTATIONS'] ?? 3000);
const CONCURRENCY = Number(process.env['FUZZ_CONCURRENCY'] ?? 24);
/** FUZZ_VERBOSE=1 prints every case where the first outcomes differ (excused or not). */
const VERBOSE = process.env['FUZZ_VERBOSE'] === '1';
// ------------------------------------------------------------------------------------------------
// Mutations

const INTERESTING = [
  0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x2f, 0x3a, 0x3b, 0x3d, 0x7f, 0x80, 0xff, 0x41, 0x7a,
  0x30, 0x39, 0x2d,
];
const INSERTS = [
  '\r',
  '\n',
  '\x00',
  ' ',
  ':',
  '\t',
  '\r\n',
  ',',
  ';',
  '"',
  '\x7f',
  '\xff',
  '\x0b',
  '\x0c',
];
const CL_VALUES = (len: number): string[] => [
  String(len + 1),
  String(len + 2),
  String(Math.max(0, len - 1)),
  String(Math.max(0, len - 3)),
  '0',
  '',
  ` ${len}`,
  `${len} `,
  `+${len}`,
  '-1',
  `0x${len.toString(16)}`,
  `${len},${len}`,
  `${len}, ${len}`,
  '99999999999999999999',
  `${len} ${len}`,
  `0${len}`,
  `${len}a`,
];
const TE_VALUES = [
  'chunked',
  'Chunked',
  'CHUNKED',
  ' chunked',
  'chunked ',
  'gzip',
  'gzip, chunked',
  'chunked, gzip',
  'identity',
  'chunked;q=1',
  'xchunked',
  'chunked\t',
  '',
  'chunked,',
  ', chunked',
  'deflate,chunked',
];
const VERSIONS = [
  'HTTP/1.0',
  'HTTP/1.1',
  'HTTP/1.2',
  'HTTP/2.0',
  'HTTP/0.9',
  'HTTP/3.0',
  'HTTP/1.10',
  'HTTP/11',
  'http/1.1',
  'HTTP/1.1 ',
  'HTTP/ 1.1',
  'HTTP/a.b',
  'HTTP/1.1x',
  'HTTP/1.',
  'HTTP/9.9',
  'HTTPS/1.1',
  'HTTP/1,1',
];
const METHODS = [
  'GET',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'get',
  'Post',
  'PURGE',
  'FOO',
  'X-CUSTOM',
  'G T',
  '',
  'G\x00T',
  'M-SEARCH',
  'G@T',
  'GET/',
  'TRACE',
  'QUERY',
  'REPORT',
];
const CHUNK_SIZE_VARIANTS = (s: string): string[] => {
  const n = parseInt(s, 16);
  return [
    (n + 1).toString(16),
    Math.max(0, n - 1).toString(16),
    `0${s}`,
    s.toUpperCase(),
    'g',
    `-${s}`,
    `${s} `,
    ` ${s}`,
    `${s};`,
    `${s};a=`,
    `${s};a="b`,
    `${s};a=b`,
    `${s}; a = b`,
    'ffffffffffffffffff',
    `${s}\t`,
    `0x${s}`,
    '',
  ];
};
const HEADER_LINES = [
  'Host: other.example',
  'Content-Length: 0',
  'Content-Length: 5',
  'Transfer-Encoding: chunked',
  'X-Nul: a\x00b',
  ' folded',
  'X-Sp : y',
  'Connection: close',
  'Connection: keep-alive',
  'Expect: 100-continue',
  'X-Empty:',
  ':nameless',
  'X-Obs: \xe9\xff',
  'host: example.com',
  'Trailer: X-T',
  'Cookie: a=1',
];

interface Parts {
  head: string;
  body: Buffer;
}

function split(buf: Buffer): Parts | undefined {
  const i = buf.indexOf('\r\n\r\n');
  if (i < 0) return undefined;
  return { head: buf.subarray(0, i).toString('latin1'), body: buf.subarray(i + 4) };
}

function join(p: Parts): Buffer {
  return Buffer.concat([Buffer.from(p.head + '\r\n\r\n', 'latin1'), p.body]);
}

type Mutator = (buf: Buffer, r: SeededRandom) => [Buffer, string];

function headBiasedPos(buf: Buffer, r: SeededRandom): number {
  const he = buf.indexOf('\r\n\r\n');
  if (he > 0 && r.chance(0.7)) return r.int(0, he + 3);
  return r.int(0, buf.length - 1);
}

function withHeadLines(
  buf: Buffer,
  r: SeededRandom,
  fn: (lines: string[]) => string,
): [Buffer, string] | undefined {
  const p = split(buf);
  if (!p) return undefined;
  const lines = p.head.split('\r\n');
  const desc = fn(lines);
  return [join({ head: lines.join('\r\n'), body: p.body }), desc];
}

const MUTATORS: Array<[string, number, Mutator]> = [
  [
    'flip',
    5,
    (b, r) => {
      const out = Buffer.from(b);
      const pos = headBiasedPos(b, r);
      const v = r.chance(0.6) ? r.pick(INTERESTING) : r.int(0, 255);
      out[pos] = v;
      return [out, `flip @${pos} → 0x${v.toString(16)}`];
    },
  ],
  [
    'insert',
    5,
    (b, r) => {
      const pos = headBiasedPos(b, r);
      const ins = r.pick(INSERTS);
      return [
        Buffer.concat([b.subarray(0, pos), Buffer.from(ins, 'latin1'), b.subarray(pos)]),
        `insert ${JSON.stringify(ins)} @${pos}`,
      ];
    },
  ],
  [
    'delete',
    3,
    (b, r) => {
      const pos = headBiasedPos(b, r);
      const n = r.int(1, 3);
      return [Buffer.concat([b.subarray(0, pos), b.subarray(pos + n)]), `delete ${n} @${pos}`];
    },
  ],
  [
    'dup-header',
    3,
    (b, r) =>
      withHeadLines(b, r, (lines) => {
        if (lines.length < 2) return 'dup-header (none)';
        const i = r.int(1, lines.length - 1);
        const at = r.int(1, lines.length);
        lines.splice(at, 0, lines[i] as string);
        return `duplicate header line ${JSON.stringify(lines[i])} at ${at}`;
      }) ?? [b, 'dup-header (no head)'],
  ],
  [
    'delete-header',
    3,
    (b, r) =>
      withHeadLines(b, r, (lines) => {
        if (lines.length < 2) return 'delete-header (none)';
        const i = r.int(1, lines.length - 1);
        const [gone] = lines.splice(i, 1);
        return `delete header line ${JSON.stringify(gone)}`;
      }) ?? [b, 'delete-header (no head)'],
  ],
  [
    'insert-header',
    3,
    (b, r) =>
      withHeadLines(b, r, (lines) => {
        const line = r.pick(HEADER_LINES);
        const at = r.int(1, lines.length);
        lines.splice(at, 0, line);
        return `insert header line ${JSON.stringify(line)} at ${at}`;
      }) ?? [b, 'insert-header (no head)'],
  ],
  [
    'content-length',
    4,
    (b, r) =>
      withHeadLines(b, r, (lines) => {
        const p = split(b);
        const len = p ? p.body.length : 0;
        const v = r.pick(CL_VALUES(len));
        const i = lines.findIndex((l) => /^content-length:/i.test(l));
        if (i > 0) lines[i] = `Content-Length: ${v}`;
        else lines.splice(r.int(1, lines.length), 0, `Content-Length: ${v}`);
        return `Content-Length: ${JSON.stringify(v)}${i > 0 ? '' : ' (added)'}`;
      }) ?? [b, 'content-length (no head)'],
  ],
  [
    'transfer-encoding',
    3,
    (b, r) =>
      withHeadLines(b, r, (lines) => {
        const v = r.pick(TE_VALUES);
        const i = lines.findIndex((l) => /^transfer-encoding:/i.test(l));
        if (i > 0 && r.chance(0.7)) lines[i] = `Transfer-Encoding: ${v}`;
        else lines.splice(r.int(1, lines.length), 0, `Transfer-Encoding: ${v}`);
        return `Transfer-Encoding: ${JSON.stringify(v)}`;
      }) ?? [b, 'transfer-encoding (no head)'],
  ],
  [
    'version',
    2,
    (b, r) => {
      const s = b.toString('latin1');
      const v = r.pick(VERSIONS);
      return [
        Buffer.from(s.replace(/HTTP\/1\.[01]/, v), 'latin1'),
        `version → ${JSON.stringify(v)}`,
      ];
    },
  ],
  [
    'method',
    2,
    (b, r) => {
      const s = b.toString('latin1');
      const m = r.pick(METHODS);
      return [Buffer.from(s.replace(/^[A-Z]+/, m), 'latin1'), `method → ${JSON.stringify(m)}`];
    },
  ],
  [
    'truncate',
    3,
    (b, r) => {
      const n = r.int(1, b.length - 1);
      return [b.subarray(0, n), `truncate to ${n}`];
    },
  ],
  [
    'chunk-size',
    3,
    (b, r) => {
      const p = split(b);
      if (!p || !/transfer-encoding:\s*chunked/i.test(p.head))
        return [b, 'chunk-size (not chunked)'];
      const body = p.body.toString('latin1');
      const sizes = [...body.matchAll(/(^|\r\n)([0-9a-fA-F]+)(?=[;\r])/g)].filter(
        (m) => m[2] !== undefined,
      );
      if (sizes.length === 0) return [b, 'chunk-size (none)'];
      const m = r.pick(sizes);
      const start = (m.index ?? 0) + (m[1] ?? '').length;
      const v = r.pick(CHUNK_SIZE_VARIANTS(m[2] as string));
      const nb = body.slice(0, start) + v + body.slice(start + (m[2] as string).length);
      return [
        join({ head: p.head, body: Buffer.from(nb, 'latin1') }),
        `chunk size ${m[2]} → ${JSON.stringify(v)}`,
      ];
    },
  ],
  [
    'crlf-to-lf',
    2,
    (b, r) => {
      const s = b.toString('latin1');
      const idx = [...s.matchAll(/\r\n/g)].map((m) => m.index ?? 0);
      if (idx.length === 0) return [b, 'crlf-to-lf (none)'];
      const at = r.pick(idx);
      return [Buffer.from(s.slice(0, at) + s.slice(at + 1), 'latin1'), `CRLF → LF @${at}`];
    },
  ],
  [
    'case-flip',
    1,
    (b, r) =>
      withHeadLines(b, r, (lines) => {
        if (lines.length < 2) return 'case-flip (none)';
        const i = r.int(1, lines.length - 1);
        const line = lines[i] as string;
        const c = line.indexOf(':');
        const name = (c < 0 ? line : line.slice(0, c))
          .split('')
          .map((ch) => (r.chance(0.5) ? ch.toUpperCase() : ch.toLowerCase()))
          .join('');
        lines[i] = c < 0 ? name : name + line.slice(c);
        return `case-flip ${JSON.stringify(lines[i])}`;
      }) ?? [b, 'case-flip (no head)'],
  ],
];

const TOTAL_WEIGHT = MUTATORS.reduce((a, [, w]) => a + w, 0);

function pickMutator(r: SeededRandom): [string, Mutator] {
  let x = r.next() * TOTAL_WEIGHT;
  for (const [name, w, fn] of MUTATORS) {
    if ((x -= w) < 0) return [name, fn];
  }
  const last = MUTATORS[MUTATORS.length - 1] as [string, number, Mutator];
  return [last[0], last[2]];
}

interface Case {
  id: number;
  base: string;
  input: Buffer;
  steps: string[];
}

function makeMutations(seed: number, count: number): Case[] {
  const r = new SeededRandom(seed);
  const bases = VALID.filter((e) => e.raw.length < 1500 && !e.raw.startsWith('PURGEALL'));
  const cases: Case[] = [];
  for (let id = 0; id < count; id++) {
    const base = r.pick(bases);
    let buf: Buffer = Buffer.from(base.raw, 'latin1');
    const steps: string[] = [];
    const n = r.chance(0.7) ? 1 : r.int(2, 3);
    for (let k = 0; k < n; k++) {
      const [name, fn] = pickMutator(r);
      const [next, desc] = fn(buf, r);
      buf = next.length > 0 ? next : buf;
      steps.push(`${name}: ${desc}`);
    }
    cases.push({ id, base: base.name, input: buf, steps });
  }
  return cases;
}

// ------------------------------------------------------------------------------------------------
// Tests

describe('differential: hyperlane vs node:http', { timeout: 120_000 }, () => {
  let oracle: EchoServer;
  let hyper: EchoServer;

  before(async () => {
    oracle = await startNodeOracle();
    hyper = await startHyperlane();
  });

  after(async () => {
    await Promise.all([oracle?.close(), hyper?.close()]);
  });

  describe('corpus', () => {
    for (const entry of CORPUS) {
      test(`${entry.expect === 'accept' ? 'valid' : `invalid (${expectedStatuses(entry).join('|')})`}: ${entry.name}`, async (t) => {
        const input = Buffer.from(entry.raw, 'latin1');
        const [node, hl] = await Promise.all([run(oracle, input), run(hyper, input)]);
        const show = (why: string): string => report(entry.name, input, node, hl, why);
        checkCorpusExpectation(entry, hl, show);
        const v = await compare(input, node, hl, oracle);
        assert.ok(v.ok, show(v.reason ?? ''));
        if (v.rules.length > 0) t.diagnostic(`deliberate difference: ${v.rules.join(', ')}`);
      });
    }
  });

  test(`${MUTATIONS} seeded mutations of valid requests (seed ${SEED})`, async (t) => {
    const cases = makeMutations(SEED, MUTATIONS);
    const failures: string[] = [];
    const ruleCounts = new Map<string, number>();
    const outcomeCounts = new Map<string, number>();
    const started = Date.now();
    const suspects: Array<{ c: Case; reason: string }> = [];
    await pool(cases, CONCURRENCY, async (c) => {
      const [node, hl] = await Promise.all([run(oracle, c.input), run(hyper, c.input)]);
      const key = `node ${kindAt(node, 0)} / hyperlane ${kindAt(hl, 0)}`;
      outcomeCounts.set(key, (outcomeCounts.get(key) ?? 0) + 1);
      if (VERBOSE && kindAt(node, 0) !== kindAt(hl, 0)) {
        t.diagnostic(
          `${key}: ${showBytes(c.input, 400)} node ${describeSide(node).slice(0, 200)} hyperlane ${describeSide(hl).slice(0, 200)}`,
        );
      }
      const v = await compare(c.input, node, hl, oracle);
      if (v.ok) {
        for (const id of v.rules) ruleCounts.set(id, (ruleCounts.get(id) ?? 0) + 1);
      } else {
        suspects.push({ c, reason: v.reason ?? '' });
      }
    });
    // A mismatch under load may be timing: confirm each one alone, with more patience.
    for (const { c } of suspects) {
      const { node, hl, verdict: v } = await confirmAlone(oracle, hyper, c.input);
      if (v.ok) {
        for (const id of v.rules) ruleCounts.set(id, (ruleCounts.get(id) ?? 0) + 1);
        continue;
      }
      failures.push(
        report(
          `mutation #${c.id} of "${c.base}" [${c.steps.join('; ')}]`,
          c.input,
          node,
          hl,
          v.reason,
        ),
      );
    }
    t.diagnostic(`${cases.length} cases in ${Date.now() - started} ms`);
    for (const [k, n] of [...outcomeCounts].sort()) t.diagnostic(`${k}: ${n}`);
    for (const [k, n] of [...ruleCounts].sort()) t.diagnostic(`excused by ${k}: ${n}`);
    assert.equal(
      failures.length,
      0,
      `${failures.length} mismatch(es) not covered by a listed rule:\n\n${failures.slice(0, 25).join('\n\n')}`,
    );
  });
});

function checkCorpusExpectation(entry: CorpusEntry, hl: Side, show: (why: string) => string): void {
  assert.equal(hl.parseError, undefined, show('hyperlane sent a malformed response'));
  if (entry.expect === 'accept') {
    const n = entry.requests ?? 1;
    for (let i = 0; i < n; i++) {
      assert.equal(kindAt(hl, i), 'accept', show(`request #${i} must be accepted`));
    }
    const echo = hl.items[0]?.echo;
    assert.ok(echo, show('echo JSON'));
    const p = entry.parsed;
    if (p) {
      if (p.method !== undefined) assert.equal(echo.method, p.method, show('method'));
      if (p.url !== undefined) assert.equal(echo.url, p.url, show('url'));
      if (p.body !== undefined)
        assert.equal(Buffer.from(echo.body, 'base64').toString('latin1'), p.body, show('body'));
      for (const [k, v] of Object.entries(p.headers ?? {}))
        assert.equal(echo.headers[k], v, show(`header ${k}`));
      for (const k of p.absentHeaders ?? [])
        assert.equal(echo.headers[k], undefined, show(`header ${k} absent`));
    }
  } else {
    const allowed = expectedStatuses(entry);
    const status = hl.items[0]?.status;
    assert.ok(
      status !== undefined && allowed.includes(status),
      show(`hyperlane must answer ${allowed.join(' or ')} (${entry.rule ?? ''})`),
    );
    assert.equal(hl.items.length, 1, show('exactly one response'));
    assert.ok(hl.closed, show('hyperlane must close the connection after refusing'));
  }
}

// Keep the lists referenced (and the rules visible in test output) for readers of the report.
test('deliberate differences are listed with their RFC sections', () => {
  for (const rule of ALL_RULES) {
    assert.match(rule.rfc, /^RFC \d+/, rule.id);
    assert.ok(rule.summary.length > 0, rule.id);
  }
  assert.ok(INVALID.length > 0 && VALID.length > 0);
});
