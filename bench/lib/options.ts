/**
 * The runner's settings: command-line flags (`--quick`, `--only`, `--targets`) over the
 * `BENCH_*` environment variables over the defaults.
 * @packageDocumentation
 */
import { availableParallelism } from 'node:os';
import { findOnPath } from './proc.js';

/** A bad flag or variable: the runner prints the message and exits with code 2. */
export class UsageError extends Error {}

/** Settings of one run. */
export interface Settings {
  /** `--quick`: short windows, one round, no retries. */
  readonly quick: boolean;
  /** Scenarios to run, in suite order. */
  readonly scenarios: readonly string[];
  /** Targets to run where a scenario has them; `undefined` for all. */
  readonly targets: ReadonlySet<string> | undefined;
  /** Seconds of measured load per cell. */
  readonly durationSec: number;
  /** Seconds of unmeasured load before a target's first cell of a scenario. */
  readonly warmupSec: number;
  /** Keep-alive connections of the HTTP load generator. */
  readonly connections: number;
  /** wrk threads. */
  readonly threads: number;
  /** Measurements per cell (targets interleaved, order reversed every other round). */
  readonly rounds: number;
  /** Re-measurements of a cell disturbed by other processes. */
  readonly retries: number;
  readonly loadGenerator: 'wrk' | 'autocannon';
  /** WebSocket echo: clients, and messages each keeps in flight. */
  readonly wsClients: number;
  readonly wsWindow: number;
  /** SSE fan-out: clients, and events the server broadcasts per second. */
  readonly sseClients: number;
  readonly sseRate: number;
  /** Idle memory: connections measured, after this many opened as the baseline. */
  readonly idleConnections: number;
  readonly idleBaseline: number;
  /** Where the JSON results and the chart go; `undefined` for `bench/results/`. */
  readonly resultsDir: string | undefined;
}

/** Everything `--only` accepts, besides the scenario names themselves. */
const GROUPS: Readonly<Record<string, readonly string[]>> = {
  http: ['plaintext', 'json', 'param', 'middleware', 'post', 'pipelining', 'close'],
  memory: ['memory-http', 'memory-ws'],
  ws: ['ws-echo', 'memory-ws'],
};

const USAGE = `usage: node .build/bench/run.js [--quick] [--only <scenario,...>] [--targets <target,...>]
  --quick     2 s windows, one round, no retries (for iterating; the numbers are rough)
  --only      scenarios or groups (http, memory, ws); default all
  --targets   targets to run where a scenario has them; default all
Environment: BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_THREADS, BENCH_ROUNDS,
BENCH_RETRIES, BENCH_LOADGEN (wrk|autocannon), BENCH_TARGETS, BENCH_CASES (same as --only),
BENCH_WS_CLIENTS, BENCH_WS_WINDOW, BENCH_SSE_CLIENTS, BENCH_SSE_RATE, BENCH_IDLE, BENCH_IDLE_BASE,
BENCH_RESULTS_DIR. See bench/README.md.`;

function list(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function numberFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  // Accept "8s" as well as "8": wrk users type the unit out of habit.
  const value = Number(raw.trim().replace(/s$/, ''));
  if (!Number.isFinite(value) || value < min) {
    throw new UsageError(`${name}=${JSON.stringify(raw)}: expected a number ≥ ${min}`);
  }
  return value;
}

/** Reads the flags in `argv` (after the script name) and the environment. */
export function parseSettings(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  scenarioNames: readonly string[],
  targetNames: readonly string[],
): Settings {
  let quick = false;
  let only = list(env.BENCH_CASES);
  let targets = list(env.BENCH_TARGETS);
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    if (flag === '--quick') quick = true;
    else if (flag === '--only') only = list(value());
    else if (flag === '--targets') targets = list(value());
    else if (flag === '--help' || flag === '-h') throw new UsageError(USAGE);
    else throw new UsageError(`unknown argument ${JSON.stringify(argv[i])}\n${USAGE}`);
  }

  const wanted = new Set((only ?? scenarioNames).flatMap((name) => GROUPS[name] ?? [name]));
  const unknown = [...wanted].filter((name) => !scenarioNames.includes(name));
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown scenario ${unknown.join(', ')} (known: ${[...scenarioNames, ...Object.keys(GROUPS)].join(', ')})`,
    );
  }
  const unknownTargets = (targets ?? []).filter((name) => !targetNames.includes(name));
  if (unknownTargets.length > 0) {
    throw new UsageError(
      `unknown target ${unknownTargets.join(', ')} (known: ${targetNames.join(', ')})`,
    );
  }

  const forced = env.BENCH_LOADGEN?.trim();
  if (forced !== undefined && forced !== '' && forced !== 'wrk' && forced !== 'autocannon') {
    throw new UsageError(`BENCH_LOADGEN=${JSON.stringify(forced)}: expected wrk or autocannon`);
  }
  const hasWrk = findOnPath('wrk') !== undefined;
  if (forced === 'wrk' && !hasWrk) throw new UsageError('BENCH_LOADGEN=wrk but wrk is not on PATH');
  const connections = Math.floor(numberFrom(env, 'BENCH_CONNECTIONS', 100, 1));
  // On a small machine the server (one Node thread) and wrk share the cores; leaving the server
  // one core keeps the generator from stealing the CPU it is measuring.
  const defaultThreads = Math.max(1, Math.min(4, availableParallelism() - 1));
  return {
    quick,
    scenarios: scenarioNames.filter((name) => wanted.has(name)),
    targets: targets === undefined ? undefined : new Set(targets),
    durationSec: numberFrom(env, 'BENCH_DURATION', quick ? 2 : 5, 1),
    warmupSec: numberFrom(env, 'BENCH_WARMUP', 1, 0),
    connections,
    threads: Math.min(connections, Math.floor(numberFrom(env, 'BENCH_THREADS', defaultThreads, 1))),
    rounds: Math.floor(numberFrom(env, 'BENCH_ROUNDS', quick ? 1 : 2, 1)),
    retries: Math.floor(numberFrom(env, 'BENCH_RETRIES', quick ? 0 : 2, 0)),
    loadGenerator: forced === 'autocannon' || !hasWrk ? 'autocannon' : 'wrk',
    wsClients: Math.floor(numberFrom(env, 'BENCH_WS_CLIENTS', 100, 1)),
    wsWindow: Math.floor(numberFrom(env, 'BENCH_WS_WINDOW', 8, 1)),
    sseClients: Math.floor(numberFrom(env, 'BENCH_SSE_CLIENTS', 1000, 1)),
    sseRate: numberFrom(env, 'BENCH_SSE_RATE', 50, 1),
    idleConnections: Math.floor(numberFrom(env, 'BENCH_IDLE', 2000, 1)),
    idleBaseline: Math.floor(numberFrom(env, 'BENCH_IDLE_BASE', 200, 0)),
    resultsDir: env.BENCH_RESULTS_DIR?.trim() || undefined,
  };
}

/** Whether a run covers the whole suite at full length (only such a run updates docs/bench.svg). */
export function isFullRun(settings: Settings, scenarioNames: readonly string[]): boolean {
  return (
    !settings.quick &&
    settings.targets === undefined &&
    settings.scenarios.length === scenarioNames.length
  );
}
