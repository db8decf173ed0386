import type { Context } from '../context/context.js';
import { HyperlaneError } from '../error/hyperlane-error.js';
import type { Middleware } from './middleware.js';
import {
  MemoryRateLimitStore,
  type RateLimitStore,
  type RateLimitTake,
  type RateLimitWindow,
} from './rate-limit-store.js';

/** How `rateLimit()` counts. */
export type RateLimitAlgorithm = 'fixed-window' | 'token-bucket';

/** Options for {@link rateLimit}. */
export interface RateLimitOptions {
  /** Length of a window in milliseconds (token bucket: the time to refill an empty bucket). */
  windowMs: number;
  /** Requests allowed per key and window (token bucket: the bucket's capacity). */
  max: number;
  /** The key requests are counted under. Default: the client IP (`ctx.getSocketHost()`). */
  key?: (ctx: Context) => string;
  /** Where counters live. Default: a new {@link MemoryRateLimitStore} for this limiter. */
  store?: RateLimitStore;
  /**
   * `'fixed-window'` (default): at most `max` requests per key in each window of `windowMs`.
   * `'token-bucket'`: bursts of up to `max`, refilled smoothly at `max` per `windowMs`.
   */
  algorithm?: RateLimitAlgorithm;
  /** The `message` of the 429 body. Default: `'Too many requests, please try again later.'` */
  message?: string;
}

const DEFAULT_MESSAGE = 'Too many requests, please try again later.';
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** Everything a limiter needs per request, compiled once by the factory. */
class Limiter {
  readonly windowMs: number;
  readonly max: number;
  readonly key: (ctx: Context) => string;
  readonly store: RateLimitStore;
  readonly tokenBucket: boolean;
  readonly refillPerMs: number;
  /** The 429 body, serialized once. */
  readonly body: string;
  /** The store is failing: requests go through and the failure was logged once. */
  failing = false;

  constructor(options: RateLimitOptions) {
    if (typeof options !== 'object' || options === null) {
      throw configError(
        `options must be an object with windowMs and max, got ${describe(options)}`,
      );
    }
    const {
      windowMs,
      max,
      key = defaultKey,
      store,
      algorithm = 'fixed-window',
      message = DEFAULT_MESSAGE,
    } = options;
    if (
      typeof windowMs !== 'number' ||
      !Number.isFinite(windowMs) ||
      windowMs <= 0 ||
      windowMs > 2_147_483_647
    ) {
      throw configError(
        `windowMs must be a number of milliseconds above 0 and at most 2147483647, got ${describe(windowMs)}`,
      );
    }
    if (!Number.isInteger(max) || max < 1) {
      throw configError(`max must be a positive integer, got ${describe(max)}`);
    }
    if (typeof key !== 'function') {
      throw configError(`key must be a function (ctx) => string, got ${describe(key)}`);
    }
    if (algorithm !== 'fixed-window' && algorithm !== 'token-bucket') {
      throw configError(
        `algorithm must be 'fixed-window' or 'token-bucket', got ${describe(algorithm)}`,
      );
    }
    if (typeof message !== 'string') {
      throw configError(`message must be a string, got ${describe(message)}`);
    }
    if (store !== undefined) {
      if (typeof store !== 'object' || store === null || typeof store.increment !== 'function') {
        throw configError(`store must implement increment(key, windowMs), got ${describe(store)}`);
      }
      if (algorithm === 'token-bucket' && typeof store.take !== 'function') {
        throw configError(
          `store must implement take(key, capacity, refillPerMs) for algorithm 'token-bucket'`,
        );
      }
    }
    this.windowMs = windowMs;
    this.max = max;
    this.key = key;
    this.store = store ?? new MemoryRateLimitStore();
    this.tokenBucket = algorithm === 'token-bucket';
    this.refillPerMs = max / windowMs;
    this.body = JSON.stringify({ error: 'Too Many Requests', message });
  }
}

/**
 * Limits how often each client (or whatever `key` returns) may call: past `max` requests per
 * `windowMs` the client gets 429 JSON `{ error: 'Too Many Requests', message }` with
 * `Retry-After`, and the rest of the chain is skipped. Every HTTP response it lets through
 * carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds) too.
 * Rejected requests count against the window. If the store fails, requests go through and the
 * failure is logged once until the store answers again. Register with
 * `server.requestMiddleware(rateLimit({ windowMs: 60_000, max: 100 }))`; on a WebSocket route it
 * counts each message and drops those over the limit.
 *
 * @throws HyperlaneError `HL_ERR_CONFIG` naming the option that is wrong
 */
export function rateLimit(options: RateLimitOptions): Middleware {
  const limiter = new Limiter(options);
  return function rateLimitMiddleware(ctx: Context): void | Promise<void> {
    const key = limiter.key(ctx);
    let result: RateLimitWindow | RateLimitTake | Promise<RateLimitWindow | RateLimitTake>;
    try {
      result = limiter.tokenBucket
        ? limiter.store.take!(key, limiter.max, limiter.refillPerMs)
        : limiter.store.increment(key, limiter.windowMs);
    } catch (error) {
      storeFailed(limiter, error);
      return;
    }
    if (isPromiseLike(result)) return settle(limiter, ctx, result);
    apply(limiter, ctx, result);
  };
}

/** The default key: the peer's IP address without its port. */
function defaultKey(ctx: Context): string {
  return ctx.getSocketHost() ?? 'unknown';
}

async function settle(
  limiter: Limiter,
  ctx: Context,
  pending: Promise<RateLimitWindow | RateLimitTake>,
): Promise<void> {
  let result: RateLimitWindow | RateLimitTake;
  try {
    result = await pending;
  } catch (error) {
    storeFailed(limiter, error);
    return;
  }
  apply(limiter, ctx, result);
}

function apply(limiter: Limiter, ctx: Context, result: RateLimitWindow | RateLimitTake): void {
  let allowed: boolean;
  let remaining: number;
  const resetAt = result?.resetAt;
  if (limiter.tokenBucket) {
    const take = result as RateLimitTake;
    allowed = take?.allowed === true;
    remaining = take?.remaining;
  } else {
    const count = (result as RateLimitWindow)?.count;
    allowed = count <= limiter.max;
    remaining = limiter.max - count;
  }
  if (typeof remaining !== 'number' || Number.isNaN(remaining) || !Number.isFinite(resetAt)) {
    storeFailed(limiter, new TypeError(`the store answered ${describe(result)}`));
    return;
  }
  limiter.failing = false;
  if (ctx.isWebSocket()) {
    // Per message: no response head to annotate; a message over the limit is dropped.
    if (!allowed) ctx.aborted();
    return;
  }
  const seconds = Math.max(0, Math.ceil((resetAt - Date.now()) / 1000));
  ctx
    .setResponseHeader('RateLimit-Limit', limiter.max)
    .setResponseHeader('RateLimit-Remaining', Math.max(0, Math.min(limiter.max, remaining)))
    .setResponseHeader('RateLimit-Reset', seconds);
  if (allowed) return;
  ctx
    .setResponseStatusCode(429)
    .setResponseHeader('Retry-After', Math.max(1, seconds))
    .setResponseHeader('Content-Type', JSON_CONTENT_TYPE)
    .setResponseBody(limiter.body);
  ctx.aborted();
}

/** A failing store must not take the site down: let the request through, log once per burst. */
function storeFailed(limiter: Limiter, error: unknown): void {
  if (limiter.failing) return;
  limiter.failing = true;
  console.error(
    '[hyperlane-ts] rateLimit: the store failed; requests go through unlimited until it answers again:',
    error,
  );
}

function isPromiseLike<T>(value: T | Promise<T>): value is Promise<T> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function configError(message: string): HyperlaneError {
  return new HyperlaneError('HL_ERR_CONFIG', `rateLimit: ${message}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value) ?? String(value);
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
  return String(value);
}

export {
  MemoryRateLimitStore,
  type MemoryRateLimitStoreOptions,
  type RateLimitStore,
  type RateLimitTake,
  type RateLimitWindow,
} from './rate-limit-store.js';
