import { HyperlaneError } from '../error/hyperlane-error.js';

/** What a store reports for one fixed-window hit. */
export interface RateLimitWindow {
  /** Hits counted for the key in the current window, this one included. */
  count: number;
  /** When the current window ends (epoch milliseconds). */
  resetAt: number;
}

/** What a store reports for one token-bucket take. */
export interface RateLimitTake {
  /** Whether a token was taken (the request may go on). */
  allowed: boolean;
  /** Whole tokens left after this take. */
  remaining: number;
  /** When the next whole token arrives (epoch milliseconds): `remaining` grows by one then. */
  resetAt: number;
}

/**
 * Where `rateLimit()` keeps its counters. Every method may answer synchronously or with a
 * promise, so an in-memory store costs no promise while a networked one (Redis) can be async;
 * each call must be atomic for its key (in Redis: one Lua script per call).
 */
export interface RateLimitStore {
  /**
   * Counts one hit for `key` in a fixed window of `windowMs`: a key with no live window starts
   * one at 1 that ends `windowMs` from now.
   */
  increment(key: string, windowMs: number): RateLimitWindow | Promise<RateLimitWindow>;
  /**
   * Takes one token from `key`'s bucket, which holds at most `capacity` tokens (a new key starts
   * full) and regains `refillPerMs` tokens per millisecond. Optional: only the `token-bucket`
   * algorithm needs it.
   */
  take?(key: string, capacity: number, refillPerMs: number): RateLimitTake | Promise<RateLimitTake>;
  /** Forgets `key` (both algorithms). Optional. */
  reset?(key: string): void | Promise<void>;
}

/** Options for {@link MemoryRateLimitStore}. */
export interface MemoryRateLimitStoreOptions {
  /**
   * Most keys held at once (default 100,000, roughly 20 MB at worst). At the cap, a new key
   * first drops expired entries and then evicts the oldest one, whose key starts afresh: under a
   * flood of distinct keys the limiter errs toward letting requests through, never toward
   * growing without bound or blocking a client it should not.
   */
  maxKeys?: number;
  /** How often expired entries are swept (default 60,000 ms); the timer never keeps the process alive. */
  sweepIntervalMs?: number;
}

class WindowEntry {
  count: number;
  resetAt: number;
  constructor(count: number, resetAt: number) {
    this.count = count;
    this.resetAt = resetAt;
  }
}

class BucketEntry {
  tokens: number;
  updatedAt: number;
  /** When the bucket is full again: from then on the entry says nothing a missing one would not. */
  fullAt: number;
  constructor(tokens: number, updatedAt: number, fullAt: number) {
    this.tokens = tokens;
    this.updatedAt = updatedAt;
    this.fullAt = fullAt;
  }
}

/** Expired entries looked at from the front of a map before an insert at the cap evicts one. */
const EVICTION_SCAN = 8;

/**
 * The default {@link RateLimitStore}: counters in this process's memory, answering
 * synchronously. Bounded by `maxKeys`; expired entries are swept by one unref'd timer (and
 * replaced lazily when their key comes back). Counters are per process: behind several workers
 * or machines use a shared store such as `redisRateLimitStore`.
 */
export class MemoryRateLimitStore implements RateLimitStore {
  /** Most keys held at once. */
  readonly maxKeys: number;
  private readonly sweepIntervalMs: number;
  // Map order is insertion order; an entry is re-inserted when its window or bucket starts
  // afresh, so the front holds the entries that expire first and eviction takes the stalest.
  private readonly windows = new Map<string, WindowEntry>();
  private readonly buckets = new Map<string, BucketEntry>();
  private timer: NodeJS.Timeout | null = null;

  /** @param options - `maxKeys` (default 100,000) and `sweepIntervalMs` (default 60,000) */
  constructor(options: MemoryRateLimitStoreOptions = {}) {
    const { maxKeys = 100_000, sweepIntervalMs = 60_000 } = options;
    if (!Number.isInteger(maxKeys) || maxKeys < 1) {
      throw new HyperlaneError(
        'HL_ERR_CONFIG',
        `MemoryRateLimitStore: maxKeys must be a positive integer, got ${String(maxKeys)}`,
      );
    }
    if (
      typeof sweepIntervalMs !== 'number' ||
      !Number.isFinite(sweepIntervalMs) ||
      sweepIntervalMs < 1 ||
      sweepIntervalMs > 2_147_483_647
    ) {
      throw new HyperlaneError(
        'HL_ERR_CONFIG',
        `MemoryRateLimitStore: sweepIntervalMs must be a number of milliseconds from 1 to 2147483647, got ${String(sweepIntervalMs)}`,
      );
    }
    this.maxKeys = maxKeys;
    this.sweepIntervalMs = sweepIntervalMs;
  }

  /** Number of keys held (both algorithms). */
  get size(): number {
    return this.windows.size + this.buckets.size;
  }

  /** Counts one hit for `key` in a fixed window of `windowMs` (synchronously). */
  increment(key: string, windowMs: number): RateLimitWindow {
    const now = Date.now();
    const entry = this.windows.get(key);
    if (entry !== undefined && entry.resetAt > now) {
      entry.count++;
      return { count: entry.count, resetAt: entry.resetAt };
    }
    const resetAt = now + windowMs;
    if (entry !== undefined) this.windows.delete(key);
    else this.makeRoom(now);
    this.windows.set(key, new WindowEntry(1, resetAt));
    this.startSweeper();
    return { count: 1, resetAt };
  }

  /** Takes one token from `key`'s bucket (synchronously). */
  take(key: string, capacity: number, refillPerMs: number): RateLimitTake {
    const now = Date.now();
    const entry = this.buckets.get(key);
    let tokens: number;
    if (entry === undefined || entry.fullAt <= now) {
      tokens = capacity;
    } else {
      tokens = Math.min(capacity, entry.tokens + (now - entry.updatedAt) * refillPerMs);
    }
    const allowed = tokens >= 1;
    if (allowed) tokens -= 1;
    const whole = Math.floor(tokens);
    const resetAt = now + Math.max(1, Math.ceil((whole + 1 - tokens) / refillPerMs));
    const fullAt = now + (capacity - tokens) / refillPerMs;
    if (entry !== undefined && entry.fullAt > now) {
      entry.tokens = tokens;
      entry.updatedAt = now;
      entry.fullAt = fullAt;
    } else {
      if (entry !== undefined) this.buckets.delete(key);
      else this.makeRoom(now);
      this.buckets.set(key, new BucketEntry(tokens, now, fullAt));
      this.startSweeper();
    }
    return { allowed, remaining: whole, resetAt };
  }

  /** Forgets `key`. */
  reset(key: string): void {
    this.windows.delete(key);
    this.buckets.delete(key);
  }

  /** Drops every counter and stops the sweep timer (the store still works afterwards). */
  close(): void {
    this.windows.clear();
    this.buckets.clear();
    this.stopSweeper();
  }

  /** @internal Drops expired entries; run by the sweep timer. */
  sweep(now = Date.now()): void {
    for (const [key, entry] of this.windows) if (entry.resetAt <= now) this.windows.delete(key);
    for (const [key, entry] of this.buckets) if (entry.fullAt <= now) this.buckets.delete(key);
    if (this.size === 0) this.stopSweeper();
  }

  /** Before a new key goes in at the cap: drop expired entries at the front, else the oldest. */
  private makeRoom(now: number): void {
    if (this.size < this.maxKeys) return;
    let scanned = 0;
    for (const [key, entry] of this.windows) {
      if (entry.resetAt > now || ++scanned > EVICTION_SCAN) break;
      this.windows.delete(key);
    }
    scanned = 0;
    for (const [key, entry] of this.buckets) {
      if (entry.fullAt > now || ++scanned > EVICTION_SCAN) break;
      this.buckets.delete(key);
    }
    if (this.size < this.maxKeys) return;
    // Still full: evict from the larger map, so one algorithm cannot starve the other.
    const map = this.windows.size >= this.buckets.size ? this.windows : this.buckets;
    const oldest = map.keys().next();
    if (oldest.done !== true) map.delete(oldest.value);
  }

  private startSweeper(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(sweepStore, this.sweepIntervalMs, this);
    this.timer.unref();
  }

  private stopSweeper(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }
}

function sweepStore(store: MemoryRateLimitStore): void {
  store.sweep();
}
