import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import {
  createMonitor,
  createMonitoringServer,
  type HealthReport,
  type Monitor,
} from '../../examples/monitoring.js';

const run = promisify(execFile);

async function start(logged: unknown[][] = []) {
  const monitor = createMonitor();
  const running = await createMonitoringServer({
    host: '127.0.0.1',
    port: 0,
    monitor,
    logError: (...args) => logged.push(args),
  }).run();
  return { running, monitor, base: `http://127.0.0.1:${running.port}` };
}

async function health(base: string): Promise<HealthReport> {
  const response = await fetch(`${base}/health`);
  assert.equal(response.status, 200);
  return (await response.json()) as HealthReport;
}

async function until(condition: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('/health reports the real memory, uptime and active count, with tracing headers', async () => {
  const { running, base } = await start();
  try {
    const response = await fetch(`${base}/health`, { headers: { 'X-Request-ID': 'trace-1' } });
    assert.equal(response.headers.get('x-request-id'), 'trace-1');
    assert.match(response.headers.get('x-response-time') ?? '', /^\d+\.\d{3}ms$/);
    assert.equal(response.headers.get('x-active-connections'), '1');
    assert.equal(response.headers.get('x-total-requests'), '1');
    const report = (await response.json()) as HealthReport;

    // Same process as the server: its numbers must be close to what we measure here.
    const memory = process.memoryUsage();
    assert.ok(
      Math.abs(report.memory.rss_bytes - memory.rss) < memory.rss / 2,
      `rss ${report.memory.rss_bytes} vs ${memory.rss}`,
    );
    assert.ok(report.memory.heap_used_bytes > 0);
    assert.ok(report.memory.heap_total_bytes >= report.memory.heap_used_bytes);
    assert.ok(report.memory.system_total_mb > report.memory.used_mb);
    assert.ok(report.memory.usage_percent > 0 && report.memory.usage_percent < 100);
    assert.ok(Math.abs(report.uptime_seconds - process.uptime()) < 1);
    assert.deepEqual(report.connections, { active: 1, total_processed: 1 });

    await new Promise((resolve) => setTimeout(resolve, 20));
    const later = await health(base);
    assert.ok(later.uptime_seconds > report.uptime_seconds, 'uptime moves');
    assert.deepEqual(later.connections, { active: 1, total_processed: 2 });

    const fresh = await fetch(`${base}/health`, { headers: { 'X-Request-ID': 'bad id\tx' } });
    assert.match(fresh.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  } finally {
    await running.close({ timeout: 2000 });
  }
});

test('concurrent slow requests raise the active count, and it falls back when they end', async () => {
  const { running, monitor, base } = await start();
  try {
    const slow = Array.from({ length: 5 }, () => fetch(`${base}/work?ms=400`));
    await until(() => monitor.stats().active === 5, 'five requests in flight');
    const during = await health(base);
    assert.equal(during.connections.active, 6, 'five slow ones and /health itself');

    const responses = await Promise.all(slow);
    for (const response of responses) {
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { workedMs: 400 });
    }
    const seen = responses.map((response) => Number(response.headers.get('x-active-connections')));
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      [1, 2, 3, 4, 5],
      'each saw the count as it arrived',
    );
    const totals = new Set(responses.map((response) => response.headers.get('x-total-requests')));
    assert.equal(totals.size, 5);

    assert.deepEqual(monitor.stats(), { active: 0, total_processed: 6 });
    assert.deepEqual((await health(base)).connections, { active: 1, total_processed: 7 });
  } finally {
    await running.close({ timeout: 2000 });
  }
});

async function expectIdle(monitor: Monitor, what: string): Promise<void> {
  await until(() => monitor.stats().active === 0, `no active requests after ${what}`, 1500);
}

test('throws, bad input, unknown paths and clients that give up all count out again', async () => {
  const logged: unknown[][] = [];
  const { running, monitor, base } = await start(logged);
  try {
    const boom = await fetch(`${base}/boom`);
    assert.equal(boom.status, 500);
    assert.deepEqual(await boom.json(), {
      error: 'Internal Server Error',
      message: 'Internal Server Error',
    });
    assert.equal(logged.length, 1);
    assert.equal(logged[0]![0], boom.headers.get('x-request-id'), 'the log names the request');
    assert.equal((logged[0]![2] as Error).message, 'simulated crash');
    await expectIdle(monitor, 'a throw');

    for (const ms of ['abc', '-1', '10001']) {
      const bad = await fetch(`${base}/work?ms=${ms}`);
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as { code: string }).code, 'INVALID_MS');
    }
    await expectIdle(monitor, 'bad input');
    assert.equal((await fetch(`${base}/nowhere`)).status, 404);
    await expectIdle(monitor, 'a 404');

    // curl gives up after 200 ms on a 3 s request; the count must not wait for the 3 s.
    const started = Date.now();
    const gaveUp = await run('curl', ['-s', '--max-time', '0.2', `${base}/work?ms=3000`]).then(
      () => 0,
      (error: { code?: number }) => error.code,
    );
    assert.equal(gaveUp, 28, 'curl timed out');
    await expectIdle(monitor, 'the client left');
    assert.ok(Date.now() - started < 2000);

    assert.equal(monitor.stats().total_processed, 6);
    const live = await health(base);
    assert.deepEqual(live.connections, { active: 1, total_processed: 7 });
  } finally {
    await running.close({ timeout: 2000 });
  }
});
