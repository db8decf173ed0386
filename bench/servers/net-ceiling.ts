/**
 * Target `net-ceiling`: the upper bound. A bare `node:net` server that finds the end of each
 * request head (`\r\n\r\n`) and writes a response precomputed at startup, chosen by comparing
 * the request target's bytes (no strings, no header parsing, no Date, no JSON per request).
 * No HTTP server in Node can do less per request and still answer the same app, so its req/s
 * is the ceiling the others are measured against.
 *
 * It speaks just enough HTTP/1.1 for the benchmark: GET requests without bodies, keep-alive
 * (it never closes a connection) and pipelining (every complete head in a chunk is answered, in
 * order, with one corked write). Anything else is out of scope.
 * Usage: `node .build/bench/servers/net-ceiling.js [port]`.
 * @packageDocumentation
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import {
  appFromArgs,
  BENCH_ORIGIN,
  BENCH_USER_ID,
  HELLO_BODY,
  JSON_MESSAGE,
  MIDDLEWARE_PATH,
  SECURITY_HEADERS,
  USERS_PREFIX,
} from '../app.js';
import { announceReady, BENCH_HOST, portFromArgs } from './cli.js';

function response(status: string, contentType: string, body: string, extra = ''): Buffer {
  return Buffer.from(
    `HTTP/1.1 ${status}\r\nContent-Type: ${contentType}\r\n${extra}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    'latin1',
  );
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
  readonly response: Buffer;
}

const ALL_ROUTES: readonly FixedRoute[] = [
  { target: Buffer.from('/'), response: response('200 OK', 'text/plain', HELLO_BODY) },
  {
    target: Buffer.from('/json'),
    response: response('200 OK', 'application/json', JSON.stringify({ message: JSON_MESSAGE })),
  },
  {
    target: Buffer.from(MIDDLEWARE_PATH),
    response: response(
      '200 OK',
      'application/json',
      JSON.stringify({ message: JSON_MESSAGE }),
      MIDDLEWARE_HEADERS,
    ),
  },
  {
    target: Buffer.from(USERS_PREFIX + BENCH_USER_ID),
    response: response('200 OK', 'application/json', JSON.stringify({ id: BENCH_USER_ID })),
  },
];
const MIDDLEWARE_TARGET = Buffer.from(MIDDLEWARE_PATH);
// The middleware route exists only in the middleware app, like on every other target.
const ROUTES =
  appFromArgs() === 'middleware'
    ? ALL_ROUTES
    : ALL_ROUTES.filter((route) => !route.target.equals(MIDDLEWARE_TARGET));
const NOT_FOUND = response('404 Not Found', 'text/plain', 'Not Found');
const HEAD_END = Buffer.from('\r\n\r\n');
const SPACE = 0x20;
// A head this long without its end is not a benchmark client; drop it rather than buffer forever.
const MAX_PENDING = 64 * 1024;

/** The precomputed response for the head in `buf[start, end)`, chosen by its request target. */
function responseFor(buf: Buffer, start: number, end: number): Buffer {
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

/** Per-connection state: the unfinished head carried over from the previous chunk, if any. */
class CeilingConnection {
  private pending: Buffer | null = null;

  constructor(private readonly socket: Socket) {}

  onData(chunk: Buffer): void {
    let buf = chunk;
    let scanFrom = 0;
    if (this.pending !== null) {
      // The terminator may straddle the two chunks, so rescan the pending tail's last 3 bytes.
      scanFrom = Math.max(0, this.pending.length - 3);
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let start = 0;
    let end = buf.indexOf(HEAD_END, scanFrom);
    if (end !== -1) {
      const first = responseFor(buf, start, end);
      start = end + HEAD_END.length;
      end = buf.indexOf(HEAD_END, start);
      if (end === -1) {
        // The common, non-pipelined case: one request per chunk, one write.
        this.socket.write(first);
      } else {
        // Pipelined: answer every complete head in order, flushed as one writev.
        this.socket.cork();
        this.socket.write(first);
        do {
          this.socket.write(responseFor(buf, start, end));
          start = end + HEAD_END.length;
          end = buf.indexOf(HEAD_END, start);
        } while (end !== -1);
        this.socket.uncork();
      }
    }
    if (start < buf.length) {
      if (buf.length - start > MAX_PENDING) {
        this.socket.destroy();
        return;
      }
      this.pending = buf.subarray(start);
    }
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
