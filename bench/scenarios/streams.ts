/**
 * The long-lived-connection scenarios with their own clients: WebSocket echo (hyperlane
 * against a bare `ws` server) and SSE fan-out (hyperlane against node:http and Fastify). The
 * client process prints `start` when its measured window opens and a JSON line when it closes;
 * the CPU window is taken exactly there, with the live client's own CPU counted as generator.
 * @packageDocumentation
 */
import type { CpuWindow } from '../lib/cpu.js';
import { measureCell, type Outcome } from '../lib/measure.js';
import type { Settings } from '../lib/options.js';
import { benchScript, collect, lineReader, start } from '../lib/proc.js';
import { rowFromSamples, skippedScenario, type ScenarioResult } from '../lib/result.js';
import { cellLabel, interleaved, selectTargets, ServerSet } from './common.js';

/** Runs a client script, accounting the CPU between its `start` line and its JSON line. */
async function runClient(
  script: string,
  args: readonly string[],
  window: CpuWindow,
): Promise<Record<string, number>> {
  const child = start(process.execPath, [benchScript(script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const next = lineReader(child);
  const exit = collect(child, script).catch((error: unknown) => error as Error);
  let json: string;
  try {
    await next(/^start$/);
    window.start(child.pid);
    [json] = await next(/^\{.*\}$/);
    window.stop(child.pid);
  } catch (error) {
    // The client's exit status says more than a missing line.
    const failed = await exit;
    throw failed instanceof Error ? failed : error;
  }
  const failed = await exit;
  if (failed instanceof Error) throw failed;
  return JSON.parse(json) as Record<string, number>;
}

/** Measures `targets` interleaved on servers from `script`, one cell per target and round. */
async function measureStreams(
  settings: Settings,
  name: string,
  unit: string,
  targets: readonly string[],
  serverScript: string,
  serverArgs: readonly string[],
  run: (port: number, round: number, window: CpuWindow) => Promise<Outcome>,
  saturating: boolean,
): Promise<ScenarioResult['rows']> {
  const set = new ServerSet();
  try {
    await set.start(targets, (target) => ({
      name: target,
      script: benchScript(serverScript),
      args: [target, ...serverArgs],
    }));
    const samples = await interleaved(settings, targets, async (target, round) => {
      const server = set.servers.get(target);
      if (server === undefined) return undefined;
      try {
        const sample = await measureCell(
          cellLabel(name, target, round, settings.rounds),
          unit,
          server.pid,
          settings.retries,
          (window) => run(server.port, round, window),
        );
        if (sample.errors > 0) set.fail(target, `${sample.errors} client errors`);
        return sample;
      } catch (error) {
        set.fail(target, (error as Error).message);
        return undefined;
      }
    });
    return targets.map((t) => rowFromSamples(t, samples.get(t)!, saturating, set.failures.get(t)));
  } finally {
    await set.stopAll();
  }
}

const WS_TITLE = 'WebSocket echo';

/** WebSocket echo: `wsClients` clients each keeping `wsWindow` messages in flight. */
export async function runWsEcho(settings: Settings): Promise<ScenarioResult> {
  const title = `${WS_TITLE} (${settings.wsClients} clients, ${settings.wsWindow} in flight each)`;
  const targets = selectTargets(settings, ['hyperlane', 'ws']);
  if (targets.length === 0) return skippedScenario('ws-echo', title, 'msg/s', 'no target selected');
  const rows = await measureStreams(
    settings,
    'ws-echo',
    'msg/s',
    targets,
    'ws/server.js',
    [],
    async (port, round, window) => {
      const warmup = round === 0 ? settings.warmupSec : 0;
      const args = [port, settings.wsClients, settings.durationSec, settings.wsWindow, warmup];
      const result = await runClient('ws/load.js', args.map(String), window);
      return {
        rate: result.messages! / result.seconds!,
        count: result.messages!,
        bad: 0,
        errors: result.errors!,
      };
    },
    true,
  );
  return { name: 'ws-echo', title, unit: 'msg/s', baselines: ['ws'], rows };
}

/** SSE fan-out: the server broadcasts `sseRate` events/s to `sseClients` streaming clients. */
export async function runSse(settings: Settings): Promise<ScenarioResult> {
  const { sseClients: clients, sseRate: rate } = settings;
  const title = `SSE fan-out: ${rate} events/s broadcast to ${clients.toLocaleString('en-US')} clients`;
  const targets = selectTargets(settings, ['hyperlane', 'node-http', 'fastify']);
  if (targets.length === 0) return skippedScenario('sse', title, 'events/s', 'no target selected');
  const rows = await measureStreams(
    settings,
    'sse',
    'events/s',
    targets,
    'sse/server.js',
    [String(rate)],
    async (port, _round, window) => {
      const args = [port, clients, settings.durationSec].map(String);
      const result = await runClient('sse/load.js', args, window);
      const delivered = result.events! / result.seconds!;
      return {
        rate: delivered,
        count: result.events!,
        bad: 0,
        errors: result.errors!,
        // What a server that keeps up delivers; below it, events were late or dropped.
        extra: {
          delivered: delivered / (rate * clients),
          lagP50: result.lagP50!,
          lagP99: result.lagP99!,
        },
      };
    },
    false,
  );
  return {
    name: 'sse',
    title,
    unit: 'events/s',
    baselines: ['node-http', 'fastify'],
    extraColumns: [
      { key: 'delivered', label: 'of sent', digits: 3 },
      { key: 'lagP50', label: 'lag p50 ms', digits: 1 },
      { key: 'lagP99', label: 'lag p99 ms', digits: 1 },
    ],
    rows,
  };
}
