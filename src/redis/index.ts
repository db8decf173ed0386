/**
 * `hyperlane-ts/redis`: Redis pub/sub for `Broadcast`/`BroadcastMap` and a Redis store for
 * `rateLimit`, so several processes or machines share messages and limits. Needs the optional
 * peer dependency `ioredis`; the core package never loads it.
 */
export {
  redisAdapter,
  type RedisAdapter,
  type RedisAdapterOptions,
  type RedisAdapterStats,
} from './redis-adapter.js';
export {
  RedisRateLimitStore,
  redisRateLimitStore,
  type RedisRateLimitStoreOptions,
} from './redis-rate-limit-store.js';
export type { ReconnectOptions } from './client.js';
