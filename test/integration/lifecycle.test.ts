/**
 * Lifecycle over real HTTP (API.md "Lifecycle"): middleware order, route resolution before
 * middleware, aborted()/closed(), auto-send, send() twice, 404/405 with Allow, errorHook,
 * HttpError, no internals leaked, sync and async handlers, route params.
 *
 * Every test starts its own server on 127.0.0.1:0 and closes it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpError, reasonPhrase, type Context } from '../../src/index.js';
import { RawConnection, finalResponses, type ParsedResponse } from '../helpers/raw-client.js';
import { serve } from '../helpers/serve.js';

async function get(
  base: string,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(base + path, { signal: AbortSignal.timeout(5000), ...init });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Sends raw bytes on one connection and reads `n` final responses. */
async function raw(
  port: number,
  bytes: string,
  n = 1,
): Promise<{ responses: ParsedResponse[]; conn: RawConnection }> {
  const conn = await RawConnection.connect(port);
  await conn.write(bytes);
  const responses = finalResponses(await conn.readResponses(n, 3000));
  return { responses, conn };
}

/** Captures console.error output (the server's log of errors) while `fn` runs. */
async function capturingStderr<T>(fn: () => Promise<T>): Promise<{ value: T; logged: string[] }> {
  const logged: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]): void => {
    logged.push(args.map((a) => (a instanceof Error ? `${a.message}` : String(a))).join(' '));
  };
  try {
    return { value: await fn(), logged };
  } finally {
    console.error = original;
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// ---- order ---------------------------------------------------------------------------------

test('request middleware → route → response middleware, each in registration order', async (t) => {
  const { base } = await serve(t, (server) => {
    const log = (ctx: Context, step: string): void => {
      const steps = ctx.getAttribute<string[]>('steps') ?? [];
      steps.push(step);
      ctx.setAttribute('steps', steps);
    };
    // Registered interleaved on purpose: the kind decides the phase, the order within a kind.
    server.responseMiddleware(async (ctx) => {
      await tick();
      log(ctx, 'res1');
    });
    server.requestMiddleware((ctx) => log(ctx, 'req1'));
    server.responseMiddleware((ctx) => {
      log(ctx, 'res2');
      ctx.setResponseBody(ctx.getAttribute<string[]>('steps')!.join(','));
    });
    server.requestMiddleware(async (ctx) => {
      await sleep(5);
      log(ctx, 'req2');
    });
    server.requestMiddleware((ctx) => log(ctx, 'req3'));
    server.get('/order', (ctx) => log(ctx, 'route'));
  });
  const res = await get(base, '/order');
  assert.equal(res.status, 200);
  assert.equal(res.text, 'req1,req2,req3,route,res1,res2');
});

test('the route is resolved before request middleware: middleware reads route params', async (t) => {
  const { base } = await serve(t, (server) => {
    server.requestMiddleware((ctx) => {
      ctx.setResponseHeader('x-param-seen-by-middleware', ctx.getRouteParam('id') ?? '<none>');
      ctx.setResponseHeader('x-params-seen-by-middleware', JSON.stringify(ctx.getRouteParams()));
    });
    server.get('/users/{id}/posts/{post}', (ctx) => {
      ctx.setResponseBody(`${ctx.getRouteParam('id')}/${ctx.getRouteParam('post')}`);
    });
  });
  const res = await get(base, '/users/42/posts/7');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-param-seen-by-middleware'), '42');
  assert.deepEqual(JSON.parse(res.headers.get('x-params-seen-by-middleware')!), {
    id: '42',
    post: '7',
  });
  assert.equal(res.text, '42/7');
});

// ---- aborted() / closed() ------------------------------------------------------------------

test('ctx.aborted() in request middleware stops the chain; the response as it stands is sent', async (t) => {
  const ran: string[] = [];
  const { base } = await serve(t, (server) => {
    server.requestMiddleware((ctx) => {
      ran.push('mw1');
      if (ctx.getRequestHeader('x-token') !== 'ok') {
        ctx.setResponseStatusCode(401).setResponseBody('denied');
        ctx.aborted();
      }
    });
    server.requestMiddleware(() => {
      ran.push('mw2');
    });
    server.responseMiddleware(() => {
      ran.push('res');
    });
    server.get('/guarded', (ctx) => {
      ran.push('route');
      ctx.setResponseBody('secret');
    });
  });
  const denied = await get(base, '/guarded');
  assert.equal(denied.status, 401);
  assert.equal(denied.text, 'denied');
  assert.deepEqual(ran, ['mw1']);

  ran.length = 0;
  const allowed = await get(base, '/guarded', { headers: { 'x-token': 'ok' } });
  assert.equal(allowed.status, 200);
  assert.equal(allowed.text, 'secret');
  assert.deepEqual(ran, ['mw1', 'mw2', 'route', 'res']);
});

test('ctx.aborted() in an async route stops response middleware', async (t) => {
  const ran: string[] = [];
  const { base } = await serve(t, (server) => {
    server.responseMiddleware((ctx) => {
      ran.push('res');
      ctx.setResponseBody('from response middleware');
    });
    server.get('/stop', async (ctx) => {
      await sleep(5);
      ran.push('route');
      ctx.setResponseStatusCode(202).setResponseBody('route only');
      ctx.aborted();
    });
  });
  const res = await get(base, '/stop');
  assert.equal(res.status, 202);
  assert.equal(res.text, 'route only');
  assert.deepEqual(ran, ['route']);
});

test('ctx.closed() sends the response as it stands, then closes the connection', async (t) => {
  const ran: string[] = [];
  const { port } = await serve(t, (server) => {
    server.responseMiddleware(() => {
      ran.push('res');
    });
    server.get('/bye', async (ctx) => {
      ran.push('route');
      ctx.setResponseBody('goodbye');
      await ctx.closed();
    });
    server.get('/stay', (ctx) => {
      ctx.setResponseBody('staying');
    });
  });
  // Keep-alive connection: without closed() it would stay open (checked with /stay first).
  const { responses, conn } = await raw(port, 'GET /stay HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(responses[0]?.text(), 'staying');
  assert.equal(await conn.waitClosed(300), false, 'a keep-alive connection stays open');
  await conn.write('GET /bye HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(await conn.waitClosed(3000), true, 'the server closes after closed()');
  const all = finalResponses(conn.parse().responses);
  assert.equal(all.length, 2);
  assert.equal(all[1]!.status, 200);
  assert.equal(all[1]!.text(), 'goodbye');
  assert.equal(all[1]!.headers['connection'], 'close');
  assert.deepEqual(ran, ['res', 'route'], 'closed() also stops the chain (res ran for /stay only)');
  conn.destroy();
});

test('ctx.closed() after send() closes the connection after what was sent', async (t) => {
  const { port } = await serve(t, (server) => {
    server.get('/sent-then-closed', async (ctx) => {
      ctx.setResponseBody('first');
      assert.equal(await ctx.send(), true);
      await ctx.closed();
    });
  });
  const { responses, conn } = await raw(port, 'GET /sent-then-closed HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(responses[0]?.text(), 'first');
  assert.equal(await conn.waitClosed(3000), true);
  conn.destroy();
});

// ---- auto-send, send() twice -----------------------------------------------------------------

test('auto-send: the response as it stands goes out when nothing was sent', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get('/set-only', (ctx) => {
      ctx.setResponseStatusCode(201).setResponseHeader('x-auto', 'yes').setResponseBody('made');
    });
    server.get('/nothing', () => {});
    server.get('/async-nothing', async () => {
      await sleep(5);
    });
  });
  const set = await get(base, '/set-only');
  assert.equal(set.status, 201);
  assert.equal(set.headers.get('x-auto'), 'yes');
  assert.equal(set.text, 'made');

  for (const path of ['/nothing', '/async-nothing']) {
    const empty = await get(base, path);
    assert.equal(empty.status, 200, path);
    assert.equal(empty.text, '', path);
    assert.equal(empty.headers.get('content-length'), '0', path);
  }
});

test('send() resolves false the second time; setters after send change nothing on the wire', async (t) => {
  const results: boolean[] = [];
  const { port } = await serve(t, (server) => {
    server.responseMiddleware(async (ctx) => {
      // After the route's send(): none of this may reach the client.
      ctx.setResponseStatusCode(500).setResponseHeader('x-late', 'mw').setResponseBody('late mw');
      results.push(await ctx.send());
    });
    server.get('/twice', async (ctx) => {
      ctx.setResponseStatusCode(200).setResponseHeader('x-first', '1').setResponseBody('original');
      results.push(await ctx.send());
      assert.equal(ctx.isSent(), true);
      ctx
        .setResponseStatusCode(418)
        .setResponseHeader('x-late', 'route')
        .setResponseBody('changed');
      ctx.addResponseHeader('x-first', '2').removeResponseHeader('x-first');
      results.push(await ctx.send());
    });
  });
  // Two requests on one connection: the second response must directly follow the first, so
  // any stray bytes written after the first send would break the parse.
  const { responses, conn } = await raw(
    port,
    'GET /twice HTTP/1.1\r\nHost: x\r\n\r\nGET /twice HTTP/1.1\r\nHost: x\r\n\r\n',
    2,
  );
  await sleep(100);
  const parsed = conn.parse();
  conn.destroy();
  assert.equal(parsed.error, undefined, 'no garbage after the responses');
  assert.equal(parsed.rest.length, 0, 'no stray bytes after the responses');
  assert.equal(responses.length, 2);
  for (const res of responses) {
    assert.equal(res.status, 200);
    assert.equal(res.text(), 'original');
    assert.equal(res.headers['x-first'], '1');
    assert.equal(res.headers['x-late'], undefined);
  }
  assert.deepEqual(results, [true, false, false, true, false, false]);
});

// ---- unmatched paths, 405 --------------------------------------------------------------------

test('middleware runs for unmatched paths with the status starting at 404', async (t) => {
  const seen: number[] = [];
  const { base } = await serve(t, (server) => {
    server.requestMiddleware((ctx) => {
      seen.push(ctx.getResponseStatusCode());
      ctx.setResponseHeader('x-mw', 'ran');
      if (ctx.getRequestPath() === '/fallback') {
        ctx.setResponseStatusCode(200).setResponseBody('served by middleware');
      }
    });
    server.responseMiddleware((ctx) => {
      ctx.setResponseHeader('x-res-mw', String(ctx.getResponseStatusCode()));
    });
    server.get('/exists', (ctx) => {
      ctx.setResponseBody('here');
    });
  });
  const missing = await get(base, '/nope');
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get('x-mw'), 'ran');
  assert.equal(missing.headers.get('x-res-mw'), '404');
  const body = JSON.parse(missing.text) as { error: string; message: string };
  assert.equal(body.error, 'Not Found');
  assert.equal(typeof body.message, 'string');

  const fallback = await get(base, '/fallback');
  assert.equal(fallback.status, 200);
  assert.equal(fallback.text, 'served by middleware');

  const found = await get(base, '/exists');
  assert.equal(found.status, 200);
  assert.deepEqual(seen, [404, 404, 200]);
});

test('a path registered under other methods only → 405 with Allow (HEAD listed where GET is)', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get('/thing', (ctx) => {
      ctx.setResponseBody('thing');
    });
    server.post('/thing', (ctx) => {
      ctx.setResponseBody('posted');
    });
    server.delete('/thing', () => {});
    server.put('/only-put/{id}', () => {});
  });
  const res = await get(base, '/thing', { method: 'PATCH' });
  assert.equal(res.status, 405);
  assert.deepEqual(
    res.headers
      .get('allow')!
      .split(',')
      .map((m) => m.trim())
      .sort(),
    ['DELETE', 'GET', 'HEAD', 'POST'],
  );
  assert.equal((JSON.parse(res.text) as { error: string }).error, 'Method Not Allowed');

  const putOnly = await get(base, '/only-put/9', { method: 'GET' });
  assert.equal(putOnly.status, 405);
  assert.equal(putOnly.headers.get('allow'), 'PUT', 'no HEAD where there is no GET');

  const head = await get(base, '/thing', { method: 'HEAD' });
  assert.equal(head.status, 200, 'HEAD is answered by the GET route');
  assert.equal(head.text, '');

  const post = await get(base, '/thing', { method: 'POST' });
  assert.equal(post.text, 'posted');
});

// ---- errors ------------------------------------------------------------------------------------

test('errorHook receives sync throws and rejections from middleware and routes; chain stops', async (t) => {
  const hooked: Array<{ path: string; message: string; isError: boolean }> = [];
  const ran: string[] = [];
  const { base } = await serve(t, (server) => {
    server.errorHook((ctx, error) => {
      hooked.push({
        path: ctx.getRequestPath(),
        message: (error as Error).message,
        isError: error instanceof Error,
      });
    });
    server.requestMiddleware((ctx) => {
      if (ctx.getRequestPath() === '/req-mw-throws') throw new Error('boom in request middleware');
    });
    server.requestMiddleware(async (ctx) => {
      await tick();
      if (ctx.getRequestPath() === '/req-mw-rejects')
        throw new Error('rejection in request middleware');
    });
    server.responseMiddleware((ctx) => {
      ran.push(`res:${ctx.getRequestPath()}`);
      if (ctx.getRequestPath() === '/res-mw-throws') throw new Error('boom in response middleware');
    });
    server.get('/req-mw-throws', () => {
      ran.push('route:/req-mw-throws');
    });
    server.get('/req-mw-rejects', () => {
      ran.push('route:/req-mw-rejects');
    });
    server.get('/route-throws', () => {
      throw new Error('sync boom in route');
    });
    server.get('/route-rejects', async () => {
      await sleep(5);
      throw new Error('async boom in route');
    });
    server.get('/route-rejects-non-error', () => Promise.reject('a string reason'));
    server.get('/res-mw-throws', (ctx) => {
      ctx.setResponseBody('would have been fine');
    });
  });
  const paths = [
    ['/req-mw-throws', 'boom in request middleware'],
    ['/req-mw-rejects', 'rejection in request middleware'],
    ['/route-throws', 'sync boom in route'],
    ['/route-rejects', 'async boom in route'],
    ['/res-mw-throws', 'boom in response middleware'],
  ] as const;
  for (const [path, message] of paths) {
    const res = await get(base, path);
    assert.equal(res.status, 500, path);
    assert.deepEqual(
      JSON.parse(res.text),
      { error: 'Internal Server Error', message: 'Internal Server Error' },
      path,
    );
    assert.equal(hooked.at(-1)?.path, path);
    assert.equal(hooked.at(-1)?.message, message);
    assert.equal(hooked.at(-1)?.isError, true);
  }
  const nonError = await get(base, '/route-rejects-non-error');
  assert.equal(nonError.status, 500);
  assert.equal(hooked.length, 6);
  // The route after a throwing middleware never ran; response middleware did not run after
  // a throw either (only for the request where the throw came from response middleware itself).
  assert.deepEqual(ran, ['res:/res-mw-throws']);
  const alive = await get(base, '/route-throws', { method: 'POST' });
  assert.equal(alive.status, 405, 'server keeps serving');
});

test('errorHook that sends its own response wins', async (t) => {
  const { base } = await serve(t, (server) => {
    server.errorHook(async (ctx, error) => {
      ctx
        .setResponseStatusCode(503)
        .setResponseHeader('x-hook', 'handled')
        .setResponseBody(`hook saw: ${(error as Error).message}`);
      await ctx.send();
    });
    server.get('/fail', () => {
      throw new HttpError(400, 'bad thing');
    });
    server.get('/fail-plain', async () => {
      await tick();
      throw new Error('plain');
    });
  });
  const res = await get(base, '/fail');
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('x-hook'), 'handled');
  assert.equal(res.text, 'hook saw: bad thing');
  const plain = await get(base, '/fail-plain');
  assert.equal(plain.status, 503);
  assert.equal(plain.text, 'hook saw: plain');
});

test('errors after the response went out reach errorHook; the client keeps the sent response', async (t) => {
  const hooked: string[] = [];
  const { base } = await serve(t, (server) => {
    server.errorHook((_ctx, error) => {
      hooked.push((error as Error).message);
    });
    server.get('/sent-then-throw', async (ctx) => {
      ctx.setResponseStatusCode(202).setResponseBody('already sent');
      await ctx.send();
      throw new Error('after send');
    });
  });
  const res = await get(base, '/sent-then-throw');
  assert.equal(res.status, 202);
  assert.equal(res.text, 'already sent');
  assert.deepEqual(hooked, ['after send']);
  assert.equal((await get(base, '/sent-then-throw')).status, 202, 'server keeps serving');
});

test('a hook that throws is logged and the 500 still goes out; later hooks still run', async (t) => {
  const order: string[] = [];
  const { base } = await serve(t, (server) => {
    server.errorHook(() => {
      order.push('hook1');
      throw new Error('hook exploded');
    });
    server.errorHook(async () => {
      await tick();
      order.push('hook2');
      throw new Error('async hook exploded');
    });
    server.get('/fail', () => {
      throw new Error('route failure detail');
    });
  });
  const { value: res, logged } = await capturingStderr(() => get(base, '/fail'));
  assert.equal(res.status, 500);
  assert.deepEqual(JSON.parse(res.text), {
    error: 'Internal Server Error',
    message: 'Internal Server Error',
  });
  assert.doesNotMatch(res.text, /exploded|route failure detail/);
  assert.deepEqual(order, ['hook1', 'hook2']);
  assert.ok(
    logged.some((line) => line.includes('hook exploded')),
    `the hook's throw is logged; got ${JSON.stringify(logged)}`,
  );
  const again = await capturingStderr(() => get(base, '/fail'));
  assert.equal(again.value.status, 500, 'server keeps serving');
});

test('HttpError: status, code and headers → JSON {error, message, code?}', async (t) => {
  const { base } = await serve(t, (server) => {
    server.requestMiddleware((ctx) => {
      if (ctx.getRequestPath() === '/mw-http-error') {
        throw new HttpError(401, 'log in first', { headers: { 'www-authenticate': 'Bearer' } });
      }
    });
    server.get('/limited', () => {
      throw new HttpError(429, 'slow down', {
        code: 'RATE_LIMITED',
        headers: { 'Retry-After': '7', 'x-extra': 'e' },
      });
    });
    server.get('/teapot', async () => {
      await tick();
      throw new HttpError(418);
    });
    server.get('/unavailable', () => {
      throw new HttpError(503, 'maintenance', { cause: new Error('db password=hunter2') });
    });
    server.get('/mw-http-error', () => {});
  });
  const limited = await get(base, '/limited');
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('retry-after'), '7');
  assert.equal(limited.headers.get('x-extra'), 'e');
  assert.match(limited.headers.get('content-type')!, /^application\/json/);
  assert.deepEqual(JSON.parse(limited.text), {
    error: 'Too Many Requests',
    message: 'slow down',
    code: 'RATE_LIMITED',
  });

  const teapot = await get(base, '/teapot');
  assert.equal(teapot.status, 418);
  const teapotBody = JSON.parse(teapot.text) as Record<string, unknown>;
  assert.equal(teapotBody['error'], reasonPhrase(418));
  assert.equal(teapotBody['message'], reasonPhrase(418), 'message defaults to the reason phrase');
  assert.equal('code' in teapotBody, false, 'no code key without a code');

  const unavailable = await get(base, '/unavailable');
  assert.equal(unavailable.status, 503);
  assert.deepEqual(JSON.parse(unavailable.text), {
    error: 'Service Unavailable',
    message: 'maintenance',
  });
  assert.doesNotMatch(unavailable.text, /hunter2/, 'the cause never leaks');

  const fromMiddleware = await get(base, '/mw-http-error');
  assert.equal(fromMiddleware.status, 401);
  assert.equal(fromMiddleware.headers.get('www-authenticate'), 'Bearer');
  assert.deepEqual(JSON.parse(fromMiddleware.text), {
    error: 'Unauthorized',
    message: 'log in first',
  });
});

test('a plain Error → 500 whose body says only "Internal Server Error"', async (t) => {
  const { base } = await serve(t, (server) => {
    server.errorHook(() => {});
    server.get('/leak', (ctx) => {
      // Whatever was staged before the throw is not sent either.
      ctx.setResponseHeader('x-staged', 'yes').setResponseBody('staged body');
      const error = new Error('SELECT * FROM users -- password=hunter2');
      error.stack = 'at secretFunction (/srv/app/secret.js:1:1)';
      throw error;
    });
  });
  const res = await get(base, '/leak');
  assert.equal(res.status, 500);
  assert.match(res.headers.get('content-type')!, /^application\/json/);
  assert.deepEqual(JSON.parse(res.text), {
    error: 'Internal Server Error',
    message: 'Internal Server Error',
  });
  assert.doesNotMatch(res.text, /hunter2|SELECT|secret|staged/);
});

test('the server keeps serving after every kind of error, on new and reused connections', async (t) => {
  const { port, base } = await serve(t, (server) => {
    server.errorHook(() => {});
    server.get('/throw', () => {
      throw new Error('x');
    });
    server.get('/reject', () => Promise.reject(new Error('y')));
    server.get('/http-error', () => {
      throw new HttpError(409, 'conflict');
    });
    server.get('/ok', (ctx) => {
      ctx.setResponseBody('ok');
    });
  });
  for (let round = 0; round < 3; round++) {
    for (const path of ['/throw', '/reject', '/http-error']) {
      const res = await get(base, path);
      assert.ok(res.status === 500 || res.status === 409, path);
      assert.equal((await get(base, '/ok')).text, 'ok');
    }
  }
  // Pipelined on one keep-alive connection: every error answered, in order, then a success.
  const { responses, conn } = await raw(
    port,
    [
      'GET /throw HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /reject HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /http-error HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /ok HTTP/1.1\r\nHost: x\r\n\r\n',
    ].join(''),
    4,
  );
  conn.destroy();
  assert.deepEqual(
    responses.map((r) => r.status),
    [500, 500, 409, 200],
  );
  assert.equal(responses[3]!.text(), 'ok');
});

// ---- handlers and params -----------------------------------------------------------------------

test('sync and async handlers (and thenables) both work', async (t) => {
  const { base } = await serve(t, (server) => {
    server.requestMiddleware((ctx) => {
      ctx.setAttribute('sync-mw', true);
    });
    server.get('/sync', (ctx) => {
      ctx.setResponseBody(`sync ${String(ctx.getAttribute('sync-mw'))}`);
    });
    server.get('/async', async (ctx) => {
      await sleep(20);
      ctx.setResponseBody('async');
    });
    server.get('/thenable', (ctx) => ({
      then(resolve: () => void): void {
        setTimeout(() => {
          ctx.setResponseBody('thenable');
          resolve();
        }, 5);
      },
    }));
    server.get('/returns-value', () => 'ignored');
  });
  assert.equal((await get(base, '/sync')).text, 'sync true');
  assert.equal((await get(base, '/async')).text, 'async');
  assert.equal((await get(base, '/thenable')).text, 'thenable');
  const ignored = await get(base, '/returns-value');
  assert.equal(ignored.status, 200);
  assert.equal(ignored.text, '');
});

test('regex tail params, percent-decoded params, malformed escape → 400', async (t) => {
  const { base, port } = await serve(t, (server) => {
    server.get('/files/{path:^.*$}', (ctx) => {
      ctx.setResponseBodyJson(ctx.getRouteParams());
    });
    server.get('/users/{name}', (ctx) => {
      ctx.setResponseBodyJson({ name: ctx.getRouteParam('name'), path: ctx.getRequestPath() });
    });
    server.get('/v/{version:^v[0-9]+$}/info', (ctx) => {
      ctx.setResponseBody(ctx.getRouteParam('version')!);
    });
  });
  const tail = await get(base, '/files/a/b/c.txt');
  assert.deepEqual(JSON.parse(tail.text), { path: 'a/b/c.txt' });

  const tailDecoded = await get(base, '/files/dir%20one/na%C3%AFve%2Bx.txt');
  assert.deepEqual(JSON.parse(tailDecoded.text), { path: 'dir one/naïve+x.txt' });

  const decoded = await get(base, '/users/J%C3%B6rg%20M%C3%BCller');
  assert.deepEqual(JSON.parse(decoded.text), {
    name: 'Jörg Müller',
    path: '/users/J%C3%B6rg%20M%C3%BCller',
  });

  const slash = await get(base, '/users/a%2Fb');
  assert.equal(JSON.parse(slash.text).name, 'a/b', '%2F decodes inside one segment');

  assert.equal((await get(base, '/v/v12/info')).text, 'v12');
  assert.equal((await get(base, '/v/x12/info')).status, 404, 'regex segment must match whole');

  for (const path of [
    '/users/%E0%A4%A',
    '/users/%zz',
    '/users/%',
    '/files/ok/%C3%28',
    '/files/%G1',
  ]) {
    // Raw bytes so no client re-encodes the malformed escape.
    const { responses, conn } = await raw(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    conn.destroy();
    assert.equal(responses[0]?.status, 400, path);
    assert.equal((responses[0]!.json() as { error: string }).error, 'Bad Request', path);
  }
  assert.equal((await get(base, '/users/fine')).status, 200, 'server keeps serving');
});
