/**
 * Keep-alive responses are held until the end of the event loop's poll phase and written
 * together. Every other kind of write on the connection must still come after them, in
 * request order: a pipelined keep-alive response followed, in the same client write, by a
 * stream, a WebSocket upgrade, an interim 100 Continue, a bytes body, a closing response, and
 * a run of responses larger than what is held at once. Each case checks the bytes on the wire
 * and that the server still serves afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { sseEvent } from '../../src/index.js';
import {
  RawConnection,
  assertServing,
  exchange,
  showBytes,
  startServer,
  type StartedServer,
} from '../helpers/raw-client.js';
import { OP_TEXT, encodeFrame, parseFrames } from '../helpers/raw-ws.js';

const HOST = 'Host: 127.0.0.1';
const KILOBYTE = 'k'.repeat(1024);
const QUARTER_MEBIBYTE = 'q'.repeat(256 * 1024);

function get(path: string, ...headers: string[]): string {
  return [`GET ${path} HTTP/1.1`, HOST, ...headers].join('\r\n') + '\r\n\r\n';
}

/** Where each needle first appears in the received bytes (-1 when absent). */
function positions(bytes: Buffer, needles: readonly string[]): number[] {
  const text = bytes.toString('latin1');
  return needles.map((needle) => text.indexOf(needle));
}

function assertInOrder(bytes: Buffer, needles: readonly string[]): void {
  const at = positions(bytes, needles);
  assert.ok(
    at.every((p, i) => p !== -1 && (i === 0 || p > at[i - 1]!)),
    `expected ${JSON.stringify(needles)} in this order; got ${showBytes(bytes)}`,
  );
}

describe('held keep-alive responses keep their order with other writes', () => {
  let app: StartedServer;
  let handledLarge = 0;

  before(async () => {
    app = await startServer((server) => {
      server.get('/hello', (ctx) => {
        ctx.setResponseBody('hello-body');
      });
      server.get('/kb', (ctx) => {
        ctx.setResponseBody(KILOBYTE);
      });
      server.get('/bytes', (ctx) => {
        ctx.setResponseBody(Buffer.from('bytes-body'));
      });
      server.post('/upload', (ctx) => {
        ctx.setResponseBody(`got ${ctx.getRequestBodyString()}`);
      });
      server.get('/events', async (ctx) => {
        ctx.setResponseHeader('Content-Type', 'text/event-stream');
        await ctx.setResponseBody(sseEvent({ data: 'first-event' })).send();
        await ctx.setResponseBody(sseEvent({ data: 'second-event' })).sendBody();
        await ctx.closed();
      });
      server.get('/send-then-close', async (ctx) => {
        await ctx.setResponseBody('sent-then-closed').send();
        await ctx.closed();
      });
      server.get('/quarter-mebibyte', (ctx) => {
        handledLarge++;
        ctx.setResponseBody(QUARTER_MEBIBYTE);
      });
      server.get('/ws', async (ctx) => {
        await ctx.setResponseBody(`echo ${ctx.getRequestBodyString()}`).sendBody();
      });
    });
  });

  after(() => app.close());

  test('a stream after a held response: its head and events come after it', async () => {
    // A stream ended by closed() ends its connection too, so it is the last request here.
    const x = await exchange(app.port, get('/hello') + get('/events'), { responses: 2 });
    assert.deepEqual(
      x.finals.map((r) => r.status),
      [200, 200],
      showBytes(x.bytes),
    );
    assert.equal(x.finals[0]!.body.toString(), 'hello-body');
    assert.equal(x.finals[1]!.headers['content-type'], 'text/event-stream');
    assertInOrder(x.bytes, ['hello-body', 'text/event-stream', 'first-event', 'second-event']);
    await assertServing(app.port);
  });

  test('an upgrade after a held response: the 101 comes after it, then frames', async () => {
    const conn = await RawConnection.connect(app.port);
    try {
      const upgrade = get(
        '/ws',
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
      );
      await conn.write(get('/hello') + upgrade);
      const headEnd = (): number => {
        const at = conn.received.indexOf('HTTP/1.1 101');
        return at === -1 ? -1 : conn.received.indexOf('\r\n\r\n', at);
      };
      assert.ok(await conn.waitUntil(() => headEnd() !== -1, 3000), showBytes(conn.received));
      assertInOrder(conn.received, ['HTTP/1.1 200', 'hello-body', 'HTTP/1.1 101']);
      await conn.write(encodeFrame(OP_TEXT, 'ping'));
      const frames = () => parseFrames(conn.received.subarray(headEnd() + 4));
      assert.ok(await conn.waitUntil(() => frames().length > 0, 3000), showBytes(conn.received));
      assert.equal(frames()[0]!.payload.toString(), 'echo ping');
    } finally {
      conn.destroy();
    }
    await assertServing(app.port);
  });

  test('100 Continue after a held response comes after it', async () => {
    const conn = await RawConnection.connect(app.port);
    try {
      const upload =
        ['POST /upload HTTP/1.1', HOST, 'Content-Length: 4', 'Expect: 100-continue'].join('\r\n') +
        '\r\n\r\n';
      await conn.write(get('/hello') + upload);
      assert.ok(
        await conn.waitUntil(() => conn.received.includes('100 Continue'), 3000),
        showBytes(conn.received),
      );
      assertInOrder(conn.received, ['hello-body', 'HTTP/1.1 100 Continue']);
      await conn.write('data');
      const responses = await conn.readResponses(2, 3000);
      assert.deepEqual(
        responses.map((r) => r.status),
        [200, 100, 200],
        showBytes(conn.received),
      );
      assert.equal(responses[2]!.body.toString(), 'got data');
    } finally {
      conn.destroy();
    }
    await assertServing(app.port);
  });

  test('a bytes body after a held response comes after it', async () => {
    const x = await exchange(app.port, get('/hello') + get('/bytes') + get('/hello'), {
      responses: 3,
    });
    assert.deepEqual(
      x.finals.map((r) => r.body.toString()),
      ['hello-body', 'bytes-body', 'hello-body'],
      showBytes(x.bytes),
    );
    await assertServing(app.port);
  });

  test('a closing response after held ones: all arrive, then the server closes', async () => {
    const x = await exchange(
      app.port,
      get('/hello') + get('/bytes') + get('/hello', 'Connection: close'),
    );
    assert.deepEqual(
      x.finals.map((r) => r.body.toString()),
      ['hello-body', 'bytes-body', 'hello-body'],
      showBytes(x.bytes),
    );
    assert.ok(x.closed, 'the server closed after the last response');
    await assertServing(app.port);
  });

  test('responses beyond what is held at once (64 KiB in one pipeline) all arrive in order', async () => {
    const paths = Array.from({ length: 64 }, (_, i) => (i % 2 === 0 ? '/kb' : '/hello'));
    const x = await exchange(app.port, paths.map((p) => get(p)).join(''), { responses: 64 });
    assert.deepEqual(
      x.finals.map((r) => r.body.toString()),
      paths.map((p) => (p === '/kb' ? KILOBYTE : 'hello-body')),
    );
    await assertServing(app.port);
  });
  test('closed() after send(): the held response goes out before the connection closes', async () => {
    const x = await exchange(app.port, get('/send-then-close'));
    assert.deepEqual(
      x.finals.map((r) => r.body.toString()),
      ['sent-then-closed'],
      showBytes(x.bytes),
    );
    assert.ok(x.closed, 'the server closed the connection');
    await assertServing(app.port);
  });

  test('a client that does not read: held text is written as it grows, so the server stops handling its pipeline', async () => {
    // 200 responses of 256 KiB (50 MiB) requested in one write, none read. Held without a
    // bound, all 200 would be built in one phase; written once past the bound, the socket
    // fills and the connection stops taking requests until the client reads.
    const count = 200;
    handledLarge = 0;
    const conn = await RawConnection.connect(app.port);
    try {
      conn.socket.pause();
      await conn.write(get('/quarter-mebibyte').repeat(count));
      await sleep(500);
      const handledWhileUnread = handledLarge;
      assert.ok(
        handledWhileUnread < count / 2,
        `handled ${handledWhileUnread} of ${count} requests while the client read nothing`,
      );
      conn.socket.resume();
      const responses = await conn.readResponses(count, 20_000);
      assert.deepEqual(
        responses.map((r) => r.body.length),
        Array.from({ length: count }, () => QUARTER_MEBIBYTE.length),
      );
    } finally {
      conn.destroy();
    }
    await assertServing(app.port);
  });
});
