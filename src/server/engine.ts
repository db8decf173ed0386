import type { ServerStats } from '../context/response-channel.js';
import type { Handler, Pipeline } from '../lifecycle/pipeline.js';
import type { Router } from '../route/router.js';
import type { WsEngine } from '../ws/upgrade.js';
import type { ServerConfig } from './config.js';

/** What a connection needs from its server: compiled routes and pipeline, settings, bookkeeping. */
export interface Engine {
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
  /** Counts a connection that became a WebSocket (+1) or such a connection closing (-1). */
  countWebSocket(delta: 1 | -1): void;
  /** Live connection counts. */
  serverStats(): ServerStats;
}
