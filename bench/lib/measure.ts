/**
 * Measuring one cell (a target in a scenario) honestly on a shared machine: the CPU of the
 * window is accounted, a window that other processes disturbed is measured again once the
 * machine is quiet, and across rounds the median is kept.
 * @packageDocumentation
 */
import {
  CpuWindow,
  OTHER_CPU_WARNING,
  SERVER_SATURATED,
  waitForQuiet,
  type CpuShare,
} from './cpu.js';
import { log } from './proc.js';

/** What one load run measured, before CPU accounting. */
export interface Outcome {
  /** The scenario's rate: responses, messages or events per second. */
  rate: number;
  /** How many were counted in the window. */
  count: number;
  /** Mean latency in ms, where the generator reports it. */
  latencyMs?: number;
  /** Wrong answers (non-2xx responses); any makes the cell fail. */
  bad: number;
  /** Connect/read/write errors and timeouts. */
  errors: number;
  /** Scenario-specific figures (lag percentiles, the expected rate…). */
  extra?: Record<string, number>;
}

/** One measurement of a cell. */
export interface Sample extends Outcome {
  /** Counted per server CPU-second: moves far less with machine load than the rate does. */
  perCpuSecond?: number;
  cpu?: CpuShare;
}

/** Runs the load; it calls `window.start()`/`stop()` around its measured part. */
export type LoadRun = (window: CpuWindow) => Promise<Outcome>;

/**
 * How long to wait for other work to stop before re-measuring a disturbed cell (a test suite
 * in another shell often runs for a minute or two), and the most one run may spend waiting, so
 * a machine that never goes quiet still gets a (flagged) result in bounded time.
 */
const QUIET_WAIT_MS = 45_000;
let quietBudgetMs = 180_000;

function disturbed(sample: Sample): boolean {
  return sample.cpu !== undefined && sample.cpu.other > OTHER_CPU_WARNING;
}

async function once(serverPid: number, run: LoadRun): Promise<Sample> {
  const window = new CpuWindow(serverPid);
  const outcome = await run(window);
  const cpu = window.share();
  if (cpu === undefined) return outcome;
  const perCpuSecond = cpu.serverSeconds > 0 ? outcome.count / cpu.serverSeconds : undefined;
  return { ...outcome, cpu, ...(perCpuSecond === undefined ? {} : { perCpuSecond }) };
}

/** One line of progress for a sample. */
export function describe(sample: Sample, unit: string): string {
  const cpu = sample.cpu;
  const problems = sample.bad + sample.errors;
  return (
    `${Math.round(sample.rate).toLocaleString('en-US').padStart(10)} ${unit}` +
    (sample.latencyMs === undefined ? '' : `  ${sample.latencyMs.toFixed(2)} ms`) +
    (cpu === undefined
      ? ''
      : `  cpu: server ${cpu.server.toFixed(2)}, generator ${cpu.generator.toFixed(2)}, ` +
        `other ${cpu.other.toFixed(2)}`) +
    (problems > 0 ? `  (${sample.bad} bad, ${sample.errors} errors)` : '')
  );
}

/**
 * Measures a cell, re-measuring it up to `retries` times while other processes disturbed it
 * (each time once the machine has gone quiet), and keeps the least disturbed measurement.
 */
export async function measureCell(
  label: string,
  unit: string,
  serverPid: number,
  retries: number,
  run: LoadRun,
): Promise<Sample> {
  let sample = await once(serverPid, run);
  log(`${label} ${describe(sample, unit)}`);
  for (let retry = 1; retry <= retries && disturbed(sample); retry++) {
    // Measuring again while the machine is still busy would only repeat the same error.
    const started = Date.now();
    const quiet = quietBudgetMs > 0 && (await waitForQuiet(Math.min(QUIET_WAIT_MS, quietBudgetMs)));
    quietBudgetMs -= Date.now() - started;
    if (!quiet) {
      log(`${label} machine still busy; keeping the disturbed result`);
      break;
    }
    const again = await once(serverPid, run);
    log(`${label} ${describe(again, unit)}  (retry ${retry})`);
    if (again.bad > 0 || again.cpu === undefined || again.cpu.other < sample.cpu!.other) {
      sample = again;
    }
  }
  return sample;
}

/** The sample with the median rate (the upper one of an even count's middle pair). */
export function medianSample(samples: readonly Sample[]): Sample | undefined {
  const sorted = [...samples].sort((a, b) => a.rate - b.rate);
  return sorted[Math.floor(sorted.length / 2)];
}

/** The median of numbers (the mean of the middle pair for an even count). */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Why a target's samples should be read with care, one line per kind of problem across its
 * rounds. `saturating` says the scenario should keep the server busy (then a server below one
 * core means the load generator was the limit).
 */
export function sampleWarnings(samples: readonly Sample[], saturating: boolean): string[] {
  const of = `of ${samples.length} round${samples.length > 1 ? 's' : ''}`;
  const errors = samples.reduce((sum, s) => sum + s.errors, 0);
  const busy = samples.flatMap((s) =>
    s.cpu !== undefined && s.cpu.other > OTHER_CPU_WARNING ? [s.cpu.other] : [],
  );
  // On a disturbed window low server CPU says nothing about the generator.
  const starved = samples.flatMap((s) =>
    s.cpu !== undefined && s.cpu.other <= OTHER_CPU_WARNING && s.cpu.server < SERVER_SATURATED
      ? [s.cpu.server]
      : [],
  );
  const warnings: string[] = [];
  if (errors > 0) warnings.push(`${errors} socket errors`);
  if (busy.length > 0) {
    warnings.push(
      `disturbed in ${busy.length} ${of}: other processes used up to ${Math.max(...busy).toFixed(2)} cores`,
    );
  }
  if (saturating && starved.length > 0) {
    warnings.push(
      `the load generator was the limit in ${starved.length} ${of}: the server used only ${Math.min(...starved).toFixed(2)} cores`,
    );
  }
  return warnings;
}
