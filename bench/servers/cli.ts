/**
 * What every benchmark server shares with the runner: how it learns its port and how it says
 * it is listening. Kept tiny so each server file reads as a standalone program.
 * @packageDocumentation
 */

/**
 * The port to bind: `argv[2]`, else `$PORT`, else 0 (a free port, reported on the ready line).
 * Throws on anything that is not an integer in 0–65535, so a typo fails at once.
 */
export function portFromArgs(): number {
  const raw = process.argv[2] ?? process.env.PORT ?? '0';
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`invalid port ${JSON.stringify(raw)}: expected an integer 0-65535`);
  }
  return port;
}

/** The host every target binds: loopback only, so a benchmark never exposes a server. */
export const BENCH_HOST = '127.0.0.1';

/**
 * Prints the `ready <port>` line the runner waits for. Called only once the socket is bound,
 * so the runner never sends load to a port nobody listens on.
 */
export function announceReady(port: number): void {
  answerMemoryRequests();
  process.stdout.write(`ready ${port}\n`);
}

/** What a server reports when the runner asks for its memory (after a full collection). */
export interface MemoryReport {
  heapUsed: number;
  external: number;
  rss: number;
}

/**
 * When started with an IPC channel (the idle-memory scenarios), answers `{ cmd: 'mem' }` with
 * a {@link MemoryReport} taken after two full collections (the runner starts it with
 * `--expose-gc`), so garbage never counts as memory held per connection.
 */
export function answerMemoryRequests(): void {
  if (process.send === undefined) return;
  process.on('message', (message: { cmd?: string }) => {
    if (message?.cmd !== 'mem') return;
    const collect = (globalThis as { gc?: () => void }).gc;
    collect?.();
    collect?.();
    const { heapUsed, external, rss } = process.memoryUsage();
    process.send!({ heapUsed, external, rss } satisfies MemoryReport);
  });
}

/**
 * Worker processes of the cluster targets: `$BENCH_WORKERS` (a count) or `'auto'` (one per
 * core), so the cluster scenario can be run with 1 and with all workers.
 */
export function workerCount(): number | 'auto' {
  const raw = process.env.BENCH_WORKERS ?? 'auto';
  if (raw === 'auto') return 'auto';
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`invalid BENCH_WORKERS ${JSON.stringify(raw)}: expected auto or a count`);
  }
  return count;
}
