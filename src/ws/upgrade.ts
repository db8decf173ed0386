import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type PerMessageDeflateOptions } from 'ws';
import type { Context } from '../context/context.js';
import type { Handler } from '../lifecycle/pipeline.js';
import { FramedSocket } from './framed-socket.js';
import { checkHandshake, offeredProtocols } from './handshake.js';
import { LibraryTransport } from './library-transport.js';
import { WsSession, type WsHost, type WsSessionSettings } from './ws-session.js';

/** Everything the server compiles for WebSocket support. */
export interface WsEngine extends WsSessionSettings {
  /**
   * `ws` in no-server mode where permessage-deflate is enabled (it negotiates, compresses and
   * frames); null otherwise, and our own framing serves every connection.
   */
  readonly library: WebSocketServer | null;
  /** Largest message accepted; larger closes with 1009. */
  readonly maxPayload: number;
  /** Subprotocols this server speaks, in preference order; empty selects none. */
  readonly protocols: readonly string[];
  /** `preWsUpgrade` hooks. */
  readonly preUpgradeHooks: readonly Handler[];
  /** Route patterns whose handler runs once per connection (`disableWsHook`). */
  readonly handlerModePatterns: ReadonlySet<string>;
}

/** Options for the `ws` server that frames compressed connections. */
export interface WsServerOptions {
  /** Largest message accepted; larger closes with 1009. */
  readonly maxPayload: number;
  /** permessage-deflate settings. */
  readonly compression: PerMessageDeflateOptions;
  /** Subprotocols this server speaks, in preference order; empty selects none. */
  readonly protocols: readonly string[];
}

/** The minimal request object `ws` reads during a handshake, carrying our Context along. */
interface UpgradeRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  socket: Socket;
  ctx: Context;
}

// Headers the handshake itself owns; a hook's values for these would corrupt the 101.
const HANDSHAKE_HEADERS = new Set([
  'connection',
  'upgrade',
  'content-length',
  'transfer-encoding',
  'content-type',
  'sec-websocket-accept',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

/**
 * The request headers `ws` reads during the handshake, built without caching them on the
 * Context: the record is garbage once the 101 is written.
 */
function handshakeHeaders(ctx: Context): Record<string, string> {
  const record: Record<string, string> = Object.create(null) as Record<string, string>;
  const headers = ctx._request.headers;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    const previous = record[name];
    record[name] = previous === undefined ? value : `${previous}, ${value}`;
  }
  return record;
}

/** The first of `protocols` (our preference order) that the client offered, if any. */
function selectProtocol(
  protocols: readonly string[],
  offered: ReadonlySet<string>,
): string | undefined {
  for (const protocol of protocols) if (offered.has(protocol)) return protocol;
  return undefined;
}

/** Creates the `ws` server that frames compressed connections on one of our servers. */
export function createWsServer(options: WsServerOptions): WebSocketServer {
  const protocols = options.protocols;
  const server = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: options.maxPayload,
    perMessageDeflate: options.compression,
    handleProtocols: (offered: Set<string>) => selectProtocol(protocols, offered) ?? false,
  });
  // Response headers set by preWsUpgrade hooks (cookies, for instance) go out on the 101.
  server.on('headers', (lines: string[], request: IncomingMessage) => {
    addHookHeaders(lines, (request as unknown as UpgradeRequest).ctx);
  });
  return server;
}

/** Adds the header lines `preWsUpgrade` hooks set (cookies, for instance) to the 101. */
function addHookHeaders(lines: string[], ctx: Context): void {
  const headers = ctx._headers;
  for (let i = 0; i < headers.size; i++) {
    const name = headers.nameAt(i);
    const value = headers.valueAt(i);
    if (HANDSHAKE_HEADERS.has(name)) continue;
    if (typeof value === 'string') lines.push(`${name}: ${value}`);
    else for (const item of value) lines.push(`${name}: ${item}`);
  }
}

// RFC 6455 §1.3: the accept value hashes the client's key with this fixed GUID.
const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The 101 for a handshake `checkHandshake` accepted, as one string. */
function switchingProtocolsHead(ctx: Context, protocols: readonly string[]): string {
  const request = ctx._request;
  const key = request.firstHeader('sec-websocket-key')!;
  const accept = createHash('sha1')
    .update(key + ACCEPT_GUID)
    .digest('base64');
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${accept}`,
  ];
  if (protocols.length > 0) {
    const offered = offeredProtocols(request);
    const protocol = offered === null ? undefined : selectProtocol(protocols, offered);
    if (protocol !== undefined) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  }
  addHookHeaders(lines, ctx);
  lines.push('', '');
  return lines.join('\r\n');
}

/**
 * Validates the handshake and runs the `preWsUpgrade` hooks. When it returns false the
 * response in `ctx` (a refusal, an error, or whatever a hook sent) is the answer and no
 * upgrade happens.
 */
export async function admitUpgrade(ctx: Context, ws: WsEngine): Promise<boolean> {
  const rejection = checkHandshake(ctx._request);
  if (rejection !== null) {
    ctx._keepAlive = false;
    for (const name of Object.keys(rejection.headers))
      ctx.setResponseHeader(name, rejection.headers[name]!);
    ctx.setResponseStatusCode(rejection.status).setResponseBodyJson({
      error: rejection.status === 426 ? 'Upgrade Required' : 'Bad Request',
      message: rejection.message,
    });
    return false;
  }
  for (const hook of ws.preUpgradeHooks) {
    try {
      await hook(ctx);
    } catch (error) {
      ctx._keepAlive = false;
      await ws.pipeline.handleError(ctx, error);
      return false;
    }
    if (ctx._sent || ctx._aborted) {
      ctx._keepAlive = false;
      return false;
    }
  }
  return true;
}

/**
 * Writes the 101 and starts the session that runs our hooks and pipeline per message, over
 * our own framing (or `ws`'s, where compression is enabled).
 * @param head - bytes that arrived after the upgrade request (the first frames, perhaps)
 * @param host - the server, which tracks the session from now on
 * @returns the session, or null when the socket is already unwritable or `ws` refused the
 *   handshake (it answers and closes): the connection's own listeners clean up
 */
export function completeUpgrade(
  ctx: Context,
  route: Handler,
  ws: WsEngine,
  socket: Socket,
  head: Buffer,
  host: WsHost,
): WsSession | null {
  const handlerMode =
    ctx._routePattern !== undefined && ws.handlerModePatterns.has(ctx._routePattern);
  if (ws.library === null && (!socket.readable || !socket.writable)) {
    // The client half-closed (or left) while preWsUpgrade hooks ran: a connection that can
    // never send a close frame is refused, as `ws` refuses it.
    socket.destroy();
    return null;
  }
  const session = new WsSession(ctx, route, handlerMode, ws, socket, host);
  if (ws.library !== null) return upgradeWithLibrary(session, ctx, ws.library, socket, head);
  socket.write(switchingProtocolsHead(ctx, ws.protocols), 'latin1');
  const framed = new FramedSocket(socket, session, ws.maxPayload);
  session.attach(framed);
  framed.start(head);
  return session;
}

/** Lets `ws` answer the handshake (negotiating compression) and frame the connection. */
function upgradeWithLibrary(
  session: WsSession,
  ctx: Context,
  library: WebSocketServer,
  socket: Socket,
  head: Buffer,
): WsSession | null {
  const request: UpgradeRequest = {
    method: 'GET',
    url: ctx._request.target,
    headers: handshakeHeaders(ctx),
    socket,
    ctx,
  };
  let attached = false;
  let returned = false;
  // `ws` completes (or refuses) a handshake synchronously when, as here, it has no verifyClient.
  library.handleUpgrade(request as unknown as IncomingMessage, socket, head, (webSocket) => {
    if (returned) {
      // Too late to be handed to the server, which would never track it: refuse rather than
      // run an orphan session (no heartbeat, no shutdown).
      webSocket.terminate();
      return;
    }
    attached = true;
    session.attach(new LibraryTransport(webSocket, session));
  });
  returned = true;
  return attached ? session : null;
}
