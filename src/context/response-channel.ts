import type { Context } from './context.js';

/** The peer's socket address as `getSocketAddr()` reports it. */
export interface SocketAddress {
  /** IP address. */
  readonly address: string;
  /** Remote port. */
  readonly port: number;
  /** `'IPv4'` or `'IPv6'`. */
  readonly family: string;
}

/** Live connection counts of the server a Context belongs to, as `ctx.getServerStats()` reports them. */
export interface ServerStats {
  /** Open client connections (HTTP and WebSocket). */
  readonly connections: number;
  /** Of those, connections that are WebSockets. */
  readonly webSockets: number;
}

/** One WebSocket message, as `ctx.wsMessages()` yields it. */
export interface WsMessage {
  /** `'text'` or `'binary'`. */
  readonly type: 'text' | 'binary';
  /** The payload. */
  readonly data: Buffer;
  /** The payload decoded as UTF-8. */
  text(): string;
}

/**
 * What a Context writes through. The server's connection implements it over a socket,
 * `inject()` over memory and the WebSocket session over a `ws` socket, so the Context itself
 * never knows which transport it is on.
 */
export interface ResponseChannel {
  /** Writes the response head, and the body unless `headOnly`; false if the peer is gone. */
  sendResponse(ctx: Context, headOnly: boolean): boolean;
  /** Writes one chunk of a streamed response (or one WebSocket message); waits on backpressure. */
  sendChunk(ctx: Context, data: string | Uint8Array): Promise<void>;
  /** Ends a streamed response / closes a WebSocket with `code` and `reason`. */
  endStream(ctx: Context, code?: number, reason?: string): Promise<void>;
  /** Resolves once queued bytes have been handed to the OS. */
  flush(): Promise<void>;
  /** Whether the peer has gone away. */
  isPeerGone(): boolean;
  /** The peer's address, if known. */
  remoteAddress(): SocketAddress | undefined;
  /** The local address, if known. */
  localAddress(): SocketAddress | undefined;
  /** Whether the connection is TLS. */
  isSecure(): boolean;
  /** Connection counts of the server behind this channel. */
  serverStats(): ServerStats;
  /** The next incoming WebSocket message, or `undefined` once closed (and on plain HTTP). */
  nextMessage(): Promise<WsMessage | undefined>;
}
