/**
 * The HTTP scenarios (plaintext, JSON, route param, middleware, POST echo, pipelining,
 * `Connection: close`) on every HTTP target, and the cluster scenario. All targets of an app
 * run side by side; each is verified on every case of its app before any load, then each case
 * is measured interleaved across targets.
 * @packageDocumentation
 */
import { BENCH_CASES, type BenchApp, type BenchCase } from '../app.js';
import { runLoad, type HttpLoad } from '../lib/load.js';
import { measureCell } from '../lib/measure.js';
import type { Settings } from '../lib/options.js';
import { benchScript, log, SkipError } from '../lib/proc.js';
import {
  rowFromSamples,
  skippedScenario,
  type ExtraColumn,
  type ScenarioResult,
} from '../lib/result.js';
import { verifyCase } from '../lib/verify.js';
import { cellLabel, interleaved, selectTargets, ServerSet } from './common.js';

/** HTTP targets, in table order; each is `servers/<name>.js`. */
export const HTTP_TARGETS = [
  'hyperlane',
  'node-http',
  'fastify',
  'hono',
  'express',
  'koa',
  'net-ceiling',
] as const;

/** The load-tested cases, in suite order. */
export const HTTP_SCENARIOS: readonly string[] = BENCH_CASES.filter((c) => !c.verifyOnly).map(
  (c) => c.name,
);

const TITLES: Record<string, string> = {
  plaintext: 'plaintext: GET / → "Hello World"',
  json: 'JSON: GET /json → {"message":"Hello, World!"}',
  param: 'route param: GET /users/42 among 50 routes',
  middleware: '3 middleware + JSON: security headers, CORS, request id',
  post: 'POST 1 KB JSON echo (parsed and re-serialized)',
  pipelining: '16-deep pipelining: GET /',
  close: 'Connection: close (a new connection per request): GET /',
};

const BASELINES = ['node-http', 'net-ceiling', 'fastify'];
const LATENCY: readonly ExtraColumn[] = [{ key: 'latencyMs', label: 'latency ms', digits: 2 }];

function loadOf(benchCase: BenchCase, port: number): HttpLoad {
  return {
    url: `http://127.0.0.1:${port}${benchCase.path}`,
    method: benchCase.method,
    headers: benchCase.requestHeaders ?? {},
    ...(benchCase.body === undefined ? {} : { body: benchCase.body }),
    pipelining: benchCase.pipelining ?? 1,
  };
}

/** Measures one case on the running servers, interleaved. */
async function measureCase(
  settings: Settings,
  benchCase: BenchCase,
  targets: readonly string[],
  set: ServerSet,
): Promise<ScenarioResult> {
  // A failure here is this case's only: the target's server stays up for the other cases.
  const failures = new Map<string, string>();
  const samples = await interleaved(settings, targets, async (target, round) => {
    const server = set.servers.get(target);
    if (server === undefined || failures.has(target)) return undefined;
    const load = loadOf(benchCase, server.port);
    try {
      // Warm-up before a target's first round lets the JIT settle on this route; the process
      // stays up, so later rounds are warm already.
      if (round === 0 && settings.warmupSec > 0) await runLoad(settings, load, settings.warmupSec);
      const sample = await measureCell(
        cellLabel(benchCase.name, target, round, settings.rounds),
        'req/s',
        server.pid,
        settings.retries,
        (window) => runLoad(settings, load, settings.durationSec, window),
      );
      // Numbers of error responses would compare nothing.
      if (sample.bad > 0) throw new Error(`${sample.bad} non-2xx responses under load`);
      return sample;
    } catch (error) {
      failures.set(target, (error as Error).message);
      log(`  FAILED: ${benchCase.name} ${target}: ${(error as Error).message}`);
      return undefined;
    }
  });
  return {
    name: benchCase.name,
    title: TITLES[benchCase.name] ?? benchCase.name,
    unit: 'req/s',
    baselines: BASELINES,
    extraColumns: LATENCY,
    rows: targets.map((t) =>
      rowFromSamples(t, samples.get(t)!, true, set.failures.get(t) ?? failures.get(t)),
    ),
  };
}

/** Runs the selected HTTP scenarios (`names`) on the selected targets. */
export async function runHttp(
  settings: Settings,
  names: readonly string[],
): Promise<ScenarioResult[]> {
  const targets = selectTargets(settings, HTTP_TARGETS);
  const results: ScenarioResult[] = [];
  for (const app of ['basic', 'middleware'] as BenchApp[]) {
    const cases = BENCH_CASES.filter((c) => c.app === app && names.includes(c.name));
    if (cases.length === 0) continue;
    if (targets.length === 0) {
      results.push(
        ...cases.map((c) =>
          skippedScenario(c.name, TITLES[c.name]!, 'req/s', 'no target selected'),
        ),
      );
      continue;
    }
    const set = new ServerSet();
    try {
      // Every case of the app is verified, even those not run, so a broken route is never missed.
      await set.start(
        targets,
        (target) => ({ name: target, script: benchScript(`servers/${target}.js`), args: [app] }),
        async (server) => {
          for (const c of BENCH_CASES.filter((c) => c.app === app)) {
            await verifyCase(server.port, c);
          }
        },
      );
      for (const benchCase of cases) {
        results.push(await measureCase(settings, benchCase, targets, set));
      }
    } finally {
      await set.stopAll();
    }
  }
  return results;
}

const CLUSTER_TITLE = 'cluster, all cores (plaintext): workers("auto") vs node:cluster';

/**
 * The cluster scenario: hyperlane with `server.workers('auto')` against `node:http` under
 * `node:cluster`, plaintext. Skipped, with the reason, when this hyperlane-ts has no workers().
 */
export async function runCluster(settings: Settings): Promise<ScenarioResult> {
  const targets = selectTargets(settings, ['hyperlane', 'node-http']);
  if (targets.length === 0) {
    return skippedScenario('cluster', CLUSTER_TITLE, 'req/s', 'no target selected');
  }
  const plaintext = BENCH_CASES.find((c) => c.name === 'plaintext')!;
  const set = new ServerSet();
  try {
    await set.start(
      targets,
      (target) => ({
        name: `${target} (cluster)`,
        script: benchScript(`servers/${target}-cluster.js`),
      }),
      (server) => verifyCase(server.port, plaintext),
    );
    const result = await measureCase(settings, { ...plaintext, name: 'cluster' }, targets, set);
    return { ...result, title: CLUSTER_TITLE, baselines: ['node-http'] };
  } catch (error) {
    if (!(error instanceof SkipError)) throw error;
    return skippedScenario('cluster', CLUSTER_TITLE, 'req/s', error.message);
  } finally {
    await set.stopAll();
  }
}
