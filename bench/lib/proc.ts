/**
 * Child processes of the runner: target servers (started, awaited until they print their ready
 * line, stopped) and load generators (run to completion). Every child is tracked so that an
 * interrupted run leaves nothing behind.
 * @packageDocumentation
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { MemoryReport } from '../servers/cli.js';

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

/** Progress and warnings go to stderr; stdout carries only the tables. */
export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

const children = new Set<ChildProcess>();

/** Tracks `child` until it exits, so {@link killAll} can reach it. */
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Kills every child still running (on exit, on a signal, after a crash). */
export function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
}

/** Resolves when `child` has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** The compiled script `relative` to the bench folder (this file sits in `bench/lib`). */
export function benchScript(relative: string): string {
  return fileURLToPath(new URL(`../${relative}`, import.meta.url));
}

/** The repository root: the nearest folder above the compiled runner holding package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the runner');
    dir = parent;
  }
  return dir;
}

/** The full path of an executable on PATH, or `undefined`. */
export function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/** Spawns a tracked child. */
export function start(command: string, args: readonly string[], options: SpawnOptions) {
  return track(spawn(command, args, options));
}

/** What a finished child printed. */
export interface Output {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion and resolves with its output; rejects on a non-zero exit. */
export function runProcess(command: string, args: readonly string[]): Promise<Output> {
  return collect(start(command, args, { stdio: ['ignore', 'pipe', 'pipe'] }), command);
}

/** Collects a running child's output until it exits; rejects on a non-zero exit. */
export function collect(child: ChildProcess, name: string): Promise<Output> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${name} failed (code ${code}, signal ${signal}): ${stderr.trim()}`));
    });
  });
}

/** A server under test, running in a child process. */
export interface RunningServer {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
}

/** How to start a server script. */
export interface ServerSpec {
  /** Name for logs and errors. */
  readonly name: string;
  /** Compiled script path. */
  readonly script: string;
  /** Arguments after the port (which is always 0: a free one). */
  readonly args?: readonly string[];
  /** Node flags, such as `--expose-gc`. */
  readonly nodeArgs?: readonly string[];
  /** Extra environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Open an IPC channel (to ask for memory reports). */
  readonly ipc?: boolean;
}

/** Thrown when a server script says it cannot run here (`skip <reason>`). */
export class SkipError extends Error {}

/**
 * Starts a server on a free port and resolves once it prints `ready <port>`. A `skip <reason>`
 * line rejects with a {@link SkipError}; anything else it prints is passed on to stderr.
 */
export function startServer(spec: ServerSpec): Promise<RunningServer> {
  if (!existsSync(spec.script)) {
    return Promise.reject(new Error(`${spec.script} not found (run the build first)`));
  }
  const child = start(
    process.execPath,
    [...(spec.nodeArgs ?? []), spec.script, '0', ...(spec.args ?? [])],
    {
      stdio: ['ignore', 'pipe', 'inherit', ...(spec.ipc === true ? ['ipc' as const] : [])],
      env: { ...process.env, ...spec.env },
    },
  );
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(
      () => fail(new Error(`${spec.name}: no "ready" line within ${READY_TIMEOUT_MS / 1000} s`)),
      READY_TIMEOUT_MS,
    );
    child.once('error', fail);
    child.once('exit', (code, signal) =>
      fail(new Error(`${spec.name} exited before it was ready (code ${code}, signal ${signal})`)),
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const ready = /^ready (\d+)$/.exec(line.trim());
      const skip = /^skip (.*)$/.exec(line.trim());
      if (!settled && ready !== null) {
        settled = true;
        clearTimeout(timer);
        resolve({ name: spec.name, child, pid: child.pid!, port: Number(ready[1]) });
      } else if (!settled && skip !== null) {
        fail(new SkipError(skip[1]));
      } else {
        process.stderr.write(`  [${spec.name}] ${line}\n`);
      }
    });
  });
}

/** Stops a server: SIGTERM (a cluster primary drains its workers), then SIGKILL if it hangs. */
export async function stopServer(server: RunningServer): Promise<void> {
  const done = exited(server.child);
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await done;
  clearTimeout(timer);
}

/** Asks a server started with `ipc` for its memory after a full collection. */
export function memoryOf(server: RunningServer): Promise<MemoryReport> {
  return new Promise((resolve) => {
    server.child.once('message', (message) => resolve(message as MemoryReport));
    server.child.send({ cmd: 'mem' });
  });
}

/**
 * Reads a child's stdout by lines: each call resolves with the next line matching `pattern`
 * (lines before it are skipped), or rejects once the child has exited without printing one.
 */
export function lineReader(child: ChildProcess): (pattern: RegExp) => Promise<RegExpExecArray> {
  const buffered: string[] = [];
  let waiter: ((line: string | null) => void) | null = null;
  let ended = false;
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => (waiter === null ? buffered.push(line) : waiter(line)));
  lines.once('close', () => {
    ended = true;
    waiter?.(null);
  });
  return (pattern) =>
    new Promise((resolve, reject) => {
      const offer = (line: string | null): boolean => {
        if (line === null) {
          waiter = null;
          reject(new Error(`process ended before printing ${pattern}`));
          return true;
        }
        const match = pattern.exec(line);
        if (match === null) return false;
        waiter = null;
        resolve(match);
        return true;
      };
      while (buffered.length > 0) if (offer(buffered.shift()!)) return;
      if (ended) offer(null);
      else waiter = (line) => void offer(line);
    });
}

/** Sleeps. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
