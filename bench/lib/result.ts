/**
 * What a scenario produces: one row per target, each the median of its rounds, in a shape the
 * report (tables, verdicts, JSON, chart) reads without knowing the scenario.
 * @packageDocumentation
 */
import { median, medianSample, sampleWarnings, type Sample } from './measure.js';

/** One target's result in one scenario. */
export interface Row {
  readonly target: string;
  /** The scenario's figure (median over rounds); absent if the target failed. */
  value?: number;
  /** Counted per server CPU-second (median over rounds). */
  perCpuSecond?: number;
  /** Scenario-specific figures (median over rounds). */
  extra?: Record<string, number>;
  /** Why this target has no value. */
  failure?: string;
  /** Why its value should be read with care. */
  warnings?: string[];
  /** Every measurement taken, for the JSON results. */
  samples?: readonly Sample[];
}

/** An extra column of a scenario's table. */
export interface ExtraColumn {
  readonly key: string;
  readonly label: string;
  readonly digits: number;
}

/** One scenario's results. */
export interface ScenarioResult {
  readonly name: string;
  /** What was measured, for the heading. */
  readonly title: string;
  /** Unit of `value`, e.g. `req/s`, `bytes/conn`. */
  readonly unit: string;
  /** For memory: smaller is better (ratios read "≤ 1 is good"). */
  readonly lowerIsBetter?: boolean;
  /** Targets the ratio columns compare against, in column order (when present). */
  readonly baselines: readonly string[];
  readonly extraColumns?: readonly ExtraColumn[];
  readonly rows: Row[];
  /** Set when the scenario could not run at all here, and why. */
  skipped?: string;
  /** Set when it could not run because of an error (the run then exits with code 1). */
  crashed?: boolean;
}

/** A scenario that could not run (no targets selected, a missing feature…). */
export function skippedScenario(
  name: string,
  title: string,
  unit: string,
  reason: string,
): ScenarioResult {
  return { name, title, unit, baselines: [], rows: [], skipped: reason };
}

/**
 * A row from a target's samples: the median rate, the median per-CPU figure and extras, and
 * the warnings of all rounds (see {@link sampleWarnings} for `saturating`).
 */
export function rowFromSamples(
  target: string,
  samples: readonly Sample[],
  saturating: boolean,
  failure?: string,
): Row {
  const row: Row = { target, samples };
  if (failure !== undefined) row.failure = failure;
  const mid = medianSample(samples);
  if (mid === undefined || failure !== undefined) return row;
  row.value = median(samples.map((s) => s.rate));
  const perCpu = median(
    samples.flatMap((s) => (s.perCpuSecond === undefined ? [] : [s.perCpuSecond])),
  );
  if (perCpu !== undefined) row.perCpuSecond = perCpu;
  const extra: Record<string, number> = {};
  for (const key of Object.keys(mid.extra ?? {})) {
    extra[key] = median(samples.map((s) => s.extra?.[key] ?? NaN).filter(Number.isFinite))!;
  }
  if (mid.latencyMs !== undefined) {
    extra.latencyMs = median(
      samples.flatMap((s) => (s.latencyMs === undefined ? [] : [s.latencyMs])),
    )!;
  }
  if (Object.keys(extra).length > 0) row.extra = extra;
  const warnings = sampleWarnings(samples, saturating);
  if (warnings.length > 0) row.warnings = warnings;
  return row;
}

/** `a`'s value (or extra figure `metric`) over `b`'s in one scenario, when both have one. */
export function ratio(
  result: ScenarioResult,
  a: string,
  b: string,
  metric?: string,
): number | undefined {
  const figure = (target: string): number | undefined => {
    const row = result.rows.find((r) => r.target === target);
    return metric === undefined ? row?.value : row?.extra?.[metric];
  };
  const x = figure(a);
  const y = figure(b);
  return x === undefined || y === undefined || y === 0 ? undefined : x / y;
}
