/**
 * The seed's monitoring programs: request-id and timing middleware (`X-Request-ID`,
 * `X-Response-Time`), connection tracking (`X-Active-Connections`, `X-Total-Requests`, the
 * active count going down again when each request ends, even when it throws), and `/health`
 * with the process's real memory, uptime and active count where the seed returned constants.
 * Run: `node .build/examples/monitoring.js`, then `curl localhost:60007/health`.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { HttpError, Server, type Context, type ErrorHook, type Handler } from '../src/index.js';
import { checkPrefix, joinPath, type MountOptions } from './mount.js';

/** Counts of requests, as `/health` reports them. */
export interface ConnectionStats {
  /** Requests being handled right now (the seed calls them connections). */
  active: number;
  /** Requests seen since start. */
  total_processed: number;
}

/** What `/health` answers. */
export interface HealthReport {
  status: 'healthy';
  timestamp: number;
  memory: {
    rss_bytes: number;
    heap_used_bytes: number;
    heap_total_bytes: number;
    external_bytes: number;
    used_mb: number;
    system_total_mb: number;
    system_available_mb: number;
    /** This process's resident memory as a percentage of the machine's. */
    usage_percent: number;
  };
  connections: ConnectionStats;
  uptime_seconds: number;
}

const STARTED_AT = Symbol('request start');
const TRACKED = Symbol('counted as active');
// Visible ASCII only, bounded: a client-chosen id ends up in our logs and response headers.
const CLIENT_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** The middleware and hooks of the monitor; register them all (see {@link createMonitoringServer}). */
export interface Monitor {
  /** Request middleware: request id and start time. */
  requestId: Handler;
  /** Request middleware: counts the request in, sets the connection headers. */
  trackConnection: Handler;
  /** Response middleware: sets `X-Response-Time` and counts the request out. */
  finish: Handler;
  /** Error hook: a throw skips response middleware, so the request is counted out here. */
  onError: ErrorHook;
  /** The counts right now. */
  stats(): ConnectionStats;
  /** The `/health` route handler. */
  health: Handler;
}

/** Creates a monitor: counters are per monitor, so two servers never share them. */
export function createMonitor(): Monitor {
  let active = 0;
  let total = 0;

  // Idempotent: the response middleware, the error hook and the signal may all call it.
  const release = (ctx: Context): void => {
    if (ctx.getAttribute(TRACKED) !== true) return;
    ctx.removeAttribute(TRACKED);
    active--;
  };

  const stats = (): ConnectionStats => ({ active, total_processed: total });

  return {
    requestId(ctx) {
      ctx.setAttribute(STARTED_AT, performance.now());
      const incoming = ctx.getRequestHeader('x-request-id');
      const id =
        incoming !== undefined && CLIENT_REQUEST_ID.test(incoming) ? incoming : randomUUID();
      ctx.setResponseHeader('X-Request-ID', id);
    },
    trackConnection(ctx) {
      active++;
      total++;
      ctx.setAttribute(TRACKED, true);
      ctx
        .setResponseHeader('X-Active-Connections', active)
        .setResponseHeader('X-Total-Requests', total);
      // Backstop for a chain stopped by ctx.aborted(), which skips response middleware and
      // raises no error: the signal fires once the response is out or the client has gone.
      ctx.signal.addEventListener('abort', () => release(ctx), { once: true });
    },
    finish(ctx) {
      const started = ctx.getAttribute<number>(STARTED_AT);
      if (started !== undefined) {
        ctx.setResponseHeader('X-Response-Time', `${(performance.now() - started).toFixed(3)}ms`);
      }
      release(ctx);
    },
    onError(ctx) {
      release(ctx);
    },
    stats,
    health(ctx) {
      const memory = process.memoryUsage();
      const report: HealthReport = {
        status: 'healthy',
        timestamp: Math.floor(Date.now() / 1000),
        memory: {
          rss_bytes: memory.rss,
          heap_used_bytes: memory.heapUsed,
          heap_total_bytes: memory.heapTotal,
          external_bytes: memory.external,
          used_mb: round(memory.rss / 1024 / 1024, 1),
          system_total_mb: round(os.totalmem() / 1024 / 1024, 1),
          system_available_mb: round(os.freemem() / 1024 / 1024, 1),
          usage_percent: round((memory.rss / os.totalmem()) * 100, 2),
        },
        connections: stats(),
        uptime_seconds: round(process.uptime()),
      };
      ctx.setResponseBodyJson(report);
    },
  };
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Longest `ms` `/work` accepts. */
export const MAX_WORK_MS = 10_000;

/** Options for {@link mountMonitoring}. */
export interface MonitoringMountOptions extends MountOptions {
  /** Supply one to read the counters from outside. */
  monitor?: Monitor;
  /** Where unexpected errors are reported; default `console.error`. */
  logError?: (requestId: string, path: string, error: unknown) => void;
}

/** Options for {@link createMonitoringServer}. */
export interface MonitoringServerOptions extends MonitoringMountOptions {
  host?: string;
  port?: number;
}

/**
 * Builds the server: `/health`, `/work?ms=` (takes that long, to see the active count rise),
 * `/boom` (throws, to see it fall again anyway).
 */
export function createMonitoringServer(options: MonitoringServerOptions = {}): Server {
  const server = new Server({ host: options.host ?? '0.0.0.0', port: options.port ?? 60007 });
  return mountMonitoring(server, options);
}

/**
 * Mounts `{prefix}/health`, `{prefix}/work` and `{prefix}/boom`, plus the monitor's middleware
 * and error hooks, which act on every request the server handles: request id, timing and
 * connection counts (register once per server), and the log of unexpected errors.
 */
export function mountMonitoring(server: Server, options: MonitoringMountOptions = {}): Server {
  const prefix = checkPrefix(options.prefix);
  const logError =
    options.logError ??
    ((id: string, path: string, error: unknown) => console.error(`[${id}] ${path}:`, error));
  const monitor = options.monitor ?? createMonitor();
  server.requestMiddleware(monitor.requestId);
  server.requestMiddleware(monitor.trackConnection);
  server.responseMiddleware(monitor.finish);
  server.errorHook(monitor.onError);
  server.errorHook((ctx, error) => {
    if (!(error instanceof HttpError)) {
      logError(ctx.getResponseHeader('x-request-id') ?? '-', ctx.getRequestPath(), error);
    }
  });

  server.get(joinPath(prefix, '/health'), monitor.health);
  server.get(joinPath(prefix, '/work'), async (ctx) => {
    const text = ctx.getRequestQuery('ms') ?? '100';
    const ms = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
    if (!(ms <= MAX_WORK_MS)) {
      throw new HttpError(400, `ms must be an integer from 0 to ${MAX_WORK_MS}, got "${text}"`, {
        code: 'INVALID_MS',
      });
    }
    await delay(ms, ctx.signal);
    ctx.setResponseBodyJson({ workedMs: ms });
  });
  server.get(joinPath(prefix, '/boom'), () => {
    throw new Error('simulated crash');
  });
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const running = await createMonitoringServer({ port: Number(process.env.PORT ?? 60007) }).run();
  console.log(`monitoring on http://${running.host}:${running.port}/health`);
}
