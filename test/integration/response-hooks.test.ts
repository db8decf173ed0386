/**
 * The Context extension points the batteries are built on: onBeforeSend(), onFinish(),
 * setResponseEncoder(), isSecure(), getServerStats(), and streams framed by a declared
 * content-length. Real servers on port 0, real clients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { Server, type Context, type ResponseEncoder } from '../../src/index.js';
import { serve } from '../helpers/serve.js';
import { eventually } from '../helpers/eventually.js';
import { RawConnection, assertServing, request } from '../helpers/raw-client.js';

function stampHeader(ctx: Context): void {
  ctx.setResponseHeader('x-stamped', String(ctx.getResponseStatusCode()));
}

function shout(ctx: Context): void {
  ctx.setResponseBody(ctx.getResponseBodyString().toUpperCase());
}

test('onBeforeSend(): runs once before the head, sees the final status and can edit the body', async (t) => {
  let runs = 0;
  const { base } = await serve(t, (server) => {
    server.requestMiddleware((ctx) => {
      ctx.onBeforeSend(stampHeader).onBeforeSend(shout);
      ctx.onBeforeSend(() => runs++);
    });
    server.get('/hello', (ctx) => {
      ctx.setResponseStatusCode(201).setResponseBody('hello');
    });
    server.get('/explicit', async (ctx) => {
      ctx.setResponseBody('sent by hand');
      assert.equal(await ctx.send(), true);
      assert.equal(await ctx.send(), false);
    });
  });
  const res = await fetch(`${base}/hello`);
  assert.equal(res.status, 201);
  assert.equal(res.headers.get('x-stamped'), '201');
  assert.equal(await res.text(), 'HELLO');
  assert.equal(res.headers.get('content-length'), '5');

  const explicit = await fetch(`${base}/explicit`);
  assert.equal(await explicit.text(), 'SENT BY HAND');
  const missing = await fetch(`${base}/nowhere`);
  assert.equal(missing.headers.get('x-stamped'), '404');
  await missing.arrayBuffer();
  assert.equal(runs, 3);
});

test('onBeforeSend(): a hook that throws ends in a 500 and the server keeps serving', async (t) => {
  const errors: unknown[] = [];
  const { base, port } = await serve(t, (server) => {
    server.errorHook((_ctx, error) => {
      errors.push(error);
    });
    server.get('/boom', (ctx) => {
      ctx.onBeforeSend(() => {
        throw new Error('hook failed');
      });
      ctx.setResponseBody('never seen');
    });
    server.get('/__alive', (ctx) => ctx.setResponseBody('ok'));
  });
  const res = await fetch(`${base}/boom`);
  assert.equal(res.status, 500);
  assert.doesNotMatch(await res.text(), /never seen|hook failed/);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /hook failed/);
  await assertServing(port);
});

test('onBeforeSend(): runs at the start of a stream, before its head', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get('/events', async (ctx) => {
      ctx.onBeforeSend(stampHeader);
      ctx.setResponseHeader('content-type', 'text/event-stream');
      await ctx.send();
      ctx.setResponseBody('data: one\n\n');
      await ctx.sendBody();
    });
  });
  const res = await fetch(`${base}/events`);
  assert.equal(res.headers.get('x-stamped'), '200');
  assert.equal(await res.text(), 'data: one\n\n');
});

test('onFinish(): runs once per exchange with the final status, also when the client leaves', async (t) => {
  const finished: string[] = [];
  const record = (ctx: Context): void => {
    finished.push(`${ctx.getRequestPath()} ${ctx.getResponseStatusCode()} ${ctx.isSent()}`);
  };
  let release: () => void = () => {};
  let lateRuns = 0;
  let lateRanAtOnce = false;
  const { base, port } = await serve(t, (server) => {
    server.requestMiddleware((ctx) => {
      ctx.onFinish(record);
    });
    server.get('/ok', (ctx) => ctx.setResponseBody('ok'));
    server.get('/fail', () => {
      throw new Error('route failed');
    });
    server.get('/slow', async (ctx) => {
      await new Promise<void>((resolve) => (release = resolve));
      ctx.setResponseBody('too late');
    });
    server.get('/late', (ctx) => {
      ctx.setResponseBody('late registration');
      // Registered by work that outlives the exchange: the hook runs at once, exactly once.
      setTimeout(() => {
        ctx.onFinish(() => lateRuns++);
        lateRanAtOnce = lateRuns === 1;
      }, 20);
    });
  });
  await (await fetch(`${base}/ok`)).text();
  await (await fetch(`${base}/fail`)).text();
  await (await fetch(`${base}/nowhere`)).text();
  const conn = await RawConnection.connect(port);
  await conn.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
  await sleep(50);
  conn.socket.resetAndDestroy(); // gone for good: a FIN alone would be a half-close
  assert.ok(await eventually(() => finished.some((line) => line.startsWith('/slow'))));
  release();
  await (await fetch(`${base}/late`)).text();
  assert.ok(await eventually(() => finished.length === 5));
  assert.deepEqual(finished.slice(0, 4), [
    '/ok 200 true',
    '/fail 500 true',
    '/nowhere 404 true',
    '/slow 200 false',
  ]);
  assert.equal(finished[4], '/late 200 true');
  assert.ok(await eventually(() => lateRanAtOnce), 'a hook registered after the end runs at once');
  await sleep(20);
  assert.equal(finished.length, 5, 'no hook ran twice');
  assert.equal(lateRuns, 1);
});

test('onFinish(): a hook that throws is reported and the connection is reused', async (t) => {
  const { port } = await serve(t, (server) => {
    server.get('/', (ctx) => {
      ctx.onFinish(() => {
        throw new Error('finish hook failed');
      });
      ctx.setResponseBody('fine');
    });
  });
  const conn = await RawConnection.connect(port);
  t.after(() => conn.destroy());
  await conn.write('GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await conn.waitUntil(() => conn.parse().responses.length === 2, 3000);
  assert.deepEqual(
    conn.parse().responses.map((r) => r.body.toString()),
    ['fine', 'fine'],
  );
  assert.equal(conn.closed, false);
});

/** An encoder that upper-cases each chunk and appends a trailer; slow on purpose. */
class ShoutingEncoder implements ResponseEncoder {
  encoded = 0;
  async encode(chunk: Buffer): Promise<Buffer> {
    await sleep(5 - (this.encoded++ % 5));
    return Buffer.from(chunk.toString().toUpperCase());
  }
  finish(): Promise<Buffer> {
    return Promise.resolve(Buffer.from('[end]'));
  }
}

function useShoutingEncoder(ctx: Context): void {
  ctx.setResponseEncoder(new ShoutingEncoder()).setResponseHeader('x-encoded', 'shout');
}

test('setResponseEncoder(): every chunk passes the encoder in order, its last bytes end the stream', async (t) => {
  const { base, port } = await serve(t, (server) => {
    server.get('/stream', async (ctx) => {
      ctx.onBeforeSend(useShoutingEncoder);
      ctx.setResponseStream().setResponseBody('first;');
      await ctx.send();
      const pending: Promise<void>[] = [];
      for (let i = 0; i < 10; i++) {
        ctx.setResponseBody(`chunk ${i};`);
        pending.push(ctx.sendBody()); // not awaited one by one: order must still hold
      }
      await Promise.all(pending);
    });
    server.get('/closed', async (ctx) => {
      ctx.onBeforeSend(useShoutingEncoder);
      ctx.setResponseStream();
      ctx.setResponseBody('before close;');
      await ctx.sendBody();
      await ctx.closed();
    });
  });
  const expected = `FIRST;${Array.from({ length: 10 }, (_, i) => `CHUNK ${i};`).join('')}[end]`;
  const res = await fetch(`${base}/stream`);
  assert.equal(res.headers.get('x-encoded'), 'shout');
  assert.equal(await res.text(), expected);
  assert.equal(await (await fetch(`${base}/closed`)).text(), 'BEFORE CLOSE;[end]');

  // The connection stays usable after an encoded stream: two in a row on one socket.
  const conn = await RawConnection.connect(port);
  t.after(() => conn.destroy());
  await conn.write(
    'GET /closed HTTP/1.1\r\nHost: x\r\n\r\nGET /closed HTTP/1.1\r\nHost: x\r\n\r\n',
  );
  await conn.waitUntil(() => conn.parse().responses.length === 2, 3000);
  for (const response of conn.parse().responses) {
    assert.equal(response.framing, 'chunked');
    assert.equal(response.body.toString(), 'BEFORE CLOSE;[end]');
  }

  const server = new Server();
  server.get('/stream', async (ctx) => {
    ctx.onBeforeSend(useShoutingEncoder);
    ctx.setResponseStream().setResponseBody('via inject;');
    await ctx.send();
  });
  const injected = await server.inject({ path: '/stream' });
  assert.equal(injected.text(), 'VIA INJECT;[end]');
});

test('getServerStats(): live connection and WebSocket counts', async (t) => {
  const { base, port, url } = await serve(t, (server) => {
    server.get('/stats', (ctx) => ctx.setResponseBodyJson(ctx.getServerStats()));
    server.get('/ws', async (ctx) => {
      ctx.setResponseBodyJson(ctx.getServerStats());
      await ctx.send();
    });
  });
  const idle = await RawConnection.connect(port);
  t.after(() => idle.destroy());
  const agent = new http.Agent({ keepAlive: false });
  t.after(() => agent.destroy());
  const stats = async (): Promise<{ connections: number; webSockets: number }> => {
    const res = await fetch(`${base}/stats`, { headers: { connection: 'close' } });
    return (await res.json()) as { connections: number; webSockets: number };
  };
  assert.ok(await eventually(async () => (await stats()).connections === 2));
  const socket = new WebSocket(url('/ws'));
  t.after(() => socket.terminate());
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send('stats please');
  const reply = await new Promise<string>((resolve) =>
    socket.once('message', (data: Buffer) => resolve(data.toString())),
  );
  const during = JSON.parse(reply) as { connections: number; webSockets: number };
  assert.equal(during.webSockets, 1);
  assert.ok(during.connections >= 2, 'the idle socket and the WebSocket');
  socket.close();
  assert.ok(
    await eventually(async () => {
      const now = await stats();
      return now.webSockets === 0 && now.connections === 2;
    }),
  );
  const injected = await new Server()
    .get('/s', (ctx) => ctx.setResponseBodyJson(ctx.getServerStats()))
    .inject({ path: '/s' });
  assert.deepEqual(injected.json(), { connections: 0, webSockets: 0 });
  assert.equal(
    (
      await new Server()
        .get('/s', (ctx) => ctx.setResponseBody(String(ctx.isSecure())))
        .inject({ path: '/s' })
    ).text(),
    'false',
  );
});

test('a stream with a declared content-length is framed by it and the connection is reused', async (t) => {
  const { port } = await serve(t, (server) => {
    server.get('/file', async (ctx) => {
      ctx.setResponseStream().setResponseHeader('content-length', '12');
      await ctx.send();
      for (const part of ['abcd', 'efgh', 'ijkl']) {
        ctx.setResponseBody(part);
        await ctx.sendBody();
      }
    });
    server.get('/short', async (ctx) => {
      ctx.setResponseStream().setResponseHeader('content-length', '10');
      ctx.setResponseBody('abc');
      await ctx.sendBody();
    });
    server.get('/long', async (ctx) => {
      ctx.setResponseStream().setResponseHeader('content-length', '3');
      ctx.setResponseBody('abc');
      await ctx.sendBody();
      ctx.setResponseBody('d');
      await ctx.sendBody().then(
        () => ctx.setAttribute('overflow', 'accepted'),
        (error: Error) => ctx.setAttribute('overflow', error.message),
      );
      assert.match(String(ctx.getAttribute('overflow')), /exceed the 0 bytes left/);
    });
    server.get('/__alive', (ctx) => ctx.setResponseBody('ok'));
  });
  const conn = await RawConnection.connect(port);
  t.after(() => conn.destroy());
  await conn.write(
    'GET /file HTTP/1.1\r\nHost: x\r\n\r\nHEAD /file HTTP/1.1\r\nHost: x\r\n\r\nGET /long HTTP/1.1\r\nHost: x\r\n\r\n',
  );
  const isHead = (i: number): boolean => i === 1;
  await conn.waitUntil(() => conn.parse({ isHead }).responses.length === 3, 3000);
  const [file, head, long] = conn.parse({ isHead }).responses;
  assert.equal(file!.framing, 'content-length');
  assert.equal(file!.headers['content-length'], '12');
  assert.equal(file!.body.toString(), 'abcdefghijkl');
  assert.equal(head!.headers['content-length'], '12');
  assert.equal(head!.body.length, 0);
  assert.equal(long!.body.toString(), 'abc');
  assert.equal(conn.closed, false, 'a length-framed stream keeps the connection');

  // Ending short of the declared length: the only honest signal is closing the connection.
  const short = await request(port, 'GET /short HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 2000 });
  assert.equal(short.closed, true);
  assert.equal(short.bytes.toString().endsWith('\r\n\r\nabc'), true);
  await assertServing(port);
});

function appendLate(ctx: Context): void {
  ctx.setResponseBody(`${ctx.getResponseBodyString()}+last`);
}
function appendFirst(ctx: Context): void {
  ctx.setResponseBody(`${ctx.getResponseBodyString()}+first`);
}

test('onBeforeSend({ last: true }) hooks run after the others, whatever the registration order', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get('/order', (ctx) => {
      ctx.onBeforeSend(appendLate, { last: true }).onBeforeSend(appendFirst);
      ctx.setResponseBody('body');
    });
    server.get('/throws', (ctx) => {
      ctx.onBeforeSend(() => {
        throw new Error('hook failed at stream start');
      });
      ctx.setResponseStream();
      // sendBody() reports the hook's failure as a rejection, never as a synchronous throw.
      let threw = false;
      let promise: Promise<void> | undefined;
      try {
        promise = ctx.sendBody();
      } catch {
        threw = true;
      }
      ctx.setAttribute('threw', threw);
      return promise!.catch((error: Error) => {
        ctx.setResponseStatusCode(503).setResponseBody(`rejected: ${error.message} threw=${threw}`);
        ctx.setResponseStream();
      });
    });
  });
  assert.equal(await (await fetch(`${base}/order`)).text(), 'body+first+last');
  const res = await fetch(`${base}/throws`);
  assert.equal(await res.text(), 'rejected: hook failed at stream start threw=false');
});

test('an encoded stream refuses chunks once its encoder is finishing', async (t) => {
  let late = '';
  const { base } = await serve(t, (server) => {
    server.get('/race', async (ctx) => {
      ctx.onBeforeSend(useShoutingEncoder);
      ctx.setResponseStream().setResponseBody('first;');
      await ctx.sendBody();
      const closing = ctx.closed();
      ctx.setResponseBody('late;');
      late = await ctx.sendBody().then(
        () => 'accepted',
        (error: Error) => error.message,
      );
      await closing;
    });
  });
  assert.equal(await (await fetch(`${base}/race`)).text(), 'FIRST;[end]');
  assert.match(late, /gone|closed|ended/i);
});

test('a stream body longer than its declared content-length is refused before the head (500)', async (t) => {
  const { port } = await serve(t, (server) => {
    server.get('/send', async (ctx) => {
      ctx.setResponseStream().setResponseHeader('content-length', '5');
      ctx.setResponseBody('hello world!');
      await ctx.send();
    });
    server.get('/auto', (ctx) => {
      ctx.setResponseStream().setResponseHeader('content-length', '2').setResponseBody('abcdef');
    });
    server.get('/ok', (ctx) => ctx.setResponseBody('ok'));
  });
  for (const path of ['/send', '/auto']) {
    const conn = await RawConnection.connect(port);
    await conn.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n`);
    await conn.waitUntil(() => conn.parse().responses.length === 2, 3000);
    const [refused, next] = conn.parse().responses;
    conn.destroy();
    assert.equal(refused!.status, 500, path);
    assert.doesNotMatch(refused!.body.toString(), /hello|abcdef/);
    assert.equal(next!.body.toString(), 'ok', `${path}: the connection is still in step`);
  }
});

test('a refused WebSocket upgrade whose onBeforeSend hook throws gets the error response', async (t) => {
  const { url, port } = await serve(t, (server) => {
    server.preWsUpgrade((ctx) => {
      ctx.onBeforeSend(() => {
        throw new Error('hook failed on a refusal');
      });
      ctx.setResponseStatusCode(401).setResponseBody('no');
      ctx.aborted();
    });
    server.get('/ws', (ctx) => ctx.setResponseBody('never'));
    server.get('/__alive', (ctx) => ctx.setResponseBody('ok'));
  });
  const status = await new Promise<number>((resolve, reject) => {
    const socket = new WebSocket(url('/ws'));
    socket.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.on('open', () => reject(new Error('upgraded')));
    socket.on('error', () => {});
  });
  assert.equal(status, 500);
  await assertServing(port);
});
