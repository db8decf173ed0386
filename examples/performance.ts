/**
 * The seed's performance endpoint and in-process metrics: `GET /perf` does real CPU work
 * (iterative Fibonacci of `i % 30` for 1,000 numbers) and a simulated 5 ms database query, and
 * reports `X-Processing-Time`; middleware records every request, and `GET /stats` shows
 * requests, average response time, error rate and elapsed time as JSON.
 * Run: `node .build/examples/performance.js`, then `curl localhost:60005/perf`.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpError, Server, type Context } from '../src/index.js';
import { checkPrefix, joinPath, type MountOptions } from './mount.js';

/** The n-th Fibonacci number, iteratively (exact up to n = 78). */
export function calculateFibonacci(n: number): number {
  if (n < 2) return n;
  let a = 0;
  let b = 1;
  for (let i = 2; i <= n; i++) {
    const next = a + b;
    a = b;
    b = next;
  }
  return b;
}

/** Fibonacci of `i % 30` for i in 0..count-1: the seed's CPU-bound work. */
export function performCpuIntensiveTask(count = 1000): number[] {
  const results = new Array<number>(count);
  for (let i = 0; i < count; i++) results[i] = calculateFibonacci(i % 30);
  return results;
}

/** What the simulated query returns. */
export interface DatabaseResult {
  query_result: 'success';
  rows_affected: number;
  /** Measured, not assumed: the seed reported a constant 5. */
  execution_time_ms: number;
}

/** A stand-in for a database round trip: 5 ms of waiting that does not block the event loop. */
export async function simulateDatabaseQuery(latencyMs = 5): Promise<DatabaseResult> {
  const started = performance.now();
  await sleep(latencyMs);
  return {
    query_result: 'success',
    rows_affected: 42,
    execution_time_ms: round(performance.now() - started),
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** A snapshot of {@link PerformanceMetrics}. */
export interface PerformanceStats {
  requests: number;
  errors: number;
  requestsPerSecond: number;
  averageResponseTimeMs: number;
  /** Percent of requests that ended in a 5xx or a throw. */
  errorRate: number;
  elapsedSeconds: number;
}

/** Request counters for one server; plain fields suffice where the seed needed atomics (one thread). */
export class PerformanceMetrics {
  private requestCount = 0;
  private errorCount = 0;
  private totalResponseTimeMs = 0;
  private readonly startedAt = performance.now();

  /** Counts one finished request; a status of 500 or more counts as an error. */
  recordRequest(responseTimeMs: number, status: number): void {
    this.requestCount++;
    this.totalResponseTimeMs += responseTimeMs;
    if (status >= 500) this.errorCount++;
  }

  /** The numbers so far. */
  getStats(): PerformanceStats {
    const requests = this.requestCount;
    const elapsedSeconds = (performance.now() - this.startedAt) / 1000;
    return {
      requests,
      errors: this.errorCount,
      requestsPerSecond: elapsedSeconds > 0 ? round(requests / elapsedSeconds) : 0,
      averageResponseTimeMs: requests > 0 ? round(this.totalResponseTimeMs / requests) : 0,
      errorRate: requests > 0 ? round((this.errorCount / requests) * 100) : 0,
      elapsedSeconds: round(elapsedSeconds),
    };
  }
}

const STARTED_AT = Symbol('request start');

function elapsed(ctx: Context): number {
  const started = ctx.getAttribute<number>(STARTED_AT);
  return started === undefined ? 0 : performance.now() - started;
}

/** Largest `count` accepted by `/perf`: bounds the CPU one request can claim. */
export const MAX_COUNT = 100_000;

/** The `/perf` handler: CPU work, then the simulated query, timed. */
export async function performanceTestEndpoint(ctx: Context): Promise<void> {
  const started = performance.now();
  const countText = ctx.getRequestQuery('count') ?? '1000';
  const count = /^\d{1,6}$/.test(countText) ? Number(countText) : NaN;
  if (!(count >= 1 && count <= MAX_COUNT)) {
    throw new HttpError(
      400,
      `count must be an integer from 1 to ${MAX_COUNT}, got "${countText}"`,
      {
        code: 'INVALID_COUNT',
      },
    );
  }
  const data = performCpuIntensiveTask(count);
  const dbResult = await simulateDatabaseQuery();
  const processingMs = round(performance.now() - started);
  ctx
    .setResponseStatusCode(200)
    .setResponseHeader('X-Processing-Time', processingMs)
    .setResponseBodyJson({
      status: 'success',
      data,
      db_result: dbResult,
      processing_time_ms: processingMs,
      timestamp: Math.floor(Date.now() / 1000),
    });
}

/**
 * Builds the server: `/perf` (see {@link performanceTestEndpoint}), `/stats` (the metrics as
 * JSON; it shows the requests finished before it), `/fail` (a deliberate 500, to watch the
 * error rate move). Pass `metrics` to read them from outside.
 */
export function createPerformanceServer(
  options: { host?: string; port?: number } & PerformanceMountOptions = {},
): Server {
  const server = new Server({ host: options.host ?? '0.0.0.0', port: options.port ?? 60005 });
  return mountPerformance(server, options);
}

/** Options for {@link mountPerformance}. */
export interface PerformanceMountOptions extends MountOptions {
  /** The counters; pass them to read them from outside. A fresh set by default. */
  metrics?: PerformanceMetrics;
}

/**
 * Mounts `{prefix}/perf`, `{prefix}/stats` and `{prefix}/fail`, and the middleware and error
 * hook that record every request the server handles (register once per server).
 */
export function mountPerformance(server: Server, options: PerformanceMountOptions = {}): Server {
  const prefix = checkPrefix(options.prefix);
  const metrics = options.metrics ?? new PerformanceMetrics();

  server.requestMiddleware((ctx) => {
    ctx.setAttribute(STARTED_AT, performance.now());
  });
  server.responseMiddleware((ctx) => {
    metrics.recordRequest(elapsed(ctx), ctx.getResponseStatusCode());
  });
  // A throw skips response middleware; without this hook failures would vanish from the stats.
  // An error hook registered earlier may have answered already, with a status of its own.
  server.errorHook((ctx, error) => {
    const status = ctx.isSent()
      ? ctx.getResponseStatusCode()
      : error instanceof HttpError
        ? error.status
        : 500;
    metrics.recordRequest(elapsed(ctx), status);
  });

  server.get(joinPath(prefix, '/perf'), performanceTestEndpoint);
  server.get(joinPath(prefix, '/stats'), (ctx) => {
    ctx.setResponseBodyJson(metrics.getStats());
  });
  server.get(joinPath(prefix, '/fail'), () => {
    throw new Error('simulated failure');
  });
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const running = await createPerformanceServer({ port: Number(process.env.PORT ?? 60005) }).run();
  console.log(
    `performance endpoint on http://${running.host}:${running.port}/perf (stats: /stats)`,
  );
}
