/**
 * A generic async connection pool, and a small server that queries a fake database through it.
 * The article's pool was a `Vec` behind a mutex that handed out `None` when empty; this one is
 * bounded, queues waiters in arrival order, times them out, and throws away a resource whose
 * user failed instead of handing a possibly broken connection to the next caller.
 * Run: `node .build/examples/connection-pool.js`, then GET http://localhost:60006/query and
 * http://localhost:60006/pool/stats.
 */
import { HttpError, Server, type Context } from '../src/index.js';
import { checkPrefix, createRouteScope, joinPath, type MountOptions } from './mount.js';

/** How a {@link ConnectionPool} makes, bounds and throws away its resources. */
export interface PoolOptions<T> {
  /** Opens one resource (a connection). A rejection is passed to the caller that waited longest. */
  create: () => Promise<T>;
  /** Closes one resource for good. Failures are counted in `stats().destroyFailures`, never thrown. */
  destroy?: (resource: T) => Promise<void>;
  /** Most resources alive at once: idle, in use, being opened and being closed together. */
  max: number;
  /** How long `acquire()` may wait (queued or for `create`) before it rejects with {@link PoolTimeoutError}. */
  acquireTimeoutMs: number;
}

/** A snapshot of a pool's state and lifetime counters. */
export interface PoolStats {
  /** The configured bound. */
  max: number;
  /** Resources alive now: idle + in use + being opened + being closed. Never above `max`. */
  size: number;
  /** Resources ready to be handed out. */
  idle: number;
  /** Resources handed out and not yet released. */
  inUse: number;
  /** `create()` calls still running. */
  pending: number;
  /** Callers queued in `acquire()`. */
  waiting: number;
  /** Resources opened since the pool was made. */
  created: number;
  /** Resources closed since the pool was made. */
  destroyed: number;
  /** Successful `acquire()` calls. */
  acquired: number;
  /** `acquire()` calls that gave up after `acquireTimeoutMs`. */
  timeouts: number;
  /** `destroy()` calls that rejected. */
  destroyFailures: number;
  /** True once `drain()` was called. */
  draining: boolean;
}

/** `acquire()` waited `acquireTimeoutMs` and got nothing. `code` is `POOL_TIMEOUT`. */
export class PoolTimeoutError extends Error {
  /** Stable code for logs and error mapping. */
  readonly code = 'POOL_TIMEOUT';
  /** The timeout that ran out, in milliseconds. */
  readonly timeoutMs: number;

  /** @param timeoutMs - the timeout that ran out; `max` - the pool's bound, named in the message */
  constructor(timeoutMs: number, max: number) {
    super(
      `Timed out after ${timeoutMs} ms waiting for a pool resource (all ${max} in use or being opened)`,
    );
    this.name = 'PoolTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** The pool was drained: no more resources are handed out. `code` is `POOL_CLOSED`. */
export class PoolClosedError extends Error {
  /** Stable code for logs and error mapping. */
  readonly code = 'POOL_CLOSED';

  constructor() {
    super('The pool is draining or drained; acquire() no longer hands out resources');
    this.name = 'PoolClosedError';
  }
}

/** One caller queued in `acquire()`. */
interface Waiter<T> {
  resolve: (resource: T) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

function checkOptions<T>(options: PoolOptions<T>): void {
  if (typeof options.create !== 'function') {
    throw new TypeError('ConnectionPool option create must be a function returning a promise');
  }
  if (options.destroy !== undefined && typeof options.destroy !== 'function') {
    throw new TypeError('ConnectionPool option destroy must be a function when given');
  }
  if (!Number.isInteger(options.max) || options.max < 1) {
    throw new RangeError(`ConnectionPool option max must be an integer >= 1, got ${options.max}`);
  }
  if (!Number.isFinite(options.acquireTimeoutMs) || options.acquireTimeoutMs < 0) {
    throw new RangeError(
      `ConnectionPool option acquireTimeoutMs must be a finite number >= 0, got ${options.acquireTimeoutMs}`,
    );
  }
}

/**
 * A bounded pool of async resources. `acquire()` hands out an idle resource, opens a new one
 * while fewer than `max` are alive, or queues the caller (first come, first served) until one is
 * released; a caller that waits longer than `acquireTimeoutMs` gets a {@link PoolTimeoutError}
 * and leaves the queue. Prefer {@link ConnectionPool.use}, which always gives the resource back.
 *
 * @example
 * const pool = new ConnectionPool({ create: connect, destroy: (c) => c.end(), max: 10, acquireTimeoutMs: 1000 });
 * const rows = await pool.use((connection) => connection.query('SELECT 1'));
 */
export class ConnectionPool<T> {
  readonly #create: () => Promise<T>;
  readonly #destroy: ((resource: T) => Promise<void>) | undefined;
  readonly #max: number;
  readonly #acquireTimeoutMs: number;
  // LIFO: the most recently used connection is the one least likely to have gone stale.
  readonly #idle: T[] = [];
  readonly #inUse = new Set<T>();
  readonly #waiters: Waiter<T>[] = [];
  #creating = 0;
  #closing = 0;
  #created = 0;
  #destroyed = 0;
  #acquired = 0;
  #timeouts = 0;
  #destroyFailures = 0;
  #draining = false;
  #drained: Promise<void> | undefined = undefined;
  #resolveDrained: (() => void) | undefined = undefined;

  /** @throws TypeError or RangeError naming the option, for invalid options */
  constructor(options: PoolOptions<T>) {
    checkOptions(options);
    this.#create = options.create;
    this.#destroy = options.destroy;
    this.#max = options.max;
    this.#acquireTimeoutMs = options.acquireTimeoutMs;
  }

  /** Resources alive, counting those being opened and closed: this is what `max` bounds. */
  get #size(): number {
    return this.#idle.length + this.#inUse.size + this.#creating + this.#closing;
  }

  /**
   * Gets a resource: an idle one, a new one (while fewer than `max` are alive), or the next one
   * released, in the order callers asked.
   * @throws PoolTimeoutError after `acquireTimeoutMs`; PoolClosedError once draining;
   *   whatever `create()` rejected with, for the caller that waited longest
   */
  acquire(): Promise<T> {
    if (this.#draining) return Promise.reject(new PoolClosedError());
    // Only take the fast path when nobody is queued, so a newcomer never overtakes a waiter.
    if (this.#waiters.length === 0 && this.#idle.length > 0) {
      return Promise.resolve(this.#handOut(this.#idle.pop()!));
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const index = this.#waiters.indexOf(waiter);
          if (index === -1) return;
          this.#waiters.splice(index, 1);
          this.#timeouts++;
          reject(new PoolTimeoutError(this.#acquireTimeoutMs, this.#max));
        }, this.#acquireTimeoutMs),
      };
      this.#waiters.push(waiter);
      this.#pump();
    });
  }

  /**
   * Gives a resource back for reuse (or closes it if the pool is draining).
   * @throws Error if `resource` is not currently acquired from this pool (a double release)
   */
  release(resource: T): void {
    this.#takeBack(resource, 'release');
    if (this.#draining) {
      this.#close(resource);
      return;
    }
    this.#idle.push(resource);
    this.#pump();
  }

  /**
   * Closes an acquired resource instead of returning it, for one that may be broken; a queued
   * caller then gets a freshly opened one. Resolves once it is closed.
   * @throws Error if `resource` is not currently acquired from this pool
   */
  discard(resource: T): Promise<void> {
    this.#takeBack(resource, 'discard');
    return this.#close(resource);
  }

  /**
   * Runs `fn` with a resource and gives it back afterwards. If `fn` throws, the resource is
   * discarded (closed, not reused) and the error is rethrown.
   */
  async use<R>(fn: (resource: T) => R | Promise<R>): Promise<R> {
    const resource = await this.acquire();
    let result: R;
    try {
      result = await fn(resource);
    } catch (error) {
      await this.discard(resource);
      throw error;
    }
    this.release(resource);
    return result;
  }

  /**
   * Stops handing out resources: queued and later `acquire()` calls reject with
   * {@link PoolClosedError}, idle resources are closed at once, resources in use are closed as
   * they are released. Resolves when no resource is left alive.
   */
  drain(): Promise<void> {
    if (this.#drained !== undefined) return this.#drained;
    this.#draining = true;
    this.#drained = new Promise<void>((resolve) => {
      this.#resolveDrained = resolve;
    });
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new PoolClosedError());
    }
    for (const resource of this.#idle.splice(0)) void this.#close(resource);
    this.#checkDrained();
    return this.#drained;
  }

  /** A snapshot of the pool's state and counters. */
  stats(): PoolStats {
    return {
      max: this.#max,
      size: this.#size,
      idle: this.#idle.length,
      inUse: this.#inUse.size,
      pending: this.#creating,
      waiting: this.#waiters.length,
      created: this.#created,
      destroyed: this.#destroyed,
      acquired: this.#acquired,
      timeouts: this.#timeouts,
      destroyFailures: this.#destroyFailures,
      draining: this.#draining,
    };
  }

  #handOut(resource: T): T {
    this.#inUse.add(resource);
    this.#acquired++;
    return resource;
  }

  #takeBack(resource: T, action: string): void {
    if (!this.#inUse.delete(resource)) {
      throw new Error(`ConnectionPool.${action}(): the resource is not in use from this pool`);
    }
  }

  /** Serves queued callers from idle resources, then opens as many as the queue needs and `max` allows. */
  #pump(): void {
    while (this.#waiters.length > 0 && this.#idle.length > 0) {
      const waiter = this.#waiters.shift()!;
      clearTimeout(waiter.timer);
      waiter.resolve(this.#handOut(this.#idle.pop()!));
    }
    // A resource being opened is not tied to one caller: whoever is first in line when it is
    // ready gets it, which keeps the queue strictly FIFO even when callers time out meanwhile.
    while (!this.#draining && this.#waiters.length > this.#creating && this.#size < this.#max) {
      this.#open();
    }
  }

  #open(): void {
    this.#creating++;
    let opening: Promise<T>;
    try {
      opening = this.#create();
    } catch (error) {
      opening = Promise.reject(error);
    }
    opening.then(
      (resource) => {
        this.#creating--;
        this.#created++;
        if (this.#draining) {
          void this.#close(resource);
          return;
        }
        this.#idle.push(resource);
        this.#pump();
      },
      (error: unknown) => {
        this.#creating--;
        // The oldest caller learns why (a database that is down should fail fast, not time out).
        const waiter = this.#waiters.shift();
        if (waiter !== undefined) {
          clearTimeout(waiter.timer);
          waiter.reject(error);
        }
        this.#pump();
        this.#checkDrained();
      },
    );
  }

  /** Closes a resource that is no longer idle or in use; it counts against `max` until closed. */
  async #close(resource: T): Promise<void> {
    this.#closing++;
    try {
      if (this.#destroy !== undefined) await this.#destroy(resource);
    } catch {
      this.#destroyFailures++;
    } finally {
      this.#closing--;
      this.#destroyed++;
    }
    this.#pump();
    this.#checkDrained();
  }

  #checkDrained(): void {
    if (this.#draining && this.#size === 0) this.#resolveDrained?.();
  }
}

// ---- the example server: a fake database behind the pool ----------------------------------------

/** A fake database connection: every query really waits `latencyMs` on the event loop. */
export class FakeConnection {
  /** 1-based, in the order connections were opened. */
  readonly id: number;
  /** Queries this connection has run. */
  queries = 0;
  /** False once closed; a closed connection refuses queries. */
  open = true;
  readonly #latencyMs: number;

  /** @param id - the connection number; `latencyMs` - how long each query takes */
  constructor(id: number, latencyMs: number) {
    this.id = id;
    this.#latencyMs = latencyMs;
  }

  /** Runs a query; `fail` makes it break the way a dropped connection would. */
  async query(sql: string, fail = false): Promise<{ rows: { value: number }[]; sql: string }> {
    if (!this.open) throw new Error(`connection ${this.id} is closed`);
    await new Promise((resolve) => setTimeout(resolve, this.#latencyMs));
    this.queries++;
    if (fail) throw new Error(`connection ${this.id} reset by peer while running ${sql}`);
    return { rows: [{ value: 42 }], sql };
  }

  /** Closes the connection (takes a tick, like a real socket close). */
  async close(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.open = false;
  }
}

/** Options of {@link createFakeDatabasePool}. */
export interface FakeDatabaseOptions {
  /** Pool bound. Default 10. */
  max?: number;
  /** Acquire timeout. Default 1000 ms. */
  acquireTimeoutMs?: number;
  /** Latency of each query. Default 5 ms. */
  latencyMs?: number;
  /** Latency of opening a connection. Default 2 ms. */
  connectMs?: number;
}

/** A pool of {@link FakeConnection}s with real async latency on connect and on every query. */
export function createFakeDatabasePool(
  options: FakeDatabaseOptions = {},
): ConnectionPool<FakeConnection> {
  const latencyMs = options.latencyMs ?? 5;
  const connectMs = options.connectMs ?? 2;
  let nextId = 1;
  return new ConnectionPool<FakeConnection>({
    max: options.max ?? 10,
    acquireTimeoutMs: options.acquireTimeoutMs ?? 1000,
    create: async () => {
      const id = nextId++;
      await new Promise((resolve) => setTimeout(resolve, connectMs));
      return new FakeConnection(id, latencyMs);
    },
    destroy: (connection) => connection.close(),
  });
}

/**
 * Builds the pool server: `GET /query` runs one query on a pooled connection (`?fail=1` breaks
 * the connection, which is then discarded), `GET /pool/stats` shows the pool's state.
 * A pool timeout answers 503 with `Retry-After`; a failed query answers 500 `DB_ERROR`.
 */
export function createConnectionPoolServer(
  options: { host?: string; port?: number } & ConnectionPoolMountOptions = {},
): Server {
  const server = new Server({ host: options.host ?? '0.0.0.0', port: options.port ?? 60006 });
  return mountConnectionPool(server, options);
}

/** Options for {@link mountConnectionPool}. */
export interface ConnectionPoolMountOptions extends MountOptions, FakeDatabaseOptions {
  /** The pool; by default a fake database pool from the other options (nobody drains it). */
  pool?: ConnectionPool<FakeConnection>;
  /** Where failures are logged, with their cause. Default `console.error`. */
  log?: (line: string) => void;
}

/**
 * Mounts `{prefix}/query` and `{prefix}/pool/stats` (see {@link createConnectionPoolServer})
 * and an error hook that logs, with their cause, the failures of those two routes only.
 */
export function mountConnectionPool(
  server: Server,
  options: ConnectionPoolMountOptions = {},
): Server {
  const prefix = checkPrefix(options.prefix);
  const pool = options.pool ?? createFakeDatabasePool(options);
  const log = options.log ?? ((line: string) => console.error(line));
  const scope = createRouteScope();
  server.errorHook((ctx, error) => {
    if (!scope.owns(ctx)) return;
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const status = error instanceof HttpError ? error.status : 500;
    log(`${ctx.getRequestMethod()} ${ctx.getRequestPath()} -> ${status}: ${String(cause)}`);
  });

  server.get(
    joinPath(prefix, '/query'),
    scope.route(async (ctx: Context) => {
      const fail = ctx.getRequestQuery('fail') === '1';
      const started = performance.now();
      try {
        const result = await pool.use(async (connection) => {
          const waitedMs = performance.now() - started;
          const { rows } = await connection.query('SELECT 42 AS value', fail);
          return { connection: connection.id, rows, waitedMs: Math.round(waitedMs * 100) / 100 };
        });
        ctx.setResponseStatusCode(200).setResponseBodyJson(result);
      } catch (error) {
        if (error instanceof PoolTimeoutError) {
          throw new HttpError(503, 'All database connections are busy, try again shortly', {
            code: error.code,
            headers: { 'Retry-After': '1' },
          });
        }
        if (error instanceof PoolClosedError) {
          throw new HttpError(503, 'The database pool is shutting down', { code: error.code });
        }
        // The connection error names hosts and statements: keep it for the logs only.
        throw new HttpError(500, 'Database operation failed', { code: 'DB_ERROR', cause: error });
      }
    }),
  );

  server.get(
    joinPath(prefix, '/pool/stats'),
    scope.route((ctx: Context) => {
      ctx.setResponseStatusCode(200).setResponseBodyJson(pool.stats());
    }),
  );
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const pool = createFakeDatabasePool();
  const running = await createConnectionPoolServer({
    pool,
    port: Number(process.env.PORT ?? 60006),
  }).run();
  console.log(`pool server on http://${running.host}:${running.port}/query and /pool/stats`);
  const shutdown = async (): Promise<void> => {
    await running.close();
    await pool.drain();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}
