/**
 * logger() (API.md "Batteries", "Decisions on details"): one line per exchange with
 * `{ method, path, status, durationMs }` through a child bound to `reqId`, written when the
 * exchange is over. Checked with a real pino instance writing to a captured stream and with the
 * built-in JSON logger, over real sockets (fetch, raw net, the `ws` client).
 *
 * Every test starts its own server on 127.0.0.1:0 and closes it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { HyperlaneError, HttpError, sseEvent, type Context, type Server } from '../../src/index.js';
import { createJsonLogger, getLogger, logger, type Logger } from '../../src/middleware/logger.js';
import { RawConnection, assertServing } from '../helpers/raw-client.js';
import { eventually } from '../helpers/eventually.js';
import { serve } from '../helpers/serve.js';

type Line = Record<string, unknown>;

/** A writable that keeps every JSON line written to it, parsed. */
class Capture extends Writable {
  readonly lines: Line[] = [];
  private partial = '';

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.partial += chunk.toString('utf8');
    let end: number;
    while ((end = this.partial.indexOf('\n')) !== -1) {
      this.lines.push(JSON.parse(this.partial.slice(0, end)) as Line);
      this.partial = this.partial.slice(end + 1);
    }
    done();
  }

  /** Access lines only (those the middleware writes at the end of an exchange). */
  access(): Line[] {
    return this.lines.filter((line) => 'durationMs' in line);
  }

  byPath(path: string): Line[] {
    return this.access().filter((line) => line.path === path);
  }
}

/** The built-in logger's destination: plain `write(line)`, lines kept parsed. */
function captureDestination(): { lines: Line[]; write(line: string): void } {
  const lines: Line[] = [];
  return {
    lines,
    write(line: string) {
      assert.ok(line.endsWith('\n') && line.indexOf('\n') === line.length - 1, 'one line');
      lines.push(JSON.parse(line) as Line);
    },
  };
}

async function get(url: string, init: RequestInit = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000), ...init });
  return { status: res.status, text: await res.text() };
}

/** The routes every logger test serves. */
function routes(server: Server): void {
  server.errorHook(() => {
    // the default 500 goes out; the logger must see it
  });
  server.get('/ok', (ctx) => {
    getLogger(ctx).info({ step: 'handler' }, 'inside the handler');
    ctx.setResponseBody('ok');
  });
  server.get('/boom', () => {
    throw new Error('secret internals');
  });
  server.get('/teapot', () => {
    throw new HttpError(418, 'short and stout');
  });
  server.get('/sse', async (ctx) => {
    ctx.setResponseHeader('content-type', 'text/event-stream');
    await ctx.send();
    for (let i = 1; i <= 3; i++) {
      ctx.setResponseBody(sseEvent({ id: i, data: `tick ${i}` }));
      await ctx.sendBody();
    }
  });
  server.get('/hang', async (ctx) => {
    // Waits for the client to leave, then tries to answer as a careless handler would.
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    ctx.setResponseBody('too late');
  });
}

test('pino: one line per request with the right status for 200, 404, 500, HttpError, SSE, aborted', async (t) => {
  const capture = new Capture();
  const hangStarted: { value: boolean } = { value: false };
  const { base, port } = await serve(t, (server) => {
    server.requestMiddleware(logger({ logger: pino(capture) }));
    server.requestMiddleware((ctx: Context) => {
      if (ctx.getRequestPath() === '/hang') hangStarted.value = true;
    });
    routes(server);
  });

  assert.equal((await get(`${base}/ok?token=secret`)).status, 200);
  assert.equal((await get(`${base}/missing`)).status, 404);
  const boom = await get(`${base}/boom`);
  assert.equal(boom.status, 500);
  assert.ok(!boom.text.includes('secret internals'));
  assert.equal((await get(`${base}/teapot`)).status, 418);
  const sse = await get(`${base}/sse`);
  assert.equal(sse.status, 200);
  assert.match(sse.text, /data: tick 3/);

  // A client that leaves while the handler still works.
  const raw = await RawConnection.connect(port);
  await raw.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.ok(await eventually(() => hangStarted.value), 'the handler started');
  // A reset, not a FIN: a half-closed socket may still take the answer (`printf … | nc`).
  raw.socket.resetAndDestroy();
  assert.ok(await eventually(() => capture.byPath('/hang').length === 1), 'aborted request logged');

  await assertServing(port, '/ok');
  assert.ok(await eventually(() => capture.access().length === 7), 'all lines written');

  const expected: Array<[string, number]> = [
    ['/ok', 200],
    ['/missing', 404],
    ['/boom', 500],
    ['/teapot', 418],
    ['/sse', 200],
    ['/hang', 499],
  ];
  for (const [path, status] of expected) {
    const lines = capture.byPath(path);
    if (path === '/ok') assert.equal(lines.length, 2, 'two requests to /ok');
    else assert.equal(lines.length, 1, `exactly one line for ${path}`);
    const line = lines[0]!;
    assert.equal(line.status, status, path);
    assert.equal(line.method, 'GET');
    assert.equal(line.level, 30, 'info');
    assert.equal(typeof line.durationMs, 'number');
    assert.ok((line.durationMs as number) >= 0);
    assert.ok(!('reqId' in line), 'no request id was sent');
  }
  const hang = capture.byPath('/hang')[0]!;
  assert.equal(hang.aborted, true);
  assert.equal(hang.msg, 'request aborted');
  assert.equal(capture.byPath('/ok')[0]!.msg, 'request completed');
  assert.equal(capture.byPath('/ok')[0]!.path, '/ok', 'the query is not logged');
  assert.ok(!('aborted' in capture.byPath('/sse')[0]!));
  // The handler's own line went through the request's logger.
  assert.equal(capture.lines.filter((line) => line.step === 'handler').length, 2);
});

test('pino: reqId from the request header binds the access line and the handler lines', async (t) => {
  const capture = new Capture();
  const { base, port } = await serve(t, (server) => {
    server.requestMiddleware(logger({ logger: pino(capture) }));
    routes(server);
  });

  await get(`${base}/ok`, { headers: { 'x-request-id': 'abc-123' } });
  assert.ok(await eventually(() => capture.access().length === 1));
  const handlerLine = capture.lines.find((line) => line.step === 'handler')!;
  assert.equal(handlerLine.reqId, 'abc-123');
  assert.equal(handlerLine.msg, 'inside the handler');
  assert.equal(capture.access()[0]!.reqId, 'abc-123');

  // Hostile ids are not copied into the log: too long, or with spaces / control bytes.
  const hostile = ['x'.repeat(129), 'has space', 'tab\there'];
  for (const id of hostile) {
    const raw = await RawConnection.connect(port);
    await raw.write(
      `GET /ok HTTP/1.1\r\nHost: x\r\nX-Request-ID: ${id}\r\nConnection: close\r\n\r\n`,
    );
    const [response] = await raw.readResponses(1);
    raw.destroy();
    assert.equal(response?.status, 200);
  }
  await assertServing(port, '/ok');
  assert.ok(await eventually(() => capture.access().length === 5));
  for (const line of capture.access().slice(1)) assert.ok(!('reqId' in line), JSON.stringify(line));
});

test('reqId prefers the response header set by request-id middleware registered before', async (t) => {
  const capture = new Capture();
  const { base } = await serve(t, (server) => {
    // Stands in for requestId(): it sets the response header before the logger runs.
    server.requestMiddleware((ctx: Context) => {
      ctx.setResponseHeader('X-Request-ID', 'from-server');
    });
    server.requestMiddleware(logger({ logger: pino(capture) }));
    routes(server);
  });
  await get(`${base}/ok`, { headers: { 'x-request-id': 'from-client' } });
  assert.ok(await eventually(() => capture.access().length === 1));
  assert.equal(capture.access()[0]!.reqId, 'from-server');
  assert.equal(capture.lines.find((line) => line.step === 'handler')!.reqId, 'from-server');
});

test('level option picks the method; a custom header name is read', async (t) => {
  const capture = new Capture();
  const { base } = await serve(t, (server) => {
    server.requestMiddleware(
      logger({ logger: pino(capture), level: 'warn', requestIdHeader: 'X-Trace' }),
    );
    routes(server);
  });
  await get(`${base}/missing`, { headers: { 'x-trace': 't-1' } });
  assert.ok(await eventually(() => capture.access().length === 1));
  const line = capture.access()[0]!;
  assert.equal(line.level, 40);
  assert.equal(line.reqId, 't-1');
  assert.equal(line.status, 404);
});

test('built-in JSON logger: pino-like fields, escaped values, one line per request', async (t) => {
  const destination = captureDestination();
  const { base, port } = await serve(t, (server) => {
    server.requestMiddleware(logger({ logger: createJsonLogger(destination) }));
    routes(server);
    server.get('/circular', (ctx) => {
      const loop: Record<string, unknown> = {};
      loop.self = loop;
      getLogger(ctx).error({ loop }, 'cannot serialise this');
      getLogger(ctx).warn({ err: new Error('kaput') }, 'with an error');
      ctx.setResponseBody('still fine');
    });
  });

  // Quotes and backslashes in a (visible, short) id must not break the JSON line.
  const hostileId = 'a"b\\c}{,';
  const ok = await get(`${base}/ok`, { headers: { 'x-request-id': hostileId } });
  assert.equal(ok.status, 200);
  assert.equal((await get(`${base}/boom`)).status, 500);
  assert.equal((await get(`${base}/circular`)).text, 'still fine');
  await assertServing(port, '/missing');
  assert.ok(
    await eventually(() => destination.lines.filter((l) => 'durationMs' in l).length === 4),
  );

  const access = destination.lines.filter((line) => 'durationMs' in line);
  assert.deepEqual(
    access.map((line) => [line.path, line.status]),
    [
      ['/ok', 200],
      ['/boom', 500],
      ['/circular', 200],
      ['/missing', 404],
    ],
  );
  const first = access[0]!;
  assert.equal(first.level, 30);
  assert.equal(typeof first.time, 'number');
  assert.ok(Math.abs((first.time as number) - Date.now()) < 60_000, 'time is epoch ms');
  assert.equal(first.msg, 'request completed');
  assert.equal(first.method, 'GET');
  assert.equal(first.reqId, hostileId);
  const handlerLine = destination.lines.find((line) => line.step === 'handler')!;
  assert.equal(handlerLine.reqId, hostileId);

  const circular = destination.lines.find((line) => line.msg === 'cannot serialise this')!;
  assert.equal(circular.level, 50);
  assert.equal(typeof circular.logError, 'string');
  const withError = destination.lines.find((line) => line.msg === 'with an error')!;
  assert.equal(withError.level, 40);
  assert.deepEqual(Object.keys(withError.err as object).sort(), ['message', 'stack', 'type']);
  assert.equal((withError.err as { message: string }).message, 'kaput');
});

test('built-in logger children accumulate bindings', () => {
  const destination = captureDestination();
  const root = createJsonLogger(destination);
  root.child({ a: 1 }).child({ b: 'two' }).info({ c: true }, 'hi');
  root.info({});
  root.warn([1, 'two'], 'an array');
  root.error({ big: 10n, toString: undefined }, 'a bigint');
  assert.deepEqual(
    destination.lines.map(({ time: _time, ...rest }) => rest),
    [
      { level: 30, pid: process.pid, a: 1, b: 'two', c: true, msg: 'hi' },
      { level: 30, pid: process.pid },
      { level: 40, pid: process.pid, value: [1, 'two'], msg: 'an array' },
      { level: 50, pid: process.pid, big: '10', msg: 'a bigint' },
    ],
  );
});

test('WebSocket: the connection is logged once when it closes, messages are not', async (t) => {
  const capture = new Capture();
  const { url, port } = await serve(t, (server) => {
    server.requestMiddleware(logger({ logger: pino(capture) }));
    server.get('/ws', async (ctx) => {
      getLogger(ctx).info({ echo: ctx.getRequestBodyString() });
      await ctx.send();
      ctx.setResponseBody(ctx.getRequestBodyString());
      await ctx.sendBody();
    });
    server.get('/ok', (ctx) => {
      ctx.setResponseBody('ok');
    });
  });

  const ws = new WebSocket(url('/ws'), { headers: { 'x-request-id': 'ws-1' } });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let echoed = 0;
  const allEchoed = new Promise<void>((resolve) => {
    ws.on('message', () => {
      if (++echoed === 3) resolve();
    });
  });
  for (const text of ['one', 'two', 'three']) ws.send(text);
  await allEchoed;
  assert.equal(capture.access().length, 0, 'nothing logged while the connection is open');
  ws.close();
  assert.ok(await eventually(() => capture.access().length === 1));
  await assertServing(port, '/ok');
  assert.ok(await eventually(() => capture.access().length === 2));

  const line = capture.byPath('/ws')[0]!;
  assert.equal(line.status, 101);
  assert.equal(line.webSocket, true);
  assert.equal(line.reqId, 'ws-1');
  assert.equal(capture.byPath('/ws').length, 1);
  // Handlers on the socket log through the same child.
  const echoes = capture.lines.filter((l) => 'echo' in l);
  assert.deepEqual(
    echoes.map((l) => [l.echo, l.reqId]),
    [
      ['one', 'ws-1'],
      ['two', 'ws-1'],
      ['three', 'ws-1'],
    ],
  );
});

test('WebSocket: also registered as preWsUpgrade, the line covers the upgrade and still comes once', async (t) => {
  const capture = new Capture();
  const log = logger({ logger: pino(capture) });
  const { url } = await serve(t, (server) => {
    server.preWsUpgrade(log);
    server.requestMiddleware(log);
    server.get('/ws', () => {});
  });
  // A connection that sends nothing is still logged.
  const ws = new WebSocket(url('/ws'));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send('hello');
  ws.close();
  assert.ok(await eventually(() => capture.access().length === 1));
  assert.equal(capture.access()[0]!.status, 101);

  const silent = new WebSocket(url('/ws'));
  await new Promise<void>((resolve, reject) => {
    silent.once('open', () => resolve());
    silent.once('error', reject);
  });
  silent.close();
  assert.ok(await eventually(() => capture.access().length === 2));
});

test('getLogger without logger() falls back to the built-in logger', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get('/x', (ctx) => {
      const log: Logger = getLogger(ctx);
      ctx.setResponseBody(typeof log.info === 'function' ? 'has logger' : 'none');
    });
  });
  assert.equal((await get(`${base}/x`)).text, 'has logger');
});

test('bad options throw HL_ERR_CONFIG naming the option', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ level: 'debug' }, /"level"/],
    [{ logger: {} }, /"logger"/],
    [{ logger: { info() {} } }, /"logger"/],
    [{ requestIdHeader: 'bad header' }, /"requestIdHeader"/],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => logger(options as Parameters<typeof logger>[0]),
      (error: unknown) =>
        error instanceof HyperlaneError &&
        error.code === 'HL_ERR_CONFIG' &&
        message.test(error.message),
    );
  }
});
