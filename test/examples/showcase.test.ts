/**
 * The showcase: its config precedence, every mounted program's main route (one request each),
 * server-wide middleware registered once, and `node showcase.js` closing gracefully on a signal.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { RunningServer } from '../../src/index.js';
import { ConfigError } from '../../examples/app-config.js';
import type { ChatMessage } from '../../examples/chat.js';
import type { HealthReport } from '../../examples/monitoring.js';
import {
  createShowcase,
  loadShowcaseConfig,
  SHOWCASE_PORT,
  SHOWCASE_PROGRAMS,
  type Showcase,
} from '../../examples/showcase.js';

const SCRIPT = fileURLToPath(new URL('../../examples/showcase.js', import.meta.url));

let dir = '';
let showcase: Showcase;
let running: RunningServer;
let base = '';
const lines: string[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hl-showcase-'));
  showcase = await createShowcase({
    host: '127.0.0.1',
    port: 0,
    env: {},
    log: (line) => lines.push(line),
    metricsIntervalMs: 50,
  });
  running = await showcase.run();
  base = `http://127.0.0.1:${running.port}`;
});

after(async () => {
  await running?.close({ timeout: 1000 });
  await rm(dir, { recursive: true, force: true });
});

async function json<T>(path: string, init?: RequestInit): Promise<{ response: Response; body: T }> {
  const response = await fetch(base + path, init);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, path);
  return { response, body: (await response.json()) as T };
}

test('config: defaults ← file ← HL_* ← PORT/HOST ← options, bad values named', async () => {
  const defaults = await loadShowcaseConfig({ env: {} });
  assert.equal(defaults.serverHost, '0.0.0.0');
  assert.equal(defaults.serverPort, SHOWCASE_PORT);

  const file = join(dir, 'config.json');
  await writeFile(
    file,
    JSON.stringify({ serverPort: 7001, maxConnections: 5, corsOrigins: ['https://a.example'] }),
  );
  const fromFile = await loadShowcaseConfig({ env: { CONFIG_FILE: file } });
  assert.equal(fromFile.serverPort, 7001);
  assert.equal(fromFile.maxConnections, 5);
  assert.deepEqual(fromFile.corsOrigins, ['https://a.example']);

  const env = { CONFIG_FILE: file, HL_SERVER_PORT: '7002', HL_MAX_CONNECTIONS: '6' };
  assert.equal((await loadShowcaseConfig({ env })).serverPort, 7002);
  const withPort = await loadShowcaseConfig({ env: { ...env, PORT: '7003', HOST: '127.0.0.2' } });
  assert.equal(withPort.serverPort, 7003);
  assert.equal(withPort.serverHost, '127.0.0.2');
  assert.equal(withPort.maxConnections, 6);
  const explicit = await loadShowcaseConfig({
    env: { ...env, PORT: '7003' },
    port: 0,
    host: '::1',
  });
  assert.equal(explicit.serverPort, 0);
  assert.equal(explicit.serverHost, '::1');

  await assert.rejects(
    loadShowcaseConfig({ env: { PORT: 'eighty' } }),
    (error) =>
      error instanceof ConfigError && error.field === 'serverPort' && error.source === 'PORT',
  );
  await assert.rejects(
    loadShowcaseConfig({ env: { PORT: '70000' } }),
    /serverPort \(from PORT\) must be an integer from 0 to 65535/,
  );
  await assert.rejects(loadShowcaseConfig({ env: { HL_MAX_CONNECTIONS: '0' } }), /maxConnections/);
});

test('liveness: /health reports real figures and the page is served', async () => {
  const { response, body } = await json<HealthReport>('/health');
  assert.equal(response.status, 200);
  assert.equal(body.status, 'healthy');
  assert.ok(body.memory.rss_bytes > 0);
  assert.ok(body.connections.active >= 1, 'this request is active');
  assert.ok(body.uptime_seconds > 0);

  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  const html = await page.text();
  for (const endpoint of SHOWCASE_PROGRAMS.flatMap((program) => program.endpoints)) {
    assert.ok(html.includes(`href="${endpoint.path.replaceAll('&', '&amp;')}"`), endpoint.path);
  }
  for (const asset of ['/showcase.js', '/showcase.css', '/favicon.svg']) {
    assert.equal((await fetch(base + asset)).status, 200, asset);
  }
});

test('1 app-config: /app/config is the config the server runs with', async () => {
  const { body } = await json<Record<string, unknown>>('/app/config');
  assert.deepEqual(body, { ...showcase.config });
  assert.equal(body.serverPort, 0);
  assert.equal(showcase.server.getConfig().maxConnections, showcase.config.maxConnections);
});

test('2 request handler: the Bearer token opens /demo/api/resources', async () => {
  const denied = await json<{ code: string }>('/demo/api/resources');
  assert.equal(denied.response.status, 401);
  assert.equal(denied.body.code, 'AUTH_REQUIRED');
  const { response, body } = await json<{
    data: unknown[];
    meta: { user: string; requestId: string };
  }>('/demo/api/resources', { headers: { Authorization: `Bearer ${showcase.demoToken}` } });
  assert.equal(response.status, 200);
  assert.deepEqual(body.data, []);
  assert.equal(body.meta.user, 'demo');
  // One request-id middleware for the whole server: the header holds one id, the one reported.
  assert.equal(response.headers.get('x-request-id'), body.meta.requestId);
});

test('3 middleware: headers, CORS and one log line each way, once per request', async () => {
  const before = lines.length;
  const { response, body } = await json<{ message: string }>('/demo/api/data', {
    headers: { Origin: 'https://app.example', 'X-Request-ID': 'showcase-test-1' },
  });
  assert.equal(response.status, 200);
  assert.equal(body.message, 'Hello from hyperlane-ts');
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(response.headers.get('x-frame-options'), 'DENY');
  assert.match(response.headers.get('strict-transport-security') ?? '', /max-age=/);
  assert.equal(response.headers.get('content-security-policy'), "default-src 'self'");
  // CORS from the config (corsOrigins ["*"] by default), set once.
  assert.equal(response.headers.get('access-control-allow-origin'), '*');
  assert.equal(response.headers.get('x-request-id'), 'showcase-test-1');
  const logged = lines.slice(before).filter((line) => line.includes('/demo/api/data'));
  assert.equal(logged.length, 2, logged.join('\n'));
  assert.match(logged[0]!, /^Request started: GET \/demo\/api\/data from 127\.0\.0\.1:\d+/);
  assert.match(logged[1]!, /^Request completed: GET \/demo\/api\/data 200 in [\d.]+ ms$/);
});

test('4 chat: a WebSocket client joins /chat and hears itself', async () => {
  const socket = new WebSocket(`ws://127.0.0.1:${running.port}/chat?user=tester`);
  const inbox: ChatMessage[] = [];
  socket.on('message', (data) => inbox.push(JSON.parse(String(data)) as ChatMessage));
  await once(socket, 'open');
  socket.send(JSON.stringify({ username: 'Tester', content: '<i>hi</i>' }));
  const deadline = Date.now() + 5000;
  while (inbox.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  socket.close();
  assert.equal(inbox[0]?.content, 'User tester joined the chat');
  assert.equal(inbox[1]?.content, '&lt;i&gt;hi&lt;/i&gt;');
  assert.equal(inbox[1]?.user_id, 'tester');
});

test('5 performance: /perf does the work and /stats counts requests', async () => {
  const { response, body } = await json<{ data: number[]; db_result: { rows_affected: number } }>(
    '/perf',
  );
  assert.equal(response.status, 200);
  assert.equal(body.data.length, 1000);
  assert.equal(body.db_result.rows_affected, 42);
  assert.ok(Number(response.headers.get('x-processing-time')) >= 4);
  assert.ok(showcase.metrics.getStats().requests >= 1);
});

test('6 connection pool: /db/query runs on a pooled connection', async () => {
  const { response, body } = await json<{ connection: number; rows: { value: number }[] }>(
    '/db/query',
  );
  assert.equal(response.status, 200);
  assert.deepEqual(body.rows, [{ value: 42 }]);
  assert.ok(body.connection >= 1);
  assert.ok(showcase.pool.stats().created >= 1);
});

test('7 query parsing: /query returns every value of every key, decoded', async () => {
  const { body } = await json<{ count: number; params: Record<string, string[]> }>(
    '/query?q=caf%C3%A9+cr%C3%A8me&tags=a&tags=b',
  );
  assert.deepEqual(body, { count: 3, params: { q: ['café crème'], tags: ['a', 'b'] } });
});

test('8 SSE metrics: /metrics streams metrics events', async () => {
  const controller = new AbortController();
  const response = await fetch(`${base}/metrics`, { signal: controller.signal });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = response.body!.getReader();
  let text = '';
  while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
  controller.abort();
  assert.match(text, /^id: 1\nevent: metrics\ndata: \{"id":1,/);
  const data = JSON.parse(/data: (.*)/.exec(text)![1]!) as { metrics: { processRss: number } };
  assert.ok(data.metrics.processRss > 0);
});

test('9 versioned API: /api/v2/users/user1, and 400 for an unknown version', async () => {
  const { response, body } = await json<{ version: string; profile: { name: string } }>(
    '/api/v2/users/user1',
  );
  assert.equal(response.status, 200);
  assert.equal(body.version, 'v2');
  assert.equal(body.profile.name, 'John Doe');
  assert.equal((await fetch(`${base}/api/v9/users`)).status, 400);
});

test('10 error handling: typed errors mapped to JSON, details kept out', async () => {
  const before = lines.length;
  const { response, body } = await json<{ code: string; message: string }>('/demo/errors/database');
  assert.equal(response.status, 500);
  assert.deepEqual(body, {
    error: 'Internal Server Error',
    message: 'Database operation failed',
    code: 'DB_ERROR',
  });
  const logged = lines.slice(before).join('\n');
  assert.match(logged, /Sending error to monitoring: .*"code":"DB_ERROR"/);
  // The request log reports the status that was sent.
  assert.match(logged, /Request failed: GET \/demo\/errors\/database 500/);
  const denied = await json<{ code: string }>('/demo/protected');
  assert.equal(denied.response.status, 401);
  assert.equal(denied.body.code, 'AUTH_ERROR');
  assert.match(lines.slice(before).join('\n'), /Request failed: GET \/demo\/protected 401/);
});

test('11 timeout: /slow past its 1 s budget → 408 JSON', async () => {
  const { response, body } = await json<{ error: string }>('/slow?delay=1500');
  assert.equal(response.status, 408);
  assert.equal(body.error, 'Request Timeout');
});

test('12 monitoring: request id, timing and connection counts on every response', async () => {
  const response = await fetch(`${base}/work?ms=1`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  assert.match(response.headers.get('x-response-time') ?? '', /^[\d.]+ms$/);
  assert.ok(Number(response.headers.get('x-total-requests')) >= 1);
  assert.ok(Number(response.headers.get('x-active-connections')) >= 1);
  await response.arrayBuffer();
});

/** `node showcase.js` on 127.0.0.1:`port`, as `npm start` runs it; `output()` is all it printed. */
function startShowcaseProcess(port: number): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [SCRIPT], {
    env: { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

test('started directly, it logs its URL and closes gracefully on SIGTERM', async () => {
  const { child, output } = startShowcaseProcess(0);
  const exited = once(child, 'exit');
  try {
    const deadline = Date.now() + 10_000;
    let url: RegExpExecArray | null = null;
    while ((url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output())) === null) {
      assert.ok(Date.now() < deadline, `no URL logged: ${output()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const health = await fetch(`${url[1]}/health`);
    assert.equal(health.status, 200);
    await health.arrayBuffer();
    child.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0, output());
    assert.match(output(), /SIGTERM: closing/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('started directly on a port in use, it says so and how to choose another', async (t) => {
  const holder = createNetServer();
  holder.listen(0, '127.0.0.1');
  await once(holder, 'listening');
  t.after(() => holder.close());
  const { port } = holder.address() as AddressInfo;
  const { child, output } = startShowcaseProcess(port);
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 1, output());
  assert.match(
    output(),
    new RegExp(
      `showcase: cannot listen on 127\\.0\\.0\\.1:${port} \\(the port is in use\\); set PORT`,
    ),
  );
  assert.doesNotMatch(output(), /\n\s+at /, 'no stack trace');
});
