/**
 * Target `net-ceiling`: the upper bound. A bare `node:net` server that finds the end of each
 * request head (`\r\n\r\n`) and writes a response precomputed at startup, chosen by comparing
 * the request target's bytes (no strings, no header parsing, no Date, no JSON per request).
 * No HTTP server in Node can do less per request and still answer the same app, so its req/s
 * is the ceiling the others are measured against.
 *
 * It speaks just enough HTTP/1.1 for the benchmark: keep-alive, pipelining (every complete
 * head in a chunk is answered, in order, with one corked write), POST bodies (skipped by their
 * `Content-Length`; the echo answer is precomputed too) and `Connection: close` (answered, then
 * the socket is ended). Anything else is out of scope.
 * Usage: `node .build/bench/servers/net-ceiling.js [port] [basic|middleware]`.
 * @packageDocumentation
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import {
  appFromArgs,
  BENCH_CASES,
  BENCH_ORIGIN,
  MIDDLEWARE_PATH,
  SECURITY_HEADERS,
} from '../app.js';
import { announceReady, BENCH_HOST, portFromArgs } from './cli.js';

/** A precomputed response, in a keep-alive and a `Connection: close` variant. */
interface FixedResponse {
  readonly keepAlive: Buffer;
  readonly close: Buffer;
}

function response(status: string, contentType: string, body: string, extra = ''): FixedResponse {
  const head =
    `HTTP/1.1 ${status}\r\nContent-Type: ${contentType}\r\n${extra}` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  return {
    keepAlive: Buffer.from(`${head}\r\n${body}`, 'latin1'),
    close: Buffer.from(`${head}Connection: close\r\n\r\n${body}`, 'latin1'),
  };
}

// The ceiling answers the middleware case with the same headers, fixed (one id for all).
const MIDDLEWARE_HEADERS =
  Object.entries(SECURITY_HEADERS)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('') +
  `access-control-allow-origin: ${BENCH_ORIGIN}\r\nvary: Origin\r\n` +
  'x-request-id: 0b0e3c5e-2f4c-4d7a-9a56-3f1f5f0c8e11\r\n';

interface FixedRoute {
  readonly target: Buffer;
  readonly response: FixedResponse;
}

const MIDDLEWARE_APP = appFromArgs() === 'middleware';
// One fixed response per request target the runner sends (the case paths, fillers included).
// The echo answer is the benchmark body itself: it is what parsing and re-serializing it gives.
const ROUTES: readonly FixedRoute[] = [
  ...new Map(
    BENCH_CASES.filter((c) => c.app === 'basic' || MIDDLEWARE_APP).map((c) => [
      c.path,
      response(
        '200 OK',
        c.contentType,
        c.body ?? (typeof c.expected === 'string' ? c.expected : JSON.stringify(c.expected)),
        c.path === MIDDLEWARE_PATH ? MIDDLEWARE_HEADERS : '',
      ),
    ]),
  ),
].map(([path, fixed]) => ({ target: Buffer.from(path), response: fixed }));
const NOT_FOUND = response('404 Not Found', 'text/plain', 'Not Found');
const HEAD_END = Buffer.from('\r\n\r\n');
// The spellings load generators send (wrk and autocannon: canonical; others: lower case).
const CONTENT_LENGTHS = [Buffer.from('Content-Length:'), Buffer.from('content-length:')];
// Matched without its first letter, so both `Connection` and `connection` are found.
const CONNECTION_CLOSE = Buffer.from('onnection: close');
const SPACE = 0x20;
const LETTER_P = 0x50;
// A head this long without its end is not a benchmark client; drop it rather than buffer forever.
const MAX_PENDING = 64 * 1024;

/** The precomputed response for the head in `buf[start, end)`, chosen by its request target. */
function responseFor(buf: Buffer, start: number, end: number): FixedResponse {
  const targetStart = buf.indexOf(SPACE, start) + 1;
  const targetEnd = targetStart === 0 ? -1 : buf.indexOf(SPACE, targetStart);
  if (targetEnd === -1 || targetEnd > end) return NOT_FOUND;
  const length = targetEnd - targetStart;
  for (const route of ROUTES) {
    // Buffer#compare on ranges compares bytes in place: no slice, no string per request.
    if (
      route.target.length === length &&
      buf.compare(route.target, 0, length, targetStart, targetEnd) === 0
    ) {
      return route.response;
    }
  }
  return NOT_FOUND;
}

/** The body length a POST head in `buf[start, end)` announces (0 for other methods). */
function bodyLength(buf: Buffer, start: number, end: number): number {
  if (buf[start] !== LETTER_P) return 0;
  const name = CONTENT_LENGTHS.find((n) => {
    const at = buf.indexOf(n, start);
    return at !== -1 && at < end;
  });
  if (name === undefined) return 0;
  let length = 0;
  for (let i = buf.indexOf(name, start) + name.length; i < end; i++) {
    const digit = buf[i]! - 0x30;
    if (digit >= 0 && digit <= 9) length = length * 10 + digit;
    else if (buf[i] !== SPACE) break;
  }
  return length;
}

/**
 * Per-connection state: the unfinished head carried over from the previous chunk, if any, and
 * how many body bytes of the last request are still to be skipped.
 */
class CeilingConnection {
  private pending: Buffer | null = null;
  private bodyLeft = 0;
  private corked = false;

  constructor(private readonly socket: Socket) {}

  onData(chunk: Buffer): void {
    // After a `Connection: close` answer, whatever else the client sent is ignored.
    if (!this.socket.writable) return;
    let buf = chunk;
    let scanFrom = 0;
    let start = 0;
    if (this.bodyLeft > 0) {
      start = Math.min(this.bodyLeft, buf.length);
      this.bodyLeft -= start;
      scanFrom = start;
    } else if (this.pending !== null) {
      // The terminator may straddle the two chunks, so rescan the pending tail's last 3 bytes.
      scanFrom = Math.max(0, this.pending.length - 3);
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let end = buf.indexOf(HEAD_END, scanFrom);
    while (end !== -1) {
      const fixed = responseFor(buf, start, end);
      const close = buf.indexOf(CONNECTION_CLOSE, start);
      const skip = bodyLength(buf, start, end);
      start = end + HEAD_END.length + skip;
      if (start > buf.length) {
        this.bodyLeft = start - buf.length;
        start = buf.length;
      }
      if (close !== -1 && close < end) {
        this.flush();
        this.socket.end(fixed.close);
        return;
      }
      end = buf.indexOf(HEAD_END, start);
      // Pipelined heads are answered in order and flushed as one writev; a lone head (the
      // common case) is written at once.
      if (end !== -1 && !this.corked) {
        this.socket.cork();
        this.corked = true;
      }
      this.socket.write(fixed.keepAlive);
    }
    this.flush();
    if (start < buf.length) {
      if (buf.length - start > MAX_PENDING) {
        this.socket.destroy();
        return;
      }
      this.pending = buf.subarray(start);
    }
  }

  private flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }
}

function ignoreError(): void {
  // A client resetting its connection at the end of a run is normal; the socket closes itself.
}

function onConnection(socket: Socket): void {
  socket.setNoDelay(true);
  const connection = new CeilingConnection(socket);
  socket.on('data', (chunk: Buffer) => connection.onData(chunk));
  socket.on('error', ignoreError);
}

const server = createServer(onConnection);
server.listen(portFromArgs(), BENCH_HOST, () => {
  announceReady((server.address() as AddressInfo).port);
});
