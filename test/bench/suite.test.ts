/**
 * The benchmark suite end to end, as `npm run bench -- --quick` runs it: every HTTP target
 * starts with both benchmark apps, passes the answer check of every case, and is measured, and
 * the run prints its tables and verdicts and writes its JSON results and chart. Cells last 1 s
 * and the load comes from autocannon, the generator that works on any machine, so the figures
 * themselves are not judged here, only that every target has one.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
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

test('npm run bench -- --quick runs, verifies and reports every HTTP target', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hl-bench-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [RUNNER, '--quick', '--only', 'plaintext,middleware'], {
    env: {
      ...process.env,
      BENCH_DURATION: '1',
      BENCH_WARMUP: '0',
      BENCH_CONNECTIONS: '10',
      BENCH_LOADGEN: 'autocannon',
      BENCH_RESULTS_DIR: dir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, `the run failed:\n${stderr}`);

  // The printed tables: one per scenario, a row per target, then the verdicts.
  assert.match(stdout, /### plaintext: GET \/ → "Hello World"/);
  assert.match(stdout, /### 3 middleware \+ JSON/);
  for (const target of HTTP_TARGETS) {
    assert.equal(stdout.match(new RegExp(`^\\| ${target} +\\| +[\\d,]+ \\|`, 'gm'))?.length, 2);
  }
  assert.match(stdout, /Issue 6 targets: \d of 3 met/);

  // The JSON results: every target measured, none failed its answer check.
  const report = JSON.parse(await readFile(join(dir, 'latest.json'), 'utf8')) as Report;
  assert.equal(report.settings.loadGenerator, 'autocannon');
  assert.equal(report.settings.quick, true);
  assert.deepEqual(
    report.scenarios.map((s) => s.name),
    ['plaintext', 'middleware'],
  );
  for (const scenario of report.scenarios) {
    assert.equal(scenario.crashed, undefined, scenario.name);
    assert.deepEqual(
      scenario.rows.map((row) => row.target),
      [...HTTP_TARGETS],
    );
    for (const row of scenario.rows) {
      assert.equal(row.failure, undefined, `${scenario.name} ${row.target}: ${row.failure}`);
      assert.ok((row.value ?? 0) > 0, `${scenario.name} ${row.target} has no rate`);
    }
  }
  assert.deepEqual(
    report.verdicts.map((v) => `${v.scenario}/${v.vs}`),
    ['plaintext/net-ceiling', 'plaintext/fastify', 'middleware/fastify'],
  );
  for (const verdict of report.verdicts) assert.ok(Number.isFinite(verdict.ratio));

  // The chart: an SVG with a bar label for every target.
  const svg = await readFile(join(dir, 'bench.svg'), 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\s*$/);
  for (const target of HTTP_TARGETS) assert.ok(svg.includes(`>${target}<`), target);
});
