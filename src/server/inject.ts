import { Context } from '../context/context.js';
import type {
  ResponseChannel,
  ServerStats,
  SocketAddress,
  WsMessage,
} from '../context/response-channel.js';
import { HyperlaneError, peerGoneError } from '../error/hyperlane-error.js';
import { ParsedRequest } from '../http/parsed-request.js';
import { isFramingHeader } from '../http/response-head.js';
import { statusAllowsBody } from '../http/status.js';
import { resolveRoute } from '../lifecycle/route-resolution.js';
import type { Engine } from './engine.js';

/** A request for {@link Server.inject}. */
export interface InjectRequest {
  /** Method; default `GET`. */
  method?: string;
  /** Path, optionally with a query string. */
  path: string;
  /** Request headers. */
  headers?: Record<string, string>;
  /** Body: text, bytes, or any other value (sent as JSON). */
  body?: string | Uint8Array | object;
  /** The client address the Context reports; default `127.0.0.1`. */
  remoteAddress?: string;
}

/** The response {@link Server.inject} gives back. */
export interface InjectResponse {
  /** Status code. */
  status: number;
  /** Response headers by lower-case name (several values joined with `, `). */
  headers: Record<string, string>;
  /** Every `Set-Cookie` value, in order. */
  cookies: string[];
  /** The body bytes (every chunk, for a stream). */
  body: Buffer;
  /** The body as UTF-8 text. */
  text(): string;
  /** The body parsed as JSON. */
  json<T = unknown>(): T;
}

class InjectedResponse implements InjectResponse {
  status = 0;
  headers: Record<string, string> = {};
  cookies: string[] = [];
  body: Buffer = Buffer.alloc(0);

  text(): string {
    return this.body.toString('utf8');
  }

  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }
}

/** Collects a response in memory instead of writing it to a socket. */
class InjectChannel implements ResponseChannel {
  readonly response = new InjectedResponse();
  private readonly chunks: Buffer[] = [];
  private readonly remote: SocketAddress;

  constructor(remoteAddress: string) {
    this.remote = {
      address: remoteAddress,
      port: 0,
      family: remoteAddress.includes(':') ? 'IPv6' : 'IPv4',
    };
  }

  sendResponse(ctx: Context, headOnly: boolean): boolean {
    const response = this.response;
    response.status = ctx._status;
    const body = ctx._body;
    if (!ctx._streaming) ctx._applyDefaultContentType();
    const headers = ctx._headers;
    for (let i = 0; i < headers.size; i++) {
      const name = headers.nameAt(i);
      const value = headers.valueAt(i);
      if (isFramingHeader(name)) continue;
      response.headers[name] = typeof value === 'string' ? value : value.join(', ');
      if (name === 'set-cookie')
        response.cookies = typeof value === 'string' ? [value] : [...value];
    }
    response.headers.date ??= new Date().toUTCString();
    const withBody = statusAllowsBody(ctx._status) && ctx._request.method !== 'HEAD';
    const declared = ctx._declaredContentLength();
    if (ctx._streaming) {
      if (declared >= 0) {
        if (withBody || ctx._request.method === 'HEAD')
          response.headers['content-length'] = String(declared);
      } else if (withBody) response.headers['transfer-encoding'] = 'chunked';
      if (!headOnly && withBody) this.collect(body);
    } else {
      const bytes = toBuffer(body);
      if (withBody) response.headers['content-length'] = String(bytes.length);
      else if (ctx._request.method === 'HEAD') {
        // As on a socket: a HEAD reply announces the body it stands for, if the handler knew it.
        response.headers['content-length'] = String(
          bytes.length === 0 && declared >= 0 ? declared : bytes.length,
        );
      }
      if (withBody) this.collect(bytes);
    }
    return true;
  }

  sendChunk(ctx: Context, data: string | Uint8Array): Promise<void> {
    if (ctx._streamEnded) {
      return Promise.reject(peerGoneError('the stream has ended'));
    }
    if (ctx._request.method !== 'HEAD') this.collect(data);
    return Promise.resolve();
  }

  endStream(ctx: Context): Promise<void> {
    ctx._streamEnded = true;
    return Promise.resolve();
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  isPeerGone(): boolean {
    return false;
  }

  isSecure(): boolean {
    return false;
  }

  serverStats(): ServerStats {
    return NO_CONNECTIONS;
  }

  nextMessage(): Promise<WsMessage | undefined> {
    return Promise.resolve(undefined);
  }

  remoteAddress(): SocketAddress {
    return this.remote;
  }

  localAddress(): SocketAddress | undefined {
    return undefined;
  }

  finish(): InjectResponse {
    this.response.body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    return this.response;
  }

  private collect(data: string | Uint8Array): void {
    if (data.length > 0) this.chunks.push(toBuffer(data));
  }
}

function toBuffer(data: string | Uint8Array): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Builds the request `inject()` runs, as the parser would have produced it. */
function buildRequest(input: InjectRequest): ParsedRequest {
  const path = input.path;
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new HyperlaneError(
      'HL_ERR_HTTP',
      `inject() path must start with "/", got ${JSON.stringify(path)}`,
    );
  }
  const request = new ParsedRequest(input.method ?? 'GET', path, true);
  const question = path.indexOf('?');
  request.path = question === -1 ? path : path.slice(0, question);
  request.query = question === -1 ? '' : path.slice(question + 1);
  const headers = input.headers ?? {};
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    const value = String(headers[name]);
    request.addHeader(lower, value);
    if (lower === 'host') request.host = value;
    else if (lower === 'connection')
      request.connectionClose = value.toLowerCase().includes('close');
    else if (lower === 'upgrade') request.upgradeHeader = value;
  }
  if (request.host === undefined) {
    request.host = 'localhost';
    request.addHeader('host', 'localhost');
  }
  const body = input.body;
  if (body !== undefined) {
    let bytes: Buffer;
    if (typeof body === 'string' || body instanceof Uint8Array) bytes = toBuffer(body);
    else {
      bytes = Buffer.from(JSON.stringify(body), 'utf8');
      if (request.findHeader('content-type') === -1) {
        request.addHeader('content-type', 'application/json');
      }
    }
    request.body = bytes;
    request.contentLength = bytes.length;
    if (request.findHeader('content-length') === -1) {
      request.addHeader('content-length', String(bytes.length));
    }
  }
  request.keepAlive = !request.connectionClose;
  return request;
}

const NO_CONNECTIONS: ServerStats = Object.freeze({ connections: 0, webSockets: 0 });

/** Runs one request through routing and the full pipeline with no socket. */
export async function injectRequest(engine: Engine, input: InjectRequest): Promise<InjectResponse> {
  const channel = new InjectChannel(input.remoteAddress ?? '127.0.0.1');
  const ctx = new Context(buildRequest(input), channel);
  const route = resolveRoute(ctx, engine.router, engine.allowAll);
  const pending = engine.pipeline.run(ctx, route, true);
  if (pending !== undefined) await pending;
  if (ctx._encoder !== null) await ctx._finishEncoding();
  ctx._streamEnded = true;
  ctx._finish();
  return channel.finish();
}
