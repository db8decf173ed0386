import type { Redis as RedisClient, RedisOptions } from 'ioredis';
import { HyperlaneError } from '../error/hyperlane-error.js';
import type {
  RateLimitStore,
  RateLimitTake,
  RateLimitWindow,
} from '../middleware/rate-limit-store.js';
import {
  checkFunction,
  checkMs,
  checkReconnect,
  checkRedisOptions,
  checkString,
  checkUrl,
  endConnection,
  openConnection,
  redactUrl,
  type ReconnectOptions,
} from './client.js';

/** Options of {@link redisRateLimitStore}. */
export interface RedisRateLimitStoreOptions {
  /** `redis://[user:password@]host:port[/db]`, `rediss://…` for TLS (default `redis://127.0.0.1:6379`). */
  url?: string;
  /**
   * Prepended to every Redis key (default `'hyperlane:ratelimit:'`): a fixed window lives at
   * `<prefix>fw:<key>`, a token bucket at `<prefix>tb:<key>`. Limiters that should count apart
   * but share a `key` function need stores with different prefixes.
   */
  prefix?: string;
  /**
   * Longest wait for Redis per request (default 1,000 ms); past it the call fails and the
   * limiter lets the request through. Also the longest wait for the first connection.
   */
  timeoutMs?: number;
  /** Reconnect backoff: doubling from `minDelayMs` (100) to `maxDelayMs` (3,000), with jitter. */
  reconnect?: ReconnectOptions;
  /** Told when the connection to Redis is lost or cannot be made, once per outage. */
  onError?: (error: Error) => void;
  /** Further ioredis options (TLS, sentinels…); the store's own settings override them. */
  redisOptions?: RedisOptions;
}

const WHO = 'redisRateLimitStore';

// One script per call keeps each call atomic across every process sharing the key.
// Fixed window: the first hit creates the key with the window as its TTL; the answer carries
// the TTL left, so `resetAt` does not depend on clocks agreeing between machines.
const WINDOW_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

// Token bucket in a hash {t = tokens, u = updated at (ms)}, timed by Redis's clock so processes
// on machines whose clocks differ still share one bucket fairly. The key expires when the bucket
// would be full again, so idle keys cost nothing. Answers {allowed, whole tokens left, ms until
// the next whole token}.
const BUCKET_SCRIPT = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil or updated == nil then
  tokens = capacity
else
  local elapsed = now - updated
  if elapsed < 0 then elapsed = 0 end
  tokens = math.min(capacity, tokens + elapsed * rate)
end
local allowed = 0
if tokens >= 1 then
  allowed = 1
  tokens = tokens - 1
end
local whole = math.floor(tokens)
local wait = math.ceil((whole + 1 - tokens) / rate)
if wait < 1 then wait = 1 end
local full = math.ceil((capacity - tokens) / rate)
if full < 1 then full = 1 end
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'u', now)
redis.call('PEXPIRE', KEYS[1], full)
return {allowed, whole, wait}
`;

/** The scripts as ioredis commands (sent as EVALSHA, falling back to EVAL after a SCRIPT FLUSH). */
interface ScriptCommands {
  hyperlaneRateWindow(key: string, windowMs: number): Promise<[number, number]>;
  hyperlaneRateBucket(
    key: string,
    capacity: number,
    refillPerMs: number,
  ): Promise<[number, number, number]>;
}

/**
 * Rate-limit counters in Redis, shared by every process and machine that uses the same Redis and
 * prefix, so `max` holds across all of them:
 *
 * ```ts
 * import { redisRateLimitStore } from 'hyperlane-ts/redis';
 * server.requestMiddleware(rateLimit({ windowMs: 60_000, max: 100, store: redisRateLimitStore({ url }) }));
 * ```
 *
 * Each call is one Lua script, atomic however many processes hit the key at once. Every call
 * waits at most `timeoutMs`; while Redis is unreachable calls fail at once. Either way the
 * limiter lets the request through and logs, so a Redis outage never takes the site down.
 *
 * @throws HyperlaneError `HL_ERR_CONFIG` naming the option that is wrong
 */
export function redisRateLimitStore(options: RedisRateLimitStoreOptions = {}): RedisRateLimitStore {
  return new RedisRateLimitStore(options);
}

/** The store {@link redisRateLimitStore} makes; see there. */
export class RedisRateLimitStore implements RateLimitStore {
  /** Prepended to every key. */
  readonly prefix: string;
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #client: RedisClient;
  readonly #scripts: ScriptCommands;
  readonly #onError: ((error: Error) => void) | undefined;
  /** Settles when the first connection attempt is decided: ready, or failed. */
  #firstAttempt: Promise<void> | undefined;
  #settleFirstAttempt: (() => void) | undefined;
  #attempted = false;
  #outage = false;
  #closing: Promise<void> | undefined;

  /** @param options - see {@link RedisRateLimitStoreOptions} */
  constructor(options: RedisRateLimitStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new HyperlaneError('HL_ERR_CONFIG', `${WHO}: options must be an object`);
    }
    this.#url = checkUrl(WHO, options.url);
    this.prefix = checkString(WHO, 'prefix', options.prefix, 'hyperlane:ratelimit:', true);
    this.#timeoutMs = checkMs(WHO, 'timeoutMs', options.timeoutMs, 1000);
    this.#onError = checkFunction(WHO, 'onError', options.onError);
    const reconnect = checkReconnect(WHO, options.reconnect);
    const redisOptions = checkRedisOptions(WHO, options.redisOptions);
    this.#client = openConnection(this.#url, {
      name: 'hyperlane-ratelimit',
      commandTimeoutMs: this.#timeoutMs,
      reconnect,
      redisOptions,
    });
    this.#client.defineCommand('hyperlaneRateWindow', { numberOfKeys: 1, lua: WINDOW_SCRIPT });
    this.#client.defineCommand('hyperlaneRateBucket', { numberOfKeys: 1, lua: BUCKET_SCRIPT });
    this.#scripts = this.#client as unknown as ScriptCommands;
    this.#firstAttempt = new Promise<void>((resolve) => {
      this.#settleFirstAttempt = resolve;
    });
    this.#client.on('ready', () => {
      this.#attempted = true;
      this.#outage = false;
      this.#settleFirstAttempt?.();
    });
    this.#client.on('error', (error: Error) => {
      if (this.#client.status !== 'ready') this.#lost(error);
    });
    this.#client.on('close', () => this.#lost(undefined));
  }

  /** Counts one hit for `key` in a fixed window of `windowMs`. */
  increment(key: string, windowMs: number): Promise<RateLimitWindow> {
    if (this.#client.status !== 'ready') {
      return this.#whenConnected().then(() => this.increment(key, windowMs));
    }
    return this.#scripts
      .hyperlaneRateWindow(`${this.prefix}fw:${key}`, Math.max(1, Math.ceil(windowMs)))
      .then(toWindow);
  }

  /** Takes one token from `key`'s bucket. */
  take(key: string, capacity: number, refillPerMs: number): Promise<RateLimitTake> {
    if (this.#client.status !== 'ready') {
      return this.#whenConnected().then(() => this.take(key, capacity, refillPerMs));
    }
    return this.#scripts
      .hyperlaneRateBucket(`${this.prefix}tb:${key}`, capacity, refillPerMs)
      .then(toTake);
  }

  /** Forgets `key` (both algorithms). */
  async reset(key: string): Promise<void> {
    if (this.#client.status !== 'ready') await this.#whenConnected();
    await this.#client.del(`${this.prefix}fw:${key}`, `${this.prefix}tb:${key}`);
  }

  /** Whether the connection to Redis is up now. */
  get isReady(): boolean {
    return this.#client.status === 'ready';
  }

  /** Resolves once connected; rejects if the first attempt fails, after `timeoutMs`, or after `close()`. */
  ready(): Promise<void> {
    if (this.#client.status === 'ready') return Promise.resolve();
    return this.#whenConnected();
  }

  /** Closes the connection; calls afterwards fail (and the limiter lets requests through). */
  close(): Promise<void> {
    this.#closing ??= endConnection(this.#client);
    this.#settleFirstAttempt?.();
    return this.#closing;
  }

  /**
   * Before the first connection is decided, wait for it (at most `timeoutMs`), so requests at
   * start-up are counted; afterwards a disconnected store fails at once rather than making
   * every request wait out an outage.
   */
  #whenConnected(): Promise<void> {
    if (this.#closing !== undefined)
      return Promise.reject(this.#unreachable('the store is closed'));
    if (this.#attempted || this.#firstAttempt === undefined) {
      return Promise.reject(this.#unreachable(`connection ${this.#client.status}`));
    }
    const first = this.#firstAttempt;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(this.#unreachable(`no connection within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      void first.then(() => {
        clearTimeout(timer);
        if (this.#client.status === 'ready') resolve();
        else reject(this.#unreachable(`connection ${this.#client.status}`));
      });
    });
  }

  #lost(error: Error | undefined): void {
    this.#attempted = true;
    this.#settleFirstAttempt?.();
    if (this.#closing !== undefined || this.#outage) return;
    this.#outage = true;
    if (this.#onError === undefined) return;
    const message = `${WHO}: lost the connection to Redis at ${redactUrl(this.#url)}${error === undefined ? '' : ` (${error.message})`}; reconnecting, requests go through unlimited meanwhile`;
    try {
      this.#onError(new Error(message, { cause: error }));
    } catch {
      // The reporter is the caller's code; its failure must not break the store.
    }
  }

  #unreachable(why: string): Error {
    return new Error(`${WHO}: Redis at ${redactUrl(this.#url)} is unreachable (${why})`);
  }
}

function toWindow(reply: [number, number]): RateLimitWindow {
  const count = Number(reply[0]);
  const ttl = Number(reply[1]);
  return { count, resetAt: Date.now() + ttl };
}

function toTake(reply: [number, number, number]): RateLimitTake {
  return {
    allowed: Number(reply[0]) === 1,
    remaining: Number(reply[1]),
    resetAt: Date.now() + Number(reply[2]),
  };
}
