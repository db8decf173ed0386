/**
 * WebSocket benchmark: echo throughput (messages/s, 100 clients) and idle memory per
 * connection (2,000 connections), hyperlane-ts against a bare `ws` server in the same run.
 * Each server and the load generator run in separate processes, one target at a time.
 * Env: WS_BENCH_CLIENTS (100), WS_BENCH_SECONDS (8), WS_BENCH_WINDOW (8), WS_BENCH_IDLE (2000),
 * WS_BENCH_WARM (200 connections opened first, so one-time costs stay out of the per-connection
 * figure), WS_BENCH_ROUNDS (2: targets alternate, best round kept), WS_BENCH_ONLY (`echo` or
 * `memory` to run one half).
 * Usage: `npm run bench:ws`.
 * @packageDocumentation
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const CLIENTS = Number(process.env.WS_BENCH_CLIENTS ?? 100);
const SECONDS = Number(process.env.WS_BENCH_SECONDS ?? 8);
const WINDOW = Number(process.env.WS_BENCH_WINDOW ?? 8);
const IDLE = Number(process.env.WS_BENCH_IDLE ?? 2000);
const WARM = Number(process.env.WS_BENCH_WARM ?? 200);
const ROUNDS = Number(process.env.WS_BENCH_ROUNDS ?? 2);
const ONLY = process.env.WS_BENCH_ONLY;
const TARGETS = ['hyperlane', 'ws'] as const;
type Target = (typeof TARGETS)[number];

interface Memory {
  heapUsed: number;
  rss: number;
  external: number;
}

/** Reads lines from a child's stdout until one matches. */
function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = pattern.exec(line);
      if (match !== null) {
        lines.close();
        resolve(match);
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`process exited (code ${code}) before ${pattern}`)),
    );
  });
}

async function startServer(target: Target): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--expose-gc', join(here, 'server.js'), target], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const match = await waitForLine(child, /^ready (\d+)$/);
  return { child, port: Number(match[1]) };
}

function memoryOf(child: ChildProcess): Promise<Memory> {
  return new Promise((resolve) => {
    child.once('message', (message) => resolve(message as Memory));
    child.send({ cmd: 'mem' });
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** What one echo run measured. */
interface EchoResult {
  /** Messages echoed per second. */
  rate: number;
  /** Messages echoed per second of server CPU (user + system): the load-independent figure. */
  perCpuSecond: number;
}

/** The server's CPU time so far in seconds, from /proc (Linux), or NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, in clock ticks of 1/100 s on Linux.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

async function echoThroughput(target: Target): Promise<EchoResult> {
  const { child, port } = await startServer(target);
  try {
    const load = spawn(
      process.execPath,
      [join(here, 'load.js'), String(port), String(CLIENTS), String(SECONDS), String(WINDOW)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const cpuBefore = cpuSeconds(child.pid);
    const match = await waitForLine(load, /^(\{.*\})$/);
    const cpu = cpuSeconds(child.pid) - cpuBefore;
    const result = JSON.parse(match[1]!) as { messages: number; seconds: number; errors: number };
    if (result.errors > 0) throw new Error(`${target}: ${result.errors} client errors`);
    return { rate: result.messages / result.seconds, perCpuSecond: result.messages / cpu };
  } finally {
    await stop(child);
  }
}

interface PerConnection {
  /** JS heap plus external (Buffer) bytes the server holds per connection. */
  heap: number;
  /** Resident set size per connection: everything, native socket state included. */
  rss: number;
}

/** Opens `count` idle WebSocket clients in a child process; resolves once all are open. */
async function openIdleClients(port: number, count: number): Promise<ChildProcess> {
  const load = spawn(
    process.execPath,
    [join(here, 'load.js'), String(port), String(count), '0', '0', '--idle'],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  await waitForLine(load, /^open$/);
  return load;
}

function closeIdleClients(load: ChildProcess): Promise<void> {
  load.stdin!.end();
  return new Promise((resolve) => load.once('exit', () => resolve()));
}

/**
 * Marginal memory per idle connection: `WARM` connections are opened first and stay open, so
 * what every server pays once (compiled code, pools, first-use caches) is in the baseline;
 * then `IDLE` more are opened and the growth is divided by `IDLE`.
 */
async function memoryPerConnection(target: Target): Promise<PerConnection> {
  const { child, port } = await startServer(target);
  try {
    const warm = await openIdleClients(port, WARM);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = await memoryOf(child);
    const idle = await openIdleClients(port, IDLE);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = await memoryOf(child);
    await closeIdleClients(idle);
    await closeIdleClients(warm);
    return {
      heap: (after.heapUsed + after.external - before.heapUsed - before.external) / IDLE,
      rss: (after.rss - before.rss) / IDLE,
    };
  } finally {
    await stop(child);
  }
}

const throughput: Record<Target, EchoResult> = {
  hyperlane: { rate: 0, perCpuSecond: 0 },
  ws: { rate: 0, perCpuSecond: 0 },
};
const memory: Record<Target, PerConnection> = {
  hyperlane: { heap: Infinity, rss: Infinity },
  ws: { heap: Infinity, rss: Infinity },
};
for (let round = 0; round < ROUNDS; round++) {
  for (const target of round % 2 === 0 ? TARGETS : [...TARGETS].reverse()) {
    if (ONLY !== 'memory') {
      const echo = await echoThroughput(target);
      throughput[target] = {
        rate: Math.max(throughput[target].rate, echo.rate),
        perCpuSecond: Math.max(throughput[target].perCpuSecond, echo.perCpuSecond),
      };
    }
    if (ONLY === 'echo') continue;
    const measured = await memoryPerConnection(target);
    memory[target] = {
      heap: Math.min(memory[target].heap, measured.heap),
      rss: Math.min(memory[target].rss, measured.rss),
    };
  }
}

const rows = [
  ['', 'hyperlane', 'ws (bare)', 'ratio'],
  [
    `echo msgs/s (${CLIENTS} clients)`,
    throughput.hyperlane.rate.toFixed(0),
    throughput.ws.rate.toFixed(0),
    (throughput.hyperlane.rate / throughput.ws.rate).toFixed(3),
  ],
  [
    'echo msgs per server CPU-s',
    throughput.hyperlane.perCpuSecond.toFixed(0),
    throughput.ws.perCpuSecond.toFixed(0),
    (throughput.hyperlane.perCpuSecond / throughput.ws.perCpuSecond).toFixed(3),
  ],
  [
    `heap bytes/conn (${IDLE} idle)`,
    memory.hyperlane.heap.toFixed(0),
    memory.ws.heap.toFixed(0),
    (memory.hyperlane.heap / memory.ws.heap).toFixed(3),
  ],
  [
    `RSS bytes/conn (${IDLE} idle)`,
    memory.hyperlane.rss.toFixed(0),
    memory.ws.rss.toFixed(0),
    (memory.hyperlane.rss / memory.ws.rss).toFixed(3),
  ],
];
for (const row of rows)
  console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(28) : cell.padStart(12))).join(''));
const resultsDir = join(here, '..', '..', '..', 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(
  join(resultsDir, 'ws-latest.json'),
  `${JSON.stringify({ date: new Date().toISOString(), clients: CLIENTS, seconds: SECONDS, idle: IDLE, throughput, memory }, null, 2)}\n`,
);
