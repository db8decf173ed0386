import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { HyperlaneError } from '../error/hyperlane-error.js';
import { noop } from '../util/drain-waiters.js';
import { Pipeline, type ErrorHook, type Handler } from '../lifecycle/pipeline.js';
import { createWsServer, type WsEngine } from '../ws/upgrade.js';
import type { WsClosedHook, WsSession } from '../ws/ws-session.js';
import { Router } from '../route/router.js';
import {
  checkConfigValue,
  resolveConfig,
  type ServerConfig,
  type TlsOptions,
  type WsCompressionConfig,
} from './config.js';
import { Connection } from './connection.js';
import cluster from 'node:cluster';
import {
  ClusterPrimary,
  isHyperlaneWorker,
  resolveWorkerCount,
  serveAsWorker,
  workerId,
  type WorkerCount,
} from './cluster.js';
import {
  compression as compressionMiddleware,
  type CompressionOptions,
} from '../middleware/compression.js';
import type { Engine } from './engine.js';
import type { ServerStats } from '../context/response-channel.js';
import { injectRequest, type InjectRequest, type InjectResponse } from './inject.js';

/** Options for {@link RunningServer.close}. */
export interface CloseOptions {
  /** Milliseconds to let in-flight requests finish before remaining sockets are destroyed. Default 10 s. */
  timeout?: number;
}

/** A listening server, as `run()` resolves it. */
export interface RunningServer {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** The bound address. */
  readonly host: string;
  /**
   * Graceful close: stop accepting, let in-flight requests finish, close idle keep-alive
   * connections, destroy what remains after `timeout`. Resolves when everything is closed.
   */
  close(options?: CloseOptions): Promise<void>;
  /** Resolves once the server has fully closed. */
  readonly closed: Promise<void>;
}

const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
// Bytes a WebSocket may have queued for a slow reader before sendBody() waits for it to drain.
const WS_WRITE_HIGH_WATER = 1024 * 1024;

const NO_STATS: ServerStats = Object.freeze({ connections: 0, webSockets: 0 });

// Each worker's lines say which worker wrote them.
const LOG_PREFIX =
  workerId() === undefined ? '[hyperlane-ts]' : `[hyperlane-ts worker ${workerId()}]`;

function logToStderr(message: string, error: unknown): void {
  console.error(`${LOG_PREFIX} ${message}:`, error);
}

/**
 * The server: configure it fluently (or from plain data), register middleware, routes and
 * hooks, then `run()`.
 *
 * @example
 * const server = new Server({ port: 0 });
 * server.get('/', (ctx) => { ctx.setResponseBody('Hello'); });
 * const running = await server.run();
 */
export class Server {
  private readonly config: ServerConfig;
  private readonly router = new Router<Handler>();
  private readonly requestMiddlewares: Handler[] = [];
  private readonly responseMiddlewares: Handler[] = [];
  private readonly errorHooks: ErrorHook[] = [];
  private readonly preWsUpgradeHooks: Handler[] = [];
  private readonly wsConnectedHooks: Handler[] = [];
  private readonly wsClosedHooks: WsClosedHook[] = [];
  private readonly wsHandlerModePatterns = new Set<string>();
  private engine: Engine | null = null;
  private running: RunningServer | null = null;

  /**
   * @param config - any subset of {@link ServerConfig}; unknown keys or wrong types throw,
   *   naming the key
   */
  constructor(config?: Partial<ServerConfig>) {
    this.config = resolveConfig(config);
  }

  // ---- configuration -------------------------------------------------------------------------

  /** Sets the bind address. */
  host(host: string): this {
    return this.set('host', host);
  }

  /** Sets the port; 0 picks a free one. */
  port(port: number): this {
    return this.set('port', port);
  }

  /** Turns TCP_NODELAY on for accepted sockets (the default). */
  enableNodelay(): this {
    return this.set('nodelay', true);
  }

  /** Turns TCP_NODELAY off. */
  disableNodelay(): this {
    return this.set('nodelay', false);
  }

  /** A closing connection may take `ms` to flush before it is destroyed. */
  enableLinger(ms: number): this {
    return this.set('linger', ms);
  }

  /** Closing connections get a fixed 5 s to flush (the default). */
  disableLinger(): this {
    return this.set('linger', false);
  }

  /** Sets the read buffer size and the largest request head accepted (larger → 431). */
  httpBufferSize(bytes: number): this {
    return this.set('httpBufferSize', bytes);
  }

  /** Sets the read buffer size for WebSocket connections. */
  wsBufferSize(bytes: number): this {
    return this.set('wsBufferSize', bytes);
  }

  /** Sets the largest request body accepted (larger → 413). */
  bodyLimit(bytes: number): this {
    return this.set('bodyLimit', bytes);
  }

  /** Sets the largest WebSocket message accepted (larger → close 1009). */
  wsMessageLimit(bytes: number): this {
    return this.set('wsMessageLimit', bytes);
  }

  /** Head and body must arrive within `ms` (else 408 and close). */
  requestTimeout(ms: number): this {
    return this.set('requestTimeout', ms);
  }

  /** Idle keep-alive connections close after `ms`. */
  keepAliveTimeout(ms: number): this {
    return this.set('keepAliveTimeout', ms);
  }

  /** Connections beyond `count` are closed at once. */
  maxConnections(count: number): this {
    return this.set('maxConnections', count);
  }

  /** Serves HTTPS with this key and certificate. */
  tls(options: TlsOptions): this {
    return this.set('tls', options);
  }

  /** Milliseconds between WebSocket pings (a peer that misses a pong is dropped); false = off. */
  wsHeartbeat(ms: number | false): this {
    return this.set('wsHeartbeat', ms);
  }

  /** WebSocket subprotocols this server speaks, in preference order. */
  wsProtocols(protocols: string[]): this {
    return this.set('wsProtocols', [...protocols]);
  }

  /** permessage-deflate for WebSocket messages (`false` turns it off, the default). */
  wsCompression(options: WsCompressionConfig | false = {}): this {
    return this.set('wsCompression', options);
  }

  /** Sends an SSE keep-alive comment on event streams silent for `ms`; false = off (the default). */
  sseKeepAlive(ms: number | false): this {
    return this.set('sseKeepAlive', ms);
  }

  /**
   * Compresses responses by the client's `Accept-Encoding` (brotli, gzip, deflate), streams
   * and SSE included; `false` turns it off (the default). Same as registering
   * `compression(options)` as the first request middleware.
   */
  compression(options: CompressionOptions | false = {}): this {
    return this.set('compression', options);
  }

  /**
   * Runs the server in `count` worker processes sharing the port (`'auto'`: one per core).
   * The script runs again in each worker, where `run()` listens; in the primary `run()`
   * resolves once every worker listens, and `close()` (or SIGTERM/SIGINT) drains them all. A
   * crashed worker is replaced, with a growing delay while crashes repeat. With port 0 the
   * workers share one free port; should every worker die at once, their replacements listen
   * on a new one (`running.port` follows).
   */
  workers(count: WorkerCount): this {
    return this.set('workers', count);
  }

  /** The effective settings (a copy). */
  getConfig(): ServerConfig {
    return { ...this.config };
  }

  // ---- registration --------------------------------------------------------------------------

  /** Adds a hook that sees every error thrown in middleware, routes and hooks. */
  errorHook(hook: ErrorHook): this {
    this.errorHooks.push(hook);
    return this.changed();
  }

  /** Adds middleware that runs before the route, in registration order. */
  requestMiddleware(middleware: Handler): this {
    this.requestMiddlewares.push(middleware);
    return this.changed();
  }

  /** Adds middleware that runs after the route, in registration order. */
  responseMiddleware(middleware: Handler): this {
    this.responseMiddlewares.push(middleware);
    return this.changed();
  }

  /**
   * Adds a hook that runs before a WebSocket upgrade is accepted. It may refuse: send a
   * response (e.g. 401) or call `ctx.aborted()`, and no upgrade happens.
   */
  preWsUpgrade(hook: Handler): this {
    this.preWsUpgradeHooks.push(hook);
    return this.changed();
  }

  /** Adds a hook that runs once a WebSocket is open, before its first message is read. */
  onWsConnected(hook: Handler): this {
    this.wsConnectedHooks.push(hook);
    return this.changed();
  }

  /** Adds a hook that runs once when a WebSocket connection ends: `(ctx, code, reason)`. */
  onWsClosed(hook: WsClosedHook): this {
    this.wsClosedHooks.push(hook);
    return this.changed();
  }

  /**
   * For the route registered as `pattern`, run the handler once per WebSocket connection
   * (not per message); it reads messages with `for await (const m of ctx.wsMessages())`.
   */
  disableWsHook(pattern: string): this {
    this.wsHandlerModePatterns.add(pattern);
    return this.changed();
  }

  /** Routes `pattern` for any method. */
  route(pattern: string, handler: Handler): this {
    return this.on('*', pattern, handler);
  }

  /** Routes `pattern` for GET (HEAD requests use it too). */
  get(pattern: string, handler: Handler): this {
    return this.on('GET', pattern, handler);
  }

  /** Routes `pattern` for POST. */
  post(pattern: string, handler: Handler): this {
    return this.on('POST', pattern, handler);
  }

  /** Routes `pattern` for PUT. */
  put(pattern: string, handler: Handler): this {
    return this.on('PUT', pattern, handler);
  }

  /** Routes `pattern` for PATCH. */
  patch(pattern: string, handler: Handler): this {
    return this.on('PATCH', pattern, handler);
  }

  /** Routes `pattern` for DELETE. */
  delete(pattern: string, handler: Handler): this {
    return this.on('DELETE', pattern, handler);
  }

  /** Routes `pattern` for HEAD. */
  head(pattern: string, handler: Handler): this {
    return this.on('HEAD', pattern, handler);
  }

  /** Routes `pattern` for OPTIONS. */
  options(pattern: string, handler: Handler): this {
    return this.on('OPTIONS', pattern, handler);
  }

  /** Routes `pattern` for any method (same as `route`). */
  all(pattern: string, handler: Handler): this {
    return this.on('*', pattern, handler);
  }

  /** Routes `pattern` for `method` (any token, e.g. `PURGE`), or `*` for any. */
  on(method: string, pattern: string, handler: Handler): this {
    if (typeof handler !== 'function') {
      throw new HyperlaneError(
        'HL_ERR_ROUTE_INVALID',
        `handler for route "${pattern}" is not a function`,
      );
    }
    this.router.add(method, pattern, handler);
    return this.changed();
  }

  // ---- running -------------------------------------------------------------------------------

  /**
   * Runs one request through routing and the full pipeline with no socket: for tests.
   * A streamed response is collected until its handler returns.
   */
  inject(request: InjectRequest): Promise<InjectResponse> {
    return injectRequest(this.compile(), request);
  }

  /** Starts listening; resolves once the port is bound. */
  async run(): Promise<RunningServer> {
    if (this.running !== null) {
      throw new HyperlaneError(
        'HL_ERR_SERVER_STATE',
        'run() was called while the server is already running',
      );
    }
    const workers = this.config.workers;
    if (workers !== undefined && cluster.isPrimary) return this.runPrimary(workers);
    const active = new ActiveServer(this.compile());
    this.running = active;
    try {
      await active.listen();
    } catch (error) {
      this.running = null;
      throw error;
    }
    void active.closed.then(() => {
      this.running = null;
    });
    if (workers !== undefined && isHyperlaneWorker())
      serveAsWorker(active, DEFAULT_CLOSE_TIMEOUT_MS);
    return active;
  }

  /** In the primary of `workers()`: no listening here, only the workers, which run this script too. */
  private async runPrimary(workers: WorkerCount): Promise<RunningServer> {
    this.compile(); // registrations are checked here too, and frozen like in a single process
    const primary = new ClusterPrimary(resolveWorkerCount(workers), DEFAULT_CLOSE_TIMEOUT_MS);
    this.running = primary;
    try {
      await primary.start();
    } catch (error) {
      this.running = null;
      throw error;
    }
    void primary.closed.then(() => {
      this.running = null;
    });
    return primary;
  }

  private set<K extends keyof ServerConfig>(key: K, value: ServerConfig[K]): this {
    checkConfigValue(key, value);
    this.config[key] = value;
    return this.changed();
  }

  private changed(): this {
    if (this.running !== null) {
      // Routes and middleware are compiled at run(); a late change would be half-applied.
      throw new HyperlaneError(
        'HL_ERR_SERVER_STATE',
        'configure and register routes, middleware and hooks before run()',
      );
    }
    this.engine = null;
    return this;
  }

  /** Compiles the registrations into the structures the hot path uses. */
  private compile(): Engine {
    if (this.engine !== null) return this.engine;
    const compress = this.config.compression;
    const pipeline = new Pipeline(
      // Compression goes first so that it covers every response, streams included.
      compress === false
        ? [...this.requestMiddlewares]
        : [compressionMiddleware(compress), ...this.requestMiddlewares],
      [...this.responseMiddlewares],
      [...this.errorHooks],
      logToStderr,
    );
    const config = { ...this.config };
    const compression = config.wsCompression;
    const ws: WsEngine = {
      library:
        compression === false
          ? null
          : createWsServer({
              maxPayload: config.wsMessageLimit,
              protocols: config.wsProtocols,
              compression: {
                threshold: compression.threshold ?? 1024,
                serverNoContextTakeover: compression.serverNoContextTakeover ?? false,
                clientNoContextTakeover: compression.clientNoContextTakeover ?? false,
                zlibDeflateOptions: { level: compression.level ?? 6 },
              },
            }),
      maxPayload: config.wsMessageLimit,
      protocols: config.wsProtocols,
      pipeline,
      preUpgradeHooks: [...this.preWsUpgradeHooks],
      connectedHooks: [...this.wsConnectedHooks],
      closedHooks: [...this.wsClosedHooks],
      handlerModePatterns: new Set(this.wsHandlerModePatterns),
      readBufferSize: config.wsBufferSize,
      writeHighWater: WS_WRITE_HIGH_WATER,
      logError: logToStderr,
    };
    const engine: Engine = {
      config,
      router: this.router,
      pipeline,
      allowAll: this.router.methods().join(', '),
      ws,
      forgetConnection: noop,
      adoptWebSocket: noop,
      forgetWebSocket: noop,
      serverStats: () => NO_STATS,
    };
    this.engine = engine;
    return engine;
  }
}

/** The listening side of a running server: accepts connections, sweeps timeouts, closes. */
class ActiveServer implements RunningServer, Engine {
  port = 0;
  host = '';
  readonly closed: Promise<void>;
  readonly config: ServerConfig;
  readonly router: Router<Handler>;
  readonly pipeline: Pipeline;
  readonly allowAll: string;
  readonly ws: WsEngine;
  private readonly netServer: NetServer;
  /** HTTP connections; one that becomes a WebSocket moves to `webSockets` as its session. */
  private readonly connections = new Set<Connection>();
  private readonly webSockets = new Set<WsSession>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  private resolveClosed!: () => void;

  constructor(engine: Engine) {
    this.config = engine.config;
    this.router = engine.router;
    this.pipeline = engine.pipeline;
    this.allowAll = engine.allowAll;
    this.ws = engine.ws;
    this.closed = new Promise<void>((resolve) => {
      this.resolveClosed = resolve;
    });
    this.onSocket = this.onSocket.bind(this);
    const tls = this.config.tls;
    if (tls === undefined) {
      this.netServer = createNetServer(
        { noDelay: this.config.nodelay, allowHalfOpen: true },
        this.onSocket,
      );
    } else {
      this.netServer = createTlsServer(
        { key: tls.key, cert: tls.cert, allowHalfOpen: true, noDelay: this.config.nodelay },
        this.onSocket,
      );
      // A failed handshake is the client's problem; the socket is already closed.
      this.netServer.on('tlsClientError', noop);
    }
    this.netServer.maxConnections = this.config.maxConnections;
  }

  listen(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.netServer.once('error', onError);
      this.netServer.listen(this.config.port, this.config.host, () => {
        this.netServer.off('error', onError);
        this.netServer.on('error', (error) => logToStderr('server error', error));
        const address = this.netServer.address();
        if (address !== null && typeof address === 'object') {
          this.port = address.port;
          this.host = address.address;
        }
        this.startSweep();
        resolve();
      });
    });
  }

  adoptWebSocket(connection: object, session: WsSession): void {
    this.connections.delete(connection as Connection);
    this.webSockets.add(session);
  }

  serverStats(): ServerStats {
    const webSockets = this.webSockets.size;
    return { connections: this.connections.size + webSockets, webSockets };
  }

  forgetConnection(connection: object): void {
    this.connections.delete(connection as Connection);
    if (this.closing !== null && this.isEmpty()) this.finishClose();
  }

  forgetWebSocket(session: WsSession): void {
    this.webSockets.delete(session);
    if (this.closing !== null && this.isEmpty()) this.finishClose();
  }

  private isEmpty(): boolean {
    return this.connections.size === 0 && this.webSockets.size === 0;
  }

  close(options?: CloseOptions): Promise<void> {
    if (this.closing !== null) return this.closing;
    const timeout = options?.timeout ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.closing = new Promise<void>((resolve) => {
      this.netServer.close(() => {
        if (this.isEmpty()) this.finishClose();
        void this.closed.then(resolve);
      });
      for (const connection of this.connections) connection.beginShutdown();
      for (const session of this.webSockets) session.shutdown();
      const deadline = setTimeout(() => {
        for (const connection of this.connections) connection.destroy();
        for (const session of this.webSockets) session.destroy();
      }, timeout);
      deadline.unref();
      void this.closed.then(() => clearTimeout(deadline));
    });
    return this.closing;
  }

  private finishClose(): void {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.sweepTimer = null;
    this.heartbeatTimer = null;
    this.resolveClosed();
  }

  private onSocket(socket: Socket): void {
    if (this.closing !== null) {
      socket.destroy();
      return;
    }
    if (!this.config.nodelay) socket.setNoDelay(false);
    this.connections.add(new Connection(socket, this));
  }

  /**
   * One timer per server, not per request: it checks every connection against the request
   * and keep-alive deadlines, so the hot path only records timestamps.
   */
  private startSweep(): void {
    const { requestTimeout, keepAliveTimeout } = this.config;
    const sseKeepAlive = this.config.sseKeepAlive === false ? Infinity : this.config.sseKeepAlive;
    const shortest = Math.min(requestTimeout, keepAliveTimeout, sseKeepAlive);
    const interval = Math.min(1000, Math.max(10, Math.floor(shortest / 4)));
    this.sweepTimer = setInterval(() => this.sweep(requestTimeout, keepAliveTimeout), interval);
    this.sweepTimer.unref();
    const heartbeat = this.config.wsHeartbeat;
    if (heartbeat !== false) {
      this.heartbeatTimer = setInterval(() => {
        for (const session of this.webSockets) session.heartbeat();
      }, heartbeat);
      this.heartbeatTimer.unref();
    }
  }

  private sweep(requestTimeout: number, keepAliveTimeout: number): void {
    const now = Date.now();
    const sseKeepAlive = this.config.sseKeepAlive;
    for (const connection of this.connections) {
      if (sseKeepAlive !== false && connection.busy)
        connection.keepEventStreamAlive(now, sseKeepAlive);
      if (connection.requestStartedAt !== 0) {
        if (now - connection.requestStartedAt >= requestTimeout) connection.timeOutRequest();
      } else if (connection.isIdleSince(now, keepAliveTimeout)) {
        connection.closeGracefully();
      }
    }
  }
}
