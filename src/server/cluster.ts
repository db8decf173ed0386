import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { HyperlaneError } from '../error/hyperlane-error.js';

/** How many worker processes `server.workers()` starts: a count, or `'auto'` (one per core). */
export type WorkerCount = number | 'auto';

/** What a worker reports once it listens, and what the primary asks of it. */
type ClusterMessage =
  | { readonly hyperlane: 'ready'; readonly port: number; readonly host: string }
  | { readonly hyperlane: 'shutdown'; readonly timeout: number };

/** The address and close handle the primary exposes, shaped like a running server. */
export interface ClusterHandle {
  readonly port: number;
  readonly host: string;
  close(options?: { timeout?: number }): Promise<void>;
  readonly closed: Promise<void>;
}

const FIRST_RESTART_DELAY_MS = 100;
const MAX_RESTART_DELAY_MS = 10_000;
// A worker that lived this long was healthy: the next crash starts the backoff over.
const HEALTHY_LIFETIME_MS = 5_000;
// Extra time a worker gets beyond its close timeout before it is killed.
const EXIT_GRACE_MS = 2_000;
// How long a drained worker waits for its own handles to close before it exits anyway.
const WORKER_EXIT_GRACE_MS = 500;

/** The number of workers `count` means here. */
export function resolveWorkerCount(count: WorkerCount): number {
  return count === 'auto' ? availableParallelism() : count;
}

/** Whether this process is a worker started by a hyperlane-ts primary. */
export function isHyperlaneWorker(): boolean {
  return cluster.isWorker && process.env.HYPERLANE_WORKER === '1';
}

/** A worker's id for log lines (`undefined` in the primary or a single process). */
export function workerId(): number | undefined {
  return cluster.isWorker ? cluster.worker?.id : undefined;
}

/**
 * In a worker: tells the primary where this worker listens, and closes gracefully (then leaves
 * the cluster) when the primary asks, or on SIGTERM/SIGINT, which a terminal sends to every
 * process of the group at once.
 */
export function serveAsWorker(running: ClusterHandle, closeTimeout: number): void {
  const worker = cluster.worker!;
  // The primary may be gone already (killed with its whole process group): a failed IPC send
  // then must not take this worker down before it has drained.
  worker.on('error', noop);
  let shuttingDown = false;
  const shutDown = (timeout: number): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    void running.close({ timeout }).finally(() => {
      if (worker.isConnected()) worker.disconnect();
      // Drained: leave even if the app holds other handles (a timer, a pool) open. The grace
      // lets exit hooks and log flushes finish; a process that empties sooner exits sooner.
      setTimeout(() => process.exit(0), WORKER_EXIT_GRACE_MS).unref();
    });
  };
  worker.on('message', (message: ClusterMessage) => {
    if (message?.hyperlane === 'shutdown') shutDown(message.timeout);
  });
  const onSignal = (): void => shutDown(closeTimeout);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  worker.send({ hyperlane: 'ready', port: running.port, host: running.host });
}

/**
 * The primary of a cluster: forks the workers (which run the user's script again and listen
 * on the shared port), replaces crashed ones with backoff, and drains them all on `close()`
 * or on SIGTERM/SIGINT.
 */
export class ClusterPrimary implements ClusterHandle {
  port = 0;
  host = '';
  readonly closed: Promise<void>;
  private readonly count: number;
  private readonly closeTimeout: number;
  private readonly workers = new Set<Worker>();
  private readonly startedAt = new Map<Worker, number>();
  private closing: Promise<void> | null = null;
  private restartDelay = FIRST_RESTART_DELAY_MS;
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  /** Workers that have reported they listen (the others cannot receive a shutdown message). */
  private readonly listening = new Set<Worker>();
  private resolveClosed!: () => void;
  private readonly onSignal = (): void => {
    void this.close().then(() => process.exit(0));
  };

  /**
   * @param count - worker processes to keep running
   * @param closeTimeout - how long each worker may drain on close
   */
  constructor(count: number, closeTimeout: number) {
    this.count = count;
    this.closeTimeout = closeTimeout;
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  /** Forks every worker; resolves once all listen, rejects if one dies before it does. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      let ready = 0;
      const onReady = (): void => {
        if (++ready === this.count) resolve();
      };
      // From the first fork on, a signal means "drain and exit 0", during start-up too.
      process.on('SIGTERM', this.onSignal);
      process.on('SIGINT', this.onSignal);
      const onEarlyExit = (worker: Worker, code: number | null, signal: string | null): void => {
        reject(
          new HyperlaneError(
            'HL_ERR_SERVER_STATE',
            `worker ${worker.id} exited before it listened (code ${code}, signal ${signal}); see its output above`,
          ),
        );
        void this.close({ timeout: 0 });
      };
      for (let i = 0; i < this.count; i++) this.fork(onReady, onEarlyExit);
    });
  }

  /** Stops replacing workers, asks each to drain, and waits for all to exit. */
  close(options?: { timeout?: number }): Promise<void> {
    if (this.closing !== null) return this.closing;
    const timeout = options?.timeout ?? this.closeTimeout;
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    const exits = [...this.workers].map((worker) => this.stopWorker(worker, timeout));
    // Signal handlers stay until every worker is gone: a second Ctrl-C waits for the same drain.
    this.closing = Promise.all(exits).then(() => {
      process.off('SIGTERM', this.onSignal);
      process.off('SIGINT', this.onSignal);
      this.resolveClosed();
    });
    return this.closing;
  }

  private fork(
    onReady: () => void,
    onEarlyExit: (worker: Worker, code: number | null, signal: string | null) => void,
  ): void {
    const worker = cluster.fork({ HYPERLANE_WORKER: '1' });
    // A failed IPC send or fork is reported, never an unhandled 'error' that kills the primary.
    worker.on('error', (error) => console.error(`[hyperlane-ts] worker ${worker.id}:`, error));
    this.workers.add(worker);
    this.startedAt.set(worker, Date.now());
    let listening = false;
    worker.on('message', (message: ClusterMessage) => {
      if (message?.hyperlane !== 'ready' || listening) return;
      listening = true;
      this.listening.add(worker);
      this.port = message.port;
      this.host = message.host;
      onReady();
    });
    worker.once('exit', (code, signal) => {
      this.workers.delete(worker);
      this.listening.delete(worker);
      const lived = Date.now() - (this.startedAt.get(worker) ?? Date.now());
      this.startedAt.delete(worker);
      if (this.closing !== null) return;
      if (!listening) {
        onEarlyExit(worker, code, signal);
        return;
      }
      this.replace(worker, code, signal, lived);
    });
  }

  /** A worker died while serving: start another after a delay that grows while crashes repeat. */
  private replace(worker: Worker, code: number | null, signal: string | null, lived: number): void {
    if (lived >= HEALTHY_LIFETIME_MS) this.restartDelay = FIRST_RESTART_DELAY_MS;
    const delay = this.restartDelay;
    this.restartDelay = Math.min(this.restartDelay * 2, MAX_RESTART_DELAY_MS);
    console.error(
      `[hyperlane-ts] worker ${worker.id} exited (code ${code}, signal ${signal}); starting a replacement in ${delay} ms`,
    );
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.closing !== null) return;
      this.fork(noop, (failed, failedCode, failedSignal) =>
        this.replace(failed, failedCode, failedSignal, 0),
      );
    }, delay);
    this.restartTimers.add(timer);
  }

  private stopWorker(worker: Worker, timeout: number): Promise<void> {
    return new Promise((resolve) => {
      if (worker.isDead()) {
        resolve();
        return;
      }
      const kill = setTimeout(() => worker.process.kill('SIGKILL'), timeout + EXIT_GRACE_MS);
      worker.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      // A worker still starting has no listener for the message yet: signal it instead.
      if (this.listening.has(worker) && worker.isConnected()) {
        worker.send({ hyperlane: 'shutdown', timeout });
      } else worker.process.kill('SIGTERM');
    });
  }
}

function noop(): void {}
