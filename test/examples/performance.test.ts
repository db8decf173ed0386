import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import {
  calculateFibonacci,
  createPerformanceServer,
  performCpuIntensiveTask,
  type DatabaseResult,
  type PerformanceStats,
} from '../../examples/performance.js';

const run = promisify(execFile);

interface PerfBody {
  status: string;
  data: number[];
  db_result: DatabaseResult;
  processing_time_ms: number;
  timestamp: number;
}

test('fibonacci is exact and the CPU task covers 1,000 numbers of i % 30', () => {
  assert.deepEqual([0, 1, 2, 3, 10, 29].map(calculateFibonacci), [0, 1, 1, 2, 55, 514229]);
  const results = performCpuIntensiveTask();
  assert.equal(results.length, 1000);
  assert.equal(results[29], 514229);
  assert.equal(results[30], 0);
  assert.equal(results[999], calculateFibonacci(999 % 30));
  // Sum over 33 full cycles of fib(0..29) plus fib(0..9): a check on every element at once.
  const cycle = Array.from({ length: 30 }, (_, i) => calculateFibonacci(i)).reduce((a, b) => a + b);
  const head = Array.from({ length: 10 }, (_, i) => calculateFibonacci(i)).reduce((a, b) => a + b);
  assert.equal(
    results.reduce((a, b) => a + b),
    33 * cycle + head,
  );
});

test('/perf does the work, waits for the query and reports its processing time', async () => {
  const running = await createPerformanceServer({ host: '127.0.0.1', port: 0 }).run();
  const base = `http://127.0.0.1:${running.port}`;
  try {
    const response = await fetch(`${base}/perf`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as PerfBody;
    assert.equal(body.status, 'success');
    assert.deepEqual(body.data, performCpuIntensiveTask());
    assert.equal(body.db_result.rows_affected, 42);
    // A 5 ms timer may fire a hair early on some platforms; 4 ms proves it really waited.
    assert.ok(
      body.db_result.execution_time_ms >= 4,
      `query took ${body.db_result.execution_time_ms}`,
    );
    const header = Number(response.headers.get('x-processing-time'));
    assert.equal(header, body.processing_time_ms);
    assert.ok(header >= body.db_result.execution_time_ms, 'processing includes the query');
    assert.ok(Math.abs(body.timestamp - Date.now() / 1000) < 5);

    const small = (await (await fetch(`${base}/perf?count=10`)).json()) as PerfBody;
    assert.deepEqual(small.data, performCpuIntensiveTask(10));

    const { stdout } = await run('curl', ['-s', '-D', '-', '-o', '/dev/null', `${base}/perf`]);
    assert.match(stdout, /^HTTP\/1\.1 200 /);
    assert.match(stdout, /\r\nx-processing-time: \d+(\.\d+)?\r\n/i);

    for (const count of ['abc', '0', '-1', '100001', '1.5', '']) {
      const bad = await fetch(`${base}/perf?count=${count}`);
      assert.equal(bad.status, 400, `count=${count}`);
      const error = (await bad.json()) as { code: string; message: string };
      assert.equal(error.code, 'INVALID_COUNT');
      assert.match(error.message, /count must be an integer/);
    }
    assert.equal((await fetch(`${base}/perf?count=5`)).status, 200, 'still serving');
  } finally {
    await running.close({ timeout: 2000 });
  }
});

test('/stats counts requests, average response time, error rate and elapsed time', async () => {
  const running = await createPerformanceServer({ host: '127.0.0.1', port: 0 }).run();
  const base = `http://127.0.0.1:${running.port}`;
  const stats = async (): Promise<PerformanceStats> =>
    (await (await fetch(`${base}/stats`)).json()) as PerformanceStats;
  try {
    const empty = await stats();
    assert.deepEqual(
      { ...empty, elapsedSeconds: 0, requestsPerSecond: 0 },
      {
        requests: 0,
        errors: 0,
        requestsPerSecond: 0,
        averageResponseTimeMs: 0,
        errorRate: 0,
        elapsedSeconds: 0,
      },
    );

    const responses = await Promise.all(Array.from({ length: 8 }, () => fetch(`${base}/perf`)));
    assert.ok(responses.every((response) => response.status === 200));
    await Promise.all(responses.map((response) => response.arrayBuffer()));
    assert.equal((await fetch(`${base}/fail`)).status, 500);
    assert.equal((await fetch(`${base}/perf?count=x`)).status, 400);

    const after = await stats();
    // The first /stats call counts too (it finished before this one started); 4xx is not an error.
    assert.equal(after.requests, 11);
    assert.equal(after.errors, 1);
    assert.equal(after.errorRate, Math.round((1 / 11) * 100 * 1000) / 1000);
    // Eight requests of at least ~4 ms each, averaged over eleven.
    assert.ok(
      after.averageResponseTimeMs >= (8 * 4) / 11,
      `average ${after.averageResponseTimeMs}`,
    );
    assert.ok(after.elapsedSeconds > empty.elapsedSeconds);
    assert.ok(after.requestsPerSecond > 0);
  } finally {
    await running.close({ timeout: 2000 });
  }
});
