/**
 * The showcase `npm start` runs: all twelve seed programs mounted on one Server, configured by
 * the app-config example's loader, with a web page at `/` (a WebSocket chat box, a live chart
 * of the SSE metrics, links to every JSON endpoint).
 *
 * Config: defaults (0.0.0.0:60000) ← the JSON file in `CONFIG_FILE` ← `HL_*` environment
 * variables ← `PORT` / `HOST` ← the options given to {@link createShowcase}.
 * Run: `npm start` (or `node .build/examples/showcase.js`), then open http://localhost:60000/.
 *
 * Programs that would collide share the server through prefixes: the request handler, the
 * middleware API and the error demos live under `/demo` (the versioned API's catch-all owns
 * `/api/…`), the connection pool under `/db` (the query parser has `/query`), the config under
 * `/app` (the page has `/`). Server-wide middleware is registered once: request logging and
 * security headers (middleware example), CORS from the config (app-config), request id, timing
 * and connection counts (monitoring), request statistics (performance).
 */
import { randomBytes } from 'node:crypto';
import {
  Broadcast,
  CONTENT_TYPE,
  Server,
  TEXT_HTML,
  type Context,
  type RunningServer,
} from '../src/index.js';
import {
  ConfigError,
  configureServer,
  loadConfig,
  mountAppConfig,
  validateConfig,
  type ApplicationConfig,
} from './app-config.js';
import { mountChat, type ChatMessage } from './chat.js';
import {
  createFakeDatabasePool,
  mountConnectionPool,
  type ConnectionPool,
  type FakeConnection,
} from './connection-pool.js';
import { ApplicationError, mountErrorHandling } from './error-handling.js';
import { mountMiddleware, type LogSink } from './middleware.js';
import { createMonitor, mountMonitoring, type Monitor } from './monitoring.js';
import { joinPath } from './mount.js';
import { mountPerformance, PerformanceMetrics } from './performance.js';
import { mountQueryParsing } from './query-parsing.js';
import { mountRequestHandler, signToken } from './request-handler.js';
import {
  renderShowcasePage,
  SHOWCASE_CSS,
  SHOWCASE_FAVICON,
  SHOWCASE_SCRIPT,
  type ShowcaseProgram,
} from './showcase-page.js';
import { mountMetrics } from './sse-metrics.js';
import { mountTimeout } from './timeout.js';
import { mountVersionedApi } from './versioned-api.js';

/** The showcase's default port (the app-config example's own default is 8080). */
export const SHOWCASE_PORT = 60000;

/** The prefix each program is mounted under ('' = its own paths, unchanged). */
export const SHOWCASE_PREFIXES = Object.freeze({
  appConfig: '/app',
  requestHandler: '/demo',
  middleware: '/demo',
  chat: '',
  performance: '',
  connectionPool: '/db',
  queryParsing: '',
  sseMetrics: '',
  versionedApi: '',
  errorHandling: '/demo',
  timeout: '',
  monitoring: '',
});

const P = SHOWCASE_PREFIXES;
const at = (prefix: string, path: string): string => joinPath(prefix, path);

/** Paths of the page's two live widgets. */
export const CHAT_PATH = at(P.chat, '/chat');
export const METRICS_PATH = at(P.sseMetrics, '/metrics');
/** The Bearer token `/demo/protected` accepts (the error-handling example's default). */
export const PROTECTED_TOKEN = 'secret-token';

/** The twelve programs as mounted: what the page lists and links, and what the tests request. */
export const SHOWCASE_PROGRAMS: readonly ShowcaseProgram[] = [
  {
    number: 1,
    title: 'Application config',
    file: 'examples/app-config.ts',
    routes: [`GET ${at(P.appConfig, '/config')}`, `GET ${at(P.appConfig, '/')}`],
    endpoints: [
      {
        path: at(P.appConfig, '/config'),
        description: 'The config in force: defaults ← CONFIG_FILE ← HL_* env ← PORT/HOST',
        status: 200,
      },
    ],
  },
  {
    number: 2,
    title: 'Advanced request handler',
    file: 'examples/request-handler.ts',
    routes: [`GET POST PUT DELETE ${at(P.requestHandler, '/api/resources')}`],
    endpoints: [
      {
        path: at(P.requestHandler, '/api/resources'),
        description: 'Needs a Bearer token (one is logged at startup); without → 401 AUTH_REQUIRED',
        status: 401,
      },
    ],
  },
  {
    number: 3,
    title: 'Middleware',
    file: 'examples/middleware.ts',
    routes: [`GET POST ${at(P.middleware, '/api/data')}`, `GET ${at(P.middleware, '/api/slow')}`],
    endpoints: [
      {
        path: at(P.middleware, '/api/data'),
        description: 'Logged, with security headers (nosniff, DENY, HSTS, CSP) and CORS',
        status: 200,
      },
      {
        path: at(P.middleware, '/api/slow'),
        description: 'Takes 50 ms: the request log shows the duration',
        status: 200,
      },
      {
        path: at(P.middleware, '/api/fail'),
        description: 'Throws: logged as failed, answered 500 without internals',
        status: 500,
      },
    ],
  },
  {
    number: 4,
    title: 'WebSocket chat',
    file: 'examples/chat.ts',
    routes: [`WS ${CHAT_PATH}?user=<id>`],
    endpoints: [],
  },
  {
    number: 5,
    title: 'Performance endpoint and metrics',
    file: 'examples/performance.ts',
    routes: [`GET ${at(P.performance, '/perf')}`, `GET ${at(P.performance, '/stats')}`],
    endpoints: [
      {
        path: at(P.performance, '/perf'),
        description: 'Fibonacci over 1,000 numbers + a 5 ms simulated query; X-Processing-Time',
        status: 200,
      },
      {
        path: at(P.performance, '/stats'),
        description: 'Requests, average response time, error rate and elapsed time',
        status: 200,
      },
      {
        path: at(P.performance, '/fail'),
        description: 'A deliberate 500, to move the error rate',
        status: 500,
      },
    ],
  },
  {
    number: 6,
    title: 'Async connection pool',
    file: 'examples/connection-pool.ts',
    routes: [`GET ${at(P.connectionPool, '/query')}`, `GET ${at(P.connectionPool, '/pool/stats')}`],
    endpoints: [
      {
        path: at(P.connectionPool, '/query'),
        description: 'One query on a pooled (fake) database connection',
        status: 200,
      },
      {
        path: `${at(P.connectionPool, '/query')}?fail=1`,
        description: 'The connection breaks: discarded, answered 500 DB_ERROR',
        status: 500,
      },
      {
        path: at(P.connectionPool, '/pool/stats'),
        description: 'Size, idle, in use, waiters and timeouts of the pool',
        status: 200,
      },
    ],
  },
  {
    number: 7,
    title: 'Query parsing without copies',
    file: 'examples/query-parsing.ts',
    routes: [`GET ${at(P.queryParsing, '/query')}?…`],
    endpoints: [
      {
        path: `${at(P.queryParsing, '/query')}?q=caf%C3%A9+cr%C3%A8me&tags=sweet&tags=french&page=2`,
        description: 'Every parameter with all its values, decoded',
        status: 200,
      },
    ],
  },
  {
    number: 8,
    title: 'SSE real-time metrics',
    file: 'examples/sse-metrics.ts',
    routes: [`SSE ${METRICS_PATH}`],
    endpoints: [],
  },
  {
    number: 9,
    title: 'Versioned API',
    file: 'examples/versioned-api.ts',
    routes: [`GET ${at(P.versionedApi, '/api')}/{v1|v2}/{users|posts}/{id?}`],
    endpoints: [
      {
        path: at(P.versionedApi, '/api/v1/users'),
        description: 'v1: the user ids',
        status: 200,
      },
      {
        path: at(P.versionedApi, '/api/v2/users/user1'),
        description: 'v2: one user, with a profile',
        status: 200,
      },
      {
        path: `${at(P.versionedApi, '/api/v2/users')}?per_page=1`,
        description: 'v2: paginated list',
        status: 200,
      },
      {
        path: at(P.versionedApi, '/api/v1/posts/7'),
        description: 'v1: a post',
        status: 200,
      },
      {
        path: at(P.versionedApi, '/api/v3/users'),
        description: 'Unknown version → 400',
        status: 400,
      },
      {
        path: at(P.versionedApi, '/api/v1/comments'),
        description: 'Unknown resource → 404',
        status: 404,
      },
    ],
  },
  {
    number: 10,
    title: 'Error handling',
    file: 'examples/error-handling.ts',
    routes: [
      `GET ${at(P.errorHandling, '/errors/…')}`,
      `GET ${at(P.errorHandling, '/protected')}`,
      `POST ${at(P.errorHandling, '/signup')}`,
      `GET ${at(P.errorHandling, '/limited')}`,
      `GET ${at(P.errorHandling, '/flaky')}`,
    ],
    endpoints: [
      {
        path: at(P.errorHandling, '/errors/database'),
        description: 'DatabaseError → 500 DB_ERROR; the detail is logged and reported, not sent',
        status: 500,
      },
      {
        path: at(P.errorHandling, '/errors/unexpected'),
        description: 'A TypeError → 500 INTERNAL_ERROR',
        status: 500,
      },
      {
        path: at(P.errorHandling, '/protected'),
        description: `No Bearer token → 401 AUTH_ERROR (the token is ${PROTECTED_TOKEN})`,
        status: 401,
      },
      {
        path: at(P.errorHandling, '/limited'),
        description: '5 requests a minute per client, then 429 with Retry-After',
        status: 200,
      },
      {
        path: at(P.errorHandling, '/flaky'),
        description: 'Fails 10% of attempts; retried with exponential backoff',
        status: 200,
      },
    ],
  },
  {
    number: 11,
    title: 'Timeout wrapper',
    file: 'examples/timeout.ts',
    routes: [`GET ${at(P.timeout, '/slow')}?delay=<ms>`],
    endpoints: [
      {
        path: `${at(P.timeout, '/slow')}?delay=1500`,
        description: '1.5 s of work against a 1 s budget → 408 JSON',
        status: 408,
      },
    ],
  },
  {
    number: 12,
    title: 'Monitoring',
    file: 'examples/monitoring.ts',
    routes: [`GET ${at(P.monitoring, '/health')}`, `GET ${at(P.monitoring, '/work')}?ms=<ms>`],
    endpoints: [
      {
        path: at(P.monitoring, '/health'),
        description: 'Real memory, uptime and active requests',
        status: 200,
      },
      {
        path: `${at(P.monitoring, '/work')}?ms=300`,
        description: 'Takes 300 ms: X-Active-Connections counts it meanwhile',
        status: 200,
      },
      {
        path: at(P.monitoring, '/boom'),
        description: 'Throws; the active count still goes back down',
        status: 500,
      },
    ],
  },
];

/** Options for {@link loadShowcaseConfig} and {@link createShowcase}. */
export interface ShowcaseConfigOptions {
  /** Bind address; overrides every other source. */
  host?: string;
  /** Port (0 picks a free one); overrides every other source. */
  port?: number;
  /** JSON config file; default `env.CONFIG_FILE`. */
  configFile?: string;
  /** Environment for `CONFIG_FILE`, `HL_*`, `PORT`, `HOST`, `HL_AUTH_SECRET`; default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/**
 * The showcase's config: the app-config loader (defaults with port {@link SHOWCASE_PORT} ← JSON
 * file ← `HL_*`), then `PORT` and `HOST`, then `options.host` / `options.port`; validated, so
 * a bad value throws a {@link ConfigError} naming the field and where it came from.
 */
export async function loadShowcaseConfig(
  options: ShowcaseConfigOptions = {},
): Promise<ApplicationConfig> {
  const env = options.env ?? process.env;
  const config = await loadConfig({
    file: options.configFile,
    env,
    defaults: { serverPort: SHOWCASE_PORT },
  });
  const merged: Record<string, unknown> = { ...config };
  const sources: Partial<Record<keyof ApplicationConfig, string>> = {};
  const port = env.PORT?.trim();
  if (port) {
    if (!/^\d+$/.test(port)) {
      throw new ConfigError(
        'serverPort',
        'PORT',
        `must be a whole number, got ${JSON.stringify(port)}`,
      );
    }
    merged.serverPort = Number(port);
    sources.serverPort = 'PORT';
  }
  const host = env.HOST?.trim();
  if (host) {
    merged.serverHost = host;
    sources.serverHost = 'HOST';
  }
  if (options.port !== undefined) {
    merged.serverPort = options.port;
    sources.serverPort = 'createShowcase options';
  }
  if (options.host !== undefined) {
    merged.serverHost = options.host;
    sources.serverHost = 'createShowcase options';
  }
  return validateConfig(merged, sources);
}

/** Options for {@link createShowcase}. */
export interface ShowcaseOptions extends ShowcaseConfigOptions {
  /** HMAC secret of the request handler's tokens; default `HL_AUTH_SECRET`, else random. */
  secret?: string;
  /** Where the programs' log lines go (requests, errors, reports). Default `console.log`. */
  log?: LogSink;
  /** Time between SSE metrics events, in ms. Default 1000. */
  metricsIntervalMs?: number;
}

/** The assembled showcase. */
export interface Showcase {
  /** The configured server with everything mounted; start it with {@link Showcase.run}. */
  server: Server;
  /** The validated config it was built from. */
  config: ApplicationConfig;
  /** A Bearer token for `/demo/api/resources` (user `demo`). */
  demoToken: string;
  /** The monitoring counters (active and total requests). */
  monitor: Monitor;
  /** The performance counters behind `/stats`. */
  metrics: PerformanceMetrics;
  /** The fake database pool behind `/db/query`. */
  pool: ConnectionPool<FakeConnection>;
  /** Starts listening; the returned `close()` also drains the database pool. */
  run(): Promise<RunningServer>;
}

function sendAsset(type: string, body: string): (ctx: Context) => void {
  return (ctx) => {
    ctx
      .setResponseHeader(CONTENT_TYPE, type)
      .setResponseHeader('Cache-Control', 'no-cache')
      .setResponseBody(body);
  };
}

/** Builds the showcase server from the config and mounts all twelve programs and the page. */
export async function createShowcase(options: ShowcaseOptions = {}): Promise<Showcase> {
  const env = options.env ?? process.env;
  const config = await loadShowcaseConfig(options);
  const log = options.log ?? ((line: string) => console.log(line));
  const secret = options.secret ?? (env.HL_AUTH_SECRET || randomBytes(32).toString('hex'));
  const monitor = createMonitor();
  const metrics = new PerformanceMetrics();
  const pool = createFakeDatabasePool();
  const server = configureServer(new Server(), config);

  // Error hooks run in registration order; the error demos answer their own errors first, so
  // the request log and the statistics registered after them see the status actually sent.
  mountErrorHandling(server, {
    prefix: P.errorHandling,
    token: PROTECTED_TOKEN,
    logger: { warn: log, error: log },
    monitoring: (report) => log(`Sending error to monitoring: ${JSON.stringify(report)}`),
  });
  // Server-wide middleware, each registered once. The middleware example's own CORS is left
  // out: the config's `corsOrigins` decides CORS for the whole server.
  mountMiddleware(server, { prefix: P.middleware, log, cors: false });
  mountAppConfig(server, config, { prefix: P.appConfig });
  mountMonitoring(server, {
    prefix: P.monitoring,
    monitor,
    // The error demos' own errors are logged and reported by their hook already.
    logError: (id, path, error) => {
      if (!(error instanceof ApplicationError)) {
        log(`[${id}] unexpected error on ${path}: ${String(error)}`);
      }
    },
  });
  mountPerformance(server, { prefix: P.performance, metrics });
  // The monitoring example sets X-Request-ID for every request; the handler reports that id.
  mountRequestHandler(server, { prefix: P.requestHandler, secret, requestId: false });
  mountChat(server, { prefix: P.chat, chat: new Broadcast<ChatMessage>({ capacity: 256 }) });
  mountConnectionPool(server, { prefix: P.connectionPool, pool, log });
  mountQueryParsing(server, { prefix: P.queryParsing });
  mountMetrics(server, { prefix: P.sseMetrics, intervalMs: options.metricsIntervalMs });
  mountVersionedApi(server, { prefix: P.versionedApi });
  mountTimeout(server, { prefix: P.timeout });

  const page = renderShowcasePage(SHOWCASE_PROGRAMS, { chat: CHAT_PATH, metrics: METRICS_PATH });
  server.get('/', sendAsset(`${TEXT_HTML}; charset=utf-8`, page));
  server.get('/showcase.js', sendAsset('text/javascript; charset=utf-8', SHOWCASE_SCRIPT));
  server.get('/showcase.css', sendAsset('text/css; charset=utf-8', SHOWCASE_CSS));
  server.get('/favicon.svg', sendAsset('image/svg+xml', SHOWCASE_FAVICON));

  return {
    server,
    config,
    demoToken: signToken('demo', secret),
    monitor,
    metrics,
    pool,
    async run() {
      const running = await server.run();
      return {
        port: running.port,
        host: running.host,
        closed: running.closed,
        async close(closeOptions) {
          await running.close(closeOptions);
          await pool.drain();
        },
      };
    },
  };
}

// Started directly (npm start): listen, say where, close gracefully on SIGINT/SIGTERM.
if (import.meta.url === `file://${process.argv[1]}`) {
  let showcase: Showcase;
  try {
    showcase = await createShowcase();
  } catch (error) {
    // A bad setting (a config file, HL_* variables, a too-short HL_AUTH_SECRET) is the
    // operator's to fix: say what is wrong, not where in our code it was noticed.
    if (!(error instanceof ConfigError) && !(error instanceof RangeError)) throw error;
    console.error(`showcase: ${error.message}`);
    process.exit(1);
  }
  let running: RunningServer;
  try {
    running = await showcase.run();
  } catch (error) {
    // The port is taken or not ours to bind: the operator's to fix, like a bad setting.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES') throw error;
    const where = `${showcase.config.serverHost}:${showcase.config.serverPort}`;
    const why = code === 'EADDRINUSE' ? 'the port is in use' : 'permission denied';
    console.error(
      `showcase: cannot listen on ${where} (${why}); set PORT (and HOST) to listen elsewhere`,
    );
    process.exit(1);
  }
  const shown = ['0.0.0.0', '::'].includes(running.host) ? 'localhost' : running.host;
  console.log(`hyperlane-ts showcase listening on http://${running.host}:${running.port}`);
  console.log(`open http://${shown.includes(':') ? `[${shown}]` : shown}:${running.port}/`);
  console.log(`Bearer token for ${at(P.requestHandler, '/api/resources')}: ${showcase.demoToken}`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: closing (in-flight requests finish first)…`);
    running.close({ timeout: 3000 }).then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('close failed:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
