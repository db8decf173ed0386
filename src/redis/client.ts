/**
 * What the Redis adapter and the Redis rate-limit store share: loading `ioredis` (an optional
 * peer dependency, so its absence must be a clear error and not a bare module-not-found), option
 * checks, the reconnect backoff and the settings that keep a dead or hung Redis from piling up
 * commands in memory.
 *
 * Internal to `hyperlane-ts/redis`.
 */
import type { Redis as RedisClient, RedisOptions } from 'ioredis';
import { HyperlaneError } from '../error/hyperlane-error.js';

type RedisConstructor = new (url: string, options: RedisOptions) => RedisClient;

let Redis: RedisConstructor;
try {
  ({ Redis } = await import('ioredis'));
} catch (error) {
  throw new HyperlaneError(
    'HL_ERR_CONFIG',
    "hyperlane-ts/redis needs the 'ioredis' package (v5 or later): npm install ioredis",
    { cause: error },
  );
}

/** Where to connect when no `url` is given. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** How long to wait between reconnect attempts: doubling from `minDelayMs` up to `maxDelayMs`. */
export interface ReconnectOptions {
  /** First delay (default 100 ms). */
  minDelayMs?: number;
  /** Longest delay (default 3,000 ms). */
  maxDelayMs?: number;
}

/** Settings every connection we open gets, whatever the caller's `redisOptions` say. */
export interface ConnectionSettings {
  name: string;
  commandTimeoutMs: number;
  reconnect: Required<ReconnectOptions>;
  redisOptions: RedisOptions | undefined;
}

/** Opens a connection to `url`; it connects (and later reconnects) on its own. */
export function openConnection(url: string, settings: ConnectionSettings): RedisClient {
  const { minDelayMs, maxDelayMs } = settings.reconnect;
  return new Redis(url, {
    ...settings.redisOptions,
    connectionName: settings.name,
    lazyConnect: false,
    // Commands issued while disconnected fail at once instead of waiting in an unbounded queue;
    // commands in flight when the connection drops fail instead of being resent later, out of
    // order with what was sent since.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    commandTimeout: settings.commandTimeoutMs,
    // A Redis that accepts commands but never answers (hung, partitioned) is dropped and
    // reconnected, which fails what was queued on it rather than letting it grow.
    socketTimeout: Math.max(2 * settings.commandTimeoutMs, 1000),
    retryStrategy: (attempt: number) => backoff(attempt, minDelayMs, maxDelayMs),
  });
}

/** Exponential backoff with ±20% jitter, so many processes do not reconnect in lockstep. */
function backoff(attempt: number, minDelayMs: number, maxDelayMs: number): number {
  const base = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * Ends `client` without waiting on a Redis that is gone: QUIT when connected (with a short
 * fallback to a hard disconnect), a hard disconnect otherwise.
 */
export function endConnection(client: RedisClient): Promise<void> {
  const status = client.status;
  if (status === 'end') return Promise.resolve();
  if (status !== 'ready' && status !== 'connect' && status !== 'connecting') {
    // Between attempts there is no socket to wait for: stopping the retry timer is enough.
    client.disconnect();
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      client.disconnect();
      resolve();
    }, 1000);
    client.once('end', () => {
      clearTimeout(timer);
      resolve();
    });
    if (status === 'ready') client.quit().catch(() => client.disconnect());
    else client.disconnect();
  });
}

/** Checks `url`, naming `who` and the option in the error. */
export function checkUrl(who: string, url: unknown): string {
  if (url === undefined) return DEFAULT_REDIS_URL;
  if (typeof url !== 'string' || !/^(rediss?:\/\/.+|\/.+)$/.test(url)) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `${who}: url must be a redis:// or rediss:// URL (or a Unix socket path), got ${describe(url)}`,
    );
  }
  return url;
}

/** Checks a positive number of milliseconds no larger than a timer accepts. */
export function checkMs(who: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1 || value > 2_147_483_647) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `${who}: ${name} must be a number of milliseconds from 1 to 2147483647, got ${describe(value)}`,
    );
  }
  return value;
}

/** Checks the `reconnect` option and applies its defaults. */
export function checkReconnect(who: string, value: unknown): Required<ReconnectOptions> {
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `${who}: reconnect must be an object { minDelayMs?, maxDelayMs? }, got ${describe(value)}`,
    );
  }
  const options = (value ?? {}) as ReconnectOptions;
  const minDelayMs = checkMs(who, 'reconnect.minDelayMs', options.minDelayMs, 100);
  const maxDelayMs = checkMs(who, 'reconnect.maxDelayMs', options.maxDelayMs, 3000);
  if (maxDelayMs < minDelayMs) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `${who}: reconnect.maxDelayMs (${maxDelayMs}) must not be below reconnect.minDelayMs (${minDelayMs})`,
    );
  }
  return { minDelayMs, maxDelayMs };
}

/** Checks an optional string option. */
export function checkString(
  who: string,
  name: string,
  value: unknown,
  fallback: string,
  allowEmpty: boolean,
): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || (!allowEmpty && value === '')) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `${who}: ${name} must be a ${allowEmpty ? '' : 'non-empty '}string, got ${describe(value)}`,
    );
  }
  return value;
}

/** Checks an optional callback. */
export function checkFunction<F>(who: string, name: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `${who}: ${name} must be a function, got ${describe(value)}`,
    );
  }
  return value as F;
}

/** Checks the `redisOptions` pass-through. */
export function checkRedisOptions(who: string, value: unknown): RedisOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `${who}: redisOptions must be an ioredis options object, got ${describe(value)}`,
    );
  }
  return value as RedisOptions;
}

/** `url` with any password masked, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** A message-safe rendering of `error`. */
export function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
