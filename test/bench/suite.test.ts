/**
 * The benchmark suite end to end, as `npm run bench -- --quick` runs it: every HTTP target
 * starts with both benchmark apps, passes the answer check of every case, and is measured; the
 * cluster, WebSocket, SSE and memory scenarios run with their own load generators; and each run
 * prints its tables and verdicts and writes its JSON results and chart. Cells last 1 s, loads
 * are small and the HTTP load comes from autocannon, the generator that works on any machine,
 * so the figures themselves are not judged here, only that every target has one.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ScenarioResult } from '../../bench/lib/result.js';
import type { Verdict } from '../../bench/lib/report.js';
import { HTTP_TARGETS } from '../../bench/scenarios/http.js';

const RUNNER = fileURLToPath(new URL('../../bench/run.js', import.meta.url));

interface Report {
  readonly settings: { readonly loadGenerator: string; readonly quick: boolean };
  readonly scenarios: readonly ScenarioResult[];
  readonly verdicts: readonly Verdict[];
}

interface SuiteRun {
  readonly stdout: string;
  readonly report: Report;
  readonly svg: string;
}

/** The runner's settings, whatever the caller's environment says (its BENCH_* are dropped). */
function benchEnv(resultsDir: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('BENCH_')),
  );
  return {
    ...env,
    BENCH_DURATION: '1',
    BENCH_WARMUP: '0',
    BENCH_CONNECTIONS: '10',
    BENCH_LOADGEN: 'autocannon',
    BENCH_WS_CLIENTS: '10',
    BENCH_SSE_CLIENTS: '50',
    BENCH_IDLE: '100',
    BENCH_IDLE_BASE: '10',
    BENCH_WORKERS: '1',
    BENCH_RESULTS_DIR: resultsDir,
  };
}

/** Runs the suite with `args` and small loads into a temporary results folder. */
async function runSuite(t: TestContext, args: readonly string[]): Promise<SuiteRun> {
  const dir = await mkdtemp(join(tmpdir(), 'hl-bench-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [RUNNER, '--quick', ...args], {
    env: benchEnv(dir),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A failed assertion or a timeout must not leave the runner (and its servers) behind; the
  // runner stops its own children when it is signalled.
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  // 'close', not 'exit': the tables are the last thing written to stdout.
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 0, `the run failed:\n${stderr}`);
  return {
    stdout,
    report: JSON.parse(await readFile(join(dir, 'latest.json'), 'utf8')) as Report,
    svg: await readFile(join(dir, 'bench.svg'), 'utf8'),
  };
}

/** Asserts the scenarios ran in this order, each with a value for each of its targets. */
function assertMeasured(
  report: Report,
  expected: Readonly<Record<string, readonly string[]>>,
): void {
  assert.deepEqual(
    report.scenarios.map((s) => s.name),
    Object.keys(expected),
  );
  for (const scenario of report.scenarios) {
    assert.equal(scenario.crashed, undefined, scenario.name);
    assert.equal(scenario.skipped, undefined, scenario.name);
    assert.deepEqual(
      scenario.rows.map((row) => row.target),
      expected[scenario.name],
    );
    for (const row of scenario.rows) {
      assert.equal(row.failure, undefined, `${scenario.name} ${row.target}: ${row.failure}`);
      assert.ok((row.value ?? 0) > 0, `${scenario.name} ${row.target} has no figure`);
    }
  }
  // RSS moves in steps of whole allocations, so with 100 idle connections a baseline's growth
  // can be 0 and its ratio undefined; only the other verdicts must have a ratio here.
  for (const verdict of report.verdicts.filter((v) => v.metric === undefined)) {
    assert.ok(Number.isFinite(verdict.ratio), `${verdict.scenario} vs ${verdict.vs}: no ratio`);
  }
}

/** Asserts the chart is a whole SVG with a bar label for every target. */
function assertChart(svg: string, targets: readonly string[]): void {
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\s*$/);
  for (const target of targets) assert.ok(svg.includes(`>${target}<`), target);
}

test(
  '--quick verifies and measures every HTTP target with both apps',
  { timeout: 120_000 },
  async (t) => {
    const { stdout, report, svg } = await runSuite(t, ['--only', 'plaintext,middleware']);
    // The printed tables: one per scenario, a row per target, then the verdicts.
    assert.match(stdout, /### plaintext: GET \/ → "Hello World"/);
    assert.match(stdout, /### 3 middleware \+ JSON/);
    for (const target of HTTP_TARGETS) {
      assert.equal(stdout.match(new RegExp(`^\\| ${target} +\\| +[\\d,]+ \\|`, 'gm'))?.length, 2);
    }
    assert.match(stdout, /Issue 6 targets: \d of 3 met/);
    assert.equal(report.settings.loadGenerator, 'autocannon');
    assert.equal(report.settings.quick, true);
    assertMeasured(report, { plaintext: HTTP_TARGETS, middleware: HTTP_TARGETS });
    assert.deepEqual(
      report.verdicts.map((v) => `${v.scenario}/${v.vs}`),
      ['plaintext/net-ceiling', 'plaintext/fastify', 'middleware/fastify'],
    );
    assertChart(svg, HTTP_TARGETS);
  },
);

test(
  '--quick runs the cluster, WebSocket, SSE and memory scenarios',
  { timeout: 120_000 },
  async (t) => {
    const { stdout, report, svg } = await runSuite(t, [
      '--only',
      'cluster,ws-echo,sse,memory-http,memory-ws',
    ]);
    for (const heading of ['cluster', 'WebSocket echo', 'SSE fan-out', 'idle memory per']) {
      assert.ok(stdout.includes(`### ${heading}`), heading);
    }
    assertMeasured(report, {
      cluster: ['hyperlane', 'node-http'],
      'ws-echo': ['hyperlane', 'ws'],
      sse: ['hyperlane', 'node-http', 'fastify'],
      'memory-http': ['hyperlane', 'node-http', 'fastify'],
      'memory-ws': ['hyperlane', 'ws'],
    });
    assert.deepEqual(
      report.verdicts.map(
        (v) => `${v.scenario}/${v.vs}${v.metric === undefined ? '' : ` ${v.metric}`}`,
      ),
      [
        'ws-echo/ws',
        'memory-http/node-http',
        'memory-http/node-http rss',
        'memory-ws/ws',
        'memory-ws/ws rss',
      ],
    );
    assertChart(svg, ['hyperlane', 'node-http', 'fastify', 'ws']);
  },
);
