import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import type { Context } from '../context/context.js';
import { HyperlaneError } from '../error/hyperlane-error.js';
import type { Middleware } from './middleware.js';

/** Options of {@link metrics}. */
export interface MetricsOptions {
  /**
   * Upper bounds (seconds) of the `http_request_duration_seconds` buckets, increasing; `+Inf`
   * is added. Default prom-client's: .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10.
   */
  buckets?: readonly number[];
  /** Sampling resolution of the event-loop delay monitor in ms (default 10). */
  eventLoopResolutionMs?: number;
}

/** What {@link metrics} returns: count with `middleware`, expose with `handler`. */
export interface Metrics {
  /** Request middleware that counts every exchange once it is over. */
  readonly middleware: Middleware;
  /** Route handler answering with the Prometheus text exposition (format 0.0.4). */
  readonly handler: Middleware;
}

/** The content type of the Prometheus text format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const DEFAULT_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

// Methods get their own label value; anything else a client invents is "OTHER", so a peer
// cannot grow the number of series.
const METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'OTHER',
] as const;
const OTHER_METHOD = METHODS.length - 1;
const METHOD_INDEX = new Map<string, number>(METHODS.map((method, index) => [method, index]));

/** The route label of a request no route matched: one series, whatever the path. */
const UNMATCHED_ROUTE = 'unmatched';
/** nginx's "client closed request": the status counted when no response went out. */
const CLIENT_CLOSED_REQUEST = 499;
const SWITCHING_PROTOCOLS = 101;
const NS_PER_SECOND = 1e9;

/** Escapes a label value: backslash, double quote and newline (text format 0.0.4). */
function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '\\n'));
}

/** Formats a sample value: Prometheus spells infinities `+Inf`/`-Inf`. */
function formatValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** Counts and durations of one method + route pair. */
class RouteSeries {
  /** `method="GET",route="/x"`, escaped once. */
  readonly labels: string;
  /** Requests per final status. */
  readonly statuses = new Map<number, number>();
  /** Observations per bucket (not cumulative; the last slot is +Inf). */
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;

  constructor(method: string, route: string, bucketCount: number) {
    this.labels = `method="${method}",route="${escapeLabelValue(route)}"`;
    this.buckets = new Float64Array(bucketCount + 1);
  }
}

/** The figures of one `metrics()` instance. */
class Registry {
  private readonly bounds: readonly number[];
  private readonly boundLabels: readonly string[];
  /** Per method index: route → series. */
  private readonly series: Map<string, RouteSeries>[];
  private readonly loopDelay: IntervalHistogram;
  private readonly resolutionNs: number;
  private loopDelayEnabled = false;

  constructor(bounds: readonly number[], resolutionMs: number) {
    this.bounds = bounds;
    this.resolutionNs = resolutionMs * 1e6;
    this.boundLabels = bounds.map((bound) => String(bound));
    this.series = METHODS.map(() => new Map<string, RouteSeries>());
    this.loopDelay = monitorEventLoopDelay({ resolution: resolutionMs });
  }

  /**
   * Seconds a sample of the monitor came late. Node records the whole interval between its
   * timer's runs, so an idle loop reads as the resolution itself: that part is no delay.
   */
  private lateness(intervalNs: number): number {
    return Math.max(0, intervalNs - this.resolutionNs) / NS_PER_SECOND;
  }

  /** Starts sampling the event loop, once; the monitor's timer keeps no process alive. */
  enableLoopDelay(): void {
    if (!this.loopDelayEnabled) {
      this.loopDelayEnabled = true;
      this.loopDelay.enable();
    }
  }

  private seriesFor(method: string, route: string): RouteSeries {
    const index = METHOD_INDEX.get(method) ?? OTHER_METHOD;
    const routes = this.series[index]!;
    let series = routes.get(route);
    if (series === undefined) {
      series = new RouteSeries(METHODS[index]!, route, this.bounds.length);
      routes.set(route, series);
    }
    return series;
  }

  /** Counts one exchange; `seconds` < 0 leaves the duration histogram alone. */
  record(method: string, route: string, status: number, seconds: number): void {
    const series = this.seriesFor(method, route);
    series.statuses.set(status, (series.statuses.get(status) ?? 0) + 1);
    if (seconds < 0) return;
    const bounds = this.bounds;
    let slot = 0;
    while (slot < bounds.length && seconds > bounds[slot]!) slot++;
    series.buckets[slot]!++;
    series.sum += seconds;
    series.count++;
  }

  /** The exposition text, with the connection gauges read from `ctx`'s server. */
  render(ctx: Context): string {
    const out: string[] = [];
    out.push(
      '# HELP http_requests_total HTTP exchanges completed, by method, route pattern and status.',
      '# TYPE http_requests_total counter',
    );
    for (const routes of this.series) {
      for (const series of routes.values()) {
        for (const [status, count] of series.statuses) {
          out.push(`http_requests_total{${series.labels},status="${status}"} ${count}`);
        }
      }
    }

    out.push(
      '# HELP http_request_duration_seconds Time from the request reaching the middleware to the end of the exchange.',
      '# TYPE http_request_duration_seconds histogram',
    );
    const boundLabels = this.boundLabels;
    for (const routes of this.series) {
      for (const series of routes.values()) {
        if (series.count === 0) continue;
        let cumulative = 0;
        for (let i = 0; i < boundLabels.length; i++) {
          cumulative += series.buckets[i]!;
          out.push(
            `http_request_duration_seconds_bucket{${series.labels},le="${boundLabels[i]!}"} ${cumulative}`,
          );
        }
        out.push(
          `http_request_duration_seconds_bucket{${series.labels},le="+Inf"} ${series.count}`,
          `http_request_duration_seconds_sum{${series.labels}} ${formatValue(series.sum)}`,
          `http_request_duration_seconds_count{${series.labels}} ${series.count}`,
        );
      }
    }

    const stats = ctx.getServerStats();
    out.push(
      '# HELP http_active_connections Open client connections, WebSockets included.',
      '# TYPE http_active_connections gauge',
      `http_active_connections ${stats.connections}`,
      '# HELP websocket_connections Open WebSocket connections.',
      '# TYPE websocket_connections gauge',
      `websocket_connections ${stats.webSockets}`,
    );

    const memory = process.memoryUsage();
    out.push(
      '# HELP process_resident_memory_bytes Resident set size of the process in bytes.',
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${memory.rss}`,
      '# HELP nodejs_heap_used_bytes V8 heap in use in bytes.',
      '# TYPE nodejs_heap_used_bytes gauge',
      `nodejs_heap_used_bytes ${memory.heapUsed}`,
    );

    this.enableLoopDelay();
    out.push(
      '# HELP nodejs_eventloop_delay_seconds How late the event loop ran a timer, since the previous scrape: stat is p50, p99, max or mean.',
      '# TYPE nodejs_eventloop_delay_seconds gauge',
    );
    const delay = this.loopDelay;
    // No samples yet (a scrape right after start): no figures rather than made-up zeros.
    if (delay.count > 0) {
      out.push(
        `nodejs_eventloop_delay_seconds{stat="p50"} ${this.lateness(delay.percentile(50))}`,
        `nodejs_eventloop_delay_seconds{stat="p99"} ${this.lateness(delay.percentile(99))}`,
        `nodejs_eventloop_delay_seconds{stat="max"} ${this.lateness(delay.max)}`,
        `nodejs_eventloop_delay_seconds{stat="mean"} ${this.lateness(delay.mean)}`,
      );
      delay.reset();
    }
    out.push('');
    return out.join('\n');
  }
}

/** What the middleware keeps on the Context for its `onFinish()` hook. */
class Exchange {
  readonly registry: Registry;
  readonly startedAt: number;

  constructor(registry: Registry, startedAt: number) {
    this.registry = registry;
    this.startedAt = startedAt;
  }
}

const EXCHANGE = Symbol('hyperlane.metrics');

/** Counts the exchange once it is over, so the status is final (module-level: no closure). */
function countFinishedExchange(ctx: Context): void {
  const exchange = ctx.getAttribute<Exchange>(EXCHANGE);
  if (exchange === undefined) return;
  const method = ctx.getRequestMethod();
  const route = ctx.getRoutePattern() ?? UNMATCHED_ROUTE;
  if (ctx.isWebSocket()) {
    // A connection's lifetime is no request latency: count it, keep it out of the histogram.
    exchange.registry.record(method, route, SWITCHING_PROTOCOLS, -1);
    return;
  }
  const seconds = (performance.now() - exchange.startedAt) / 1000;
  const status = ctx.isSent() ? ctx.getResponseStatusCode() : CLIENT_CLOSED_REQUEST;
  exchange.registry.record(method, route, status, seconds);
}

function checkOptions(options: MetricsOptions): { bounds: number[]; resolution: number } {
  const buckets = options.buckets ?? DEFAULT_BUCKETS;
  if (
    !Array.isArray(buckets) ||
    buckets.length === 0 ||
    !buckets.every(
      (bound, i) =>
        typeof bound === 'number' &&
        Number.isFinite(bound) &&
        bound > 0 &&
        (i === 0 || bound > (buckets[i - 1] as number)),
    )
  ) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `metrics: option "buckets" must be a non-empty array of finite positive numbers in increasing order, got ${JSON.stringify(buckets)}`,
    );
  }
  const resolution = options.eventLoopResolutionMs ?? 10;
  if (!Number.isInteger(resolution) || resolution < 1) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `metrics: option "eventLoopResolutionMs" must be a positive integer, got ${String(resolution)}`,
    );
  }
  return { bounds: [...buckets], resolution };
}

/**
 * Prometheus metrics: `middleware` counts every exchange (`http_requests_total{method,route,
 * status}`, `http_request_duration_seconds` by method and route); `handler` answers with the
 * text format 0.0.4, adding connection gauges, process memory and event-loop delay.
 * `route` is the matched pattern or `"unmatched"`, so paths never grow the series count.
 *
 * ```ts
 * const m = metrics();
 * server.requestMiddleware(m.middleware);
 * server.get('/metrics', m.handler);
 * ```
 */
export function metrics(options: MetricsOptions = {}): Metrics {
  const { bounds, resolution } = checkOptions(options);
  const registry = new Registry(bounds, resolution);

  function metricsMiddleware(ctx: Context): void {
    // A WebSocket runs the chain again per message: its connection is counted once.
    if (ctx.getAttribute(EXCHANGE) !== undefined) return;
    ctx.setAttribute(EXCHANGE, new Exchange(registry, performance.now()));
    ctx.onFinish(countFinishedExchange);
    registry.enableLoopDelay();
  }

  function metricsHandler(ctx: Context): void {
    ctx
      .setResponseStatusCode(200)
      .setResponseHeader('content-type', PROMETHEUS_CONTENT_TYPE)
      .setResponseHeader('cache-control', 'no-store')
      .setResponseBody(registry.render(ctx));
  }

  return { middleware: metricsMiddleware, handler: metricsHandler };
}
