/**
 * `redisRateLimitStore` (hyperlane-ts/redis) against a real redis-server this file starts on a
 * free port: atomic fixed windows and token buckets under concurrency, expiry, reset, the key
 * layout, scripts surviving SCRIPT FLUSH, `rateLimit()` on a real server, and Redis killed or
 * frozen: calls fail without hanging and the limiter lets requests through.
 */
import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import { HyperlaneError, rateLimit, type RateLimitStore } from '../../src/index.js';
import {
  redisRateLimitStore,
  type RedisRateLimitStore,
  type RedisRateLimitStoreOptions,
} from '../../src/redis/index.js';
import { eventually } from '../helpers/eventually.js';
import { serve } from '../helpers/serve.js';
import { RedisServer, freePort } from './redis-server.js';

const WAIT_MS = 20_000;

let redis: RedisServer;
let prefixes = 0;

before(async () => {
  redis = await RedisServer.start();
});

after(async () => {
  await redis.stop();
});

/** A store on `server` with a prefix of its own, closed after the test. */
function storeFor(
  t: TestContext,
  server: RedisServer = redis,
  options: RedisRateLimitStoreOptions = {},
): RedisRateLimitStore {
  const store = redisRateLimitStore({
    url: server.url,
    prefix: `test${++prefixes}:`,
    reconnect: { minDelayMs: 50, maxDelayMs: 300 },
    ...options,
  });
  t.after(() => store.close());
  return store;
}

test('fixed window: counts per key, with the window end from Redis', async (t) => {
  const store = storeFor(t);
  const before = Date.now();
  const first = await store.increment('k', 60_000);
  assert.equal(first.count, 1);
  assert.ok(first.resetAt > before && first.resetAt <= Date.now() + 60_000, String(first.resetAt));
  assert.equal((await store.increment('k', 60_000)).count, 2);
  assert.equal((await store.increment('other', 60_000)).count, 1);
  // The key lives at <prefix>fw:<key> and expires with its window.
  const ttl = Number(await redis.command('PTTL', `${store.prefix}fw:k`));
  assert.ok(ttl > 0 && ttl <= 60_000, String(ttl));
  assert.equal(await redis.command('GET', `${store.prefix}fw:k`), '2');
});

test('fixed window: 200 concurrent increments count 1..200, each once', async (t) => {
  const store = storeFor(t);
  // Two stores (two connections) racing, as two processes would.
  const other = storeFor(t, redis, { prefix: store.prefix });
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? store : other).increment('hot', 60_000)),
  );
  const counts = results.map((r) => r.count).sort((a, b) => a - b);
  assert.deepEqual(
    counts,
    Array.from({ length: 200 }, (_, i) => i + 1),
  );
  // One window for all of them.
  assert.equal(new Set(results.map((r) => Math.round(r.resetAt / 1000))).size <= 2, true);
});

test('fixed window: a new window starts after the old one ends', async (t) => {
  const store = storeFor(t);
  const first = await store.increment('w', 200);
  assert.equal((await store.increment('w', 200)).count, 2);
  assert.ok(await eventually(() => Date.now() > first.resetAt + 50, WAIT_MS));
  assert.ok(
    await eventually(async () => (await store.increment('w', 200)).count === 1, WAIT_MS, 100),
  );
});

test('token bucket: a full bucket of `capacity`, then refused, atomically', async (t) => {
  const store = storeFor(t);
  // 50 tokens refilling at 50 per hour: no refill worth a token during the test.
  const refill = 50 / 3_600_000;
  const takes = await Promise.all(Array.from({ length: 200 }, () => store.take('b', 50, refill)));
  assert.equal(takes.filter((r) => r.allowed).length, 50);
  const remaining = takes
    .filter((r) => r.allowed)
    .map((r) => r.remaining)
    .sort((a, b) => b - a);
  assert.deepEqual(
    remaining,
    Array.from({ length: 50 }, (_, i) => 49 - i),
  );
  for (const r of takes) {
    assert.ok(r.resetAt > Date.now(), 'the next token is in the future');
  }
  const ttl = Number(await redis.command('PTTL', `${store.prefix}tb:b`));
  assert.ok(ttl > 0, `the bucket expires when full again (PTTL ${ttl})`);
});

test('token bucket: tokens come back over time', async (t) => {
  const store = storeFor(t);
  const refill = 2 / 400; // 2 tokens per 400 ms
  assert.equal((await store.take('r', 2, refill)).allowed, true);
  assert.equal((await store.take('r', 2, refill)).allowed, true);
  const refused = await store.take('r', 2, refill);
  assert.equal(refused.allowed, false);
  assert.equal(refused.remaining, 0);
  assert.ok(await eventually(async () => (await store.take('r', 2, refill)).allowed, WAIT_MS, 100));
});

test('reset() forgets both kinds of counter', async (t) => {
  const store = storeFor(t);
  await store.increment('x', 60_000);
  await store.increment('x', 60_000);
  await store.take('x', 1, 1 / 60_000);
  assert.equal((await store.take('x', 1, 1 / 60_000)).allowed, false);
  await store.reset('x');
  assert.equal((await store.increment('x', 60_000)).count, 1);
  assert.equal((await store.take('x', 1, 1 / 60_000)).allowed, true);
});

test('the scripts survive SCRIPT FLUSH (EVALSHA falls back to EVAL)', async (t) => {
  const store = storeFor(t);
  assert.equal((await store.increment('s', 60_000)).count, 1);
  await redis.command('SCRIPT', 'FLUSH');
  assert.equal((await store.increment('s', 60_000)).count, 2);
  await redis.command('SCRIPT', 'FLUSH');
  assert.equal((await store.take('s', 3, 0.001)).allowed, true);
});

test('requests at start-up wait for the first connection and are counted', async (t) => {
  const store = storeFor(t);
  // No await between creating and using: the connection is still being made.
  const results = await Promise.all([
    store.increment('boot', 60_000),
    store.increment('boot', 60_000),
  ]);
  assert.deepEqual(results.map((r) => r.count).sort(), [1, 2]);
  await store.ready();
  assert.equal(store.isReady, true);
});

test('rateLimit() with the Redis store: max per window across two servers', async (t) => {
  const prefix = `shared${++prefixes}:`;
  const served = await Promise.all(
    [0, 1].map(async () => {
      const store = storeFor(t, redis, { prefix });
      await store.ready();
      return serve(t, (server) => {
        server.requestMiddleware(rateLimit({ windowMs: 60_000, max: 3, store }));
        server.get('/', (ctx) => {
          ctx.setResponseBody('ok');
        });
      });
    }),
  );
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const res = await fetch(`${served[i % 2]!.base}/`, { signal: AbortSignal.timeout(10_000) });
    statuses.push(res.status);
    if (res.status === 429) {
      assert.ok(Number(res.headers.get('retry-after')) >= 1);
      assert.equal(res.headers.get('ratelimit-remaining'), '0');
      assert.deepEqual(await res.json(), {
        error: 'Too Many Requests',
        message: 'Too many requests, please try again later.',
      });
    } else {
      assert.equal(res.headers.get('ratelimit-limit'), '3');
      await res.text();
    }
  }
  assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429, 429, 429]);
});

test('Redis killed: calls fail at once, requests go through, counting resumes', async (t) => {
  const own = await RedisServer.start();
  t.after(() => own.stop());
  const outages: Error[] = [];
  const store = storeFor(t, own, { onError: (error) => outages.push(error) });
  await store.ready();
  const { base } = await limitedServer(t, store, 2);
  assert.deepEqual(await statuses(base, 3), [200, 200, 429]);

  await own.kill();
  assert.ok(await eventually(() => !store.isReady, WAIT_MS));
  await assert.rejects(store.increment('k', 60_000), /unreachable/);
  // The limiter lets everything through while the store fails.
  const errors = silenceConsoleError(t);
  assert.deepEqual(await statuses(base, 4), [200, 200, 200, 200]);
  assert.equal(errors.length, 1, 'the failure is logged once');
  assert.equal(outages.length, 1, outages.map((e) => e.message).join('\n'));

  await own.restart();
  assert.ok(await eventually(() => store.isReady, WAIT_MS));
  // A fresh Redis: a fresh window.
  assert.deepEqual(await statuses(base, 3), [200, 200, 429]);
});

test('a frozen Redis cannot hang requests: calls time out and requests go through', async (t) => {
  const own = await RedisServer.start();
  t.after(() => own.stop());
  const store = storeFor(t, own, { timeoutMs: 200 });
  await store.ready();
  const { base } = await limitedServer(t, store, 1);
  assert.deepEqual(await statuses(base, 2), [200, 429]);

  own.freeze();
  await assert.rejects(store.increment('k', 60_000), /timed out|unreachable|Socket timeout/i);
  silenceConsoleError(t);
  assert.deepEqual(await statuses(base, 3), [200, 200, 200]);

  own.thaw();
  assert.ok(
    await eventually(
      async () => {
        try {
          await store.increment('probe', 60_000);
          return true;
        } catch {
          return false;
        }
      },
      WAIT_MS,
      100,
    ),
  );
  // The window from before the freeze still holds.
  assert.deepEqual(await statuses(base, 1), [429]);
});

test('Redis down from the start: requests go through after at most timeoutMs', async (t) => {
  const store = storeFor(t, RedisServer.on(await freePort()), { timeoutMs: 300 });
  await assert.rejects(store.ready(), /unreachable/);
  await assert.rejects(store.increment('k', 1000), /unreachable/);
  await assert.rejects(store.take('k', 1, 1), /unreachable/);
  await assert.rejects(store.reset('k'), /unreachable/);
  assert.equal(store.isReady, false);
});

test('close() ends the connection; later calls fail', async (t) => {
  const store = storeFor(t);
  await store.ready();
  await store.close();
  assert.equal(store.isReady, false);
  await assert.rejects(store.increment('k', 1000), /closed/);
  await store.close();
});

test('bad options throw HL_ERR_CONFIG naming the option', () => {
  const cases: [RedisRateLimitStoreOptions, RegExp][] = [
    [{ url: 'localhost:6379' }, /url/],
    [{ url: redis.url, prefix: null as unknown as string }, /prefix/],
    [{ url: redis.url, timeoutMs: 0 }, /timeoutMs/],
    [{ url: redis.url, timeoutMs: Number.NaN }, /timeoutMs/],
    [{ url: redis.url, reconnect: 5 as unknown as object }, /reconnect/],
    [{ url: redis.url, redisOptions: 'x' as unknown as object }, /redisOptions/],
  ];
  for (const [options, name] of cases) {
    assert.throws(
      () => redisRateLimitStore(options),
      (error: unknown) =>
        error instanceof HyperlaneError &&
        error.code === 'HL_ERR_CONFIG' &&
        name.test(error.message),
      JSON.stringify(options),
    );
  }
});

// ---- helpers -------------------------------------------------------------------------------

async function limitedServer(
  t: TestContext,
  store: RateLimitStore,
  max: number,
): Promise<{ base: string }> {
  return serve(t, (server) => {
    server.requestMiddleware(rateLimit({ windowMs: 60_000, max, store }));
    server.get('/', (ctx) => {
      ctx.setResponseBody('ok');
    });
  });
}

async function statuses(base: string, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${base}/`, { signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    out.push(res.status);
  }
  return out;
}

/** Collects console.error calls (the limiter's "store failed" log) for the rest of the test. */
function silenceConsoleError(t: TestContext): unknown[][] {
  const calls: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => {
    calls.push(args);
  };
  t.after(() => {
    console.error = original;
  });
  return calls;
}
