/**
 * Request generators for the parser fuzzers.
 *
 * - A seeded mutation fuzzer: `generateCase(seed, index)` picks a base (a corpus entry, a random
 *   valid request, or a pipeline of them) and applies 0–4 mutations: byte flips, inserted and
 *   deleted bytes, duplicated ranges and header lines, CRLF / LF / CR games, Content-Length and
 *   Transfer-Encoding games, chunk-size / extension / trailer games, values sized to the limits
 *   (one byte under, at and over), pipelining, truncation. Case `index` of `seed` is always the
 *   same bytes, so a finding is replayed from two numbers.
 * - A structured model of valid requests (`RequestSpec`), with `serializeRequest()` for the bytes
 *   and `expectedRequest()` for what a parser must report, built both from a `SeededRandom`
 *   (fast, for the mutation bases) and as `fast-check` arbitraries (shrinkable, for properties).
 *
 * Inputs are latin1 strings while being built (one char per byte, so control bytes and obs-text
 * are exact) and Buffers once done.
 */
import fc from 'fast-check';
import type { ParserLimits } from '../../src/http/request-parser.js';
import { DEFAULT_CONFIG } from '../../src/server/config.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { CORPUS } from './corpus.js';

// ------------------------------------------------------------------------------------------------
// Limits

/** The server's default parser bounds (httpBufferSize, bodyLimit). */
export const DEFAULT_LIMITS: ParserLimits = {
  maxHeadSize: DEFAULT_CONFIG.httpBufferSize,
  maxBodySize: DEFAULT_CONFIG.bodyLimit,
};

/**
 * Bounds a case is parsed with: mostly the defaults, sometimes small ones so that "one byte over
 * the limit" is cheap to reach for every counter the parser keeps.
 */
const LIMIT_PROFILES: ReadonlyArray<readonly [ParserLimits, number]> = [
  [DEFAULT_LIMITS, 6],
  [{ maxHeadSize: 1024, maxBodySize: 2048 }, 3],
  [{ maxHeadSize: 200, maxBodySize: 16 }, 1],
];

// ------------------------------------------------------------------------------------------------
// Alphabets (RFC 9110 §5.6.2 token, §5.5 field-value, RFC 3986 host)

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ALNUM = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** Visible ASCII and obs-text: what a field value may hold besides inner SP / HTAB. */
const VALUE_CHARS = (() => {
  let s = '';
  for (let c = 0x21; c <= 0x7e; c++) s += String.fromCharCode(c);
  for (let c = 0x80; c <= 0xff; c++) s += String.fromCharCode(c);
  return s;
})();
/** What a request target may hold: visible ASCII. */
const TARGET_CHARS = VALUE_CHARS.slice(0, 0x7e - 0x21 + 1);
const PATH_CHARS =
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=:@/";
const HOST_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-._~%!$&'()*+,;=";
const OWS = ['', '', '', ' ', ' ', '\t', '  ', ' \t '];

const COMMON_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];
const EXTRA_METHODS = ['PURGE', 'PROPFIND', 'M-SEARCH', 'QUERY', 'REPORT', 'LINK', 'X_1~'];
const COMMON_NAMES = [
  'Accept',
  'Accept-Encoding',
  'User-Agent',
  'Cookie',
  'Connection',
  'X-Request-Id',
  'Content-Type',
  'Authorization',
  'Upgrade',
  'Trailer',
  'Cache-Control',
  'If-None-Match',
  'Origin',
  'Referer',
];
/** Names whose value changes framing or is checked; random fields never use them. */
const SPECIAL = new Set(['host', 'content-length', 'transfer-encoding', 'expect']);

// ------------------------------------------------------------------------------------------------
// The structured model of a valid request

/** One field line: `name ":" before value after CRLF` (before/after are OWS). */
export interface FieldSpec {
  name: string;
  value: string;
  before: string;
  after: string;
}

/** One chunk of a chunked body. */
export interface ChunkSpec {
  data: string;
  /** The chunk-size as written (hex of data.length, any case, leading zeros allowed). */
  sizeText: string;
  /** Chunk extensions as written (";a=b", with the BWS the grammar allows). */
  ext: string;
}

/** A valid HTTP/1.1 (or 1.0) request; `serializeRequest` gives its bytes. */
export interface RequestSpec {
  /** Empty lines (CRLF) before the request line (RFC 9112 §2.2). */
  leadingEmptyLines: number;
  method: string;
  target: string;
  version: 'HTTP/1.1' | 'HTTP/1.0';
  /** Every field line in order, Host and framing fields included. */
  fields: FieldSpec[];
  framing: 'none' | 'length' | 'chunked';
  /** The body (latin1); for chunked, the concatenation of `chunks`. */
  body: string;
  chunks: ChunkSpec[];
  /** The last chunk's size text ("0", "000") and extensions. */
  lastChunk: string;
  trailers: FieldSpec[];
}

/** What a parser must report for a `RequestSpec`. */
export interface ExpectedRequest {
  method: string;
  target: string;
  isHttp11: boolean;
  /** Lower-case names and trimmed values, in order. */
  headers: Array<[string, string]>;
  body: string;
}

function fieldLine(f: FieldSpec): string {
  return `${f.name}:${f.before}${f.value}${f.after}\r\n`;
}

/** The request's bytes as a latin1 string. */
export function serializeRequest(spec: RequestSpec): string {
  let s = '\r\n'.repeat(spec.leadingEmptyLines);
  s += `${spec.method} ${spec.target} ${spec.version}\r\n`;
  for (const f of spec.fields) s += fieldLine(f);
  s += '\r\n';
  if (spec.framing === 'length') return s + spec.body;
  if (spec.framing === 'none') return s;
  for (const c of spec.chunks) s += `${c.sizeText}${c.ext}\r\n${c.data}\r\n`;
  s += `${spec.lastChunk}\r\n`;
  for (const t of spec.trailers) s += fieldLine(t);
  return s + '\r\n';
}

/** What the parser must hand over for `spec`. */
export function expectedRequest(spec: RequestSpec): ExpectedRequest {
  return {
    method: spec.method,
    target: spec.target,
    isHttp11: spec.version === 'HTTP/1.1',
    headers: spec.fields.map((f) => [f.name.toLowerCase(), f.value]),
    body: spec.body,
  };
}

/** Where the head ends (the index after its blank line), counting leading empty lines. */
export function headLength(spec: RequestSpec): number {
  let n = 2 * spec.leadingEmptyLines;
  n += spec.method.length + spec.target.length + spec.version.length + 4;
  for (const f of spec.fields) n += fieldLine(f).length;
  return n + 2;
}

/** A chunk-size for `size` in either case, with the leading zeros the grammar allows. */
function chunkFrame(size: number, r: { pickSizeCase(): number; zeros(): number }): string {
  const hex = size.toString(16);
  const cased = r.pickSizeCase() === 0 ? hex : hex.toUpperCase();
  return '0'.repeat(r.zeros()) + cased;
}

/** Finish a spec's framing fields (Content-Length / Transfer-Encoding) from its body. */
function frameFields(
  spec: Omit<RequestSpec, 'fields'> & { fields: FieldSpec[] },
  at: number,
  teName: string,
): RequestSpec {
  const fields = spec.fields.slice();
  if (spec.framing === 'length') {
    fields.splice(at % (fields.length + 1), 0, {
      name: 'Content-Length',
      value: String(spec.body.length),
      before: ' ',
      after: '',
    });
  } else if (spec.framing === 'chunked') {
    fields.splice(at % (fields.length + 1), 0, {
      name: 'Transfer-Encoding',
      value: teName,
      before: ' ',
      after: '',
    });
  }
  return { ...spec, fields };
}

// ---- seeded (fast) ------------------------------------------------------------------------

function randString(r: SeededRandom, alphabet: string, min: number, max: number): string {
  const n = r.int(min, max);
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r.next() * alphabet.length)];
  return s;
}

function randToken(r: SeededRandom, min = 1, max = 10): string {
  return randString(r, TOKEN_CHARS, min, max);
}

function randValue(r: SeededRandom): string {
  if (r.chance(0.1)) return '';
  const n = r.int(1, r.chance(0.9) ? 24 : 200);
  let s = '';
  for (let i = 0; i < n; i++) {
    if (i > 0 && i < n - 1 && r.chance(0.1)) s += r.chance(0.8) ? ' ' : '\t';
    else if (r.chance(0.9)) s += VALUE_CHARS[r.int(0, 0x7e - 0x21)];
    else s += VALUE_CHARS[r.int(0, VALUE_CHARS.length - 1)];
  }
  return s;
}

function randHost(r: SeededRandom): string {
  const kind = r.int(0, 9);
  const port = r.chance(0.3) ? `:${r.int(0, 65535)}` : '';
  if (kind === 0) return `[::${r.int(1, 0xffff).toString(16)}]${port}`;
  if (kind === 1)
    return `${r.int(0, 255)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(0, 255)}${port}`;
  if (kind === 2) return randString(r, HOST_CHARS, 0, 20) + port;
  return `${randString(r, ALNUM, 1, 10).toLowerCase()}.example${port}`;
}

function randTarget(r: SeededRandom, method: string): string {
  if (method === 'OPTIONS' && r.chance(0.2)) return '*';
  let path = '/' + randString(r, PATH_CHARS, 0, r.chance(0.95) ? 20 : 300);
  if (r.chance(0.3)) path += '?' + randString(r, TARGET_CHARS, 0, 20);
  if (r.chance(0.05)) path += '#' + randString(r, PATH_CHARS, 0, 5);
  if (r.chance(0.08)) return `${r.chance(0.5) ? 'http' : 'HTTPS'}://${randHost(r)}${path}`;
  return path;
}

function randField(r: SeededRandom): FieldSpec {
  let name = r.chance(0.5) ? r.pick(COMMON_NAMES) : randToken(r, 1, 16);
  if (SPECIAL.has(name.toLowerCase())) name = `X-${name}`;
  return { name, value: randValue(r), before: r.pick(OWS), after: r.pick(OWS) };
}

function randExt(r: SeededRandom): string {
  if (r.chance(0.8)) return '';
  let s = '';
  const n = r.int(1, 3);
  for (let i = 0; i < n; i++) {
    const bws = r.chance(0.2) ? r.pick([' ', '\t', '  ']) : '';
    s += `${bws};${bws}${randToken(r, 1, 6)}`;
    if (r.chance(0.6)) {
      const v = r.chance(0.6)
        ? randToken(r, 1, 8)
        : `"${randString(r, 'abc \t!#[]\x80', 0, 6).replace(/"/g, '')}${r.chance(0.3) ? '\\"' : ''}"`;
      s += `${bws}=${bws}${v}`;
    }
  }
  return s;
}

/** A random valid request. `bodyMax` bounds the body (keep it under the body limit in use). */
export function randomRequestSpec(r: SeededRandom, bodyMax = 64): RequestSpec {
  const method = r.chance(0.85) ? r.pick(COMMON_METHODS) : r.pick(EXTRA_METHODS);
  const version: RequestSpec['version'] = r.chance(0.9) ? 'HTTP/1.1' : 'HTTP/1.0';
  const fields: FieldSpec[] = [];
  const nFields = r.chance(0.9) ? r.int(0, 6) : r.int(7, 40);
  for (let i = 0; i < nFields; i++) fields.push(randField(r));
  if (version === 'HTTP/1.1' || r.chance(0.5)) {
    const host: FieldSpec = {
      name: r.pick(['Host', 'host', 'HOST']),
      value: randHost(r),
      before: r.pick(OWS),
      after: r.pick(OWS),
    };
    fields.splice(r.int(0, fields.length), 0, host);
  }
  if (version === 'HTTP/1.1' && r.chance(0.05)) {
    fields.push({ name: 'Expect', value: '100-continue', before: ' ', after: '' });
  }
  const framing: RequestSpec['framing'] =
    version === 'HTTP/1.0'
      ? r.chance(0.5)
        ? 'none'
        : 'length'
      : r.pick(['none', 'none', 'length', 'chunked'] as const);
  const body = framing === 'none' ? '' : randString(r, VALUE_CHARS + '\r\n\x00', 0, bodyMax);
  const chunks: ChunkSpec[] = [];
  const sizer = { pickSizeCase: () => r.int(0, 1), zeros: () => (r.chance(0.1) ? r.int(1, 3) : 0) };
  if (framing === 'chunked') {
    let p = 0;
    while (p < body.length) {
      const n = r.int(1, body.length - p);
      chunks.push({ data: body.slice(p, p + n), sizeText: chunkFrame(n, sizer), ext: randExt(r) });
      p += n;
    }
  }
  const trailers: FieldSpec[] = [];
  if (framing === 'chunked' && r.chance(0.2)) {
    for (let i = r.int(1, 3); i > 0; i--) trailers.push(randField(r));
  }
  return frameFields(
    {
      leadingEmptyLines: r.chance(0.05) ? r.int(1, 2) : 0,
      method,
      target: randTarget(r, method),
      version,
      fields,
      framing,
      body,
      chunks,
      lastChunk: '0'.repeat(r.chance(0.1) ? r.int(2, 4) : 1) + randExt(r),
      trailers,
    },
    r.int(0, 100),
    r.pick(['chunked', 'chunked', 'Chunked', 'CHUNKED']),
  );
}

// ---- fast-check (shrinkable) ------------------------------------------------------------------

const charOf = (alphabet: string): fc.Arbitrary<string> => fc.constantFrom(...alphabet.split(''));

/** An RFC 9110 token. */
export const tokenArb = fc.string({ unit: charOf(TOKEN_CHARS), minLength: 1, maxLength: 12 });

/** A field value with no leading or trailing whitespace (inner SP / HTAB allowed). */
export const fieldValueArb = fc
  .array(fc.oneof({ weight: 8, arbitrary: charOf(VALUE_CHARS) }, charOf(' \t')), {
    maxLength: 30,
  })
  .map((cs) => cs.join('').replace(/^[ \t]+|[ \t]+$/g, ''));

const owsArb = fc.constantFrom(...OWS);

/** A field line that is not Host, Content-Length, Transfer-Encoding or Expect. */
export const fieldArb: fc.Arbitrary<FieldSpec> = fc
  .record({
    name: fc.oneof(fc.constantFrom(...COMMON_NAMES), tokenArb),
    value: fieldValueArb,
    before: owsArb,
    after: owsArb,
  })
  .map((f) => (SPECIAL.has(f.name.toLowerCase()) ? { ...f, name: `X-${f.name}` } : f));

/** A valid Host value: reg-name, IPv4 or an IPv6 literal, with an optional port. */
export const hostArb = fc
  .tuple(
    fc.oneof(
      fc.string({ unit: charOf(HOST_CHARS), maxLength: 20 }),
      fc.ipV4(),
      fc.ipV6().map((ip) => `[${ip}]`),
    ),
    fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
  )
  .map(([h, port]) => (port === undefined ? h : `${h}:${port}`));

const methodArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...COMMON_METHODS) },
  { weight: 1, arbitrary: tokenArb },
);

const targetArb = fc
  .tuple(
    fc.string({ unit: charOf(PATH_CHARS), maxLength: 30 }),
    fc.option(fc.string({ unit: charOf(TARGET_CHARS), maxLength: 20 }), { nil: undefined }),
    fc.option(hostArb, { nil: undefined }),
  )
  .map(([path, query, absolute]) => {
    const origin = `/${path}${query === undefined ? '' : `?${query}`}`;
    // An http URI with an empty host is invalid (RFC 9110 §4.2.1): absolute-form only with one.
    const usable = absolute !== undefined && absolute !== '' && !absolute.startsWith(':');
    return usable ? `http://${absolute}${origin}` : origin;
  });

const chunkExtArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant('') },
  fc
    .tuple(
      fc.constantFrom('', ' ', '\t'),
      tokenArb,
      fc.option(
        fc.oneof(
          tokenArb,
          fc.string({ unit: charOf('ab \t!#'), maxLength: 5 }).map((q) => `"${q}"`),
        ),
        {
          nil: undefined,
        },
      ),
    )
    .map(
      ([bws, name, value]) =>
        `${bws};${bws}${name}${value === undefined ? '' : `${bws}=${bws}${value}`}`,
    ),
);

/**
 * A valid request (HTTP/1.1 with Host, or HTTP/1.0), body framed by Content-Length or chunked
 * (random chunk boundaries, size case, leading zeros, extensions, trailers), or no body.
 */
export function requestSpecArb(opts: { maxBody?: number } = {}): fc.Arbitrary<RequestSpec> {
  const maxBody = opts.maxBody ?? 200;
  return fc
    .record({
      leadingEmptyLines: fc.oneof(
        { weight: 9, arbitrary: fc.constant(0) },
        fc.integer({ min: 1, max: 2 }),
      ),
      method: methodArb,
      target: targetArb,
      version: fc.constantFrom('HTTP/1.1' as const, 'HTTP/1.1' as const, 'HTTP/1.0' as const),
      fields: fc.array(fieldArb, { maxLength: 8 }),
      host: fc.record({ value: hostArb, before: owsArb, after: owsArb, at: fc.nat() }),
      framing: fc.constantFrom('none' as const, 'length' as const, 'chunked' as const),
      body: fc.string({ unit: 'binary-ascii', maxLength: maxBody }),
      cuts: fc.array(fc.nat(), { maxLength: 6 }),
      sizeCase: fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 2 }), chunkExtArb), {
        minLength: 8,
        maxLength: 8,
      }),
      lastChunk: fc.tuple(fc.integer({ min: 1, max: 3 }), chunkExtArb),
      trailers: fc.array(fieldArb, { maxLength: 2 }),
      framingAt: fc.nat(),
      teName: fc.constantFrom('chunked', 'Chunked', 'CHUNKED'),
    })
    .map((g) => {
      const framing = g.version === 'HTTP/1.0' && g.framing === 'chunked' ? 'length' : g.framing;
      const body = framing === 'none' ? '' : g.body;
      const fields = g.fields.slice();
      if (g.version === 'HTTP/1.1' || g.host.at % 2 === 0) {
        fields.splice(g.host.at % (fields.length + 1), 0, {
          name: 'Host',
          value: g.host.value,
          before: g.host.before,
          after: g.host.after,
        });
      }
      const chunks: ChunkSpec[] = [];
      if (framing === 'chunked' && body.length > 0) {
        const points = [...new Set(g.cuts.map((c) => 1 + (c % body.length)))]
          .filter((p) => p < body.length)
          .sort((a, b) => a - b);
        let prev = 0;
        for (const p of [...points, body.length]) {
          const [upper, zeros, ext] = g.sizeCase[chunks.length % 8] as [boolean, number, string];
          const hex = (p - prev).toString(16);
          chunks.push({
            data: body.slice(prev, p),
            sizeText: '0'.repeat(zeros) + (upper ? hex.toUpperCase() : hex),
            ext,
          });
          prev = p;
        }
      }
      return frameFields(
        {
          leadingEmptyLines: g.leadingEmptyLines,
          method: g.method,
          target: g.target,
          version: g.version,
          fields,
          framing,
          body,
          chunks,
          lastChunk: '0'.repeat(g.lastChunk[0]) + g.lastChunk[1],
          trailers: framing === 'chunked' ? g.trailers : [],
        },
        g.framingAt,
        g.teName,
      );
    });
}

/** 1–4 valid requests sent back to back on one connection. */
export const pipelineArb = fc.array(requestSpecArb({ maxBody: 80 }), {
  minLength: 1,
  maxLength: 4,
});

/** Cut points for a byte string of length `n` (sorted, distinct, inside 1..n-1). */
export function cutsArb(n: number): fc.Arbitrary<number[]> {
  if (n < 2) return fc.constant([]);
  return fc
    .uniqueArray(fc.integer({ min: 1, max: n - 1 }), { maxLength: Math.min(12, n - 1) })
    .map((a) => a.sort((x, y) => x - y));
}

// ------------------------------------------------------------------------------------------------
// Mutations

/** Bytes worth placing at a random position: the ones HTTP framing gives a meaning to. */
const INTERESTING = [
  0x00, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x22, 0x23, 0x2c, 0x2f, 0x30, 0x3a, 0x3b, 0x3d, 0x3f,
  0x40, 0x41, 0x5c, 0x66, 0x7f, 0x80, 0xa0, 0xff,
];
const INSERTS = [
  '\r',
  '\n',
  '\r\n',
  '\r\n\r\n',
  '\n\n',
  '\x00',
  ' ',
  '\t',
  ':',
  ';',
  ',',
  '"',
  '\\',
  '=',
  '\x7f',
  '\x80',
  '\xff',
  '\xa0',
  '\x0b',
  '\x0c',
  '0',
  'f',
  '0\r\n\r\n',
  '\r\n ',
  '\r\nContent-Length: 5',
  '\r\nTransfer-Encoding: chunked',
  '\r\nHost: x',
  'GET / HTTP/1.1\r\n',
];
const HEADER_LINES = [
  'Host: other.example',
  'Host:',
  'Host: [::1]:8080',
  'Host: a b',
  'Content-Length: 0',
  'Content-Length: 5',
  'Content-Length: 1048577',
  'Content-Length: 00000000000000000000001',
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: gzip',
  'Transfer-Encoding: chunked, chunked',
  'transfer-encoding: identity',
  'Transfer-Encoding:\tchunked',
  'Transfer-Encoding: chunked\xa0',
  'X-Nul: a\x00b',
  ' folded',
  '\tfolded',
  'X-Sp : y',
  'X-Tab\t: y',
  'Connection: close',
  'Connection: keep-alive',
  'Connection: Upgrade',
  'Connection: keep-alive, close',
  'Upgrade: websocket',
  'Expect: 100-continue',
  'Expect: 100-Continue',
  'Expect: nothing',
  'X-Empty:',
  ':nameless',
  'X-Obs: \xe9\xff',
  'Cookie: a=1',
  'Cookie: b=2',
  'Trailer: X-T',
  'X-Long: ' + 'l'.repeat(500),
  'no-colon',
  'X\x00: v',
];
const TE_VALUES = [
  'chunked',
  'Chunked',
  ' chunked',
  'chunked ',
  'chunked\t',
  'gzip',
  'gzip, chunked',
  'chunked, gzip',
  'identity',
  'chunked;q=1',
  'xchunked',
  '',
  'chunked,',
  ', chunked',
  ',,chunked,,',
  'deflate,chunked',
  'chunked, chunked',
  '"chunked"',
  'chunked\xa0',
  'chunked\x0b',
];
const VERSIONS = [
  'HTTP/1.0',
  'HTTP/1.1',
  'HTTP/1.2',
  'HTTP/2.0',
  'HTTP/0.9',
  'HTTP/9.9',
  'HTTP/1.10',
  'HTTP/11',
  'http/1.1',
  'HTTP/1.1 ',
  'HTTP/ 1.1',
  'HTTP/1.',
  'HTTPS/1.1',
  'HTTP/1,1',
  'HTTP/\xb9.1',
  '',
];
const METHODS = [
  'GET',
  'POST',
  'HEAD',
  'OPTIONS',
  'CONNECT',
  'get',
  'PURGE',
  'G T',
  '',
  'G\x00T',
  'G@T',
  'GET/',
  'M-SEARCH',
  'G\xc9T',
  'X'.repeat(100),
];
const TARGETS = [
  '/',
  '*',
  'http://a.example/x',
  'https://a.example',
  'http://a.example?q',
  'HTTP://A.example/',
  'ftp://a.example/',
  'a.example:443',
  '//double',
  '/a b',
  '/caf\xe9',
  '/a\x00',
  '/#frag',
  '/?',
  '/?q#f?x',
  'http://',
  'http:///',
  '/%00',
];

function cut(s: string, at: number, del: number, ins: string): string {
  return s.slice(0, at) + ins + s.slice(at + del);
}

/** The end of the head (index of its final CRLFCRLF), or -1. */
function headEnd(s: string): number {
  return s.indexOf('\r\n\r\n');
}

/** A position, more often inside the head, where most of the rules are. */
function pos(s: string, r: SeededRandom, end = false): number {
  const he = headEnd(s);
  const max = end ? s.length : Math.max(0, s.length - 1);
  if (he > 0 && r.chance(0.7)) return r.int(0, Math.min(max, he + 4));
  return r.int(0, max);
}

/** Apply `fn` to the head's field lines (the request line is lines[0]). */
function editLines(s: string, fn: (lines: string[]) => void): string {
  const he = headEnd(s);
  const head = he < 0 ? s : s.slice(0, he);
  const rest = he < 0 ? '' : s.slice(he);
  const lines = head.split('\r\n');
  fn(lines);
  return lines.join('\r\n') + rest;
}

function findLine(lines: readonly string[], re: RegExp): number {
  for (let i = 1; i < lines.length; i++) if (re.test(lines[i] as string)) return i;
  return -1;
}

/** The body of a (loosely parsed) chunked message, or undefined if it does not look chunked. */
function dechunk(body: string): { data: string; end: number } | undefined {
  let p = 0;
  let data = '';
  for (;;) {
    const le = body.indexOf('\r\n', p);
    if (le < 0) return undefined;
    const size = parseInt(body.slice(p, le), 16);
    if (!Number.isFinite(size) || size < 0) return undefined;
    if (size === 0) {
      const te = body.indexOf('\r\n\r\n', le);
      return { data, end: te < 0 ? body.length : te + 4 };
    }
    data += body.slice(le + 2, le + 2 + size);
    p = le + 2 + size + 2;
    if (p > body.length) return undefined;
  }
}

function isChunked(s: string): boolean {
  const he = headEnd(s);
  return he > 0 && /\r\ntransfer-encoding:[^\r]*chunked/i.test(s.slice(0, he));
}

interface MutateContext {
  r: SeededRandom;
  limits: ParserLimits;
}

type Mutator = (s: string, m: MutateContext) => string;

function chunkSizeVariant(size: number, r: SeededRandom): string {
  const hex = size.toString(16);
  return r.pick([
    (size + 1).toString(16),
    Math.max(0, size - 1).toString(16),
    '0'.repeat(r.int(1, 20)) + hex,
    hex.toUpperCase(),
    'g',
    `-${hex}`,
    `+${hex}`,
    `${hex} `,
    ` ${hex}`,
    `${hex}\t`,
    `0x${hex}`,
    '',
    'f'.repeat(16),
    'f'.repeat(17),
    '1'.padStart(17, '0'),
    '7fffffffffffffff',
    'fffffffffffff',
    `${hex};`,
    `${hex};a=`,
    `${hex};a="b`,
    `${hex};a="b\\"`,
    `${hex} ; a = b`,
    `${hex};a;b=c;d="e f"`,
    `${hex};\x00`,
    `${hex};${'e'.repeat(r.int(4080, 4100))}`,
    `${hex}\r`,
  ]);
}

/** Re-encode a chunked (or Content-Length) body as chunked with random boundaries. */
function rechunk(data: string, r: SeededRandom): string {
  let out = '';
  let p = 0;
  while (p < data.length) {
    const n = r.int(1, Math.max(1, Math.min(data.length - p, r.chance(0.5) ? 3 : 64)));
    const hex = n.toString(16);
    out += `${r.chance(0.1) ? '0' : ''}${r.chance(0.5) ? hex : hex.toUpperCase()}${r.chance(0.1) ? ';x=y' : ''}\r\n${data.slice(p, p + n)}\r\n`;
    p += n;
  }
  out += r.chance(0.8) ? '0\r\n' : '0;end\r\n';
  if (r.chance(0.2)) out += r.pick(['X-T: 1\r\n', 'X-T: a\x00\r\n', ' fold\r\n', 'bogus\r\n']);
  return out + '\r\n';
}

const MUTATORS: ReadonlyArray<readonly [string, number, Mutator]> = [
  [
    'flip-byte',
    6,
    (s, { r }) => {
      const at = pos(s, r);
      const v = r.chance(0.7) ? r.pick(INTERESTING) : r.int(0, 255);
      return cut(s, at, 1, String.fromCharCode(v));
    },
  ],
  [
    'bit-flip',
    2,
    (s, { r }) => {
      const at = pos(s, r);
      return cut(s, at, 1, String.fromCharCode((s.charCodeAt(at) ^ (1 << r.int(0, 7))) & 0xff));
    },
  ],
  ['insert', 6, (s, { r }) => cut(s, pos(s, r, true), 0, r.pick(INSERTS))],
  ['delete', 4, (s, { r }) => cut(s, pos(s, r), r.chance(0.8) ? r.int(1, 3) : r.int(4, 40), '')],
  [
    'duplicate-range',
    2,
    (s, { r }) => {
      const a = pos(s, r);
      const n = r.int(1, Math.min(40, s.length - a));
      return cut(s, pos(s, r, true), 0, s.slice(a, a + n));
    },
  ],
  [
    'header-duplicate',
    3,
    (s, { r }) =>
      editLines(s, (lines) => {
        if (lines.length < 2) return;
        lines.splice(r.int(1, lines.length), 0, lines[r.int(1, lines.length - 1)] as string);
      }),
  ],
  [
    'header-delete',
    2,
    (s, { r }) =>
      editLines(s, (lines) => {
        if (lines.length > 1) lines.splice(r.int(1, lines.length - 1), 1);
      }),
  ],
  [
    'header-insert',
    4,
    (s, { r }) =>
      editLines(s, (lines) => lines.splice(r.int(1, lines.length), 0, r.pick(HEADER_LINES))),
  ],
  [
    'header-swap',
    1,
    (s, { r }) =>
      editLines(s, (lines) => {
        if (lines.length < 3) return;
        const i = r.int(1, lines.length - 2);
        [lines[i], lines[i + 1]] = [lines[i + 1] as string, lines[i] as string];
      }),
  ],
  [
    'header-case',
    1,
    (s, { r }) =>
      editLines(s, (lines) => {
        if (lines.length < 2) return;
        const i = r.int(1, lines.length - 1);
        const line = lines[i] as string;
        let out = '';
        for (const ch of line) out += r.chance(0.5) ? ch.toUpperCase() : ch.toLowerCase();
        lines[i] = out;
      }),
  ],
  [
    'header-ows',
    1,
    (s, { r }) =>
      editLines(s, (lines) => {
        if (lines.length < 2) return;
        const i = r.int(1, lines.length - 1);
        const line = lines[i] as string;
        const c = line.indexOf(':');
        if (c < 0) return;
        const ws = r.pick([' ', '\t', '  ', '\x0b', '\xa0', '\x0c']);
        lines[i] = r.chance(0.5)
          ? line.slice(0, c) + (r.chance(0.5) ? ws : '') + ':' + ws + line.slice(c + 1)
          : line + ws;
      }),
  ],
  [
    'crlf',
    5,
    (s, { r }) => {
      const crlfs: number[] = [];
      for (let i = s.indexOf('\r\n'); i >= 0 && crlfs.length < 64; i = s.indexOf('\r\n', i + 2))
        crlfs.push(i);
      const at = crlfs.length > 0 ? r.pick(crlfs) : 0;
      switch (r.int(0, 9)) {
        case 0:
          return cut(s, at, 2, '\n');
        case 1:
          return cut(s, at, 2, '\r');
        case 2:
          return s.replace(/\r\n/g, '\n');
        case 3:
          return r.pick(['\r\n', '\r\n\r\n', '\n', '\r', ' ', '\r\r\n', '\x00\r\n']) + s;
        case 4:
          return cut(s, at, 2, '\r\r\n');
        case 5:
          return cut(s, at, 2, '\n\r');
        case 6:
          return cut(s, at, 2, '\r\n\r\n');
        case 7:
          return s.endsWith('\r\n') ? s.slice(0, -2) : s + '\r\n';
        case 8:
          return cut(s, at, 0, '\r\n' + r.pick([' ', '\t']) + 'x');
        default:
          return cut(s, at + 1, 1, '\r\n');
      }
    },
  ],
  [
    'content-length',
    4,
    (s, { r, limits }) => {
      const he = headEnd(s);
      const len = he < 0 ? 0 : s.length - he - 4;
      const v = r.pick([
        String(len + 1),
        String(Math.max(0, len - 1)),
        String(r.int(0, len + 5)),
        '0',
        '',
        ` ${len}`,
        `${len}\t`,
        `+${len}`,
        '-1',
        `0x${len.toString(16)}`,
        `${len},${len}`,
        `${len}, ${len}`,
        `${len} ${len}`,
        '9'.repeat(15),
        '9'.repeat(16),
        '99999999999999999999',
        '0'.repeat(20) + String(len),
        `${len}a`,
        `${len}.0`,
        '\xb9',
        String(limits.maxBodySize),
        String(limits.maxBodySize + 1),
        String(len),
      ]);
      return editLines(s, (lines) => {
        const i = findLine(lines, /^content-length\s*:/i);
        if (i > 0 && r.chance(0.8)) lines[i] = `Content-Length: ${v}`;
        else lines.splice(r.int(1, lines.length), 0, `Content-Length: ${v}`);
      });
    },
  ],
  [
    'transfer-encoding',
    3,
    (s, { r }) =>
      editLines(s, (lines) => {
        const v = r.pick(TE_VALUES);
        const i = findLine(lines, /^transfer-encoding\s*:/i);
        if (i > 0 && r.chance(0.7)) lines[i] = `Transfer-Encoding: ${v}`;
        else lines.splice(r.int(1, lines.length), 0, `Transfer-Encoding: ${v}`);
      }),
  ],
  [
    'to-chunked',
    2,
    (s, { r }) => {
      const he = headEnd(s);
      if (he < 0) return s;
      const head = s.slice(0, he);
      let body = s.slice(he + 4);
      const dc = isChunked(s) ? dechunk(body) : undefined;
      const rest = dc ? body.slice(dc.end) : '';
      body = dc ? dc.data : body;
      const newHead = editLines(head, (lines) => {
        const i = findLine(lines, /^content-length:/i);
        if (i > 0 && r.chance(0.9)) lines.splice(i, 1);
        if (findLine(lines, /^transfer-encoding:/i) < 0)
          lines.splice(r.int(1, lines.length), 0, 'Transfer-Encoding: chunked');
      });
      return `${newHead}\r\n\r\n${rechunk(body, r)}${rest}`;
    },
  ],
  [
    'chunk-size',
    4,
    (s, { r }) => {
      if (!isChunked(s)) return s;
      const he = headEnd(s);
      const body = s.slice(he + 4);
      const sizes: Array<[number, string]> = [];
      const re = /(?:^|\r\n)([0-9A-Fa-f]+)(?=[;\r ])/g;
      for (let m = re.exec(body); m && sizes.length < 32; m = re.exec(body))
        sizes.push([m.index + m[0].length - (m[1] as string).length, m[1] as string]);
      if (sizes.length === 0) return s;
      const [at, text] = r.pick(sizes);
      return cut(s, he + 4 + at, text.length, chunkSizeVariant(parseInt(text, 16), r));
    },
  ],
  [
    'chunk-frame',
    2,
    (s, { r }) => {
      if (!isChunked(s)) return s;
      const he = headEnd(s);
      const body = s.slice(he + 4);
      switch (r.int(0, 4)) {
        case 0: // an early last-chunk: the rest becomes the next request
          return s.slice(0, he + 4) + '0\r\n\r\n' + body;
        case 1: // drop the CRLF after some chunk data
          return s.slice(0, he + 4) + body.replace(/\r\n(?=[0-9a-fA-F]+\r\n)/, '');
        case 2: // trailers
          return s.replace(
            /\r\n0(;[^\r]*)?\r\n\r\n/,
            `\r\n0$1\r\n${r.pick(['X-T: 1\r\n', 'X-T: a\r\n b\r\n', 'bad\r\n', 'X: \x00\r\n', `X-Big: ${'t'.repeat(r.int(100, 20000))}\r\n`])}\r\n`,
          );
        case 3: // a chunk with many tiny chunks
          return s.slice(0, he + 4) + '1\r\na\r\n'.repeat(r.int(1, 200)) + body;
        default:
          return s.slice(0, he + 4) + r.pick(['0\r\n', '0\r\n\r', '0\n\n', '0\r\n\n']);
      }
    },
  ],
  ['version', 2, (s, { r }) => s.replace(/HTTP\/1\.[01]/, r.pick(VERSIONS))],
  ['method', 2, (s, { r }) => s.replace(/^[A-Za-z_-]+/, r.pick(METHODS))],
  [
    'target',
    2,
    (s, { r }) => {
      const a = s.indexOf(' ');
      const b = a < 0 ? -1 : s.indexOf(' ', a + 1);
      if (b < 0) return s;
      return cut(s, a + 1, b - a - 1, r.pick(TARGETS));
    },
  ],
  [
    'expect',
    1,
    (s, { r }) =>
      editLines(s, (lines) =>
        lines.splice(
          r.int(1, lines.length),
          0,
          r.pick(['Expect: 100-continue', 'Expect: 100-continue, x', 'Expect:']),
        ),
      ),
  ],
  [
    'huge',
    2,
    (s, { r, limits }) => {
      const he = headEnd(s);
      if (he < 0) return s;
      const slack = r.int(-2, 2);
      switch (r.int(0, 4)) {
        case 0: {
          // A field that puts the head at the limit -2..+2.
          const fill = limits.maxHeadSize + slack - (he + 4) - 'X-Pad: \r\n'.length;
          return fill < 0 ? s : cut(s, he + 2, 0, `X-Pad: ${'p'.repeat(fill)}\r\n`);
        }
        case 1: {
          // A request line at the limit -2..+2.
          const eol = s.indexOf('\r\n');
          const fill = limits.maxHeadSize + slack - (eol + 2);
          const at = s.indexOf(' ') + 2;
          return fill < 0 || at < 2 ? s : cut(s, at, 0, 'q'.repeat(fill));
        }
        case 2: {
          // Many small fields.
          const n = r.int(50, 400);
          let add = '';
          for (let i = 0; i < n; i++) add += `X-M${i}: ${i}\r\n`;
          return cut(s, he + 2, 0, add);
        }
        case 3: {
          // A Content-Length body at the body limit -2..+2 (only when that is small).
          const n = limits.maxBodySize + slack;
          if (n > 65536) return editLines(s, (lines) => lines.push(`Content-Length: ${n}`));
          const head = editLines(s.slice(0, he), (lines) => {
            const i = findLine(lines, /^(content-length|transfer-encoding):/i);
            if (i > 0) lines.splice(i, 1);
            lines.push(`Content-Length: ${n}`);
          });
          return `${head}\r\n\r\n${'b'.repeat(n)}`;
        }
        default: {
          // A chunked body at the body limit -2..+2 (only when that is small).
          const n = limits.maxBodySize + slack;
          if (n > 65536) return s;
          const head = editLines(s.slice(0, he), (lines) => {
            const i = findLine(lines, /^(content-length|transfer-encoding):/i);
            if (i > 0) lines.splice(i, 1);
            lines.push('Transfer-Encoding: chunked');
          });
          return `${head}\r\n\r\n${rechunk('c'.repeat(n), r)}`;
        }
      }
    },
  ],
  ['truncate', 2, (s, { r }) => s.slice(0, r.int(1, Math.max(1, s.length - 1)))],
];

const TOTAL_WEIGHT = MUTATORS.reduce((a, [, w]) => a + w, 0);

function pickMutator(r: SeededRandom): readonly [string, number, Mutator] {
  let x = r.next() * TOTAL_WEIGHT;
  for (const m of MUTATORS) {
    if ((x -= m[1]) < 0) return m;
  }
  return MUTATORS[MUTATORS.length - 1]!;
}

// ------------------------------------------------------------------------------------------------
// Cases

/** One generated input and how it was made. */
export interface FuzzCase {
  seed: number;
  index: number;
  input: Buffer;
  limits: ParserLimits;
  /** The base and the mutations applied, for reports. */
  steps: string[];
  /** Seeds the random split this case is fed in. */
  splitSeed: number;
}

const CORPUS_RAW: readonly string[] = CORPUS.map((e) => e.raw);
const CORPUS_NAMES: readonly string[] = CORPUS.map((e) => e.name);

/** A 32-bit hash of (seed, index): each case gets an independent random stream. */
function mix(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function pickLimits(r: SeededRandom): ParserLimits {
  let x = r.next() * 10;
  for (const [limits, w] of LIMIT_PROFILES) if ((x -= w) < 0) return limits;
  return DEFAULT_LIMITS;
}

function base(r: SeededRandom, limits: ParserLimits, steps: string[]): string {
  const bodyMax = Math.min(64, limits.maxBodySize);
  const kind = r.next();
  if (kind < 0.4) {
    const i = r.int(0, CORPUS_RAW.length - 1);
    steps.push(`corpus "${CORPUS_NAMES[i]}"`);
    return CORPUS_RAW[i]!;
  }
  if (kind < 0.85) {
    steps.push('random valid request');
    return serializeRequest(randomRequestSpec(r, bodyMax));
  }
  const n = r.int(2, 4);
  steps.push(`pipeline of ${n}`);
  let s = '';
  for (let i = 0; i < n; i++) {
    s += r.chance(0.3)
      ? CORPUS_RAW[r.int(0, CORPUS_RAW.length - 1)]!
      : serializeRequest(randomRequestSpec(r, bodyMax));
  }
  return s;
}

/**
 * Case `index` of the campaign `seed`: always the same bytes, limits and split.
 * @param opts.limits - parse with these bounds instead of a random profile (e.g. a server's)
 */
export function generateCase(
  seed: number,
  index: number,
  opts: { limits?: ParserLimits } = {},
): FuzzCase {
  const r = new SeededRandom(mix(seed, index));
  const limits = opts.limits ?? pickLimits(r);
  const steps: string[] = [];
  let s = base(r, limits, steps);
  const roll = r.next();
  const n = roll < 0.1 ? 0 : roll < 0.6 ? 1 : r.int(2, 4);
  const ctx: MutateContext = { r, limits };
  for (let k = 0; k < n; k++) {
    const [name, , fn] = pickMutator(r);
    const next = fn(s, ctx);
    if (next.length > 0) s = next;
    steps.push(name);
  }
  return {
    seed,
    index,
    input: Buffer.from(s, 'latin1'),
    limits,
    steps,
    splitSeed: mix(seed ^ 0x5a5a5a5a, index),
  };
}
