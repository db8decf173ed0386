/**
 * Graceful shutdown under load (issue 8): `close()` while 200 requests are in flight lets
 * every one complete, refuses new connections, sends WebSocket clients 1001, ends SSE streams
 * and idle keep-alive connections, and the process then exits 0 on its own — nothing left
 * holding its event loop. The server runs in a child process (`test/soak/fixtures/server.ts`)
 * so that its exit can be watched.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { gunzipSync } from 'node:zlib';
import { Server, sseEvent } from '../../src/index.js';
import { eventually } from '../helpers/eventually.js';
import { RawConnection, finalResponses } from '../helpers/raw-client.js';
import { startFixture, type FixtureProcess } from '../soak/fixture-process.js';

const LIMIT = { timeout: 120_000 };
const IN_FLIGHT = 200;

async function fixtureFor(t: TestContext): Promise<FixtureProcess> {
  const fixture = await startFixture();
  t.after(() => fixture.kill());
  return fixture;
}

/** What a connection attempt got: refused, closed without a byte, or an answer. */
function tryConnect(port: number): Promise<'refused' | 'closed' | 'answered'> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let answered = false;
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') resolve('refused');
    });
    socket.on('data', () => {
      answered = true;
    });
    socket.on('close', () => resolve(answered ? 'answered' : 'closed'));
    socket.on('connect', () =>
      socket.write('GET /hello?n=late HTTP/1.1\r\nHost: shutdown\r\n\r\n'),
    );
    setTimeout(() => socket.destroy(), 10_000).unref();
  });
}

/** Waits for the child to exit; null if it is still running after `ms`. */
function exitWithin(fixture: FixtureProcess, ms: number) {
  return Promise.race([fixture.exited, sleep(ms, null, { ref: false })]);
}

interface SseClient {
  events: () => number;
  /** 'end' when the stream ended properly (chunked terminator), else what happened. */
  outcome: Promise<string>;
  destroy: () => void;
}

function openSse(port: number): SseClient {
  let text = '';
  let destroy = (): void => {};
  const outcome = new Promise<string>((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/sse?count=0&interval=50', agent: false },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve('end'));
        res.on('aborted', () => resolve('aborted'));
        res.on('error', (error) => resolve(`error ${error.message}`));
      },
    );
    req.on('error', (error) => resolve(`error ${error.message}`));
    destroy = () => req.destroy();
  });
  return { events: () => text.split('\n\n').length - 1, outcome, destroy };
}

interface WsClient {
  ws: WebSocket;
  closeCode: Promise<number>;
}

async function openWs(port: number): Promise<WsClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const closeCode = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('close', () => reject(new Error('WebSocket closed before open')));
  });
  const echo = new Promise<string>((resolve) =>
    ws.once('message', (d: Buffer) => resolve(d.toString())),
  );
  ws.send('hi');
  assert.equal(await echo, 'hi', 'WebSocket echo before the close');
  return { ws, closeCode };
}

test(
  `close() under load: ${IN_FLIGHT} in-flight requests complete, new connections are refused, WebSockets get 1001, SSE streams end, the process exits 0`,
  LIMIT,
  async (t) => {
    const fixture = await fixtureFor(t);
    const port = fixture.port;
    const cleanup: Array<() => void> = [];
    t.after(() => cleanup.forEach((f) => f()));

    const wsClients = await Promise.all(Array.from({ length: 5 }, () => openWs(port)));
    cleanup.push(() => wsClients.forEach((c) => c.ws.terminate()));
    const sseClients = Array.from({ length: 5 }, () => openSse(port));
    cleanup.push(() => sseClients.forEach((c) => c.destroy()));
    assert.ok(
      await eventually(() => sseClients.every((c) => c.events() >= 1), 20_000),
      'every SSE stream is flowing',
    );
    // Idle keep-alive connections, one request done on each.
    const idle: RawConnection[] = [];
    for (let i = 0; i < 3; i++) {
      const conn = await RawConnection.connect(port);
      cleanup.push(() => conn.destroy());
      await conn.write('GET /hello?n=idle HTTP/1.1\r\nHost: shutdown\r\n\r\n');
      assert.equal((await conn.readResponses(1, 10_000))[0]?.status, 200);
      idle.push(conn);
    }

    // The load: handlers that wait for close() to begin, then ~200 ms more.
    const inFlight: RawConnection[] = [];
    for (let i = 0; i < IN_FLIGHT; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, IN_FLIGHT - i) }, () => RawConnection.connect(port)),
      );
      for (const [j, conn] of batch.entries()) {
        cleanup.push(() => conn.destroy());
        void conn.write(
          `GET /slow?gate=close&ms=200&n=${i + j} HTTP/1.1\r\nHost: shutdown\r\n\r\n`,
        );
      }
      inFlight.push(...batch);
    }
    assert.ok(
      await eventually(async () => (await fixture.stats()).slowInFlight === IN_FLIGHT, 30_000, 50),
      `all ${IN_FLIGHT} requests in their handlers`,
    );

    const closeStarted = Date.now();
    await fixture.close(20_000);
    // From here the listener is closed.
    const late = await Promise.all([tryConnect(port), tryConnect(port), tryConnect(port)]);
    const stillRunning = (await fixture.stats().catch(() => null))?.slowInFlight;
    t.diagnostic(
      `late connections: ${late.join(', ')} (with ${stillRunning ?? '?'} handlers still running)`,
    );
    for (const result of late)
      assert.notEqual(result, 'answered', 'no new connection is served after close() began');

    const responses = await Promise.all(inFlight.map((conn) => conn.readResponses(1, 30_000)));
    let ok = 0;
    for (const [i, rs] of responses.entries()) {
      const res = finalResponses(rs)[0];
      assert.equal(
        res?.status,
        200,
        `in-flight request ${i} completed: ${res?.text() ?? 'no response'}`,
      );
      assert.equal(res.text(), `slow ${i}`);
      assert.equal(res.headers['connection'], 'close', 'with Connection: close');
      ok++;
    }
    assert.equal(ok, IN_FLIGHT, 'no request lost');

    const codes = await Promise.all(
      wsClients.map((c) => Promise.race([c.closeCode, sleep(20_000, -1, { ref: false })])),
    );
    assert.deepEqual(
      codes,
      wsClients.map(() => 1001),
      'every WebSocket client got 1001 Going Away',
    );
    const sseOutcomes = await Promise.all(
      sseClients.map((c) => Promise.race([c.outcome, sleep(20_000, 'still open', { ref: false })])),
    );
    assert.deepEqual(
      sseOutcomes,
      sseClients.map(() => 'end'),
      'every SSE stream ended properly',
    );
    for (const conn of idle)
      assert.ok(await conn.waitClosed(20_000), 'idle keep-alive connections were closed');

    const exit = await exitWithin(fixture, 30_000);
    const exitMs = Date.now() - closeStarted;
    t.diagnostic(`process exited ${exitMs} ms after close() began`);
    assert.deepEqual(
      exit,
      { code: 0, signal: null },
      `the process exited 0 on its own; stderr: ${fixture.stderr().slice(-500)}`,
    );
    await fixture.closed;
  },
);

test('clients that ignore the shutdown do not keep the process from exiting', LIMIT, async (t) => {
  const fixture = await fixtureFor(t);
  const port = fixture.port;
  const conns: RawConnection[] = [];
  t.after(() => conns.forEach((c) => c.destroy()));

  // A WebSocket that will never answer the server's close frame (it never reads).
  const ws = await RawConnection.connect(port);
  conns.push(ws);
  await ws.write(
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  assert.ok(await ws.waitUntil(() => ws.received.includes('\r\n\r\n'), 10_000), 'upgraded');
  ws.socket.pause();
  // A request whose head never completes, and a stream nobody reads.
  const partial = await RawConnection.connect(port);
  conns.push(partial);
  await partial.write('GET /hello HTTP/1.1\r\nHost: shut');
  const sse = await RawConnection.connect(port);
  conns.push(sse);
  await sse.write('GET /sse?count=0&interval=0 HTTP/1.1\r\nHost: shutdown\r\n\r\n');
  sse.socket.pause();
  assert.ok(
    await eventually(async () => (await fixture.stats()).connections === 3, 20_000),
    'the server holds the three connections',
  );

  const closeStarted = Date.now();
  await fixture.close(1000); // what is left after 1 s is destroyed
  const exit = await exitWithin(fixture, 30_000);
  t.diagnostic(`process exited ${Date.now() - closeStarted} ms after close({ timeout: 1000 })`);
  assert.deepEqual(
    exit,
    { code: 0, signal: null },
    `the process exited 0; stderr: ${fixture.stderr().slice(-500)}`,
  );
});

test(
  'a request still arriving when close() begins is answered, with Connection: close',
  LIMIT,
  async (t) => {
    const server = new Server({ host: '127.0.0.1', port: 0 });
    server.post('/upload', (ctx) => {
      ctx.setResponseBody(`got ${ctx.getRequestBody().length}`);
    });
    const running = await server.run();
    t.after(() => running.close({ timeout: 500 }));
    const conn = await RawConnection.connect(running.port);
    t.after(() => conn.destroy());
    await conn.write('POST /upload HTTP/1.1\r\nHost: shutdown\r\nContent-Length: 10\r\n\r\n12345');
    await sleep(50); // let the server read the first half
    const closed = running.close({ timeout: 20_000 });
    await conn.write('67890');
    const [res] = await conn.readResponses(1, 20_000);
    assert.equal(res?.status, 200);
    assert.equal(res.text(), 'got 10');
    assert.equal(res.headers['connection'], 'close');
    assert.ok(await conn.waitClosed(20_000), 'then the connection is closed');
    await closed;
  },
);

test(
  'an upgrade held in preWsUpgrade when close() begins is refused with 503',
  LIMIT,
  async (t) => {
    const server = new Server({ host: '127.0.0.1', port: 0 });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let hookEntered = false;
    server.preWsUpgrade(async () => {
      hookEntered = true;
      await gate;
    });
    server.get('/ws', (ctx) => {
      ctx.setResponseBody('never');
    });
    const running = await server.run();
    t.after(() => running.close({ timeout: 500 }));
    const ws = new WebSocket(`ws://127.0.0.1:${running.port}/ws`);
    t.after(() => ws.terminate());
    const outcome = new Promise<string>((resolve) => {
      ws.on('unexpected-response', (_req, res) => {
        res.resume();
        resolve(`http ${res.statusCode}`);
      });
      ws.on('open', () => resolve('open'));
      ws.on('error', (error) => resolve(`error ${error.message}`));
    });
    assert.ok(await eventually(() => hookEntered, 20_000), 'the hook is holding the upgrade');
    const closed = running.close({ timeout: 20_000 });
    release();
    assert.equal(await outcome, 'http 503');
    await closed;
  },
);

for (const pauseMs of [20, 0]) {
  test(
    `close() ends a compressed SSE stream with a complete gzip body (${pauseMs ? 'paced' : 'busy'} writer)`,
    LIMIT,
    async (t) => {
      const server = new Server({ host: '127.0.0.1', port: 0 }).compression({ threshold: 0 });
      server.get('/sse', async (ctx) => {
        ctx.setResponseHeader('content-type', 'text/event-stream');
        await ctx.send();
        try {
          for (let i = 0; ; i++) {
            ctx.setResponseBody(sseEvent({ id: i, data: `tick ${i}` }));
            await ctx.sendBody();
            // A busy writer is woken while the encoder finishes: the end must still wait for it.
            if (pauseMs > 0) await sleep(pauseMs);
            else await new Promise((resolve) => setImmediate(resolve));
          }
        } catch {
          // ended by the shutdown
        }
      });
      const running = await server.run();
      t.after(() => running.close({ timeout: 500 }));
      let received = 0;
      const body = new Promise<Buffer>((resolve, reject) => {
        const req = http.get(
          {
            host: '127.0.0.1',
            port: running.port,
            path: '/sse',
            agent: false,
            headers: { 'accept-encoding': 'gzip' },
          },
          (res) => {
            assert.equal(res.headers['content-encoding'], 'gzip');
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => {
              chunks.push(chunk);
              received++;
            });
            res.on('end', () => resolve(Buffer.concat(chunks)));
            res.on('aborted', () => reject(new Error('stream aborted')));
          },
        );
        req.on('error', reject);
        t.after(() => req.destroy());
      });
      assert.ok(await eventually(() => received >= 3, 20_000), 'the stream is flowing');
      await running.close({ timeout: 20_000 });
      const text = gunzipSync(await body).toString();
      assert.match(text, /^id: 0\ndata: tick 0\n\n/, 'the events decode');
    },
  );
}
