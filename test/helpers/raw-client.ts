/**
 * Raw HTTP/1.1 client helpers over node:net for conformance and differential tests.
 *
 * - `RawConnection`: one socket to 127.0.0.1:port; write bytes whole, byte by byte or split at
 *   seeded random points; wait for responses, for the server to close, or for silence.
 * - `exchange()`: connect, send, collect until the server closes / enough responses / timeout.
 * - `parseResponses()`: HTTP/1.1 response parser (status, headers, Content-Length or chunked
 *   bodies, 1xx interim responses, HEAD / 204 / 304 without a body, close-delimited bodies).
 * - `startServer()`: a hyperlane `Server` on 127.0.0.1 and a free port; `assertServing()`.
 */
import net from 'node:net';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Server } from '../../src/index.js';
import { SeededRandom, randomSplit } from './seeded-random.js';

export type SendMode = 'whole' | 'bytes' | 'random';

export const SEND_MODES: readonly SendMode[] = ['whole', 'bytes', 'random'];

export interface WriteOptions {
  /** How to cut the bytes into writes (default 'whole'). */
  mode?: SendMode;
  /** Seed for 'random' splits (default 1). */
  seed?: number;
  /** Pause between pieces in ms; 0 = yield one macrotask (default 0). */
  pieceDelayMs?: number;
}

export interface ParsedResponse {
  version: string;
  status: number;
  reason: string;
  /** Lower-case name → value; repeated fields joined with ", ". */
  headers: Record<string, string>;
  /** Field lines as sent (name case kept), in order. */
  rawHeaders: Array<[string, string]>;
  body: Buffer;
  trailers: Record<string, string>;
  framing: 'content-length' | 'chunked' | 'close' | 'none';
  /** The response's bytes as received. */
  raw: Buffer;
  text(): string;
  json<T = unknown>(): T;
}

export interface ParseOptions {
  /** Index (counting final, non-1xx responses from 0) → true if it answers a HEAD request. */
  isHead?: (index: number) => boolean;
  /** The connection has ended: a close-delimited body is then complete. */
  eof?: boolean;
}

export interface ParseResult {
  /** Complete responses, interim (1xx) ones included, in order. */
  responses: ParsedResponse[];
  /** Bytes after the last complete response (an incomplete response, or garbage). */
  rest: Buffer;
  /** Set when the bytes cannot be a valid HTTP/1.1 response. */
  error?: string;
}

const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');

function makeResponse(init: Omit<ParsedResponse, 'text' | 'json'>): ParsedResponse {
  return {
    ...init,
    text() {
      return this.body.toString('utf8');
    },
    json<T>() {
      return JSON.parse(this.body.toString('utf8')) as T;
    },
  };
}

function joinFields(fields: Array<[string, string]>): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of fields) {
    const key = name.toLowerCase();
    out[key] = key in out ? `${out[key]}, ${value}` : value;
  }
  return out;
}

function parseFieldLines(text: string): Array<[string, string]> | string {
  const fields: Array<[string, string]> = [];
  if (text === '') return fields;
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) return `bad header line ${JSON.stringify(line)}`;
    const name = line.slice(0, colon);
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name))
      return `bad header name ${JSON.stringify(name)}`;
    fields.push([name, line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '')]);
  }
  return fields;
}

/** Parse as many complete HTTP/1.x responses as `buf` holds. */
export function parseResponses(buf: Buffer, opts: ParseOptions = {}): ParseResult {
  const responses: ParsedResponse[] = [];
  let pos = 0;
  let finalIndex = 0;
  while (pos < buf.length) {
    const headEnd = buf.indexOf(CRLFCRLF, pos);
    if (headEnd < 0) {
      // A prefix of a status line that cannot be HTTP is an error right away.
      const prefix = buf.subarray(pos, Math.min(buf.length, pos + 5)).toString('latin1');
      if (!'HTTP/'.startsWith(prefix))
        return {
          responses,
          rest: buf.subarray(pos),
          error: `not a status line: ${JSON.stringify(buf.subarray(pos, pos + 40).toString('latin1'))}`,
        };
      break;
    }
    const head = buf.subarray(pos, headEnd).toString('latin1');
    const lineEnd = head.indexOf('\r\n');
    const statusLine = lineEnd < 0 ? head : head.slice(0, lineEnd);
    const m = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(statusLine);
    if (!m)
      return {
        responses,
        rest: buf.subarray(pos),
        error: `bad status line ${JSON.stringify(statusLine)}`,
      };
    const fields = parseFieldLines(lineEnd < 0 ? '' : head.slice(lineEnd + 2));
    if (typeof fields === 'string') return { responses, rest: buf.subarray(pos), error: fields };
    const headers = joinFields(fields);
    const status = Number(m[2]);
    const interim = status >= 100 && status < 200;
    const bodyStart = headEnd + 4;
    let body: Buffer = Buffer.alloc(0);
    let trailers: Record<string, string> = Object.create(null) as Record<string, string>;
    let framing: ParsedResponse['framing'] = 'none';
    let end = bodyStart;
    const noBody =
      interim || status === 204 || status === 304 || (opts.isHead?.(finalIndex) ?? false);
    if (noBody) {
      framing = 'none';
    } else if (headers['transfer-encoding'] !== undefined) {
      if (!/(^|,)\s*chunked\s*$/i.test(headers['transfer-encoding'])) {
        return {
          responses,
          rest: buf.subarray(pos),
          error: `unsupported response transfer-encoding ${headers['transfer-encoding']}`,
        };
      }
      framing = 'chunked';
      const chunks: Buffer[] = [];
      let p = bodyStart;
      let done = false;
      for (;;) {
        const le = buf.indexOf(CRLF, p);
        if (le < 0) break;
        const sizeLine = buf.subarray(p, le).toString('latin1');
        const sm = /^([0-9a-fA-F]+)(;.*)?$/.exec(sizeLine);
        if (!sm)
          return {
            responses,
            rest: buf.subarray(pos),
            error: `bad chunk size line ${JSON.stringify(sizeLine)}`,
          };
        const size = parseInt(sm[1] as string, 16);
        if (size === 0) {
          const tEnd =
            buf.indexOf(CRLF, le + 2) === le + 2 ? le + 2 : buf.indexOf(CRLFCRLF, le + 2);
          if (tEnd < 0) break;
          if (tEnd === le + 2) {
            end = le + 4;
          } else {
            const tf = parseFieldLines(buf.subarray(le + 2, tEnd).toString('latin1'));
            if (typeof tf === 'string')
              return { responses, rest: buf.subarray(pos), error: `trailer: ${tf}` };
            trailers = joinFields(tf);
            end = tEnd + 4;
          }
          done = true;
          break;
        }
        if (buf.length < le + 2 + size + 2) break;
        chunks.push(buf.subarray(le + 2, le + 2 + size));
        if (buf[le + 2 + size] !== 13 || buf[le + 2 + size + 1] !== 10) {
          return { responses, rest: buf.subarray(pos), error: 'chunk data not followed by CRLF' };
        }
        p = le + 2 + size + 2;
      }
      if (!done) break;
      body = Buffer.concat(chunks);
    } else if (headers['content-length'] !== undefined) {
      framing = 'content-length';
      if (!/^\d+$/.test(headers['content-length'])) {
        return {
          responses,
          rest: buf.subarray(pos),
          error: `bad response content-length ${JSON.stringify(headers['content-length'])}`,
        };
      }
      const len = Number(headers['content-length']);
      if (buf.length < bodyStart + len) break;
      body = buf.subarray(bodyStart, bodyStart + len);
      end = bodyStart + len;
    } else {
      framing = 'close';
      if (!opts.eof) break;
      body = buf.subarray(bodyStart);
      end = buf.length;
    }
    responses.push(
      makeResponse({
        version: m[1] as string,
        status,
        reason: m[3] ?? '',
        headers,
        rawHeaders: fields,
        body: Buffer.from(body),
        trailers,
        framing,
        raw: Buffer.from(buf.subarray(pos, end)),
      }),
    );
    if (!interim) finalIndex++;
    pos = end;
  }
  return { responses, rest: buf.subarray(pos) };
}

/** Final (non-1xx) responses of a parse. */
export function finalResponses(responses: readonly ParsedResponse[]): ParsedResponse[] {
  return responses.filter((r) => r.status >= 200);
}

/** Cut bytes into the pieces a send mode writes. */
export function piecesFor(data: Uint8Array, mode: SendMode, seed = 1): Buffer[] {
  const buf = Buffer.from(data);
  if (buf.length === 0) return [];
  if (mode === 'whole') return [buf];
  if (mode === 'bytes') {
    const out: Buffer[] = [];
    for (let i = 0; i < buf.length; i++) out.push(buf.subarray(i, i + 1));
    return out;
  }
  return randomSplit(buf, new SeededRandom(seed));
}

function toBuffer(data: string | Uint8Array): Buffer {
  return typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data);
}

/** One raw client socket. Never throws on write after the peer closed. */
export class RawConnection {
  readonly socket: net.Socket;
  private chunks: Buffer[] = [];
  private size = 0;
  private waiters = new Set<() => void>();
  /** The server ended or reset the connection. */
  closed = false;
  /** The close came as a reset (ECONNRESET) rather than a FIN. */
  reset = false;
  /** We destroyed the socket ourselves. */
  destroyedByUs = false;
  error: Error | undefined;
  readonly openedAt = Date.now();
  closedAt: number | undefined;
  lastDataAt = Date.now();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.size += d.length;
      this.lastDataAt = Date.now();
      this.wake();
    });
    socket.on('end', () => this.markClosed());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error = err;
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') this.reset = true;
      this.markClosed();
    });
    socket.on('close', () => this.markClosed());
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      const conn = new RawConnection(socket);
      const onError = (err: Error): void => reject(err);
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(conn);
      });
    });
  }

  private markClosed(): void {
    if (!this.closed && !this.destroyedByUs) {
      this.closed = true;
      this.closedAt = Date.now();
    }
    this.wake();
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  /** Everything received so far. */
  get received(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  get receivedLength(): number {
    return this.size;
  }

  /** Writable from our side (the socket is not destroyed). */
  get writable(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }

  /** Write bytes in the given mode; resolves when all pieces were handed to the kernel. */
  async write(data: string | Uint8Array, opts: WriteOptions = {}): Promise<void> {
    const pieces = piecesFor(toBuffer(data), opts.mode ?? 'whole', opts.seed ?? 1);
    for (let i = 0; i < pieces.length; i++) {
      if (!this.writable) return;
      await new Promise<void>((resolve) => {
        this.socket.write(pieces[i] as Buffer, () => resolve());
      });
      if (pieces.length > 1 && i < pieces.length - 1) {
        if ((opts.pieceDelayMs ?? 0) > 0) await sleep(opts.pieceDelayMs);
        else await new Promise<void>((r) => setImmediate(r));
      }
    }
  }

  /** Wait until `pred()` holds, the connection closes (resolves false unless pred holds) or the timeout. */
  async waitUntil(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (pred()) return true;
      if (this.closed || this.socket.destroyed) return pred();
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.waiters.delete(done);
          resolve();
        }, left);
        const done = (): void => {
          clearTimeout(t);
          resolve();
        };
        this.waiters.add(done);
      });
    }
  }

  /** Parse what was received so far. */
  parse(opts: Omit<ParseOptions, 'eof'> = {}): ParseResult {
    return parseResponses(this.received, { ...opts, eof: this.closed });
  }

  /** Wait for `n` complete final responses (or close / timeout); returns all parsed responses. */
  async readResponses(
    n: number,
    timeoutMs = 3000,
    opts: Omit<ParseOptions, 'eof'> = {},
  ): Promise<ParsedResponse[]> {
    await this.waitUntil(() => finalResponses(this.parse(opts).responses).length >= n, timeoutMs);
    return this.parse(opts).responses;
  }

  /** Wait until the server closes; true if it did within the timeout. */
  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    return this.waitUntil(() => this.closed, timeoutMs);
  }

  /** Wait until no byte arrived for `quietMs` (or close / timeout). */
  async waitQuiet(quietMs: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.closed) return;
      const now = Date.now();
      const quietLeft = this.lastDataAt + quietMs - now;
      if (quietLeft <= 0 || now >= deadline) return;
      const before = this.size;
      await this.waitUntil(() => this.size !== before, Math.min(quietLeft, deadline - now));
    }
  }

  destroy(): void {
    if (!this.closed) this.destroyedByUs = true;
    this.socket.destroy();
  }
}

export interface ExchangeOptions extends WriteOptions {
  /** Give up waiting after this long (default 3000 ms). */
  timeoutMs?: number;
  /** Return once this many final responses are complete, even if the socket stays open. */
  responses?: number;
  /** Once at least one final response is complete, return after this much silence. */
  quietMs?: number;
  /** Which final responses answer HEAD requests (by index). */
  isHead?: (index: number) => boolean;
}

export interface ExchangeResult {
  /** Everything the server sent. */
  bytes: Buffer;
  /** Parsed responses, interim ones included. */
  responses: ParsedResponse[];
  /** Final (status >= 200) responses. */
  finals: ParsedResponse[];
  /** Trailing bytes that did not form a complete response. */
  rest: Buffer;
  parseError: string | undefined;
  /** The server closed the connection (FIN or reset) before we gave up. */
  closed: boolean;
  reset: boolean;
  /** We stopped waiting because of the timeout (neither closed nor enough responses). */
  timedOut: boolean;
  /** Milliseconds from connect to the server's close, if it closed. */
  closedAfterMs: number | undefined;
}

/** Connect, send `data`, collect the response(s) and close. */
export async function exchange(
  port: number,
  data: string | Uint8Array,
  opts: ExchangeOptions = {},
): Promise<ExchangeResult> {
  const conn = await RawConnection.connect(port);
  try {
    const timeoutMs = opts.timeoutMs ?? 3000;
    const started = Date.now();
    await conn.write(data, opts);
    const parseOpts = opts.isHead ? { isHead: opts.isHead } : {};
    const enough = (): boolean => {
      if (opts.responses === undefined) return false;
      return finalResponses(conn.parse(parseOpts).responses).length >= opts.responses;
    };
    let ok = await conn.waitUntil(
      () =>
        enough() ||
        (opts.quietMs !== undefined && finalResponses(conn.parse(parseOpts).responses).length > 0),
      Math.max(0, timeoutMs - (Date.now() - started)),
    );
    if (ok && !enough() && opts.quietMs !== undefined && !conn.closed) {
      await conn.waitQuiet(opts.quietMs, Math.max(0, timeoutMs - (Date.now() - started)));
      ok = true;
    }
    const parsed = conn.parse(parseOpts);
    return {
      bytes: conn.received,
      responses: parsed.responses,
      finals: finalResponses(parsed.responses),
      rest: parsed.rest,
      parseError: parsed.error,
      closed: conn.closed,
      reset: conn.reset,
      timedOut: !ok && !conn.closed,
      closedAfterMs: conn.closedAt === undefined ? undefined : conn.closedAt - conn.openedAt,
    };
  } finally {
    conn.destroy();
  }
}

/** Send a complete request and read exactly one final response (keeps nothing open). */
export async function request(
  port: number,
  data: string | Uint8Array,
  opts: ExchangeOptions = {},
): Promise<ExchangeResult> {
  return exchange(port, data, { responses: 1, ...opts });
}

// ---------------------------------------------------------------------------------------------
// hyperlane server helpers

export type ServerConfig = ConstructorParameters<typeof Server>[0];

export interface StartedServer {
  port: number;
  server: Server;
  close: () => Promise<void>;
}

/** Build `new Server({ host: '127.0.0.1', port: 0, ...config })`, run `setup`, listen. */
export async function startServer(
  setup: (server: Server) => void | Promise<void>,
  config: NonNullable<ServerConfig> | Record<string, unknown> = {},
): Promise<StartedServer> {
  const server = new Server({ host: '127.0.0.1', port: 0, ...config } as ServerConfig);
  await setup(server);
  const running = await server.run();
  return {
    port: running.port,
    server,
    close: async () => {
      await running.close();
    },
  };
}

/** A fresh connection (fetch) to the server gets a response: the server still serves. */
export async function assertServing(port: number, path = '/__alive'): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3000) });
  await res.arrayBuffer();
  assert.ok(
    res.status >= 200 && res.status < 500,
    `server still serving: got status ${res.status} for ${path}`,
  );
}

const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * Check a final response's framing and Date: a Date in IMF-fixdate; for statuses that carry a
 * body, exactly one of Content-Length / Transfer-Encoding: chunked (and the body matched it,
 * which the parser already enforced); no Content-Length or TE on 1xx and 204.
 */
export function assertWellFramed(res: ParsedResponse, label = ''): void {
  const where = `${label} (${res.status}) ${JSON.stringify(res.raw.subarray(0, 300).toString('latin1'))}`;
  if (res.status >= 200) {
    assert.ok(res.headers['date'] !== undefined, `Date header present ${where}`);
    assert.match(res.headers['date'] ?? '', IMF_FIXDATE, `Date is an IMF-fixdate ${where}`);
    assert.equal(
      res.rawHeaders.filter(([n]) => n.toLowerCase() === 'date').length,
      1,
      `one Date ${where}`,
    );
  }
  const hasCl = res.headers['content-length'] !== undefined;
  const hasTe = res.headers['transfer-encoding'] !== undefined;
  if (res.status < 200 || res.status === 204) {
    assert.ok(!hasCl && !hasTe, `no Content-Length / Transfer-Encoding on ${res.status} ${where}`);
    return;
  }
  assert.ok(!(hasCl && hasTe), `not both Content-Length and Transfer-Encoding ${where}`);
  if (res.status !== 304) {
    assert.ok(hasCl || hasTe, `framed by Content-Length or chunked ${where}`);
  }
  if (hasCl) {
    assert.equal(
      res.rawHeaders.filter(([n]) => n.toLowerCase() === 'content-length').length,
      1,
      `one Content-Length ${where}`,
    );
    assert.match(res.headers['content-length'] ?? '', /^\d+$/, `Content-Length is digits ${where}`);
  }
  if (hasTe)
    assert.equal(
      res.headers['transfer-encoding']?.toLowerCase(),
      'chunked',
      `Transfer-Encoding is chunked ${where}`,
    );
}

/** Printable, JSON-escaped form of raw bytes (latin1, so every byte shows). */
export function showBytes(data: Uint8Array, max = 600): string {
  const b = Buffer.from(data);
  const s = JSON.stringify(b.subarray(0, max).toString('latin1'));
  return b.length > max ? `${s}…(+${b.length - max} bytes)` : s;
}
