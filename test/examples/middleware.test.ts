import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { createMiddlewareServer, SECURITY_HEADERS } from '../../examples/middleware.js';

const run = promisify(execFile);
const ALLOWED = 'http://localhost:3000';

async function start() {
  const lines: string[] = [];
  const running = await createMiddlewareServer({
    host: '127.0.0.1',
    port: 0,
    log: (line) => lines.push(line),
  }).run();
  return { running, lines, base: `http://127.0.0.1:${running.port}` };
}

function assertSecurityHeaders(response: Response, what: string): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    assert.equal(response.headers.get(name), value, `${name} on ${what}`);
  }
}

function corsHeaders(response: Response): string[] {
  return [...response.headers.keys()].filter((name) => name.startsWith('access-control-'));
}

test('logging: start line with client address and user agent, completion with a real duration', async () => {
  const { running, lines, base } = await start();
  try {
    // curl tells us its local port, so the logged client address can be checked exactly.
    const { stdout } = await run('curl', [
      '-s',
      '-o',
      '/dev/null',
      '-A',
      'curl-test/1.0',
      '-w',
      '%{http_code} %{local_port}',
      `${base}/api/data`,
    ]);
    const [code, localPort] = stdout.split(' ');
    assert.equal(code, '200');
    assert.deepEqual(lines.slice(0, 1), [
      `Request started: GET /api/data from 127.0.0.1:${localPort} (curl-test/1.0)`,
    ]);
    assert.match(lines[1]!, /^Request completed: GET \/api\/data 200 in \d+\.\d\d ms$/);

    lines.length = 0;
    const slow = await fetch(`${base}/api/slow`, { headers: { 'User-Agent': 'fetch-test' } });
    assert.equal(slow.status, 200);
    assert.match(
      lines[0]!,
      /^Request started: GET \/api\/slow from 127\.0\.0\.1:\d+ \(fetch-test\)$/,
    );
    const duration = Number(/in ([\d.]+) ms$/.exec(lines[1]!)?.[1]);
    assert.ok(
      duration >= 45 && duration < 1000,
      `the 50 ms handler is inside the clock: ${duration}`,
    );

    lines.length = 0;
    const failed = await fetch(`${base}/api/fail`);
    assert.equal(failed.status, 500);
    assertSecurityHeaders(failed, 'a 500');
    assert.equal(lines.length, 2);
    assert.match(
      lines[1]!,
      /^Request failed: GET \/api\/fail 500 in \d+\.\d\d ms \(Error: simulated failure\)$/,
    );
  } finally {
    await running.close({ timeout: 2000 });
  }
});

test('security headers on every response: 200, 404, 405, preflight', async () => {
  const { running, base } = await start();
  try {
    assertSecurityHeaders(await fetch(`${base}/api/data`), 'a 200');
    const missing = await fetch(`${base}/nowhere`);
    assert.equal(missing.status, 404);
    assertSecurityHeaders(missing, 'a 404');
    const wrongMethod = await fetch(`${base}/api/data`, { method: 'DELETE' });
    assert.equal(wrongMethod.status, 405);
    assertSecurityHeaders(wrongMethod, 'a 405');
    const preflight = await fetch(`${base}/api/data`, {
      method: 'OPTIONS',
      headers: { Origin: ALLOWED, 'Access-Control-Request-Method': 'PUT' },
    });
    assertSecurityHeaders(preflight, 'a preflight');
  } finally {
    await running.close({ timeout: 2000 });
  }
});

test('CORS: listed origins only; preflight 204 with methods, headers and max-age', async () => {
  const { running, lines, base } = await start();
  try {
    const allowed = await fetch(`${base}/api/data`, { headers: { Origin: ALLOWED } });
    assert.equal(allowed.headers.get('access-control-allow-origin'), ALLOWED);
    assert.equal(allowed.headers.get('vary'), 'Origin');
    // Preflight-only headers stay off ordinary responses.
    assert.deepEqual(corsHeaders(allowed), ['access-control-allow-origin']);

    for (const origin of ['https://evil.example', 'https://myapp.com.evil.net', 'null']) {
      const foreign = await fetch(`${base}/api/data`, { headers: { Origin: origin } });
      assert.equal(foreign.status, 200);
      assert.deepEqual(corsHeaders(foreign), [], origin);
    }

    for (const path of ['/api/data', '/api/slow']) {
      lines.length = 0;
      const preflight = await fetch(`${base}${path}`, {
        method: 'OPTIONS',
        headers: {
          Origin: 'https://myapp.com',
          'Access-Control-Request-Method': 'PUT',
          'Access-Control-Request-Headers': 'content-type',
        },
      });
      assert.equal(preflight.status, 204, path);
      assert.equal(await preflight.text(), '');
      assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://myapp.com');
      assert.equal(
        preflight.headers.get('access-control-allow-methods'),
        'GET, POST, PUT, DELETE, OPTIONS',
      );
      assert.equal(
        preflight.headers.get('access-control-allow-headers'),
        'Content-Type, Authorization',
      );
      assert.equal(preflight.headers.get('access-control-max-age'), '86400');
      assert.match(lines.at(-1)!, new RegExp(`^Request completed: OPTIONS ${path} 204 in`));
    }

    const refused = await fetch(`${base}/api/data`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'DELETE' },
    });
    assert.equal(refused.status, 403);
    assert.deepEqual(corsHeaders(refused), []);
    assert.match(((await refused.json()) as { message: string }).message, /evil\.example/);

    const plainOptions = await fetch(`${base}/api/data`, { method: 'OPTIONS' });
    assert.equal(plainOptions.status, 204);
    assert.equal(plainOptions.headers.get('allow'), 'GET, POST, PUT, DELETE, OPTIONS');
    assert.deepEqual(corsHeaders(plainOptions), []);

    // Unknown paths stay unknown, preflight or not.
    const unknown = await fetch(`${base}/not/a/route`, {
      method: 'OPTIONS',
      headers: { Origin: ALLOWED, 'Access-Control-Request-Method': 'GET' },
    });
    assert.equal(unknown.status, 404);
    assert.deepEqual(corsHeaders(unknown), ['access-control-allow-origin']);

    const badJson = await fetch(`${base}/api/data`, {
      method: 'POST',
      headers: { Origin: ALLOWED, 'Content-Type': 'application/json' },
      body: '{nope',
    });
    assert.equal(badJson.status, 400);
    // Error responses keep the CORS header, so the browser lets the page read the error.
    assert.equal(badJson.headers.get('access-control-allow-origin'), ALLOWED);

    const echoed = await fetch(`${base}/api/data`, {
      method: 'POST',
      headers: { Origin: ALLOWED, 'Content-Type': 'application/json' },
      body: '{"a":1}',
    });
    assert.deepEqual(await echoed.json(), { received: { a: 1 } });
  } finally {
    await running.close({ timeout: 2000 });
  }
});
