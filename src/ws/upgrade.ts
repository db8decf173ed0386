import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type PerMessageDeflateOptions } from 'ws';
import type { Context } from '../context/context.js';
import type { Handler } from '../lifecycle/pipeline.js';
import { checkHandshake } from './handshake.js';
import { WsSession, type WsHost, type WsSessionSettings } from './ws-session.js';

/** Everything the server compiles for WebSocket support. */
export interface WsEngine extends WsSessionSettings {
  /** `ws` in no-server mode: it only completes handshakes and frames messages. */
  readonly server: WebSocketServer;
  /** `preWsUpgrade` hooks. */
  readonly preUpgradeHooks: readonly Handler[];
  /** Route patterns whose handler runs once per connection (`disableWsHook`). */
  readonly handlerModePatterns: ReadonlySet<string>;
}

/** Options for the `ws` server behind every upgrade. */
export interface WsServerOptions {
  /** Largest message accepted; larger closes with 1009. */
  readonly maxPayload: number;
  /** permessage-deflate settings, or false for none. */
  readonly compression: PerMessageDeflateOptions | false;
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

/** Creates the `ws` server used for every upgrade on one of our servers. */
export function createWsServer(options: WsServerOptions): WebSocketServer {
  const protocols = options.protocols;
  const server = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: options.maxPayload,
    perMessageDeflate: options.compression,
    handleProtocols: (offered: Set<string>) => {
      for (const protocol of protocols) if (offered.has(protocol)) return protocol;
      return false;
    },
  });
  // Response headers set by preWsUpgrade hooks (cookies, for instance) go out on the 101.
  server.on('headers', (lines: string[], request: IncomingMessage) => {
    const ctx = (request as unknown as UpgradeRequest).ctx;
    for (const [name, value] of ctx._headers) {
      if (HANDSHAKE_HEADERS.has(name)) continue;
      if (typeof value === 'string') lines.push(`${name}: ${value}`);
      else for (const item of value) lines.push(`${name}: ${item}`);
    }
  });
  return server;
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
 * Hands the socket to `ws` for the 101 and framing, and starts the session that runs our
 * hooks and pipeline per message.
 * @param head - bytes that arrived after the upgrade request (the first frames, perhaps)
 * @param host - the server, which tracks the session from now on
 * @returns the session, or null when `ws` refused the handshake (it answers and closes)
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
  const session = new WsSession(ctx, route, handlerMode, ws, socket, host);
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
  ws.server.handleUpgrade(request as unknown as IncomingMessage, socket, head, (webSocket) => {
    if (returned) {
      // Too late to be handed to the server, which would never track it: refuse rather than
      // run an orphan session (no heartbeat, no shutdown).
      webSocket.terminate();
      return;
    }
    attached = true;
    session.attach(webSocket);
  });
  returned = true;
  return attached ? session : null;
}
