/**
 * A corpus of raw HTTP/1.1 requests, valid and invalid, as data.
 *
 * - `expect: 'accept'`: a valid request; hyperlane must hand it to the app (2xx from the echo
 *   app). `parsed` (optional) pins what the app must see.
 * - `expect: <status>` (or a list of allowed statuses): hyperlane must refuse it with that status
 *   and close the connection.
 *
 * `raw` is a latin1 string: every char is one byte, so control bytes and obs-text are exact.
 * Requests are built with `lines()` so CRLFs stay visible; bodies follow the blank line.
 *
 * The differential test feeds every entry to node:http and hyperlane; the conformance test
 * (test/integration/http-conformance.test.ts) covers the engine rules over sockets as well.
 */

export interface ExpectedParse {
  method?: string;
  url?: string;
  /** Subset of lower-case header name → value the app must see. */
  headers?: Record<string, string>;
  /** Header names the app must NOT see. */
  absentHeaders?: string[];
  /** The body as latin1 text. */
  body?: string;
}

export interface CorpusEntry {
  name: string;
  /** The request bytes as a latin1 string. */
  raw: string;
  /** 'accept' or the status (or allowed statuses) hyperlane must answer before closing. */
  expect: 'accept' | number | readonly number[];
  /** The rule that makes it invalid (RFC section). */
  rule?: string;
  /** For valid entries: what the app must see. */
  parsed?: ExpectedParse;
  /** For valid entries: how many requests the bytes hold (pipelined); default 1. */
  requests?: number;
}

/** Join a request line and field lines with CRLF, add the blank line, then the body. */
export function lines(head: readonly string[], body = ''): string {
  return head.join('\r\n') + '\r\n\r\n' + body;
}

/** A request with `Host: example.com` and `Connection: close` around the given fields. */
function simple(requestLine: string, fields: readonly string[] = [], body = ''): string {
  return lines([requestLine, 'Host: example.com', ...fields, 'Connection: close'], body);
}

const LONG_VALUE = 'v'.repeat(1000);

export const VALID: readonly CorpusEntry[] = [
  {
    name: 'GET origin-form',
    raw: simple('GET /hello HTTP/1.1'),
    expect: 'accept',
    parsed: {
      method: 'GET',
      url: '/hello',
      headers: { host: 'example.com', connection: 'close' },
      body: '',
    },
  },
  {
    name: 'GET with query string',
    raw: simple('GET /search?q=a+b&lang=en&q=%C3%A9 HTTP/1.1', ['Accept: */*']),
    expect: 'accept',
    parsed: { url: '/search?q=a+b&lang=en&q=%C3%A9' },
  },
  {
    name: 'GET absolute-form target (RFC 9112 §3.2.2)',
    raw: simple('GET http://example.com/p?q=1 HTTP/1.1'),
    expect: 'accept',
    parsed: { url: 'http://example.com/p?q=1' },
  },
  {
    name: 'GET percent-encoded path',
    raw: simple('GET /a%20b/%E2%82%AC HTTP/1.1'),
    expect: 'accept',
    parsed: { url: '/a%20b/%E2%82%AC' },
  },
  {
    name: 'GET target with sub-delims and quotes',
    raw: simple("GET /x;p=1/(y)!$&'*+,=@~ HTTP/1.1"),
    expect: 'accept',
    parsed: { url: "/x;p=1/(y)!$&'*+,=@~" },
  },
  {
    name: 'HTTP/1.0 without Host',
    raw: lines(['GET /old HTTP/1.0']),
    expect: 'accept',
    parsed: { url: '/old' },
  },
  {
    name: 'HTTP/1.0 keep-alive',
    raw: lines(['GET /old HTTP/1.0', 'Connection: keep-alive']),
    expect: 'accept',
    parsed: { headers: { connection: 'keep-alive' } },
  },
  {
    name: 'HTTP/1.0 with keep-alive and close: close wins (RFC 9112 §9.3)',
    raw: lines(['GET /old HTTP/1.0', 'Connection: keep-alive, close']),
    expect: 'accept',
  },
  {
    name: 'HTTP/1.1 Connection: keep-alive, close: close wins (RFC 9112 §9.3)',
    raw: lines(['GET /old HTTP/1.1', 'Host: example.com', 'Connection: keep-alive, close']),
    expect: 'accept',
  },
  {
    name: 'POST with Content-Length',
    raw: simple(
      'POST /submit HTTP/1.1',
      ['Content-Type: application/json', 'Content-Length: 13'],
      '{"a":1,"b":2}',
    ),
    expect: 'accept',
    parsed: { method: 'POST', body: '{"a":1,"b":2}', headers: { 'content-length': '13' } },
  },
  {
    name: 'POST with Content-Length: 0',
    raw: simple('POST /empty HTTP/1.1', ['Content-Length: 0']),
    expect: 'accept',
    parsed: { body: '' },
  },
  {
    name: 'POST with binary body',
    raw: simple(
      'POST /bin HTTP/1.1',
      ['Content-Type: application/octet-stream', 'Content-Length: 6'],
      '\x00\x01\r\n\xff\x80',
    ),
    expect: 'accept',
    parsed: { body: '\x00\x01\r\n\xff\x80' },
  },
  {
    name: 'POST chunked',
    raw: simple(
      'POST /up HTTP/1.1',
      ['Transfer-Encoding: chunked'],
      '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
    ),
    expect: 'accept',
    parsed: { body: 'hello world' },
  },
  {
    name: 'POST chunked with extensions (RFC 9112 §7.1.1)',
    raw: simple(
      'POST /up HTTP/1.1',
      ['Transfer-Encoding: chunked'],
      '5;name=value\r\nhello\r\n6;a;b="q \\" s"\r\n world\r\n0;last\r\n\r\n',
    ),
    expect: 'accept',
    parsed: { body: 'hello world' },
  },
  {
    name: 'POST chunked with trailers (RFC 9112 §7.1.2)',
    raw: simple(
      'POST /up HTTP/1.1',
      ['Transfer-Encoding: chunked', 'Trailer: X-Checksum'],
      '3\r\nabc\r\n0\r\nX-Checksum: 900150983cd24fb0\r\n\r\n',
    ),
    expect: 'accept',
    parsed: { body: 'abc' },
  },
  {
    name: 'POST chunked, hex sizes in upper and lower case, leading zeros',
    raw: simple(
      'POST /up HTTP/1.1',
      ['Transfer-Encoding: chunked'],
      `0A\r\n${'x'.repeat(10)}\r\nb\r\n${'y'.repeat(11)}\r\n000\r\n\r\n`,
    ),
    expect: 'accept',
    parsed: { body: 'x'.repeat(10) + 'y'.repeat(11) },
  },
  {
    name: 'Transfer-Encoding coding name is case-insensitive (RFC 9112 §7)',
    raw: simple('POST /up HTTP/1.1', ['Transfer-Encoding: Chunked'], '3\r\nabc\r\n0\r\n\r\n'),
    expect: 'accept',
    parsed: { body: 'abc' },
  },
  {
    name: 'PUT with JSON',
    raw: simple(
      'PUT /items/42 HTTP/1.1',
      ['Content-Type: application/json', 'Content-Length: 11'],
      '{"name":""}',
    ),
    expect: 'accept',
    parsed: { method: 'PUT', url: '/items/42', body: '{"name":""}' },
  },
  {
    name: 'DELETE',
    raw: simple('DELETE /items/42 HTTP/1.1'),
    expect: 'accept',
    parsed: { method: 'DELETE' },
  },
  {
    name: 'PATCH',
    raw: simple('PATCH /items/42 HTTP/1.1', ['Content-Length: 2'], '{}'),
    expect: 'accept',
    parsed: { method: 'PATCH', body: '{}' },
  },
  {
    name: 'extension method token (RFC 9110 §9.1: method = token)',
    raw: simple('PURGEALL /cache HTTP/1.1'),
    expect: 'accept',
    parsed: { method: 'PURGEALL' },
  },
  {
    name: 'header value OWS is trimmed (RFC 9112 §5.1)',
    raw: simple('GET / HTTP/1.1', ['X-Spaced: \t  inner  value \t ']),
    expect: 'accept',
    parsed: { headers: { 'x-spaced': 'inner  value' } },
  },
  {
    name: 'header with no OWS after the colon',
    raw: simple('GET / HTTP/1.1', ['X-Tight:v']),
    expect: 'accept',
    parsed: { headers: { 'x-tight': 'v' } },
  },
  {
    name: 'empty header value',
    raw: simple('GET / HTTP/1.1', ['X-Empty:']),
    expect: 'accept',
    parsed: { headers: { 'x-empty': '' } },
  },
  {
    name: 'HTAB inside a value',
    raw: simple('GET / HTTP/1.1', ['X-Tab: a\tb']),
    expect: 'accept',
    parsed: { headers: { 'x-tab': 'a\tb' } },
  },
  {
    name: 'obs-text in a value (RFC 9110 §5.5)',
    raw: simple('GET / HTTP/1.1', ['X-Latin: caf\xe9 \x80\xff']),
    expect: 'accept',
  },
  {
    name: 'header names are case-insensitive, reported lower-case',
    raw: lines(['GET / HTTP/1.1', 'hOsT: example.com', 'X-MiXeD-CaSe: Yes', 'CONNECTION: close']),
    expect: 'accept',
    parsed: { headers: { host: 'example.com', 'x-mixed-case': 'Yes', connection: 'close' } },
  },
  {
    name: 'repeated field lines are joined with ", " (RFC 9110 §5.3)',
    raw: simple('GET / HTTP/1.1', ['X-Dup: a', 'Accept: text/html', 'X-Dup: b']),
    expect: 'accept',
    parsed: { headers: { 'x-dup': 'a, b' } },
  },
  {
    name: 'token characters in a header name',
    raw: simple('GET / HTTP/1.1', ["X-!#$%&'*+.^_`|~09az: t"]),
    expect: 'accept',
    parsed: { headers: { "x-!#$%&'*+.^_`|~09az": 't' } },
  },
  {
    name: 'a 1000-byte header value',
    raw: simple('GET / HTTP/1.1', [`X-Long: ${LONG_VALUE}`]),
    expect: 'accept',
    parsed: { headers: { 'x-long': LONG_VALUE } },
  },
  {
    name: 'many headers',
    raw: simple(
      'GET / HTTP/1.1',
      Array.from({ length: 60 }, (_, i) => `X-H${i}: value-${i}`),
    ),
    expect: 'accept',
    parsed: { headers: { 'x-h0': 'value-0', 'x-h59': 'value-59' } },
  },
  {
    name: 'GET with a Content-Length body',
    raw: simple('GET /with-body HTTP/1.1', ['Content-Length: 4'], 'ping'),
    expect: 'accept',
    parsed: { body: 'ping' },
  },
  {
    name: 'two pipelined requests',
    raw:
      lines(['GET /one HTTP/1.1', 'Host: example.com']) +
      lines(
        ['POST /two HTTP/1.1', 'Host: example.com', 'Content-Length: 3', 'Connection: close'],
        'abc',
      ),
    expect: 'accept',
    requests: 2,
  },
];

export const INVALID: readonly CorpusEntry[] = [
  // --- request line -----------------------------------------------------------------------
  {
    name: 'method with a non-token char',
    raw: simple('G@T / HTTP/1.1'),
    expect: 400,
    rule: 'RFC 9110 §9.1 method = token',
  },
  { name: 'empty method', raw: simple(' / HTTP/1.1'), expect: 400, rule: 'RFC 9112 §3' },
  {
    name: 'missing version',
    raw: lines(['GET /', 'Host: example.com']),
    expect: 400,
    rule: 'RFC 9112 §3',
  },
  {
    name: 'extra field in the request line',
    raw: simple('GET / HTTP/1.1 extra'),
    expect: 400,
    rule: 'RFC 9112 §3',
  },
  {
    name: 'space inside the target',
    raw: simple('GET /a b HTTP/1.1'),
    expect: 400,
    rule: 'RFC 9112 §3.2',
  },
  {
    name: 'NUL in the target',
    raw: simple('GET /a\x00b HTTP/1.1'),
    expect: 400,
    rule: 'RFC 9112 §3.2',
  },
  {
    name: 'CTL in the target',
    raw: simple('GET /a\x01b HTTP/1.1'),
    expect: 400,
    rule: 'RFC 9112 §3.2',
  },
  {
    name: 'DEL in the target',
    raw: simple('GET /a\x7fb HTTP/1.1'),
    expect: 400,
    rule: 'RFC 9112 §3.2',
  },
  {
    name: 'non-ASCII byte in the target',
    raw: simple('GET /caf\xe9 HTTP/1.1'),
    expect: 400,
    rule: 'RFC 3986 §2',
  },
  {
    name: 'bare CR in the request line',
    raw: simple('GET /\r HTTP/1.1'),
    expect: 400,
    rule: 'RFC 9112 §2.2',
  },
  {
    name: 'lower-case protocol name',
    raw: simple('GET / http/1.1'),
    expect: 400,
    rule: 'RFC 9112 §2.3 (HTTP-name is case-sensitive)',
  },
  {
    name: 'version without minor',
    raw: simple('GET / HTTP/1'),
    expect: 400,
    rule: 'RFC 9112 §2.3',
  },
  {
    name: 'two-digit minor version',
    raw: simple('GET / HTTP/1.10'),
    expect: 400,
    rule: 'RFC 9112 §2.3 (one digit each)',
  },
  { name: 'version without dot', raw: simple('GET / HTTP/11'), expect: 400, rule: 'RFC 9112 §2.3' },
  {
    name: 'version with letters',
    raw: simple('GET / HTTP/a.b'),
    expect: 400,
    rule: 'RFC 9112 §2.3',
  },
  {
    name: 'unsupported version HTTP/1.2',
    raw: simple('GET / HTTP/1.2'),
    expect: 505,
    rule: 'RFC 9110 §15.6.6',
  },
  {
    name: 'unsupported version HTTP/2.0',
    raw: simple('GET / HTTP/2.0'),
    expect: 505,
    rule: 'RFC 9110 §15.6.6',
  },
  {
    name: 'unsupported version HTTP/0.9',
    raw: simple('GET / HTTP/0.9'),
    expect: 505,
    rule: 'RFC 9110 §15.6.6',
  },
  {
    name: 'unsupported version HTTP/3.0',
    raw: simple('GET / HTTP/3.0'),
    expect: 505,
    rule: 'RFC 9110 §15.6.6',
  },
  {
    name: 'unsupported version HTTP/9.9',
    raw: simple('GET / HTTP/9.9'),
    expect: 505,
    rule: 'RFC 9110 §15.6.6',
  },
  {
    name: 'bare LF line endings',
    raw: 'GET / HTTP/1.1\nHost: example.com\nConnection: close\n\n',
    expect: 400,
    rule: 'RFC 9112 §2.2 (we require CRLF)',
  },
  {
    name: 'bare LF after a header line',
    raw: 'GET / HTTP/1.1\r\nHost: example.com\nConnection: close\r\n\r\n',
    expect: 400,
    rule: 'RFC 9112 §2.2',
  },

  // --- header fields -------------------------------------------------------------------------
  {
    name: 'missing Host on HTTP/1.1',
    raw: lines(['GET / HTTP/1.1', 'Connection: close']),
    expect: 400,
    rule: 'RFC 9112 §3.2',
  },
  {
    name: 'Host with a space is not an authority',
    raw: lines(['GET / HTTP/1.1', 'Host: a b', 'Connection: close']),
    expect: 400,
    rule: 'RFC 9112 §3.2',
  },
  {
    name: 'Host with a path is not an authority',
    raw: lines(['GET / HTTP/1.1', 'Host: a.example/b', 'Connection: close']),
    expect: 400,
    rule: 'RFC 9112 §3.2',
  },
  {
    name: 'two Host lines',
    raw: lines(['GET / HTTP/1.1', 'Host: a.example', 'Host: b.example', 'Connection: close']),
    expect: 400,
    rule: 'RFC 9112 §3.2',
  },
  {
    name: 'two identical Host lines',
    raw: lines(['GET / HTTP/1.1', 'Host: a.example', 'Host: a.example', 'Connection: close']),
    expect: 400,
    rule: 'RFC 9112 §3.2',
  },
  {
    name: 'obs-fold (SP)',
    raw: simple('GET / HTTP/1.1', ['X-Folded: a', ' b']),
    expect: 400,
    rule: 'RFC 9112 §5.2',
  },
  {
    name: 'obs-fold (HTAB)',
    raw: simple('GET / HTTP/1.1', ['X-Folded: a', '\tb']),
    expect: 400,
    rule: 'RFC 9112 §5.2',
  },
  {
    name: 'obs-fold right after the request line',
    raw: lines(['GET / HTTP/1.1', ' Host: example.com', 'Connection: close']),
    expect: 400,
    rule: 'RFC 9112 §2.2',
  },
  {
    name: 'space before the colon',
    raw: simple('GET / HTTP/1.1', ['X-Bad : v']),
    expect: 400,
    rule: 'RFC 9112 §5.1',
  },
  {
    name: 'HTAB before the colon',
    raw: simple('GET / HTTP/1.1', ['X-Bad\t: v']),
    expect: 400,
    rule: 'RFC 9112 §5.1',
  },
  {
    name: 'space before the colon of Host',
    raw: lines(['GET / HTTP/1.1', 'Host : example.com', 'Connection: close']),
    expect: 400,
    rule: 'RFC 9112 §5.1',
  },
  {
    name: 'space before the colon of Content-Length',
    raw: simple('POST / HTTP/1.1', ['Content-Length : 3'], 'abc'),
    expect: 400,
    rule: 'RFC 9112 §5.1',
  },
  {
    name: 'NUL in a value',
    raw: simple('GET / HTTP/1.1', ['X-Nul: a\x00b']),
    expect: 400,
    rule: 'RFC 9110 §5.5',
  },
  {
    name: 'bare CR in a value',
    raw: simple('GET / HTTP/1.1', ['X-Cr: a\rb']),
    expect: 400,
    rule: 'RFC 9110 §5.5 / RFC 9112 §2.2',
  },
  {
    name: 'CTL 0x01 in a value',
    raw: simple('GET / HTTP/1.1', ['X-Ctl: a\x01b']),
    expect: 400,
    rule: 'RFC 9110 §5.5',
  },
  {
    name: 'ESC in a value',
    raw: simple('GET / HTTP/1.1', ['X-Ctl: a\x1bb']),
    expect: 400,
    rule: 'RFC 9110 §5.5',
  },
  {
    name: 'DEL in a value',
    raw: simple('GET / HTTP/1.1', ['X-Ctl: a\x7fb']),
    expect: 400,
    rule: 'RFC 9110 §5.5',
  },
  {
    name: 'space inside a header name',
    raw: simple('GET / HTTP/1.1', ['X Bad: v']),
    expect: 400,
    rule: 'RFC 9110 §5.1 (field-name = token)',
  },
  {
    name: 'non-token char in a header name',
    raw: simple('GET / HTTP/1.1', ['X@Bad: v']),
    expect: 400,
    rule: 'RFC 9110 §5.1',
  },
  {
    name: 'non-ASCII byte in a header name',
    raw: simple('GET / HTTP/1.1', ['X-Caf\xe9: v']),
    expect: 400,
    rule: 'RFC 9110 §5.1',
  },
  {
    name: 'NUL in a header name',
    raw: simple('GET / HTTP/1.1', ['X\x00Y: v']),
    expect: 400,
    rule: 'RFC 9110 §5.1',
  },
  {
    name: 'empty header name',
    raw: simple('GET / HTTP/1.1', [': v']),
    expect: 400,
    rule: 'RFC 9110 §5.1',
  },
  {
    name: 'header line without a colon',
    raw: simple('GET / HTTP/1.1', ['X-No-Colon']),
    expect: 400,
    rule: 'RFC 9112 §5',
  },

  // --- Content-Length ------------------------------------------------------------------------
  {
    name: 'Content-Length and Transfer-Encoding',
    raw: simple(
      'POST / HTTP/1.1',
      ['Content-Length: 3', 'Transfer-Encoding: chunked'],
      '3\r\nabc\r\n0\r\n\r\n',
    ),
    expect: 400,
    rule: 'RFC 9112 §6.3 (3), §11.2',
  },
  {
    name: 'Transfer-Encoding before Content-Length',
    raw: simple(
      'POST / HTTP/1.1',
      ['Transfer-Encoding: chunked', 'Content-Length: 3'],
      '3\r\nabc\r\n0\r\n\r\n',
    ),
    expect: 400,
    rule: 'RFC 9112 §6.3 (3), §11.2',
  },
  {
    name: 'differing duplicate Content-Length',
    raw: simple('POST / HTTP/1.1', ['Content-Length: 3', 'Content-Length: 4'], 'abcd'),
    expect: 400,
    rule: 'RFC 9112 §6.3 (5)',
  },
  {
    name: 'identical duplicate Content-Length',
    raw: simple('POST / HTTP/1.1', ['Content-Length: 3', 'Content-Length: 3'], 'abc'),
    expect: 400,
    rule: 'RFC 9112 §6.3 (5) — we reject any duplicate',
  },
  {
    name: 'Content-Length list',
    raw: simple('POST / HTTP/1.1', ['Content-Length: 3, 3'], 'abc'),
    expect: 400,
    rule: 'RFC 9110 §8.6 — we reject lists',
  },
  {
    name: 'non-digit Content-Length',
    raw: simple('POST / HTTP/1.1', ['Content-Length: abc'], 'abc'),
    expect: 400,
    rule: 'RFC 9110 §8.6',
  },
  {
    name: 'Content-Length with a plus sign',
    raw: simple('POST / HTTP/1.1', ['Content-Length: +3'], 'abc'),
    expect: 400,
    rule: 'RFC 9110 §8.6',
  },
  {
    name: 'negative Content-Length',
    raw: simple('POST / HTTP/1.1', ['Content-Length: -1'], 'abc'),
    expect: 400,
    rule: 'RFC 9110 §8.6',
  },
  {
    name: 'hex Content-Length',
    raw: simple('POST / HTTP/1.1', ['Content-Length: 0x3'], 'abc'),
    expect: 400,
    rule: 'RFC 9110 §8.6',
  },
  {
    name: 'empty Content-Length',
    raw: simple('POST / HTTP/1.1', ['Content-Length: '], 'abc'),
    expect: 400,
    rule: 'RFC 9110 §8.6',
  },
  {
    name: 'Content-Length with inner space',
    raw: simple('POST / HTTP/1.1', ['Content-Length: 1 2'], 'abc'),
    expect: 400,
    rule: 'RFC 9110 §8.6',
  },
  {
    name: 'Content-Length with a decimal point',
    raw: simple('POST / HTTP/1.1', ['Content-Length: 3.0'], 'abc'),
    expect: 400,
    rule: 'RFC 9110 §8.6',
  },
  {
    name: 'Content-Length too large for any integer',
    raw: simple('POST / HTTP/1.1', ['Content-Length: 99999999999999999999999'], 'abc'),
    expect: [400, 413],
    rule: 'RFC 9110 §8.6 (overflow)',
  },

  // --- Transfer-Encoding ---------------------------------------------------------------------
  {
    name: 'Transfer-Encoding gzip (final coding not chunked)',
    raw: simple('POST / HTTP/1.1', ['Transfer-Encoding: gzip'], 'abc'),
    expect: 400,
    rule: 'RFC 9112 §6.3 (4)',
  },
  {
    name: 'Transfer-Encoding chunked, gzip (final coding not chunked)',
    raw: simple('POST / HTTP/1.1', ['Transfer-Encoding: chunked, gzip'], '3\r\nabc\r\n0\r\n\r\n'),
    expect: 400,
    rule: 'RFC 9112 §6.3 (4)',
  },
  {
    name: 'Transfer-Encoding identity',
    raw: simple('POST / HTTP/1.1', ['Transfer-Encoding: identity'], 'abc'),
    expect: 400,
    rule: 'RFC 9112 §6.3 (4)',
  },
  {
    name: 'empty Transfer-Encoding',
    raw: simple('POST / HTTP/1.1', ['Transfer-Encoding: '], 'abc'),
    expect: 400,
    rule: 'RFC 9112 §6.3 (4)',
  },
  {
    name: 'Transfer-Encoding gzip, chunked (coding we do not implement)',
    raw: simple('POST / HTTP/1.1', ['Transfer-Encoding: gzip, chunked'], '3\r\nabc\r\n0\r\n\r\n'),
    expect: 501,
    rule: 'RFC 9112 §6.1',
  },
  {
    name: 'Transfer-Encoding split over two lines: gzip / chunked',
    raw: simple(
      'POST / HTTP/1.1',
      ['Transfer-Encoding: gzip', 'Transfer-Encoding: chunked'],
      '3\r\nabc\r\n0\r\n\r\n',
    ),
    expect: 501,
    rule: 'RFC 9112 §6.1',
  },
  {
    name: 'Transfer-Encoding chunked twice',
    raw: simple(
      'POST / HTTP/1.1',
      ['Transfer-Encoding: chunked, chunked'],
      '3\r\nabc\r\n0\r\n\r\n',
    ),
    expect: [400, 501],
    rule: 'RFC 9112 §6.1 (chunked at most once)',
  },
  {
    name: 'Transfer-Encoding line repeated',
    raw: simple(
      'POST / HTTP/1.1',
      ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'],
      '3\r\nabc\r\n0\r\n\r\n',
    ),
    expect: [400, 501],
    rule: 'RFC 9112 §6.1 (chunked at most once)',
  },
  {
    name: 'Transfer-Encoding with a non-token coding',
    raw: simple('POST / HTTP/1.1', ['Transfer-Encoding: "chunked"'], '3\r\nabc\r\n0\r\n\r\n'),
    expect: 400,
    rule: 'RFC 9112 §6.3 (4)',
  },

  // --- chunked framing -----------------------------------------------------------------------
  {
    name: 'non-hex chunk size',
    raw: simple('POST / HTTP/1.1', ['Transfer-Encoding: chunked'], 'g\r\nabc\r\n0\r\n\r\n'),
    expect: 400,
    rule: 'RFC 9112 §7.1',
  },
  {
    name: 'negative chunk size',
    raw: simple('POST / HTTP/1.1', ['Transfer-Encoding: chunked'], '-3\r\nabc\r\n0\r\n\r\n'),
    expect: 400,
    rule: 'RFC 9112 §7.1',
  },
  {
    name: '0x-prefixed chunk size',
    raw: simple('POST / HTTP/1.1', ['Transfer-Encoding: chunked'], '0x3\r\nabc\r\n0\r\n\r\n'),
    expect: 400,
    rule: 'RFC 9112 §7.1',
  },
  {
    name: 'empty chunk size line',
    raw: simple('POST / HTTP/1.1', ['Transfer-Encoding: chunked'], '\r\nabc\r\n0\r\n\r\n'),
    expect: 400,
    rule: 'RFC 9112 §7.1',
  },
  {
    name: 'chunk size with trailing space',
    raw: simple('POST / HTTP/1.1', ['Transfer-Encoding: chunked'], '3 \r\nabc\r\n0\r\n\r\n'),
    expect: 400,
    rule: 'RFC 9112 §7.1 (BWS only before ";")',
  },
  {
    name: 'chunk size with leading space',
    raw: simple('POST / HTTP/1.1', ['Transfer-Encoding: chunked'], ' 3\r\nabc\r\n0\r\n\r\n'),
    expect: 400,
    rule: 'RFC 9112 §7.1',
  },
  {
    name: 'chunk size overflowing 64 bits',
    raw: simple(
      'POST / HTTP/1.1',
      ['Transfer-Encoding: chunked'],
      'fffffffffffffffff1\r\nabc\r\n0\r\n\r\n',
    ),
    expect: [400, 413],
    rule: 'RFC 9112 §7.1 (overflow)',
  },
  {
    name: 'chunk data longer than its size',
    raw: simple('POST / HTTP/1.1', ['Transfer-Encoding: chunked'], '2\r\nabc\r\n0\r\n\r\n'),
    expect: 400,
    rule: 'RFC 9112 §7.1 (CRLF after chunk-data)',
  },
  {
    name: 'chunk data not followed by CRLF',
    raw: simple('POST / HTTP/1.1', ['Transfer-Encoding: chunked'], '3\r\nabcXY0\r\n\r\n'),
    expect: 400,
    rule: 'RFC 9112 §7.1',
  },
  {
    name: 'bare LF after a chunk size',
    raw: simple('POST / HTTP/1.1', ['Transfer-Encoding: chunked'], '3\nabc\r\n0\r\n\r\n'),
    expect: 400,
    rule: 'RFC 9112 §7.1',
  },
  {
    name: 'chunk extension with a bad char',
    raw: simple('POST / HTTP/1.1', ['Transfer-Encoding: chunked'], '3;a@b\r\nabc\r\n0\r\n\r\n'),
    expect: 400,
    rule: 'RFC 9112 §7.1.1',
  },
  {
    name: 'chunk extension with a NUL',
    raw: simple('POST / HTTP/1.1', ['Transfer-Encoding: chunked'], '3;a=\x00\r\nabc\r\n0\r\n\r\n'),
    expect: 400,
    rule: 'RFC 9112 §7.1.1',
  },
  {
    name: 'trailer field with obs-fold',
    raw: simple(
      'POST / HTTP/1.1',
      ['Transfer-Encoding: chunked'],
      '3\r\nabc\r\n0\r\nX-T: a\r\n b\r\n\r\n',
    ),
    expect: 400,
    rule: 'RFC 9112 §7.1.2, §5.2',
  },
  {
    name: 'trailer field without a colon',
    raw: simple(
      'POST / HTTP/1.1',
      ['Transfer-Encoding: chunked'],
      '3\r\nabc\r\n0\r\nbogus\r\n\r\n',
    ),
    expect: 400,
    rule: 'RFC 9112 §7.1.2',
  },
  {
    name: 'trailer field with a NUL',
    raw: simple(
      'POST / HTTP/1.1',
      ['Transfer-Encoding: chunked'],
      '3\r\nabc\r\n0\r\nX-T: a\x00\r\n\r\n',
    ),
    expect: 400,
    rule: 'RFC 9112 §7.1.2, RFC 9110 §5.5',
  },

  // --- limits (default config: httpBufferSize 16 KiB, bodyLimit 1 MiB) -------------------------
  {
    name: 'head over httpBufferSize',
    raw: simple('GET / HTTP/1.1', [`X-Big: ${'a'.repeat(17 * 1024)}`]),
    expect: 431,
    rule: 'RFC 6585 §5',
  },
  {
    name: 'many headers over httpBufferSize',
    raw: simple(
      'GET / HTTP/1.1',
      Array.from({ length: 700 }, (_, i) => `X-Header-${i}: ${'v'.repeat(16)}`),
    ),
    expect: 431,
    rule: 'RFC 6585 §5',
  },
  {
    name: 'request line over httpBufferSize',
    raw: simple(`GET /${'a'.repeat(17 * 1024)} HTTP/1.1`),
    expect: 414,
    rule: 'RFC 9112 §3 / RFC 9110 §15.5.15',
  },
  {
    name: 'Content-Length over bodyLimit (no body sent)',
    raw: simple('POST / HTTP/1.1', ['Content-Length: 2000000']),
    expect: 413,
    rule: 'RFC 9110 §15.5.14',
  },
];

export const CORPUS: readonly CorpusEntry[] = [...VALID, ...INVALID];

/** Allowed statuses of an invalid entry. */
export function expectedStatuses(entry: CorpusEntry): readonly number[] {
  if (entry.expect === 'accept') return [];
  return typeof entry.expect === 'number' ? [entry.expect] : entry.expect;
}
