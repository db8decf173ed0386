/**
 * A/B comparison of server builds (or targets) under the same HTTP load, for judging one
 * optimisation: every server runs side by side, and short load windows alternate between them
 * for many cycles, so each cycle compares them under the same machine conditions. Printed per
 * server: the median req/s, the median of its per-cycle ratios to the last server (the
 * reference), and the same for server CPU per request. On a shared machine whose speed drifts
 * by a quarter within a minute, paired ratios from 1-s windows move by about ±0.02, where the
 * suite's 5-s cells, a minute apart, move by ±0.1.
 *
 * Usage: `node .build/bench/ab.js [--path /] [--cycles 15] [--seconds 1] [--close]
 *   <server.js> <server.js> …`, each script a bench server (`ready <port>` on stdout), such
 *   as `.build/bench/servers/hyperlane.js` and the same file in a copy of an older build.
 *   `--close` sends `Connection: close`. Load settings (wrk threads, connections) are the
 *   suite's `BENCH_*` variables.
 * @packageDocumentation
 */
import { CpuWindow } from './lib/cpu.js';
import { runLoad, type HttpLoad } from './lib/load.js';
import { median } from './lib/measure.js';
import { parseSettings } from './lib/options.js';
import { killAll, log, startServer, stopServer, type RunningServer } from './lib/proc.js';

interface Options {
  path: string;
  cycles: number;
  seconds: number;
  close: boolean;
  scripts: string[];
}

function parseOptions(argv: readonly string[]): Options {
  const options: Options = { path: '/', cycles: 15, seconds: 1, close: false, scripts: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--path') options.path = argv[++i] ?? '/';
    else if (arg === '--cycles') options.cycles = Number(argv[++i]);
    else if (arg === '--seconds') options.seconds = Number(argv[++i]);
    else if (arg === '--close') options.close = true;
    else if (arg.startsWith('--')) throw new Error(`unknown flag ${arg}`);
    else options.scripts.push(arg);
  }
  if (options.scripts.length < 2) throw new Error('give at least two server scripts');
  if (!(options.cycles >= 1) || !(options.seconds >= 1)) {
    throw new Error('--cycles and --seconds must be at least 1');
  }
  return options;
}

/** One server's windows: req/s and server CPU nanoseconds per request, one entry per cycle. */
interface Series {
  readonly server: RunningServer;
  readonly rates: number[];
  readonly cpuPerRequest: number[];
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  // The servers are given on the command line: the suite's target and scenario selections
  // (BENCH_TARGETS, BENCH_CASES) do not apply, and would be refused as unknown names.
  const env = { ...process.env, BENCH_TARGETS: undefined, BENCH_CASES: undefined };
  const settings = parseSettings([], env, ['ab'], []);
  const headers: Record<string, string> = options.close ? { Connection: 'close' } : {};
  const series: Series[] = [];
  try {
    for (const [index, script] of options.scripts.entries()) {
      const server = await startServer({ name: `#${index + 1}`, script, args: ['basic'] });
      series.push({ server, rates: [], cpuPerRequest: [] });
    }
    const loadOf = (server: RunningServer): HttpLoad => ({
      url: `http://127.0.0.1:${server.port}${options.path}`,
      method: 'GET',
      headers,
      pipelining: 1,
    });
    for (const { server } of series) await runLoad(settings, loadOf(server), 1);
    for (let cycle = 0; cycle < options.cycles; cycle++) {
      for (const entry of series) {
        const window = new CpuWindow(entry.server.pid);
        const outcome = await runLoad(settings, loadOf(entry.server), options.seconds, window);
        if (outcome.bad > 0) throw new Error(`${entry.server.name}: ${outcome.bad} bad responses`);
        entry.rates.push(outcome.rate);
        const cpu = window.share();
        if (cpu !== undefined && outcome.count > 0) {
          entry.cpuPerRequest.push((cpu.serverSeconds * 1e9) / outcome.count);
        }
      }
      log(`cycle ${cycle + 1}: ${series.map((s) => Math.round(s.rates[cycle]!)).join(' ')}`);
    }
  } finally {
    await Promise.all(series.map((s) => stopServer(s.server)));
  }
  const reference = series[series.length - 1]!;
  const pairedRatio = (values: number[], against: number[]): string => {
    const ratios = values.flatMap((v, i) => (against[i] ? [v / against[i]] : []));
    return median(ratios)?.toFixed(3) ?? '—';
  };
  process.stdout.write(
    `${options.cycles} cycles of ${options.seconds} s, ${settings.loadGenerator}, ` +
      `${settings.connections} connections, GET ${options.path}${options.close ? ' (close)' : ''}\n`,
  );
  for (const [index, entry] of series.entries()) {
    process.stdout.write(
      `${options.scripts[index]!.padEnd(52)} ${Math.round(median(entry.rates) ?? 0)
        .toLocaleString('en-US')
        .padStart(9)} req/s  ×ref ${pairedRatio(entry.rates, reference.rates)}   ` +
        `${Math.round(median(entry.cpuPerRequest) ?? 0)} ns CPU/req  ×ref ` +
        `${pairedRatio(entry.cpuPerRequest, reference.cpuPerRequest)}\n`,
    );
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`ab: ${(error as Error).message}`);
    killAll();
    process.exit(1);
  },
);
