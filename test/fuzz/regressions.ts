/**
 * Inputs the fuzzers found that exposed parser bugs, replayed by parser-fuzz.test.ts: each is
 * fed whole and in its pieces (every harness property must hold) and must give `expect`.
 *
 * An entry with `open` is a bug not fixed yet: its test is reported as TODO rather than failed,
 * campaigns do not report harness failures matching its `signature` again, and the socket
 * differential sets aside mismatches it `explains`. Delete `open` once src/ is fixed, and the
 * entry guards the fix from then on.
 */
import type { ParserLimits } from '../../src/http/request-parser.js';
import type { Failure, Outcome, RequestSnapshot } from './harness.js';

/** One reproducer. */
export interface Regression {
  name: string;
  /** The bytes as latin1 strings, fed in these pieces (one piece: fed whole only). */
  pieces: readonly string[];
  /** Parser bounds (default: the server's defaults). */
  limits?: ParserLimits;
  /** What the parser must do with the bytes. */
  expect: {
    /** Fields each request handed over must have, in order (only the fields given). */
    requests?: ReadonlyArray<Partial<RequestSnapshot>>;
    /** Refused with this status after the requests; or 'wait' for more bytes. */
    end: number | 'wait';
  };
  /** Not fixed yet: why; which harness failures (kind: detail) and parser outcomes it explains. */
  open?: { note: string; signature?: RegExp; explains?: (o: Outcome, input: string) => boolean };
}

/** The reproducers, oldest first. */
export const REGRESSIONS: readonly Regression[] = [
  {
    name: 'absolute-form target without a path keeps its fragment in the query',
    pieces: ['GET http://a.example?q=1#frag HTTP/1.1\r\nHost: a.example\r\n\r\n'],
    // The origin-form "/?q=1#frag" gives query "q=1"; the absolute-form must agree.
    expect: { requests: [{ path: '/', query: 'q=1', host: 'a.example' }], end: 'wait' },
  },
  {
    name: 'absolute-form authority becomes the host unchecked (fragment, userinfo, any visible byte)',
    pieces: ['GET http://a.example#frag HTTP/1.1\r\nHost: a.example\r\n\r\n'],
    // RFC 9112 §3.2.2: the target's authority replaces Host, so it must pass the same check a
    // Host value does (RFC 9112 §3.2: not a valid host[:port] → 400). Here the fragment is cut
    // first (as for origin-form), leaving the valid authority "a.example".
    expect: { requests: [{ path: '/', query: '', host: 'a.example' }], end: 'wait' },
  },
  {
    name: 'absolute-form authority with userinfo is not a valid host',
    pieces: ['GET http://user@evil.example@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n'],
    // RFC 9110 §4.2.4: userinfo in an http(s) target is an error; the Host rule (400) applies.
    expect: { end: 400 },
  },
  {
    name: 'a chunked request whose head is exactly at the limit is refused as "trailers larger than"',
    pieces: [
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    ],
    // The head is 56 bytes, at the limit: accepted with Content-Length, so with chunked too. The
    // empty trailer section (its final CRLF) is counted on top of the head (431).
    limits: { maxHeadSize: 56, maxBodySize: 100 },
    expect: { requests: [{ method: 'POST', body: 'abc' }], end: 'wait' },
  },
  {
    name: 'CONNECT with an origin-form target is handed to the app as an ordinary request',
    pieces: ['CONNECT /up HTTP/1.1\r\nHost: example.com\r\n\r\n'],
    // RFC 9110 §9.3.6, RFC 9112 §3.2.3: CONNECT takes an authority-form target only; with any
    // other target it is malformed, and CONNECT is not implemented at all (501, as for
    // "CONNECT example.com:443"). A proxy in front would treat it as a tunnel request while the
    // app sees an ordinary one. node:http does not hand it to its 'request' handler either.
    expect: { end: 501 },
  },
  {
    name: 'whitespace after the last chunk extension is accepted, though "3 " alone is refused',
    pieces: [
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b \r\nabc\r\n0\r\n\r\n',
    ],
    // RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ):
    // no BWS after the value, as none after a bare chunk-size (corpus: "chunk size with trailing
    // space" → 400). node:http refuses it. (If it is meant to be allowed, delete this entry and let
    // the chunk-ext-bws rule's counterfactual in oracle.ts strip trailing whitespace too.)
    expect: { end: 400 },
  },
  {
    name: 'a Content-Length with leading zeros beyond 15 digits is refused',
    pieces: ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0000000000000003\r\n\r\nabc'],
    // RFC 9110 §8.6: Content-Length = 1*DIGIT; the overflow guard should count significant
    // digits. node:http accepts it. (Or decide it is deliberate: delete this entry and add a
    // stricter rule to oracle.ts.)
    expect: { requests: [{ contentLength: 3, body: 'abc' }], end: 'wait' },
  },
  {
    name: 'a chunk size with leading zeros beyond 16 hex digits is refused',
    pieces: [
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000003\r\nabc\r\n0\r\n\r\n',
    ],
    // RFC 9112 §7.1: chunk-size = 1*HEXDIG; node:http accepts it.
    expect: { requests: [{ body: 'abc' }], end: 'wait' },
  },
];

/** Whether a still-open bug above explains what the parser made of an input. */
export function isExplainedByOpenBug(o: Outcome, input: Buffer): boolean {
  const text = input.toString('latin1');
  return REGRESSIONS.some((r) => r.open?.explains?.(o, text) === true);
}

/** Whether a failure is one of the still-open bugs above (so a campaign need not report it). */
export function isKnownOpen(f: Pick<Failure, 'kind' | 'detail'>): boolean {
  const text = `${f.kind}: ${f.detail}`;
  return REGRESSIONS.some((r) => r.open?.signature?.test(text) === true);
}
