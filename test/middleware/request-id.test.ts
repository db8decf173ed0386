/**
 * requestId() (API.md "Batteries" and "Decisions on details") over real sockets: ids kept or
 * generated, read back by handlers, custom header and generator, keep-alive, bad options, and
 * hostile ids over raw TCP, each followed by a liveness request.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { WebSocket } from 'ws';
import { HyperlaneError } from '../../src/index.js';
import { getRequestId, requestId, type RequestIdOptions } from '../../src/middleware/request-id.js';
import { RawConnection, assertServing, request } from '../helpers/raw-client.js';
import { serve } from '../helpers/serve.js';

const execFileAsync = promisify(execFile);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Seen {
  /** getRequestId(ctx) in the handler. */
  id: string | undefined;
  /** ctx.getResponseHeader(<header>) in the handler. */
  header: string | undefined;
}

/** A server with requestId(options) whose `/id` route answers what the handler could read. */
async function idServer(
  t: TestContext,
  options?: RequestIdOptions,
  register = true,
): Promise<{ base: string; port: number }> {
  const header = options?.header ?? 'x-request-id';
  const served = await serve(t, (server) => {
    if (register) server.requestMiddleware(requestId(options));
    server.get('/id', (ctx) => {
      const seen: Seen = { id: getRequestId(ctx), header: ctx.getResponseHeader(header) };
      ctx.setResponseBodyJson(seen);
    });
    server.get('/__alive', (ctx) => {
      ctx.setResponseBody('alive');
    });
  });
  return { base: served.base, port: served.port };
}

async function ask(
  base: string,
  headers: Record<string, string> = {},
): Promise<{ header: string | null; seen: Seen }> {
  const res = await fetch(`${base}/id`, { headers, signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  return { header: res.headers.get('x-request-id'), seen: (await res.json()) as Seen };
}

test('no incoming id: a fresh UUID, on the response and readable by the handler', async (t) => {
  const { base } = await idServer(t);
  const { header, seen } = await ask(base);
  assert.match(header ?? '', UUID);
  assert.equal(seen.id, header);
  assert.equal(seen.header, header);
});

test('every request gets its own id', async (t) => {
  const { base } = await idServer(t);
  const ids = await Promise.all(Array.from({ length: 40 }, () => ask(base)));
  assert.equal(new Set(ids.map((r) => r.header)).size, 40);
});

test('a valid incoming id (1-128 visible ASCII characters) is kept, also via curl', async (t) => {
  const { base } = await idServer(t);
  const everyVisible = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) =>
    String.fromCharCode(0x21 + i),
  ).join('');
  for (const id of ['a', 'abc-123', 'x'.repeat(128), everyVisible, '"quoted",;:\\']) {
    const { header, seen } = await ask(base, { 'X-Request-ID': id });
    assert.equal(header, id);
    assert.equal(seen.id, id);
  }
  const viaCurl = await execFileAsync('curl', [
    '-s',
    '-i',
    '--max-time',
    '5',
    '-H',
    'x-request-id: trace-42',
    `${base}/id`,
  ]);
  assert.match(viaCurl.stdout, /^x-request-id: trace-42\r$/m);
});

test('an unusable incoming id is replaced: too long, spaces, tabs, empty, repeated', async (t) => {
  const { base, port } = await idServer(t);
  for (const id of ['x'.repeat(129), 'has space', 'tab\there', ' ', '']) {
    const { header, seen } = await ask(base, { 'x-request-id': id });
    assert.match(header ?? '', UUID, JSON.stringify(id));
    assert.equal(seen.id, header);
  }
  // Two fields join into `a, b`: not one visible-ASCII id.
  const twice = await request(
    port,
    'GET /id HTTP/1.1\r\nHost: x\r\nX-Request-ID: a\r\nX-Request-ID: b\r\nConnection: close\r\n\r\n',
  );
  assert.match(twice.finals[0]?.headers['x-request-id'] ?? '', UUID);
});

test('hostile id bytes over raw TCP (obs-text, huge, NUL-free junk): replaced; the server keeps serving', async (t) => {
  const { port } = await idServer(t);
  const hostile: [string, Buffer][] = [
    ['obs-text', Buffer.from([0x61, 0x80, 0xff, 0xe9])],
    ['huge', Buffer.from('y'.repeat(12000))],
    ['del', Buffer.from([0x61, 0x7f, 0x62])],
    ['header-like', Buffer.from('abc: def')],
  ];
  for (const [label, bytes] of hostile) {
    const head = Buffer.concat([
      Buffer.from('GET /id HTTP/1.1\r\nHost: x\r\nX-Request-ID: '),
      bytes,
      Buffer.from('\r\nConnection: close\r\n\r\n'),
    ]);
    const result = await request(port, head);
    const res = result.finals[0];
    if (label !== 'del' || res?.status === 200) {
      assert.equal(res?.status, 200, label);
      const id = res?.headers['x-request-id'] ?? '';
      assert.match(id, UUID, label);
      assert.equal(res?.json<Seen>().id, id, label);
    } else {
      // The parser may refuse a DEL byte in a field value before any middleware runs.
      assert.ok(res === undefined || res.status === 400, `${label}: ${res?.status}`);
    }
    await assertServing(port);
  }
});

test('keep-alive: pipelined requests on one connection each get their own id', async (t) => {
  const { port } = await idServer(t);
  const conn = await RawConnection.connect(port);
  t.after(() => conn.destroy());
  await conn.write(
    'GET /id HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /id HTTP/1.1\r\nHost: x\r\nX-Request-ID: kept-id\r\n\r\n' +
      'GET /id HTTP/1.1\r\nHost: x\r\n\r\n',
  );
  const responses = await conn.readResponses(3);
  assert.equal(responses.length, 3);
  const ids = responses.map((r) => r.headers['x-request-id']);
  assert.match(ids[0] ?? '', UUID);
  assert.equal(ids[1], 'kept-id');
  assert.match(ids[2] ?? '', UUID);
  assert.notEqual(ids[0], ids[2]);
  for (const r of responses) assert.equal(r.json<Seen>().id, r.headers['x-request-id']);
});

test('custom header and generator', async (t) => {
  let n = 0;
  const { base } = await idServer(t, {
    header: 'X-Correlation-ID',
    generator: (ctx) => `${ctx.getRequestMethod().toLowerCase()}-${++n}`,
  });
  const first = await fetch(`${base}/id`, { signal: AbortSignal.timeout(5000) });
  assert.equal(first.headers.get('x-correlation-id'), 'get-1');
  assert.equal(first.headers.get('x-request-id'), null);
  assert.deepEqual(await first.json(), { id: 'get-1', header: 'get-1' });
  const kept = await fetch(`${base}/id`, {
    headers: { 'x-correlation-id': 'from-upstream' },
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(kept.headers.get('x-correlation-id'), 'from-upstream');
  await kept.arrayBuffer();
  assert.equal(n, 1, 'the generator runs only when needed');
});

test('a generator returning an unusable id fails that request (500, errorHook sees HL_ERR_CONFIG)', async (t) => {
  const errors: unknown[] = [];
  const { base } = await serve(t, (server) => {
    server.errorHook((_ctx, error) => {
      errors.push(error);
    });
    server.requestMiddleware(requestId({ generator: () => 'bad id\r\n' }));
    server.get('/id', (ctx) => {
      ctx.setResponseBody('never');
    });
  });
  const res = await fetch(`${base}/id`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 500);
  await res.arrayBuffer();
  assert.ok(errors[0] instanceof HyperlaneError && errors[0].code === 'HL_ERR_CONFIG');
  // Still serving; a valid incoming id needs no generator.
  const ok = await fetch(`${base}/id`, {
    headers: { 'x-request-id': 'fine' },
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(await ok.text(), 'never');
});

test('a WebSocket connection keeps one id for all its messages', async (t) => {
  let generated = 0;
  const { url } = await serve(t, (server) => {
    server.requestMiddleware(requestId());
    server.requestMiddleware(
      requestId({
        header: 'x-trace-id',
        generator: () => `trace-${++generated}`,
      }),
    );
    server.get('/ws', async (ctx) => {
      const ids = [ctx.getResponseHeader('x-request-id'), ctx.getResponseHeader('x-trace-id')];
      // getRequestId() reports the id of the instance that ran last.
      ctx.setResponseBody(`${ids.join(' ')} ${getRequestId(ctx)}`);
      await ctx.sendBody();
    });
  });
  const talk = async (headers: Record<string, string>): Promise<string[]> => {
    const ws = new WebSocket(url('/ws'), { headers });
    t.after(() => ws.terminate());
    await once(ws, 'open');
    const replies: string[] = [];
    ws.on('message', (data: Buffer) => replies.push(data.toString()));
    for (let i = 0; i < 5; i++) {
      ws.send(`m${i}`);
      while (replies.length <= i) await once(ws, 'message');
    }
    ws.close();
    return replies;
  };
  // No id sent: one generated id for the whole connection.
  const first = await talk({});
  assert.equal(new Set(first).size, 1, first.join(' | '));
  const [uuid, trace, last] = first[0]!.split(' ');
  assert.match(uuid!, UUID);
  assert.equal(trace, 'trace-1');
  assert.equal(last, 'trace-1');
  assert.equal(generated, 1);
  // Another connection gets another id.
  const second = await talk({});
  assert.equal(new Set(second).size, 1);
  assert.notEqual(second[0], first[0]);
  assert.equal(generated, 2);
  // A client id is kept for every message.
  const third = await talk({ 'x-request-id': 'client-id-1', 'x-trace-id': 'abc' });
  assert.deepEqual(third, Array(5).fill('client-id-1 abc abc'));
  assert.equal(generated, 2);
});

test('getRequestId() is undefined when requestId() did not run', async (t) => {
  const { base } = await idServer(t, undefined, false);
  const { header, seen } = await ask(base, { 'x-request-id': 'abc' });
  assert.equal(header, null);
  assert.deepEqual(seen, {});
});

test('invalid options throw HL_ERR_CONFIG naming the option', () => {
  const bad: [unknown, RegExp][] = [
    [{ header: 'bad header' }, /header/],
    [{ header: '' }, /header/],
    [{ generator: 'uuid' }, /generator/],
    [{ headers: 'x-id' }, /unknown option "headers"/],
    [null, /options/],
  ];
  for (const [options, message] of bad) {
    assert.throws(
      () => requestId(options as RequestIdOptions),
      (error: unknown) =>
        error instanceof HyperlaneError &&
        error.code === 'HL_ERR_CONFIG' &&
        message.test(error.message),
      JSON.stringify(options),
    );
  }
});
