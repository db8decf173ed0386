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
  /**
   * The key requests are counted under. Default: the client's address as {@link rateLimitKey}
   * shapes it: an IPv4 address as it is, an IPv6 address by its `/64` prefix (see
   * `ipv6Subnet`), since one IPv6 client usually controls a whole /64.
   */
  key?: (ctx: Context) => string;
  /**
   * The prefix length an IPv6 client is counted by with the default key: 32–128, default 64.
   * 128 counts each address on its own; a smaller prefix groups more of a network together.
   * Not allowed with a custom `key`.
   */
  ipv6Subnet?: number;
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
  /** The user's key function; null for the default (the client address). */
  readonly key: ((ctx: Context) => string) | null;
  readonly ipv6Subnet: number;
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
      key,
      ipv6Subnet,
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
    if (key !== undefined && typeof key !== 'function') {
      throw configError(`key must be a function (ctx) => string, got ${describe(key)}`);
    }
    if (ipv6Subnet !== undefined) {
      if (key !== undefined) {
        throw configError(
          'ipv6Subnet applies to the default key only; a custom key decides its own grouping',
        );
      }
      if (!Number.isInteger(ipv6Subnet) || ipv6Subnet < 32 || ipv6Subnet > 128) {
        throw configError(
          `ipv6Subnet must be a whole number from 32 to 128, got ${describe(ipv6Subnet)}`,
        );
      }
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
    this.key = key ?? null;
    this.ipv6Subnet = ipv6Subnet ?? 64;
    this.store = store ?? new MemoryRateLimitStore();
    this.tokenBucket = algorithm === 'token-bucket';
    this.refillPerMs = max / windowMs;
    this.body = JSON.stringify({ error: 'Too Many Requests', message });
  }
}

/**
 * Limits how often each client (or whatever `key` returns) may call; a client is its IPv4
 * address, or its IPv6 /64 by default (see {@link rateLimitKey}). Past `max` requests per
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
    const key =
      limiter.key === null
        ? rateLimitKey(ctx.getSocketHost() ?? 'unknown', limiter.ipv6Subnet)
        : limiter.key(ctx);
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

/**
 * The key `rateLimit()` counts a client address under by default: an IPv4 address as it is; an
 * IPv4-mapped IPv6 address (`::ffff:203.0.113.7`, what a dual-stack listener reports for IPv4
 * clients) as its IPv4 address; any other IPv6 address as its first `ipv6Subnet` bits (default
 * 64), normalized, e.g. `2001:db8:1:2::/64`, so that the 2^64 addresses one client can pick
 * from share one budget. Anything that is not an address comes back as it is.
 */
export function rateLimitKey(address: string, ipv6Subnet = 64): string {
  if (!address.includes(':')) return address;
  const hextets = parseIpv6(address);
  if (hextets === null) return address;
  if (
    hextets[0] === 0 &&
    hextets[1] === 0 &&
    hextets[2] === 0 &&
    hextets[3] === 0 &&
    hextets[4] === 0 &&
    hextets[5] === 0xffff
  ) {
    const high = hextets[6]!;
    const low = hextets[7]!;
    return `${high >>> 8}.${high & 0xff}.${low >>> 8}.${low & 0xff}`;
  }
  const whole = ipv6Subnet >>> 4;
  const bits = ipv6Subnet & 15;
  let key = '';
  for (let i = 0; i < whole; i++) key += `${i === 0 ? '' : ':'}${hextets[i]!.toString(16)}`;
  if (bits !== 0) {
    const masked = hextets[whole]! & ((0xffff << (16 - bits)) & 0xffff);
    key += `:${masked.toString(16)}`;
  }
  const groups = whole + (bits === 0 ? 0 : 1);
  return `${key}${groups < 8 ? '::' : ''}/${ipv6Subnet}`;
}

const HEXTET = /^[0-9a-fA-F]{1,4}$/;
const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The eight 16-bit groups of an IPv6 address (a zone id ignored), or null if it is not one. */
function parseIpv6(address: string): number[] | null {
  let text = address;
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  // A trailing dotted quad (`::ffff:1.2.3.4`) stands for the last two groups.
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    const quad = DOTTED_QUAD.exec(text.slice(lastColon + 1));
    if (quad === null) return null;
    const bytes = [Number(quad[1]), Number(quad[2]), Number(quad[3]), Number(quad[4])];
    if (bytes.some((byte) => byte > 255)) return null;
    text = `${text.slice(0, lastColon + 1)}${((bytes[0]! << 8) | bytes[1]!).toString(16)}:${((bytes[2]! << 8) | bytes[3]!).toString(16)}`;
  }
  const gap = text.indexOf('::');
  if (gap !== -1 && text.indexOf('::', gap + 1) !== -1) return null;
  const head = gap === -1 ? text : text.slice(0, gap);
  const tail = gap === -1 ? '' : text.slice(gap + 2);
  const front = head === '' ? [] : head.split(':');
  const back = tail === '' ? [] : tail.split(':');
  const missing = 8 - front.length - back.length;
  if (gap === -1 ? missing !== 0 : missing < 1) return null;
  const hextets: number[] = [];
  for (const group of front) {
    if (!HEXTET.test(group)) return null;
    hextets.push(parseInt(group, 16));
  }
  for (let i = 0; i < missing && gap !== -1; i++) hextets.push(0);
  for (const group of back) {
    if (!HEXTET.test(group)) return null;
    hextets.push(parseInt(group, 16));
  }
  return hextets;
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
