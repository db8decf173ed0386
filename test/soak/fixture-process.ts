/**
 * The parent's side of `fixtures/server.ts`: spawns the fixture server in a child process
 * (optionally under a low open-file limit), waits for its port, asks it for stats, closes it
 * and watches it exit.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ServerConfig } from '../../src/index.js';
import type { FixtureMessage, FixtureStats, ParentMessage } from './fixtures/server.js';

export type { FixtureStats } from './fixtures/server.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/server.js', import.meta.url));

/** How to start the fixture. */
export interface FixtureOptions {
  /** Server config added to `{ host: '127.0.0.1', port: 0 }`. */
  config?: Partial<ServerConfig>;
  /** Run under this open-file limit (soft and hard). */
  nofile?: number;
  /** Start node with `--expose-gc` so stats can force a collection (default true). */
  exposeGc?: boolean;
  /** Give up waiting for the port after this long (default 20 s). */
  readyTimeoutMs?: number;
}

/** How the child ended. */
export interface FixtureExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running fixture server process. */
export interface FixtureProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** Asks the server for its stats (`gc`: after a forced full collection). */
  stats(gc?: boolean, timeoutMs?: number): Promise<FixtureStats>;
  /** Starts the graceful close; resolves once the server has called `close()`. */
  close(timeout?: number): Promise<void>;
  /** Resolves when `close()` resolved inside the child. */
  readonly closed: Promise<void>;
  /** Resolves when the process exits. */
  readonly exited: Promise<FixtureExit>;
  /** What the child wrote to stderr so far. */
  stderr(): string;
  /** SIGKILLs the child if it is still running (cleanup). */
  kill(): void;
}

function hasPrlimit(): boolean {
  try {
    return spawnSync('prlimit', ['--version'], { stdio: 'ignore' }).status === 0;
  } catch {
    return false;
  }
}

function command(options: FixtureOptions): { file: string; args: string[] } {
  const nodeArgs = options.exposeGc === false ? [FIXTURE] : ['--expose-gc', FIXTURE];
  if (options.nofile === undefined) return { file: process.execPath, args: nodeArgs };
  const limit = String(options.nofile);
  if (hasPrlimit()) {
    return {
      file: 'prlimit',
      args: [`--nofile=${limit}:${limit}`, process.execPath, ...nodeArgs],
    };
  }
  return {
    file: 'bash',
    args: ['-c', `ulimit -n ${limit} && exec "$0" "$@"`, process.execPath, ...nodeArgs],
  };
}

/** Spawns the fixture server and resolves once it listens. */
export async function startFixture(options: FixtureOptions = {}): Promise<FixtureProcess> {
  const { file, args } = command(options);
  const child = spawn(file, args, {
    env: { ...process.env, FIXTURE_CONFIG: JSON.stringify(options.config ?? {}) },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    // Keep the tail only: a server that logs every refused connection could write a lot.
    stderr = (stderr + chunk.toString()).slice(-64 * 1024);
  });
  const exited = new Promise<FixtureExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });

  let nextId = 1;
  const pending = new Map<number, (stats: FixtureStats) => void>();
  let resolveClosing: () => void = () => {};
  const closingSeen = new Promise<void>((resolve) => (resolveClosing = resolve));
  let resolveClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  let resolveReady: (port: number) => void = () => {};
  const ready = new Promise<number>((resolve) => (resolveReady = resolve));

  child.on('message', (message: FixtureMessage) => {
    if (message.type === 'ready') resolveReady(message.port);
    else if (message.type === 'closing') resolveClosing();
    else if (message.type === 'closed') resolveClosed();
    else if (message.type === 'stats') {
      const resolve = pending.get(message.id);
      pending.delete(message.id);
      resolve?.(message);
    }
  });
  // A send to a child that is gone throws EPIPE asynchronously; the exit promise says why.
  child.on('error', () => {});

  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };

  const readyTimeout = options.readyTimeoutMs ?? 20_000;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`fixture server not ready in ${readyTimeout} ms; stderr: ${stderr}`));
    }, readyTimeout);
    void ready.then((p) => {
      clearTimeout(timer);
      resolve(p);
    });
    void exited.then((exit) => {
      clearTimeout(timer);
      reject(new Error(`fixture server exited (${JSON.stringify(exit)}) before ready: ${stderr}`));
    });
  });

  const post = (message: ParentMessage): void => {
    if (child.connected) child.send(message);
  };

  return {
    child,
    port,
    stats(gc = false, timeoutMs = 10_000) {
      const id = nextId++;
      return new Promise<FixtureStats>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`fixture server gave no stats in ${timeoutMs} ms; stderr: ${stderr}`));
        }, timeoutMs);
        pending.set(id, (stats) => {
          clearTimeout(timer);
          resolve(stats);
        });
        post({ type: 'stats', id, gc });
      });
    },
    close(timeout) {
      post(timeout === undefined ? { type: 'close' } : { type: 'close', timeout });
      return closingSeen;
    },
    closed,
    exited,
    stderr: () => stderr,
    kill,
  };
}
