/**
 * The real-time metrics stream: every second (or `intervalMs`) a Server-Sent Event with real
 * CPU and memory figures, until the client goes away. Run: `node .build/examples/sse-metrics.js`.
 */
import os from 'node:os';
import { CONTENT_TYPE, Server, sseEvent, TEXT_EVENT_STREAM, type Context } from '../src/index.js';
import { checkPrefix, joinPath, type MountOptions } from './mount.js';

/** One sample of system and process metrics. */
export interface SystemMetrics {
  /** Share of CPU time, in percent, used by the whole machine since the previous sample. */
  cpuUsage: number;
  /** Bytes of memory in use on the machine. */
  memoryUsed: number;
  /** Bytes of memory on the machine. */
  memoryTotal: number;
  /** Resident set size of this process, in bytes. */
  processRss: number;
  /** Seconds since the machine booted. */
  uptime: number;
  /** 1-minute load average. */
  loadAverage: number;
}

function cpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const times = cpu.times;
    idle += times.idle;
    total += times.user + times.nice + times.sys + times.idle + times.irq;
  }
  return { idle, total };
}

/** Samples machine metrics; CPU usage is measured between consecutive calls of one sampler. */
export function createMetricsSampler(): () => SystemMetrics {
  let previous = cpuTimes();
  return () => {
    const current = cpuTimes();
    const total = current.total - previous.total;
    const idle = current.idle - previous.idle;
    previous = current;
    return {
      cpuUsage: total > 0 ? Math.round(((total - idle) / total) * 1000) / 10 : 0,
      memoryUsed: os.totalmem() - os.freemem(),
      memoryTotal: os.totalmem(),
      processRss: process.memoryUsage().rss,
      uptime: Math.round(os.uptime()),
      loadAverage: os.loadavg()[0] ?? 0,
    };
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

/** Options for {@link mountMetrics}. */
export interface MetricsMountOptions extends MountOptions {
  /** Time between events, in ms. Default 1000. */
  intervalMs?: number;
}

/** Builds the metrics server: `GET /metrics` streams events; ids resume after `Last-Event-ID`. */
export function createMetricsServer(
  options: { port?: number; host?: string } & MetricsMountOptions = {},
): Server {
  const server = new Server({ host: options.host ?? '0.0.0.0', port: options.port ?? 60001 });
  return mountMetrics(server, options);
}

/** Mounts the stream at `GET {prefix}/metrics`; it adds no middleware or hooks. */
export function mountMetrics(server: Server, options: MetricsMountOptions = {}): Server {
  const prefix = checkPrefix(options.prefix);
  const intervalMs = options.intervalMs ?? 1000;
  server.get(joinPath(prefix, '/metrics'), async (ctx: Context) => {
    ctx
      .setResponseHeader(CONTENT_TYPE, TEXT_EVENT_STREAM)
      .setResponseHeader('Cache-Control', 'no-cache')
      .setResponseStatusCode(200);
    await ctx.send();
    const sample = createMetricsSampler();
    const lastId = Number(ctx.getRequestHeader('last-event-id') ?? 0);
    let id = Number.isFinite(lastId) ? lastId : 0;
    const signal = ctx.signal;
    while (!signal.aborted) {
      id++;
      const event = sseEvent({
        id,
        event: 'metrics',
        data: { id, timestamp: Date.now(), metrics: sample() },
      });
      try {
        await ctx.setResponseBody(event).sendBody();
      } catch {
        break; // the client disconnected
      }
      await delay(intervalMs, signal);
    }
  });
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const running = await createMetricsServer({ port: Number(process.env.PORT ?? 60001) }).run();
  console.log(`metrics stream on http://${running.host}:${running.port}/metrics`);
}
