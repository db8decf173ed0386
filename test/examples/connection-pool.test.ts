import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ConnectionPool,
  createConnectionPoolServer,
  createFakeDatabasePool,
  PoolClosedError,
  PoolTimeoutError,
  type PoolStats,
} from '../../examples/connection-pool.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A pool of numbered objects that records what it created and destroyed. */
function numberedPool(max: number, acquireTimeoutMs = 1000) {
  const created: { id: number }[] = [];
  const destroyed: { id: number }[] = [];
  const pool = new ConnectionPool<{ id: number }>({
    max,
    acquireTimeoutMs,
    create: async () => {
      await sleep(1);
      const resource = { id: created.length + 1 };
      created.push(resource);
      return resource;
    },
    destroy: async (resource) => {
      await sleep(1);
      destroyed.push(resource);
    },
  });
  return { pool, created, destroyed };
}

test('100 concurrent users never hold more than max resources, and all get served', async () => {
  const { pool, created } = numberedPool(5);
  let active = 0;
  let peak = 0;
  const results = await Promise.all(
    Array.from({ length: 100 }, (_, user) =>
      pool.use(async (resource) => {
        active++;
        peak = Math.max(peak, active);
        assert.ok(pool.stats().size <= 5);
        // Varying hold times so releases and new arrivals interleave.
        await sleep(user % 7);
        active--;
        return resource.id;
      }),
    ),
  );
  assert.equal(results.length, 100);
  assert.equal(peak, 5, 'the bound is reached, never exceeded');
  assert.equal(created.length, 5, 'resources are reused rather than reopened');
  assert.ok(results.every((id) => id >= 1 && id <= 5));
  const stats = pool.stats();
  assert.deepEqual(
    [stats.size, stats.idle, stats.inUse, stats.waiting, stats.acquired],
    [5, 5, 0, 0, 100],
  );
  await pool.drain();
});

test('waiters are served first come, first served; a newcomer does not overtake them', async () => {
  const { pool } = numberedPool(1);
  const held = await pool.acquire();
  const order: string[] = [];
  const waiters = ['a', 'b', 'c'].map((name) =>
    pool.acquire().then((resource) => {
      order.push(name);
      return resource;
    }),
  );
  assert.equal(pool.stats().waiting, 3);
  pool.release(held);
  const first = await waiters[0]!;
  assert.equal(first, held, 'the released resource is handed straight to the oldest waiter');
  const late = pool.acquire().then((resource) => {
    order.push('late');
    return resource;
  });
  pool.release(first);
  pool.release(await waiters[1]!);
  pool.release(await waiters[2]!);
  pool.release(await late);
  assert.deepEqual(order, ['a', 'b', 'c', 'late']);
  await pool.drain();
});

test('acquire rejects with a clear error after the timeout and leaves the queue', async () => {
  const { pool } = numberedPool(1, 30);
  const held = await pool.acquire();
  const before = pool.acquire();
  const timedOut = assert.rejects(pool.acquire(), (error: unknown) => {
    assert.ok(error instanceof PoolTimeoutError);
    assert.equal(error.code, 'POOL_TIMEOUT');
    assert.match(error.message, /Timed out after 30 ms/);
    return true;
  });
  await assert.rejects(before, PoolTimeoutError);
  await timedOut;
  const stats = pool.stats();
  assert.equal(stats.waiting, 0, 'timed-out callers left the queue');
  assert.equal(stats.timeouts, 2);
  // The abandoned waiters must not swallow the next release: a fresh caller gets it.
  pool.release(held);
  assert.equal(await pool.acquire(), held);
  assert.equal(pool.stats().inUse, 1);
  await assert.rejects(pool.acquire(), PoolTimeoutError);
  pool.release(held);
  await pool.drain();
});

test('use() discards the resource when the callback throws, and a waiter gets a fresh one', async () => {
  const { pool, created, destroyed } = numberedPool(1);
  const failing = pool.use(async () => {
    await sleep(5);
    throw new Error('query failed');
  });
  const waiting = pool.use((resource) => resource.id);
  await assert.rejects(failing, /query failed/);
  assert.equal(await waiting, 2, 'the waiter got a newly created resource');
  assert.deepEqual(
    destroyed.map((resource) => resource.id),
    [1],
  );
  assert.equal(created.length, 2);
  const stats = pool.stats();
  assert.equal(stats.inUse, 0);
  assert.equal(stats.size, 1);
  await pool.drain();
});

test('a failing create rejects the oldest waiter and frees its slot', async () => {
  let attempts = 0;
  const pool = new ConnectionPool<string>({
    max: 1,
    acquireTimeoutMs: 1000,
    create: () => {
      attempts++;
      return attempts === 1
        ? Promise.reject(new Error('ECONNREFUSED db:5432'))
        : Promise.resolve('conn');
    },
  });
  await assert.rejects(pool.acquire(), /ECONNREFUSED/);
  assert.equal(pool.stats().size, 0);
  const conn = await pool.acquire();
  assert.equal(conn, 'conn');
  pool.release(conn);
  await pool.drain();
  await assert.rejects(pool.acquire(), PoolClosedError);
});

test('misuse is refused with errors that name the problem', async () => {
  assert.throws(
    () => new ConnectionPool({ max: 0, acquireTimeoutMs: 10, create: async () => 1 }),
    /option max must be an integer >= 1, got 0/,
  );
  assert.throws(
    () => new ConnectionPool({ max: 1, acquireTimeoutMs: -1, create: async () => 1 }),
    /acquireTimeoutMs/,
  );
  const { pool } = numberedPool(2);
  const resource = await pool.acquire();
  pool.release(resource);
  assert.throws(() => pool.release(resource), /not in use from this pool/);
  assert.throws(() => pool.release({ id: 99 }), /not in use from this pool/);
  await pool.drain();
});

test('drain rejects waiters, closes idle resources now and busy ones on release', async () => {
  const { pool, destroyed } = numberedPool(2);
  const busy = await pool.acquire();
  const idle = await pool.acquire();
  pool.release(idle);
  // Take the idle one again and queue one more, so there is a waiter to reject.
  const second = await pool.acquire();
  const waiter = pool.acquire();
  let drainedAt = 0;
  const drained = pool.drain().then(() => {
    drainedAt = destroyed.length;
  });
  await assert.rejects(waiter, PoolClosedError);
  await assert.rejects(pool.acquire(), PoolClosedError);
  assert.equal(pool.stats().draining, true);
  pool.release(second);
  await sleep(10);
  assert.equal(drainedAt, 0, 'drain waits for resources still in use');
  pool.release(busy);
  await drained;
  assert.equal(drainedAt, 2);
  assert.deepEqual(destroyed.map((resource) => resource.id).sort(), [1, 2]);
  assert.equal(pool.stats().size, 0);
  assert.equal(pool.drain(), pool.drain(), 'drain is idempotent');
});

test('the server queries through the pool, keeps the bound under load and shows stats', async () => {
  const pool = createFakeDatabasePool({ max: 4, latencyMs: 3, acquireTimeoutMs: 5000 });
  const logged: string[] = [];
  const log = (line: string): number => logged.push(line);
  const running = await createConnectionPoolServer({ host: '127.0.0.1', port: 0, pool, log }).run();
  const base = `http://127.0.0.1:${running.port}`;
  try {
    const responses = await Promise.all(Array.from({ length: 100 }, () => fetch(`${base}/query`)));
    const bodies = await Promise.all(
      responses.map((response) => {
        assert.equal(response.status, 200);
        return response.json() as Promise<{ connection: number; rows: { value: number }[] }>;
      }),
    );
    assert.ok(bodies.every((body) => body.connection >= 1 && body.connection <= 4));
    assert.ok(bodies.every((body) => body.rows[0]!.value === 42));

    const stats = (await (await fetch(`${base}/pool/stats`)).json()) as PoolStats;
    assert.equal(stats.max, 4);
    // Exactly how many were opened depends on how the requests interleave; never more than max.
    assert.ok(stats.created >= 1 && stats.created <= 4, `created ${stats.created}`);
    assert.ok(stats.size <= 4);
    assert.equal(stats.acquired, 100);
    assert.equal(stats.inUse, 0);

    // A broken connection is answered 500 without internals and thrown away.
    const failed = await fetch(`${base}/query?fail=1`);
    assert.equal(failed.status, 500);
    const failure = (await failed.json()) as Record<string, string>;
    assert.equal(failure.code, 'DB_ERROR');
    assert.doesNotMatch(JSON.stringify(failure), /reset by peer|SELECT/);
    assert.equal(pool.stats().destroyed, 1);
    assert.equal(logged.length, 1);
    assert.match(logged[0]!, /GET \/query -> 500: Error: connection \d reset by peer/);

    // Liveness after the failure.
    const again = await fetch(`${base}/query`);
    assert.equal(again.status, 200);
  } finally {
    await running.close({ timeout: 2000 });
    await pool.drain();
  }
});

test('the server answers 503 with Retry-After when no connection frees up in time', async () => {
  const pool = createFakeDatabasePool({ max: 1, latencyMs: 400, acquireTimeoutMs: 20 });
  const logged: string[] = [];
  const log = (line: string): number => logged.push(line);
  const running = await createConnectionPoolServer({ host: '127.0.0.1', port: 0, pool, log }).run();
  const base = `http://127.0.0.1:${running.port}`;
  try {
    const slow = fetch(`${base}/query`);
    // Wait until the first request holds the only connection, so the second one must queue.
    while (pool.stats().inUse === 0) await sleep(2);
    const rejected = await fetch(`${base}/query`);
    assert.equal(rejected.status, 503);
    assert.equal(rejected.headers.get('retry-after'), '1');
    assert.equal(((await rejected.json()) as { code: string }).code, 'POOL_TIMEOUT');
    assert.match(logged.join('\n'), /-> 503: HttpError: All database connections are busy/);
    assert.equal((await slow).status, 200);
    assert.equal((await fetch(`${base}/pool/stats`)).status, 200);
  } finally {
    await running.close({ timeout: 2000 });
    await pool.drain();
  }
});
