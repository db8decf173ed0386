import type { ServerStats } from '../context/response-channel.js';
import type { Handler, Pipeline } from '../lifecycle/pipeline.js';
import type { Router } from '../route/router.js';
import type { WsEngine } from '../ws/upgrade.js';
import type { WsHost, WsSession } from '../ws/ws-session.js';
import type { ServerConfig } from './config.js';

/** What a connection needs from its server: compiled routes and pipeline, settings, bookkeeping. */
export interface Engine extends WsHost {
  /** Effective settings. */
  readonly config: ServerConfig;
  /** The compiled routes. */
  readonly router: Router<Handler>;
  /** The compiled middleware chain. */
  readonly pipeline: Pipeline;
  /** `Allow` for `OPTIONS *`: every method any route takes. */
  readonly allowAll: string;
  /** WebSocket hooks, limits and the `ws` server. */
  readonly ws: WsEngine;
  /** Called once when a connection has closed. */
  forgetConnection(connection: object): void;
  /**
   * A connection became a WebSocket: from here on the server tracks the session (which owns
   * the socket) instead of the HTTP connection, which can then be collected.
   */
  adoptWebSocket(connection: object, session: WsSession): void;
  /** Live connection counts. */
  serverStats(): ServerStats;
}
