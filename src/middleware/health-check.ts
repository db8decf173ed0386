import type { Context } from '../context/context.js';
import { HyperlaneError } from '../error/hyperlane-error.js';
import type { Middleware } from './middleware.js';

/**
 * One dependency probe: passes unless it returns (or resolves to) `false`, throws or rejects, or
 * runs too long, so `() => db.ping()` works as it is.
 */
export type HealthCheckFn = () => unknown;

/** Options for {@link healthCheck}. */
export interface HealthCheckOptions {
  /** Named probes run in parallel on every request; any failure turns the answer into 503. */
  checks?: Record<string, HealthCheckFn>;
  /** How long one check may take before it counts as failed (default 2000 ms). */
  checkTimeoutMs?: number;
}

/** The outcome of one named check in the response body. */
export type HealthCheckOutcome = 'ok' | 'failed' | 'timeout';

/** The JSON body `healthCheck()` answers with. */
export interface HealthCheckBody {
  /** `'ok'` with status 200, `'error'` with 503. */
  status: 'ok' | 'error';
  /** Seconds this process has been running. */
  uptime: number;
  /** When the answer was made, ISO 8601. */
  timestamp: string;
  /** Each check's outcome, when checks are configured. */
  checks?: Record<string, HealthCheckOutcome>;
}

const TIMED_OUT = Symbol('timed out');
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * A route handler for liveness and readiness probes:
 * `server.get('/health', healthCheck())` answers 200 JSON `{ status: 'ok', uptime, timestamp }`
 * with `Cache-Control: no-store`. With `checks`, every probe runs in parallel and the body adds
 * `checks: { name: 'ok' | 'failed' | 'timeout' }`; if any fails the answer is 503 with
 * `status: 'error'`. A check that throws counts as failed (its error is not sent: no internals
 * leak), one that takes longer than `checkTimeoutMs` (default 2000) as timed out.
 *
 * @throws HyperlaneError `HL_ERR_CONFIG` naming the option that is wrong
 */
export function healthCheck(options: HealthCheckOptions = {}): Middleware {
  if (typeof options !== 'object' || options === null) {
    throw configError(`options must be an object, got ${String(options)}`);
  }
  const { checks, checkTimeoutMs = 2000 } = options;
  if (
    typeof checkTimeoutMs !== 'number' ||
    !Number.isFinite(checkTimeoutMs) ||
    checkTimeoutMs <= 0 ||
    checkTimeoutMs > 2_147_483_647
  ) {
    throw configError(
      `checkTimeoutMs must be a number of milliseconds above 0 and at most 2147483647, got ${String(checkTimeoutMs)}`,
    );
  }
  if (checks !== undefined && (typeof checks !== 'object' || checks === null)) {
    throw configError(`checks must be an object of name → function, got ${String(checks)}`);
  }
  const names = checks === undefined ? [] : Object.keys(checks);
  const probes: HealthCheckFn[] = [];
  for (const name of names) {
    const probe = checks![name];
    if (typeof probe !== 'function') {
      throw configError(`checks.${name} must be a function, got ${typeof probe}`);
    }
    probes.push(probe);
  }
  if (probes.length === 0) {
    return function healthCheckHandler(ctx: Context): void {
      answer(ctx, { status: 'ok', uptime: uptime(), timestamp: new Date().toISOString() });
    };
  }
  return async function healthCheckHandler(ctx: Context): Promise<void> {
    const outcomes = await Promise.all(probes.map((probe) => runProbe(probe, checkTimeoutMs)));
    const report: Record<string, HealthCheckOutcome> = {};
    let healthy = true;
    for (let i = 0; i < names.length; i++) {
      report[names[i]!] = outcomes[i]!;
      if (outcomes[i] !== 'ok') healthy = false;
    }
    answer(ctx, {
      status: healthy ? 'ok' : 'error',
      uptime: uptime(),
      timestamp: new Date().toISOString(),
      checks: report,
    });
  };
}

function answer(ctx: Context, body: HealthCheckBody): void {
  ctx
    .setResponseStatusCode(body.status === 'ok' ? 200 : 503)
    .setResponseHeader('cache-control', 'no-store')
    .setResponseHeader('content-type', JSON_CONTENT_TYPE)
    .setResponseBody(JSON.stringify(body));
}

async function runProbe(probe: HealthCheckFn, ms: number): Promise<HealthCheckOutcome> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = probe();
    if (!isPromiseLike(result)) return result === false ? 'failed' : 'ok';
    const expired = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(resolve, ms, TIMED_OUT);
    });
    // race() subscribes to the probe, so a probe that rejects after timing out is handled.
    const outcome = await Promise.race([result, expired]);
    if (outcome === TIMED_OUT) return 'timeout';
    return outcome === false ? 'failed' : 'ok';
  } catch {
    return 'failed';
  } finally {
    clearTimeout(timer);
  }
}

/** Process uptime in seconds, to the millisecond. */
function uptime(): number {
  return Math.round(process.uptime() * 1000) / 1000;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

function configError(message: string): HyperlaneError {
  return new HyperlaneError('HL_ERR_CONFIG', `healthCheck: ${message}`);
}
