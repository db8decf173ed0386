import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { HyperlaneError } from '../../src/index.js';
import {
  healthCheck,
  type HealthCheckBody,
  type HealthCheckOptions,
} from '../../src/middleware/health-check.js';
import { RawConnection, finalResponses } from '../helpers/raw-client.js';
import { serve } from '../helpers/serve.js';

const run = promisify(execFile);

interface Answer {
  status: number;
  headers: Headers;
  body: HealthCheckBody;
}

async function probe(url: string): Promise<Answer> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as HealthCheckBody };
}

test('GET /health answers 200 { status, uptime, timestamp }, never cached', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get('/health', healthCheck());
  });
  const before = Date.now();
  const res = await probe(`${base}/health`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(Object.keys(res.body).sort(), ['status', 'timestamp', 'uptime']);
  assert.equal(res.body.status, 'ok');
  assert.equal(typeof res.body.uptime, 'number');
  assert.ok(res.body.uptime > 0);
  assert.match(res.body.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.ok(Date.parse(res.body.timestamp) >= before - 1000);

  // curl, and HEAD (which GET routes answer too) without a body.
  const { stdout } = await run('curl', ['-s', '-w', '\n%{http_code}', `${base}/health`]);
  assert.match(stdout, /^\{"status":"ok","uptime":[\d.]+,"timestamp":"[^"]+"\}\n200$/);
  const head = await fetch(`${base}/health`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
});

test('passing checks: 200 with each outcome', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get(
      '/health',
      healthCheck({
        checks: {
          sync: () => true,
          async: async () => true,
          voidAsync: async () => {}, // "no news is good news": only false or a throw fails
        },
      }),
    );
  });
  const res = await probe(`${base}/health`);
  assert.equal(res.status, 200);
  assert.equal(res.body.status, 'ok');
  assert.deepEqual(res.body.checks, { sync: 'ok', async: 'ok', voidAsync: 'ok' });
});

test('failing, throwing, rejecting and hanging checks: 503 naming each; the server keeps serving', async (t) => {
  let hung = 0;
  const { base } = await serve(t, (server) => {
    server.get(
      '/health',
      healthCheck({
        checkTimeoutMs: 100,
        checks: {
          db: () => true,
          cache: () => false,
          queue: () => {
            throw new Error('secret connection string');
          },
          search: () => Promise.reject(new Error('down')),
          mail: () =>
            new Promise<boolean>(() => {
              hung++; // never settles
            }),
          lateReject: () =>
            new Promise<boolean>((_, reject) => setTimeout(reject, 300, new Error('later'))),
        },
      }),
    );
    server.get('/alive', (ctx) => void ctx.setResponseBody('alive'));
  });
  const started = Date.now();
  const res = await probe(`${base}/health`);
  assert.ok(Date.now() - started < 2000, 'a hanging check does not hang the probe');
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal(res.body.status, 'error');
  assert.deepEqual(res.body.checks, {
    db: 'ok',
    cache: 'failed',
    queue: 'failed',
    search: 'failed',
    mail: 'timeout',
    lateReject: 'timeout',
  });
  assert.ok(!JSON.stringify(res.body).includes('secret'), 'no error text leaks');
  assert.equal(hung, 1);
  // The late rejection must not surface as an unhandled rejection (the test run would fail).
  await new Promise((resolve) => setTimeout(resolve, 300));
  const alive = await fetch(`${base}/alive`);
  assert.equal(await alive.text(), 'alive');
});

test('probes run on every request and recover; pipelined probes are all answered', async (t) => {
  let healthy = false;
  const { base, port } = await serve(t, (server) => {
    server.get(
      '/health',
      healthCheck({
        checkTimeoutMs: 1000,
        checks: {
          a: () => new Promise<boolean>((r) => setTimeout(r, 150, healthy)),
          b: () => new Promise<boolean>((r) => setTimeout(r, 150, true)),
        },
      }),
    );
  });
  assert.equal((await probe(`${base}/health`)).status, 503);
  healthy = true;
  assert.equal((await probe(`${base}/health`)).status, 200);

  // Pipelined probes on one raw connection are all answered.
  const conn = await RawConnection.connect(port);
  try {
    await conn.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(5));
    const responses = finalResponses(await conn.readResponses(5, 5000));
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 200, 200, 200, 200],
    );
  } finally {
    conn.destroy();
  }
});

test('bad options throw HL_ERR_CONFIG naming the option', () => {
  const cases: Array<[unknown, string]> = [
    [null, 'options'],
    [{ checkTimeoutMs: 0 }, 'checkTimeoutMs'],
    [{ checkTimeoutMs: -1 }, 'checkTimeoutMs'],
    [{ checkTimeoutMs: Number.NaN }, 'checkTimeoutMs'],
    [{ checkTimeoutMs: 2 ** 31 }, 'checkTimeoutMs'],
    [{ checks: 'db' }, 'checks'],
    [{ checks: null }, 'checks'],
    [{ checks: { db: true } }, 'checks.db'],
  ];
  for (const [options, name] of cases) {
    assert.throws(
      () => healthCheck(options as HealthCheckOptions),
      (error: unknown) =>
        error instanceof HyperlaneError &&
        error.code === 'HL_ERR_CONFIG' &&
        error.message.includes(name),
      JSON.stringify(options),
    );
  }
});
