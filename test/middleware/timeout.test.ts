import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpError, HyperlaneError, type Context } from '../../src/index.js';
import { timeout, type TimedHandler, type TimeoutOptions } from '../../src/middleware/timeout.js';
import { eventually } from '../helpers/eventually.js';
import { RawConnection, finalResponses } from '../helpers/raw-client.js';
import { serve } from '../helpers/serve.js';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

async function get(url: string): Promise<Answer> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Waits `ms`, or less if `signal` fires; resolves whether the full time passed. */
function wait(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve(false);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    function onAbort(): void {
      clearTimeout(timer);
      resolve(false);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A handler that waits `?delay=` ms (stopping early when the exchange is over), then answers. */
async function slow(ctx: Context): Promise<void> {
  const delay = Number(ctx.getRequestQuery('delay') ?? '0');
  if (!(await wait(delay, ctx.signal))) return;
  ctx.setResponseBody(`done after ${delay}`);
}

test('a handler past its budget gets 408 JSON at once; the server keeps serving', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get('/slow', timeout(100, slow));
  });
  const late = await get(`${base}/slow?delay=5000`);
  assert.equal(late.status, 408);
  assert.match(late.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(JSON.parse(late.text), {
    error: 'Request Timeout',
    message: 'Request took too long to process',
  });
  const quick = await get(`${base}/slow?delay=5`);
  assert.equal(quick.status, 200);
  assert.equal(quick.text, 'done after 5');
});

test('the timeout answer drops what the stalled handler set, keeps what middleware set before it', async (t) => {
  const { port } = await serve(t, (server) => {
    server.requestMiddleware((ctx) => {
      ctx
        .setResponseHeader('access-control-allow-origin', 'https://app.example')
        .setResponseHeader('x-request-id', 'req-1');
    });
    server.post(
      '/login',
      timeout(50, async (ctx) => {
        ctx
          .setResponseCookie('sid=new-session; HttpOnly')
          .setResponseCookie('remember=1')
          .setResponseHeader('location', '/home')
          .setResponseHeader('etag', '"v1"')
          .setResponseHeader('last-modified', new Date(0).toUTCString())
          .setResponseHeader('content-disposition', 'attachment; filename="report.csv"')
          .setResponseStatusCode(303);
        await wait(5000, ctx.signal); // e.g. an audit-log write that hangs
      }),
    );
    server.get('/__alive', (ctx) => void ctx.setResponseBody('alive'));
  });
  const conn = await RawConnection.connect(port);
  t.after(() => conn.destroy());
  await conn.write(
    'POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nGET /__alive HTTP/1.1\r\nHost: x\r\n\r\n',
  );
  const [res, alive] = finalResponses(await conn.readResponses(2));
  assert.ok(res !== undefined && alive !== undefined);
  assert.equal(res.status, 408);
  for (const name of ['set-cookie', 'location', 'etag', 'last-modified', 'content-disposition']) {
    assert.equal(res.headers[name], undefined, name);
  }
  assert.equal(res.headers['access-control-allow-origin'], 'https://app.example');
  assert.equal(res.headers['x-request-id'], 'req-1');
  assert.match(res.headers['content-type'] ?? '', /^application\/json/);
  assert.equal(res.json<{ error: string }>().error, 'Request Timeout');
  assert.equal(alive.text(), 'alive');
});

test('status 503 and a custom message', async (t) => {
  const { base } = await serve(t, (server) => {
    server.errorHook(() => {}); // a 503 is otherwise logged as a server error
    server.get('/slow', timeout(100, slow, { status: 503, message: 'busy, try later' }));
  });
  const res = await get(`${base}/slow?delay=5000`);
  assert.equal(res.status, 503);
  assert.deepEqual(JSON.parse(res.text), {
    error: 'Service Unavailable',
    message: 'busy, try later',
  });
  assert.equal((await get(`${base}/slow?delay=0`)).status, 200);
});

test('in time, the wrapped handler behaves exactly as unwrapped', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get(
      '/sync',
      timeout(50, (ctx) => void ctx.setResponseBody('sync')),
    );
    server.get(
      '/throws',
      timeout(1000, () => {
        throw new HttpError(418, 'short and stout');
      }),
    );
    server.get(
      '/rejects',
      timeout(1000, async () => {
        await wait(5);
        throw new HttpError(409, 'conflict');
      }),
    );
    server.get('/async', timeout(1000, slow));
  });
  assert.equal((await get(`${base}/sync`)).text, 'sync');
  const teapot = await get(`${base}/throws`);
  assert.equal(teapot.status, 418);
  assert.equal((JSON.parse(teapot.text) as { message: string }).message, 'short and stout');
  assert.equal((await get(`${base}/rejects`)).status, 409);
  assert.equal((await get(`${base}/async?delay=10`)).text, 'done after 10');
});

test('errorHook sees the timeout as an HttpError after the answer went out', async (t) => {
  const seen: Array<{ status: number; sent: boolean }> = [];
  const { base } = await serve(t, (server) => {
    server.errorHook((ctx, error) => {
      seen.push({ status: error instanceof HttpError ? error.status : 0, sent: ctx.isSent() });
    });
    server.get('/slow', timeout(50, slow));
  });
  assert.equal((await get(`${base}/slow?delay=5000`)).status, 408);
  assert.ok(await eventually(() => seen.length === 1));
  assert.deepEqual(seen, [{ status: 408, sent: true }]);
});

test('late writes change nothing on the wire: one response per request on a kept-alive socket', async (t) => {
  let lateSend: boolean | undefined;
  const { port } = await serve(t, (server) => {
    server.get(
      '/slow',
      timeout(50, async (ctx) => {
        await wait(150); // ignores ctx.signal on purpose
        ctx.setResponseStatusCode(200).setResponseHeader('x-late', '1').setResponseBody('late');
        lateSend = await ctx.send();
      }),
    );
    server.get('/quick', (ctx) => void ctx.setResponseBody('quick'));
  });
  const conn = await RawConnection.connect(port);
  try {
    await conn.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /quick HTTP/1.1\r\nHost: x\r\n\r\n');
    const responses = finalResponses(await conn.readResponses(2));
    assert.deepEqual(
      responses.map((r) => r.status),
      [408, 200],
    );
    assert.equal(responses[1]?.text(), 'quick');
    assert.ok(await eventually(() => lateSend !== undefined), 'the late handler finished');
    assert.equal(lateSend, false, 'send() after the timeout resolves to false');
    await conn.waitQuiet(100, 1000);
    const all = finalResponses(conn.parse().responses);
    assert.equal(all.length, 2, 'nothing more was written');
    assert.equal(all[0]?.headers['x-late'], undefined);
    await conn.write('GET /quick HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(finalResponses(await conn.readResponses(3)).length, 3, 'the socket still serves');
  } finally {
    conn.destroy();
  }
});

test('a handler that throws after its timeout reaches onLateError, not the client', async (t) => {
  const late: Array<{ error: unknown; path: string }> = [];
  const { base } = await serve(t, (server) => {
    server.get(
      '/boom',
      timeout(
        50,
        async () => {
          await wait(120);
          throw new Error('too late to matter');
        },
        { onLateError: (error, ctx) => void late.push({ error, path: ctx.getRequestPath() }) },
      ),
    );
    server.get('/alive', (ctx) => void ctx.setResponseBody('alive'));
  });
  assert.equal((await get(`${base}/boom`)).status, 408);
  assert.ok(await eventually(() => late.length === 1));
  assert.equal((late[0]?.error as Error).message, 'too late to matter');
  assert.equal(late[0]?.path, '/boom');
  assert.equal((await get(`${base}/alive`)).text, 'alive');
});

test('by default a late failure is logged once with console.error; a late peer-gone is not', async (t) => {
  const errors: unknown[][] = [];
  t.mock.method(console, 'error', (...args: unknown[]) => void errors.push(args));
  let finished = 0;
  const { base } = await serve(t, (server) => {
    server.get(
      '/boom',
      timeout(30, async () => {
        await wait(80);
        finished++;
        throw new Error('late failure');
      }),
    );
    server.get(
      '/stream',
      timeout(30, async (ctx) => {
        await wait(80);
        finished++;
        ctx.setResponseBody('chunk');
        await ctx.sendBody(); // the exchange is over: rejects with HL_ERR_PEER_GONE
      }),
    );
  });
  assert.equal((await get(`${base}/boom`)).status, 408);
  assert.equal((await get(`${base}/stream`)).status, 408);
  assert.ok(await eventually(() => finished === 2));
  assert.ok(await eventually(() => errors.length >= 1));
  await wait(50);
  assert.equal(errors.length, 1, JSON.stringify(errors.map((e) => String(e[0]))));
  assert.match(String(errors[0]?.[0]), /GET \/boom/);
});

test('a handler that marked a stream but sent nothing still gets a plain 408', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get(
      '/sse',
      timeout(50, async (ctx) => {
        ctx.setResponseHeader('content-type', 'text/event-stream').setResponseStream();
        await wait(5000, ctx.signal);
      }),
    );
    server.get('/alive', (ctx) => void ctx.setResponseBody('alive'));
  });
  const res = await get(`${base}/sse`);
  assert.equal(res.status, 408);
  assert.equal(JSON.parse(res.text).error, 'Request Timeout');
  assert.equal((await get(`${base}/alive`)).text, 'alive');
});

test('a stream that started in time runs past the budget untouched', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get(
      '/sse',
      timeout(50, async (ctx) => {
        ctx.setResponseHeader('content-type', 'text/event-stream');
        for (let i = 0; i < 4; i++) {
          ctx.setResponseBody(`data: ${i}\n\n`);
          await ctx.sendBody();
          await wait(40);
        }
      }),
    );
  });
  const res = await get(`${base}/sse`);
  assert.equal(res.status, 200);
  assert.equal(res.text, 'data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n');
});

test('many concurrent timeouts: every client answered, the server still serves', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get('/slow', timeout(200, slow));
  });
  const results = await Promise.all(
    Array.from({ length: 40 }, (_, i) => get(`${base}/slow?delay=${i % 2 === 0 ? 2000 : 0}`)),
  );
  assert.deepEqual(
    results.map((r) => r.status),
    Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 408 : 200)),
  );
  assert.equal((await get(`${base}/slow?delay=0`)).status, 200);
});

test('bad options throw HL_ERR_CONFIG naming the option', () => {
  const ok: TimedHandler = () => {};
  const cases: Array<[() => unknown, string]> = [
    [() => timeout(0, ok), 'ms'],
    [() => timeout(-1, ok), 'ms'],
    [() => timeout(Number.NaN, ok), 'ms'],
    [() => timeout(Number.POSITIVE_INFINITY, ok), 'ms'],
    [() => timeout(2 ** 31, ok), 'ms'],
    [() => timeout('100' as unknown as number, ok), 'ms'],
    [() => timeout(100, undefined as unknown as TimedHandler), 'handler'],
    [() => timeout(100, ok, { status: 500 as 503 }), 'status'],
    [() => timeout(100, ok, { status: 404 as 408 }), 'status'],
    [() => timeout(100, ok, { message: 5 as unknown as string }), 'message'],
    [() => timeout(100, ok, { onLateError: 'log' } as unknown as TimeoutOptions), 'onLateError'],
    [() => timeout(100, ok, null as unknown as TimeoutOptions), 'options'],
  ];
  for (const [make, name] of cases) {
    assert.throws(
      make,
      (error: unknown) =>
        error instanceof HyperlaneError &&
        error.code === 'HL_ERR_CONFIG' &&
        error.message.includes(name),
      name,
    );
  }
});
