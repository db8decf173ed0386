/**
 * The report: a markdown table per scenario, the issue-6 target verdicts, and the JSON
 * results. Tables go to stdout, so `npm run bench > results.md` keeps only them.
 * @packageDocumentation
 */
import { availableParallelism, cpus } from 'node:os';
import { ratio, type Row, type ScenarioResult } from './result.js';

/** The machine a run was made on, shown with every table and in the chart. */
export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly node: string;
  readonly date: string;
  readonly loadGenerator: string;
  /** How the numbers were taken (connections, window, rounds). */
  readonly method: string;
}

/** Describes this machine now, and the run's method. */
export function thisMachine(loadGenerator: string, method: string): Machine {
  return {
    cpuModel: (cpus()[0]?.model ?? 'unknown CPU').trim(),
    cores: availableParallelism(),
    node: process.version,
    date: new Date().toISOString().slice(0, 10),
    loadGenerator,
    method,
  };
}

/** One line naming the machine. */
export function machineLine(machine: Machine): string {
  return `${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, ${machine.loadGenerator}, ${machine.date}`;
}

/** Short column names of the targets ratios are taken against. */
const BASELINE_LABELS: Record<string, string> = {
  'node-http': '× node:http',
  'net-ceiling': '× ceiling',
  fastify: '× Fastify',
  ws: '× ws',
};

export function formatNumber(value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** The markdown table of one scenario: a row per target, ratios to each baseline present. */
export function scenarioTable(result: ScenarioResult): string {
  const heading = `### ${result.title}`;
  if (result.skipped !== undefined) return `${heading}\n\nSkipped: ${result.skipped}.`;
  const present = new Set(result.rows.filter((r) => r.value !== undefined).map((r) => r.target));
  const baselines = result.baselines.filter((b) => present.has(b));
  const withCpu = result.rows.some((r) => r.perCpuSecond !== undefined);
  const extras = (result.extraColumns ?? []).filter((c) =>
    result.rows.some((r) => r.extra?.[c.key] !== undefined),
  );
  const header = [
    'target',
    result.unit,
    ...baselines.map((b) => BASELINE_LABELS[b] ?? `× ${b}`),
    ...(withCpu ? [`${result.unit.replace('/s', '')} per CPU-s`] : []),
    ...extras.map((c) => c.label),
  ];
  const rows = result.rows.map((row: Row) => {
    if (row.value === undefined) {
      return [row.target, 'FAILED', ...header.slice(2).map(() => '—')];
    }
    return [
      row.target,
      formatNumber(row.value),
      ...baselines.map((b) => {
        const r = ratio(result, row.target, b);
        return r === undefined ? '—' : `${r.toFixed(2)}×`;
      }),
      ...(withCpu ? [formatNumber(row.perCpuSecond)] : []),
      ...extras.map((c) => formatNumber(row.extra?.[c.key], c.digits)),
    ];
  });
  const notes = [
    ...(result.lowerIsBetter === true ? ['Lower is better.'] : []),
    ...result.rows.flatMap((r) =>
      r.failure !== undefined
        ? [`${r.target} failed: ${r.failure}`]
        : (r.warnings ?? []).map((w) => `${r.target}: ${w}`),
    ),
  ];
  return [
    heading,
    '',
    markdownTable(header, rows),
    ...(notes.length > 0 ? ['', ...notes.map((n) => `- ${n}`)] : []),
  ].join('\n');
}

/** One of issue 6's targets: hyperlane's ratio to another target in one scenario. */
interface Goal {
  readonly scenario: string;
  readonly vs: string;
  /** An extra figure to compare instead of the scenario's value (memory: `rss`). */
  readonly metric?: string;
  /** Ratio must be at least this (throughput) … */
  readonly min?: number;
  /** … or at most this (memory). */
  readonly max?: number;
}

/** Issue 6's targets (ratios in the same run on a 2-core machine). */
export const GOALS: readonly Goal[] = [
  { scenario: 'plaintext', vs: 'net-ceiling', min: 0.85 },
  { scenario: 'plaintext', vs: 'fastify', min: 1.4 },
  { scenario: 'json', vs: 'net-ceiling', min: 0.85 },
  { scenario: 'json', vs: 'fastify', min: 1.4 },
  { scenario: 'param', vs: 'fastify', min: 1.35 },
  { scenario: 'middleware', vs: 'fastify', min: 1.3 },
  { scenario: 'post', vs: 'fastify', min: 1.2 },
  { scenario: 'pipelining', vs: 'node-http', min: 3 },
  { scenario: 'close', vs: 'node-http', min: 1 },
  { scenario: 'ws-echo', vs: 'ws', min: 1 },
  // Memory is judged twice: JS heap + external is exact after a full GC but misses native
  // allocations (node:http's parser); RSS has everything but moves with V8's page reuse.
  { scenario: 'memory-http', vs: 'node-http', max: 1 },
  { scenario: 'memory-http', vs: 'node-http', max: 1, metric: 'rss' },
  { scenario: 'memory-ws', vs: 'ws', max: 1 },
  { scenario: 'memory-ws', vs: 'ws', max: 1, metric: 'rss' },
];

/** A goal's outcome in this run. */
export interface Verdict {
  readonly scenario: string;
  readonly vs: string;
  readonly metric?: string;
  readonly goal: string;
  readonly ratio?: number;
  readonly perCpuRatio?: number;
  readonly status: 'met' | 'not met' | 'not measured';
}

/** Checks every goal whose scenario ran. */
export function verdicts(results: readonly ScenarioResult[]): Verdict[] {
  return GOALS.flatMap((goal) => {
    const result = results.find((r) => r.name === goal.scenario);
    if (result === undefined) return [];
    const value = ratio(result, 'hyperlane', goal.vs, goal.metric);
    const cpu = (t: string): number | undefined =>
      result.rows.find((r) => r.target === t)?.perCpuSecond;
    const a = cpu('hyperlane');
    const b = cpu(goal.vs);
    const met =
      value !== undefined &&
      (goal.min === undefined || value >= goal.min) &&
      (goal.max === undefined || value <= goal.max);
    return [
      {
        scenario: goal.scenario,
        vs: goal.vs,
        ...(goal.metric === undefined ? {} : { metric: goal.metric }),
        goal: goal.min !== undefined ? `≥ ${goal.min}×` : `≤ ${goal.max}×`,
        ...(value === undefined ? {} : { ratio: value }),
        ...(a === undefined || b === undefined ? {} : { perCpuRatio: a / b }),
        status: value === undefined ? 'not measured' : met ? 'met' : 'not met',
      },
    ];
  });
}

/** The verdicts as text lines. */
export function verdictText(list: readonly Verdict[]): string {
  if (list.length === 0) return '';
  const lines = list.map((v) => {
    const status = v.status === 'met' ? 'met    ' : v.status === 'not met' ? 'NOT MET' : 'n/a    ';
    const value = v.ratio === undefined ? '—' : `${v.ratio.toFixed(2)}×`;
    const perCpu = v.perCpuRatio === undefined ? '' : ` (per CPU-s: ${v.perCpuRatio.toFixed(2)}×)`;
    const what = v.metric === undefined ? v.scenario : `${v.scenario} ${v.metric}`;
    return `  ${status} ${what.padEnd(15)} hyperlane / ${v.vs.padEnd(11)} = ${value.padStart(6)}  goal ${v.goal}${perCpu}`;
  });
  const met = list.filter((v) => v.status === 'met').length;
  return `Issue 6 targets: ${met} of ${list.length} met\n${lines.join('\n')}`;
}
