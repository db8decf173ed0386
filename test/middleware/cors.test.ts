/**
 * cors() (API.md "Batteries") over real sockets: simple requests, preflights (fetch and curl),
 * Vary handling, every kind of `origins`, bad options, and hostile Origin /
 * Access-Control-Request-Headers bytes over raw TCP, each followed by a liveness request.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { type Context, HyperlaneError, type Server } from '../../src/index.js';
import { cors, type CorsOptions } from '../../src/middleware/cors.js';
import { assertServing, request } from '../helpers/raw-client.js';
import { serve } from '../helpers/serve.js';
import { curl } from '../helpers/curl.js';
import { call } from '../helpers/call.js';

const APP = 'https://app.example';
const OTHER = 'https://evil.example';

/** A server with cors(options) and a counter of route runs. */
async function corsServer(
  t: TestContext,
  options: CorsOptions,
  extra: (server: Server) => void = () => {},
): Promise<{ base: string; port: number; runs: () => number }> {
  let runs = 0;
  const served = await serve(t, (server) => {
    extra(server);
    server.requestMiddleware(cors(options));
    server.get('/data', (ctx) => {
      runs++;
      ctx.setResponseBody('data');
    });
    server.post('/data', (ctx) => {
      runs++;
      ctx.setResponseBody('posted');
    });
    server.options('/opts', (ctx) => {
      runs++;
      ctx.setResponseBody('options route');
    });
    server.get('/__alive', (ctx) => {
      ctx.setResponseBody('alive');
    });
  });
  return { base: served.base, port: served.port, runs: () => runs };
}

function corsHeaderNames(headers: Headers): string[] {
  return [...headers.keys()].filter((name) => name.startsWith('access-control-'));
}

// ---- options ---------------------------------------------------------------------------------

test('cors(): invalid options throw HL_ERR_CONFIG naming the option', () => {
  const bad: [unknown, RegExp][] = [
    [undefined, /options/],
    [{}, /origins/],
    [{ origins: [] }, /origins/],
    [{ origins: 42 }, /origins/],
    [{ origins: 'https://app.example/' }, /origins entry "https:\/\/app.example\/"/],
    [{ origins: 'app.example' }, /origins entry/],
    [{ origins: [APP, 7] }, /origins/],
    [{ origins: APP, methods: ['GET', 'BAD METHOD'] }, /methods entry "BAD METHOD"/],
    [{ origins: APP, methods: [] }, /methods/],
    [{ origins: APP, headers: 'x-a, x b' }, /headers entry "x b"/],
    [{ origins: APP, exposeHeaders: ['x-ok', 'bad\r\nx'] }, /exposeHeaders/],
    [{ origins: APP, maxAge: -1 }, /maxAge/],
    [{ origins: APP, maxAge: 1.5 }, /maxAge/],
    [{ origins: APP, credentials: 'yes' }, /credentials/],
    [{ origins: APP, origin: APP }, /unknown option "origin"/],
    // Any origin reading responses made with the user's cookies: refused, with the way out.
    [
      { origins: '*', credentials: true },
      /origins '\*' cannot go with credentials.*List the allowed origins/,
    ],
    [{ origins: [APP, '*'], credentials: true }, /origins '\*' cannot go with credentials/],
    // test() matches anywhere: a RegExp must be anchored at both ends.
    [{ origins: /app\.example/ }, /origins RegExp \/app\\.example\/ must be anchored/],
    [{ origins: /^https:\/\/app\.example/ }, /must be anchored/],
    [{ origins: /https:\/\/app\.example$/ }, /must be anchored/],
    [{ origins: [APP, /^https:\/\/a\.example\$/] }, /must be anchored/],
    [{ origins: /^https:\/\/a\.example|b\.example$/ }, /must be anchored/],
    [{ origins: /^https:\/\/a\.example$|b\.example$/ }, /must be anchored/],
    [{ origins: /.*/s }, /must be anchored/],
  ];
  for (const [options, message] of bad) {
    assert.throws(
      () => cors(options as CorsOptions),
      (error: unknown) =>
        error instanceof HyperlaneError &&
        error.code === 'HL_ERR_CONFIG' &&
        message.test(error.message),
      `cors(${JSON.stringify(options)})`,
    );
  }
});

// ---- simple requests -------------------------------------------------------------------------

test('allowed origin: reflected, Vary: Origin, credentials and exposed headers; the route runs', async (t) => {
  const { base, runs } = await corsServer(t, {
    origins: [APP, 'https://other-app.example'],
    credentials: true,
    exposeHeaders: ['X-Total', 'X-Page'],
  });
  const res = await call(base, '/data', { headers: { origin: APP } });
  assert.equal(res.status, 200);
  assert.equal(res.text, 'data');
  assert.equal(res.headers.get('access-control-allow-origin'), APP);
  assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
  assert.equal(res.headers.get('access-control-expose-headers'), 'X-Total, X-Page');
  assert.equal(res.headers.get('vary'), 'Origin');
  assert.equal(runs(), 1);

  const post = await call(base, '/data', {
    method: 'POST',
    headers: { origin: 'https://other-app.example' },
    body: 'x',
  });
  assert.equal(post.text, 'posted');
  assert.equal(post.headers.get('access-control-allow-origin'), 'https://other-app.example');
});

test('disallowed origin: no CORS headers at all, the route still runs (the browser blocks the read)', async (t) => {
  const { base, runs } = await corsServer(t, {
    origins: APP,
    credentials: true,
    exposeHeaders: 'X-Total',
  });
  for (const origin of [OTHER, `${APP}.evil.example`, 'http://app.example', 'null']) {
    const res = await call(base, '/data', { headers: { origin } });
    assert.equal(res.status, 200, origin);
    assert.equal(res.text, 'data');
    assert.deepEqual(corsHeaderNames(res.headers), [], origin);
    assert.equal(res.headers.get('vary'), 'Origin', 'the answer still depends on Origin');
  }
  assert.equal(runs(), 4);
});

test('no Origin header: no CORS headers, but Vary: Origin for shared caches', async (t) => {
  const { base } = await corsServer(t, { origins: APP, credentials: true, maxAge: 60 });
  const res = await call(base, '/data');
  assert.equal(res.text, 'data');
  assert.deepEqual(corsHeaderNames(res.headers), []);
  assert.equal(res.headers.get('vary'), 'Origin');
  const options = await call(base, '/opts', {
    method: 'OPTIONS',
    headers: { 'access-control-request-method': 'PUT' },
  });
  assert.equal(options.text, 'options route', 'OPTIONS without Origin is no preflight');
});

test("origins '*': `*` without credentials, no Vary", async (t) => {
  const open = await corsServer(t, { origins: '*' });
  const res = await call(open.base, '/data', { headers: { origin: OTHER } });
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assert.equal(res.headers.get('vary'), null);
  assert.equal(res.headers.get('access-control-allow-credentials'), null);
  const fromNull = await call(open.base, '/data', { headers: { origin: 'null' } });
  assert.equal(fromNull.headers.get('access-control-allow-origin'), '*');

  const listed = await corsServer(t, { origins: [APP, '*'] });
  assert.equal(
    (await call(listed.base, '/data', { headers: { origin: OTHER } })).headers.get(
      'access-control-allow-origin',
    ),
    '*',
    "'*' inside a list means any origin",
  );

  // With credentials, '*' is refused when the middleware is built (see the options test).
});

test("origins: the string 'null' allows sandboxed documents only when listed", async (t) => {
  const { base } = await corsServer(t, { origins: ['null', APP] });
  const res = await call(base, '/data', { headers: { origin: 'null' } });
  assert.equal(res.headers.get('access-control-allow-origin'), 'null');
});

test('origins: RegExp (a /g one too, tested many times) and a function that sees the Context', async (t) => {
  const byPattern = await corsServer(t, {
    origins: [/^https:\/\/[a-z]+\.app\.example$/g, 'https://exact.example'],
  });
  for (let i = 0; i < 4; i++) {
    const res = await call(byPattern.base, '/data', {
      headers: { origin: 'https://eu.app.example' },
    });
    assert.equal(
      res.headers.get('access-control-allow-origin'),
      'https://eu.app.example',
      `try ${i}`,
    );
  }
  const miss = await call(byPattern.base, '/data', {
    headers: { origin: 'https://eu.app.example.evil.example' },
  });
  assert.equal(miss.headers.get('access-control-allow-origin'), null);
  const exact = await call(byPattern.base, '/data', {
    headers: { origin: 'https://exact.example' },
  });
  assert.equal(exact.headers.get('access-control-allow-origin'), 'https://exact.example');

  const seen: string[] = [];
  const byFunction = await corsServer(t, {
    origins: (origin: string, ctx: Context) => {
      seen.push(`${ctx.getRequestMethod()} ${ctx.getRequestPath()} ${origin}`);
      return origin.endsWith('.trusted.example') && ctx.getRequestHeader('x-tenant') === 'a';
    },
  });
  const yes = await call(byFunction.base, '/data', {
    headers: { origin: 'https://x.trusted.example', 'x-tenant': 'a' },
  });
  assert.equal(yes.headers.get('access-control-allow-origin'), 'https://x.trusted.example');
  assert.equal(yes.headers.get('vary'), 'Origin');
  const no = await call(byFunction.base, '/data', {
    headers: { origin: 'https://x.trusted.example', 'x-tenant': 'b' },
  });
  assert.equal(no.headers.get('access-control-allow-origin'), null);
  assert.deepEqual(seen, [
    'GET /data https://x.trusted.example',
    'GET /data https://x.trusted.example',
  ]);
});

test('anchored RegExps are accepted: alternatives, groups, escaped characters', async (t) => {
  const { base } = await corsServer(t, {
    origins: [
      /^https:\/\/(eu|us)\.app\.example$/,
      /^https:\/\/a\.example$|^https:\/\/b\.example(:\d+)?$/,
      /^https:\/\/[|$]x\.example$/,
    ],
  });
  const allowed = async (origin: string) =>
    (await call(base, '/data', { headers: { origin } })).headers.get('access-control-allow-origin');
  assert.equal(await allowed('https://eu.app.example'), 'https://eu.app.example');
  assert.equal(await allowed('https://b.example:8443'), 'https://b.example:8443');
  assert.equal(await allowed('https://a.example'), 'https://a.example');
  assert.equal(await allowed('https://eu.app.example.evil.example'), null);
  assert.equal(await allowed('https://evil.example/https://a.example'), null);
  assert.equal(await allowed('https://a.example.evil.example'), null);
});

test('Vary: Origin is appended to an existing Vary, never duplicated, and `*` is left alone', async (t) => {
  const cases: [string, string][] = [
    ['Accept-Encoding', 'Accept-Encoding, Origin'],
    ['accept-encoding, origin', 'accept-encoding, origin'],
    ['ORIGIN', 'ORIGIN'],
    ['*', '*'],
  ];
  for (const [before, after] of cases) {
    const { base } = await corsServer(t, { origins: APP }, (server) => {
      server.requestMiddleware((ctx) => {
        ctx.setResponseHeader('Vary', before);
      });
    });
    const res = await call(base, '/data', { headers: { origin: APP } });
    assert.equal(res.headers.get('vary'), after, `Vary: ${before}`);
    assert.equal(res.headers.get('access-control-allow-origin'), APP);
  }
});

// ---- preflight -------------------------------------------------------------------------------

test('preflight (curl): 204 with default methods, echoed headers, Max-Age; the route never runs', async (t) => {
  const { base, runs } = await corsServer(t, { origins: APP, maxAge: 600, credentials: true });
  const res = await curl([
    '-X',
    'OPTIONS',
    '-H',
    `Origin: ${APP}`,
    '-H',
    'Access-Control-Request-Method: PUT',
    '-H',
    'Access-Control-Request-Headers: content-type,x-custom',
    `${base}/data`,
  ]);
  assert.equal(res.status, 204);
  assert.equal(res.body.length, 0);
  assert.equal(res.headers['access-control-allow-origin'], APP);
  assert.equal(res.headers['access-control-allow-credentials'], 'true');
  assert.equal(res.headers['access-control-allow-methods'], 'GET,HEAD,PUT,PATCH,POST,DELETE');
  assert.equal(res.headers['access-control-allow-headers'], 'content-type, x-custom');
  assert.equal(res.headers['access-control-max-age'], '600');
  assert.equal(res.headers['vary'], 'Origin, Access-Control-Request-Headers');
  assert.equal(res.headers['content-length'], undefined, 'a 204 carries no Content-Length');
  assert.equal(runs(), 0);
});

test('preflight: answered on paths with no OPTIONS route (405) and no route at all (404)', async (t) => {
  const { base, runs } = await corsServer(t, {
    origins: APP,
    methods: ['GET', 'POST', 'REPORT'],
    headers: ['Content-Type', 'Authorization'],
  });
  for (const path of ['/data', '/nowhere/at/all', '/opts']) {
    const res = await call(base, path, {
      method: 'OPTIONS',
      headers: {
        origin: APP,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-not-configured',
      },
    });
    assert.equal(res.status, 204, path);
    assert.equal(res.text, '');
    assert.equal(res.headers.get('access-control-allow-origin'), APP);
    assert.equal(res.headers.get('access-control-allow-methods'), 'GET,POST,REPORT');
    assert.equal(
      res.headers.get('access-control-allow-headers'),
      'Content-Type, Authorization',
      'configured headers, not the requested ones',
    );
    assert.equal(res.headers.get('access-control-max-age'), null);
    assert.equal(res.headers.get('vary'), 'Origin');
  }
  assert.equal(runs(), 0);
});

test('preflight from a disallowed origin: an empty 204 without CORS headers (as @fastify/cors); the route never runs', async (t) => {
  const { base, runs } = await corsServer(t, { origins: APP, maxAge: 60 });
  const res = await curl([
    '-X',
    'OPTIONS',
    '-H',
    `Origin: ${OTHER}`,
    '-H',
    'Access-Control-Request-Method: DELETE',
    `${base}/data`,
  ]);
  assert.equal(res.status, 204);
  assert.deepEqual(
    Object.keys(res.headers).filter((name) => name.startsWith('access-control-')),
    [],
  );
  assert.equal(runs(), 0);
});

test('OPTIONS with Origin but no Access-Control-Request-Method is a plain request: the route runs', async (t) => {
  const { base, runs } = await corsServer(t, { origins: APP });
  const res = await call(base, '/opts', { method: 'OPTIONS', headers: { origin: APP } });
  assert.equal(res.status, 200);
  assert.equal(res.text, 'options route');
  assert.equal(res.headers.get('access-control-allow-origin'), APP);
  assert.equal(res.headers.get('access-control-allow-methods'), null);
  assert.equal(runs(), 1);
});

test('preflight: a requested header list with junk is not echoed; an empty-element list is cleaned', async (t) => {
  const { base } = await corsServer(t, { origins: '*' });
  const ask = (list: string) =>
    call(base, '/data', {
      method: 'OPTIONS',
      headers: {
        origin: APP,
        'access-control-request-method': 'GET',
        'access-control-request-headers': list,
      },
    });
  assert.equal(
    (await ask(' x-a ,, x-b ,')).headers.get('access-control-allow-headers'),
    'x-a, x-b',
  );
  for (const junk of [
    'x-a, bad header',
    'x-a;x-b',
    '"quoted"',
    'x-a, (c)',
    ',',
    'x'.repeat(3000),
  ]) {
    const res = await ask(junk);
    assert.equal(res.status, 204, junk);
    assert.equal(res.headers.get('access-control-allow-headers'), null, junk.slice(0, 40));
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
  }
});

// ---- hostile bytes ---------------------------------------------------------------------------

test('hostile Origin bytes over raw TCP: never reflected, no crash, the server keeps serving', async (t) => {
  // A RegExp and a function that accept anything: only the origin syntax check stands guard.
  for (const origins of [/^.*$/s, () => true] as CorsOptions['origins'][]) {
    const { port } = await corsServer(t, { origins, credentials: true });
    const hostile: [string, Buffer][] = [
      ['huge origin', Buffer.from(`https://${'a'.repeat(12000)}.example`, 'latin1')],
      [
        'obs-text origin',
        Buffer.from([0x68, 0x74, 0x74, 0x70, 0x3a, 0x2f, 0x2f, 0xe9, 0xff, 0x80]),
      ],
      ['origin with a path', Buffer.from('https://app.example/path')],
      ['origin with spaces', Buffer.from('https://app.example https://evil.example')],
      ['origin with userinfo', Buffer.from('https://user@app.example')],
      ['no scheme', Buffer.from('app.example')],
      ['empty', Buffer.alloc(0)],
      ['null', Buffer.from('null')],
      ['script', Buffer.from('https://<script>alert(1)</script>')],
    ];
    for (const [label, origin] of hostile) {
      for (const method of ['GET', 'OPTIONS']) {
        const head = Buffer.concat([
          Buffer.from(`${method} /data HTTP/1.1\r\nHost: x\r\nOrigin: `),
          origin,
          Buffer.from('\r\nAccess-Control-Request-Method: GET\r\nConnection: close\r\n\r\n'),
        ]);
        const result = await request(port, head);
        const res = result.finals[0];
        assert.ok(res !== undefined, `${label} ${method}: a response`);
        assert.ok(res.status === 200 || res.status === 204, `${label} ${method}: ${res.status}`);
        // A function is asked about `null` and may accept it (documented); a RegExp never matches it.
        const expected = label === 'null' && typeof origins === 'function' ? 'null' : undefined;
        assert.equal(res.headers['access-control-allow-origin'], expected, `${label} ${method}`);
        await assertServing(port);
      }
    }
    // Two Origin fields are joined into one value that no browser would send: refused.
    const twice = await request(
      port,
      `GET /data HTTP/1.1\r\nHost: x\r\nOrigin: ${APP}\r\nOrigin: ${OTHER}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(twice.finals[0]?.status, 200);
    assert.equal(twice.finals[0]?.headers['access-control-allow-origin'], undefined);
    // A well-formed origin is still reflected afterwards.
    const good = await request(
      port,
      `GET /data HTTP/1.1\r\nHost: x\r\nOrigin: http://[::1]:8080\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(good.finals[0]?.headers['access-control-allow-origin'], 'http://[::1]:8080');
  }
});

test('hostile Access-Control-Request-Headers bytes: not echoed, the server keeps serving', async (t) => {
  const { port } = await corsServer(t, { origins: APP });
  const lists = [
    Buffer.from([0x78, 0x2d, 0x61, 0x2c, 0x20, 0xff, 0xfe]),
    Buffer.from('x-a,\tx-b\t, x-c'),
    Buffer.from(`${'x-h,'.repeat(2500)}x-last`),
  ];
  for (const list of lists) {
    const head = Buffer.concat([
      Buffer.from(
        `OPTIONS /data HTTP/1.1\r\nHost: x\r\nOrigin: ${APP}\r\nAccess-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: `,
      ),
      list,
      Buffer.from('\r\nConnection: close\r\n\r\n'),
    ]);
    const res = (await request(port, head)).finals[0];
    assert.equal(res?.status, 204);
    assert.equal(res?.headers['access-control-allow-origin'], APP);
    const echoed = res?.headers['access-control-allow-headers'];
    assert.ok(echoed === undefined || echoed === 'x-a, x-b, x-c', `echoed ${echoed}`);
    await assertServing(port);
  }
});
