/**
 * Idle memory per connection, marginal: a fresh server gets `idleBaseline` idle connections
 * first (so what every server pays once — compiled code, pools, first-use caches — is in the
 * baseline), is measured, gets `idleConnections` more, and is measured again; the growth is
 * divided by `idleConnections`. Memory is read in the server after two full collections.
 * HTTP: keep-alive sockets that each made one request (hyperlane, node:http, Fastify, all with
 * the same long keep-alive timeout); WebSocket: open connections (hyperlane, bare `ws`).
 * @packageDocumentation
 */
import type { MemoryReport } from '../servers/cli.js';
import { median } from '../lib/measure.js';
import type { Settings } from '../lib/options.js';
import {
  benchScript,
  collect,
  delay,
  lineReader,
  log,
  memoryOf,
  start,
  startServer,
  stopServer,
  type RunningServer,
  type ServerSpec,
} from '../lib/proc.js';
import { skippedScenario, type Row, type ScenarioResult } from '../lib/result.js';
import { selectTargets } from './common.js';

/** Long enough that no idle connection is closed while it is being measured. */
const KEEP_ALIVE_MS = '300000';

interface IdleClients {
  close(): Promise<void>;
}

/** Opens `count` idle connections in a client process; resolves once all are open. */
async function openIdle(kind: 'http' | 'ws', port: number, count: number): Promise<IdleClients> {
  const child = start(
    process.execPath,
    [benchScript('clients/idle.js'), kind, String(port), String(count)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const next = lineReader(child);
  const exit = collect(child, 'idle clients');
  await next(/^open$/);
  return {
    close: async () => {
      child.stdin!.end();
      const [json] = await next(/^\{.*\}$/);
      await exit;
      const { closedEarly } = JSON.parse(json) as { closedEarly: number };
      if (closedEarly > 0) {
        throw new Error(`the server closed ${closedEarly} idle connections during the measurement`);
      }
    },
  };
}

function jsMemory(m: MemoryReport): number {
  return m.heapUsed + m.external;
}

/** One marginal measurement on a fresh server: bytes per connection (JS heap + external, RSS). */
async function measureOnce(
  settings: Settings,
  kind: 'http' | 'ws',
  spec: ServerSpec,
): Promise<{ heap: number; rss: number }> {
  const server: RunningServer = await startServer(spec);
  try {
    const baseline = await openIdle(kind, server.port, settings.idleBaseline);
    await delay(300);
    const before = await memoryOf(server);
    const idle = await openIdle(kind, server.port, settings.idleConnections);
    await delay(500);
    const after = await memoryOf(server);
    await idle.close();
    await baseline.close();
    const n = settings.idleConnections;
    return { heap: (jsMemory(after) - jsMemory(before)) / n, rss: (after.rss - before.rss) / n };
  } finally {
    await stopServer(server);
  }
}

async function runMemory(
  settings: Settings,
  name: string,
  kind: 'http' | 'ws',
  all: readonly string[],
  baselines: readonly string[],
  spec: (target: string) => ServerSpec,
): Promise<ScenarioResult> {
  const title = `idle memory per ${kind === 'http' ? 'keep-alive connection' : 'WebSocket'} (${settings.idleConnections.toLocaleString('en-US')} after ${settings.idleBaseline})`;
  const targets = selectTargets(settings, all);
  if (targets.length === 0) return skippedScenario(name, title, 'bytes/conn', 'no target selected');
  const heaps = new Map<string, number[]>(targets.map((t) => [t, []]));
  const rss = new Map<string, number[]>(targets.map((t) => [t, []]));
  const failures = new Map<string, string>();
  for (let round = 0; round < settings.rounds; round++) {
    for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
      if (failures.has(target)) continue;
      try {
        const measured = await measureOnce(settings, kind, spec(target));
        heaps.get(target)!.push(measured.heap);
        rss.get(target)!.push(measured.rss);
        log(
          `  ${name.padEnd(11)} ${target.padEnd(11)} ${Math.round(measured.heap).toLocaleString('en-US').padStart(10)} bytes/conn (heap + external), ${Math.round(measured.rss).toLocaleString('en-US')} RSS`,
        );
      } catch (error) {
        failures.set(target, (error as Error).message);
        log(`  FAILED: ${name} ${target}: ${(error as Error).message}`);
      }
    }
  }
  const rows: Row[] = targets.map((target) => {
    const failure = failures.get(target);
    if (failure !== undefined) return { target, failure };
    return {
      target,
      value: median(heaps.get(target)!)!,
      extra: { rss: median(rss.get(target)!)! },
    };
  });
  return {
    name,
    title,
    unit: 'bytes/conn',
    lowerIsBetter: true,
    baselines,
    extraColumns: [{ key: 'rss', label: 'RSS bytes/conn', digits: 0 }],
    rows,
  };
}

const MEMORY_SERVER: Omit<ServerSpec, 'name' | 'script'> = {
  nodeArgs: ['--expose-gc'],
  ipc: true,
  env: { BENCH_KEEPALIVE_MS: KEEP_ALIVE_MS },
};

/** Idle HTTP keep-alive connections: hyperlane, node:http, Fastify. */
export function runMemoryHttp(settings: Settings): Promise<ScenarioResult> {
  return runMemory(
    settings,
    'memory-http',
    'http',
    ['hyperlane', 'node-http', 'fastify'],
    ['node-http', 'fastify'],
    (target) => ({
      ...MEMORY_SERVER,
      name: target,
      script: benchScript(`servers/${target}.js`),
      args: ['basic'],
    }),
  );
}

/** Idle WebSocket connections: hyperlane, bare `ws`. */
export function runMemoryWs(settings: Settings): Promise<ScenarioResult> {
  return runMemory(settings, 'memory-ws', 'ws', ['hyperlane', 'ws'], ['ws'], (target) => ({
    ...MEMORY_SERVER,
    name: target,
    script: benchScript('ws/server.js'),
    args: [target],
  }));
}
