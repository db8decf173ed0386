/**
 * `server.workers()`: worker processes share one port, a crashed worker is replaced, and
 * SIGTERM to the primary drains every worker before it exits 0. Runs the fixture app in a
 * child process and talks to it over real sockets.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { eventually } from '../helpers/eventually.js';
import { HyperlaneError, Server } from '../../src/index.js';

const APP = fileURLToPath(new URL('./fixtures/cluster-app.js', import.meta.url));

interface ClusterApp {
  child: ChildProcess;
  port: number;
  stderr: () => string;
  exited: Promise<number | null>;
}

async function startApp(
  t: TestContext,
  workers: string,
  env: Record<string, string> = {},
): Promise<ClusterApp> {
  const child = spawn(process.execPath, [APP], {
    env: { ...process.env, WORKERS: workers, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /ready (\d+)/.exec(out);
      if (match !== null) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`app exited (${code}) before ready: ${stderr}`)));
    setTimeout(() => reject(new Error(`no ready line in 20 s: ${stderr}`)), 20_000).unref();
  });
  return { child, port, stderr: () => stderr, exited };
}

/** One request on its own connection, so the kernel spreads connections over the workers. */
function get(port: number, path: string): Promise<{ status: number; pid: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        const parsed = JSON.parse(body) as { pid?: number };
        resolve({ status: res.statusCode ?? 0, pid: parsed.pid ?? 0 });
      });
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
  });
}

async function pidsServing(port: number, requests: number): Promise<Set<number>> {
  const pids = new Set<number>();
  for (let i = 0; i < requests; i++) {
    const res = await get(port, '/pid').catch(() => undefined);
    if (res?.status === 200) pids.add(res.pid);
  }
  return pids;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('workers(2): both workers serve one port; logs carry the worker id', async (t) => {
  const app = await startApp(t, '2');
  const pids = await pidsServing(app.port, 20);
  assert.equal(pids.size, 2, `two workers answered: ${[...pids].join(', ')}`);
  assert.ok(!pids.has(app.child.pid!), 'the primary does not serve');
  const failed = await new Promise<number>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: app.port, path: '/fail', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
  assert.equal(failed, 500);
  assert.ok(
    await eventually(() => /\[hyperlane-ts worker \d+\] unhandled error/.test(app.stderr())),
    app.stderr(),
  );
  app.child.kill('SIGTERM');
  assert.equal(await app.exited, 0);
  for (const pid of pids) assert.ok(await eventually(() => !isAlive(pid)), `worker ${pid} gone`);
});

test('a crashed worker is replaced and the service goes on', async (t) => {
  const app = await startApp(t, '2');
  const before = await pidsServing(app.port, 20);
  assert.equal(before.size, 2);
  const [victim] = before;
  process.kill(victim!, 'SIGKILL');
  assert.ok(
    await eventually(async () => {
      const now = await pidsServing(app.port, 10);
      return now.size === 2 && !now.has(victim!);
    }, 15_000),
    'a replacement worker serves next to the survivor',
  );
  assert.match(app.stderr(), new RegExp(`worker \\d+ exited .*replacement`));
  app.child.kill('SIGTERM');
  assert.equal(await app.exited, 0);
});

test('SIGTERM drains: in-flight requests complete, then the primary exits 0 with no worker left', async (t) => {
  const app = await startApp(t, '2');
  const workers = await pidsServing(app.port, 20);
  const inFlight = Array.from({ length: 10 }, () => get(app.port, '/slow?ms=800'));
  await new Promise((resolve) => setTimeout(resolve, 200));
  app.child.kill('SIGTERM');
  const results = await Promise.all(inFlight);
  assert.deepEqual(
    results.map((r) => r.status),
    Array.from({ length: 10 }, () => 200),
  );
  assert.equal(await app.exited, 0);
  for (const pid of workers) assert.ok(await eventually(() => !isAlive(pid)), `worker ${pid} gone`);
});

test("workers('auto') starts one worker per core; bad counts are refused", async (t) => {
  const app = await startApp(t, 'auto');
  const pids = await pidsServing(app.port, 10 * availableParallelism());
  assert.equal(pids.size, availableParallelism());
  app.child.kill('SIGINT');
  assert.equal(await app.exited, 0);
  for (const bad of [0, -1, 1.5, 'many']) {
    assert.throws(
      () => new Server().workers(bad as number),
      (error: unknown) => error instanceof HyperlaneError && error.code === 'HL_ERR_CONFIG',
    );
  }
});

test('a worker told to stop drains and exits even with live handles, and is replaced', async (t) => {
  const app = await startApp(t, '2', { LIVE_HANDLE: '1' });
  const before = await pidsServing(app.port, 20);
  assert.equal(before.size, 2);
  const [stopped] = before;
  process.kill(stopped!, 'SIGTERM');
  assert.ok(await eventually(() => !isAlive(stopped!), 10_000), 'the signalled worker exited');
  assert.ok(
    await eventually(async () => {
      const now = await pidsServing(app.port, 10);
      return now.size === 2 && !now.has(stopped!);
    }, 15_000),
    'a replacement serves next to the survivor',
  );
  const started = Date.now();
  app.child.kill('SIGINT');
  assert.equal(await app.exited, 0);
  // Drained workers leave on their own (no kill after the close timeout): well under 10 s.
  assert.ok(Date.now() - started < 8_000, `exit took ${Date.now() - started} ms`);
});
