/**
 * The benchmark suite: runs the selected scenarios, prints a markdown table per scenario and
 * the issue-6 verdicts, writes the JSON results to `bench/results/` and the chart to
 * `bench/results/bench.svg` (and to `docs/bench.svg` after a full run).
 * @packageDocumentation
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backgroundCpuLoad } from './lib/cpu.js';
import { isFullRun, parseSettings, UsageError, type Settings } from './lib/options.js';
import { killAll, log, repoRoot } from './lib/proc.js';
import {
  machineLine,
  scenarioTable,
  thisMachine,
  verdicts,
  verdictText,
  type Machine,
} from './lib/report.js';
import { skippedScenario, type ScenarioResult } from './lib/result.js';
import { renderChart } from './lib/svg.js';
import { HTTP_SCENARIOS, HTTP_TARGETS, runCluster, runHttp } from './scenarios/http.js';
import { runMemoryHttp, runMemoryWs } from './scenarios/memory.js';
import { runSse, runWsEcho } from './scenarios/streams.js';

/** The scenarios that run on their own (the HTTP ones share their servers and run together). */
const OTHER_SCENARIOS: Record<string, (settings: Settings) => Promise<ScenarioResult>> = {
  cluster: runCluster,
  'ws-echo': runWsEcho,
  sse: runSse,
  'memory-http': runMemoryHttp,
  'memory-ws': runMemoryWs,
};

/** Every scenario, in suite (and table) order. */
export const SCENARIOS: readonly string[] = [...HTTP_SCENARIOS, ...Object.keys(OTHER_SCENARIOS)];
const TARGETS: readonly string[] = [...HTTP_TARGETS, 'ws'];

/** Background CPU share (all cores) above which the run is flagged as noisy from the start. */
const BUSY_WARNING = 0.15;

async function runScenarios(settings: Settings): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  const guarded = async (names: readonly string[], run: () => Promise<ScenarioResult[]>) => {
    try {
      results.push(...(await run()));
    } catch (error) {
      // A bug in one scenario must not cost the others' results.
      const message = (error as Error).stack ?? String(error);
      log(`bench: ${names.join(', ')} crashed: ${message}`);
      const reason = `crashed: ${(error as Error).message}`;
      results.push(...names.map((n) => ({ ...skippedScenario(n, n, '', reason), crashed: true })));
    }
  };
  const http = settings.scenarios.filter((name) => HTTP_SCENARIOS.includes(name));
  if (http.length > 0) await guarded(http, () => runHttp(settings, http));
  for (const name of settings.scenarios) {
    const run = OTHER_SCENARIOS[name];
    if (run !== undefined) await guarded([name], async () => [await run(settings)]);
  }
  return results.sort((a, b) => SCENARIOS.indexOf(a.name) - SCENARIOS.indexOf(b.name));
}

function writeResults(
  settings: Settings,
  machine: Machine,
  results: readonly ScenarioResult[],
): void {
  const root = repoRoot();
  const dir = settings.resultsDir ?? join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const report = {
    machine,
    settings: {
      ...settings,
      targets: settings.targets === undefined ? 'all' : [...settings.targets],
    },
    scenarios: results,
    verdicts: verdicts(results),
  };
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(join(dir, 'latest.json'), json);
  writeFileSync(join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), json);
  const svg = renderChart(results, machine);
  writeFileSync(join(dir, 'bench.svg'), svg);
  log(`\nresults written to ${join(dir, 'latest.json')}, chart to ${join(dir, 'bench.svg')}`);
  if (isFullRun(settings, SCENARIOS)) {
    mkdirSync(join(root, 'docs'), { recursive: true });
    writeFileSync(join(root, 'docs', 'bench.svg'), svg);
    log(`chart also written to ${join(root, 'docs', 'bench.svg')} (a full run)`);
  }
}

/** Runs the suite with command-line `argv`; resolves with the exit code. */
export async function runSuite(argv: readonly string[]): Promise<number> {
  let settings: Settings;
  try {
    settings = parseSettings(argv, process.env, SCENARIOS, TARGETS);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    log(error.message);
    return argv.includes('--help') || argv.includes('-h') ? 0 : 2;
  }
  const loadGenerator =
    settings.loadGenerator === 'wrk'
      ? `wrk (${settings.threads} thread${settings.threads > 1 ? 's' : ''})`
      : 'autocannon';
  const method =
    `${settings.connections} connections, ${settings.warmupSec} s warm-up + ${settings.durationSec} s per cell, ` +
    `median of ${settings.rounds} interleaved round${settings.rounds > 1 ? 's' : ''}` +
    (settings.quick ? ' (--quick: rough numbers)' : '');
  const machine = thisMachine(loadGenerator, method);
  log(
    `bench: ${settings.scenarios.join(', ')}\n  ${method}, up to ${settings.retries} retries of disturbed cells\n` +
      `  ${machineLine(machine)}`,
  );
  const background = await backgroundCpuLoad(1_000);
  if (background > BUSY_WARNING) {
    log(
      `bench: WARNING: the machine is already ${Math.round(background * 100)}% busy before the ` +
        'run starts; something else is using the CPU, so these numbers will be noisy',
    );
  }
  const started = Date.now();
  const results = await runScenarios(settings);
  const tables = results.map(scenarioTable).join('\n\n');
  const verdict = verdictText(verdicts(results));
  process.stdout.write(
    `\n${machineLine(machine)}\n${method}\n\n${tables}\n${verdict === '' ? '' : `\n${verdict}\n`}`,
  );
  writeResults(settings, machine, results);
  log(`bench: done in ${Math.round((Date.now() - started) / 1000)} s`);
  const failed = results.some(
    (r) => r.crashed === true || r.rows.some((row) => row.failure !== undefined),
  );
  return failed ? 1 : 0;
}

/** Runs the suite as the process's main program: exit code, signals, no child left behind. */
export function main(argv: readonly string[]): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`\nbench: ${signal}, stopping children`);
      killAll();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
  process.once('exit', killAll);
  runSuite(argv).then(
    (code) => {
      killAll();
      process.exit(code);
    },
    (error: unknown) => {
      log(`bench: ${(error as Error).stack ?? String(error)}`);
      killAll();
      process.exit(1);
    },
  );
}
