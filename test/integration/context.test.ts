/**
 * Every Context getter and setter of API.md ("Context: request", "Context: response",
 * "Cookies", "Constants") over real HTTP — Node's fetch, curl and raw sockets — plus inject().
 *
 * Every test starts its own server on 127.0.0.1:0 (or [::1]:0) and closes it.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  APPLICATION_JSON,
  CONTENT_TYPE,
  CookieBuilder,
  HTTP_BR,
  HTTP_DOUBLE_BR,
  HttpError,
  KEEP_ALIVE,
  SEC_WEBSOCKET_KEY,
  SERVER,
  SET_COOKIE,
  CONNECTION,
  Server,
  TEXT_EVENT_STREAM,
  TEXT_HTML,
  TEXT_PLAIN,
  type Context,
  type StandardSchemaV1,
} from '../../src/index.js';
import { RawConnection, finalResponses, type ParsedResponse } from '../helpers/raw-client.js';
import { serve } from '../helpers/serve.js';
import { curl } from '../helpers/curl.js';

// ---- helpers -------------------------------------------------------------------------------

async function fetchText(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000), ...init });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function fetchJson<T = Record<string, unknown>>(
  url: string,
  init: RequestInit = {},
): Promise<T> {
  const res = await fetchText(url, init);
  assert.equal(res.status, 200, `${url}: ${res.text}`);
  return JSON.parse(res.text) as T;
}

async function rawExchange(
  port: number,
  bytes: string,
  n = 1,
  host = '127.0.0.1',
): Promise<ParsedResponse[]> {
  const conn = await RawConnection.connect(port, host);
  try {
    await conn.write(bytes);
    return finalResponses(await conn.readResponses(n, 3000));
  } finally {
    conn.destroy();
  }
}

function ipv6Available(): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(0, '::1', () => probe.close(() => resolve(true)));
  });
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Everything the request getters report, as JSON. */
function reflect(ctx: Context): void {
  ctx.setResponseBodyJson({
    method: ctx.getRequestMethod(),
    path: ctx.getRequestPath(),
    url: ctx.getRequestUrl(),
    version: ctx.getRequestVersion(),
    host: ctx.getRequestHost(),
    queries: ctx.getRequestQueries(),
    headers: ctx.getRequestHeaders(),
  });
}

interface Reflected {
  method: string;
  path: string;
  url: string;
  version: string;
  host: string;
  queries: Record<string, string>;
  headers: Record<string, string>;
}

// ---- request line, host, version -----------------------------------------------------------

test('getRequestMethod(): every method, standard and extension, via fetch and curl', async (t) => {
  const { base } = await serve(t, (server) => {
    server.route('/m', reflect);
  });
  for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    const body = await fetchJson<Reflected>(`${base}/m`, { method });
    assert.equal(body.method, method);
  }
  const purge = await curl(['-X', 'PURGE', `${base}/m`]);
  assert.equal(purge.status, 200);
  assert.equal(purge.json<Reflected>().method, 'PURGE');
  const head = await curl(['-I', `${base}/m`], { isHead: true });
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
});

test('getRequestPath() stays percent-encoded and has no query; getRequestUrl() is the raw target', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get('/p/{rest:^.*$}', (ctx) => {
      reflect(ctx);
      ctx.setResponseHeader('x-rest-param', encodeURIComponent(ctx.getRouteParam('rest')!));
    });
  });
  const target = '/p/caf%C3%A9/a%2Fb%20c?x=%20y&z';
  const viaCurl = await curl(['--path-as-is', `${base}${target}`]);
  const reflected = viaCurl.json<Reflected>();
  assert.equal(reflected.path, '/p/caf%C3%A9/a%2Fb%20c');
  assert.equal(reflected.url, target);
  assert.equal(
    decodeURIComponent(viaCurl.headers['x-rest-param']!),
    'café/a/b c',
    'the route param is decoded while the path is not',
  );
  const viaFetch = await fetchJson<Reflected>(`${base}${target}`);
  assert.equal(viaFetch.path, '/p/caf%C3%A9/a%2Fb%20c');
  assert.equal(viaFetch.url, target);
});

test('getRequestVersion() and getRequestHost()', async (t) => {
  const { base, port } = await serve(t, (server) => {
    server.get('/v', reflect);
  });
  const viaFetch = await fetchJson<Reflected>(`${base}/v`);
  assert.equal(viaFetch.version, 'HTTP/1.1');
  assert.equal(viaFetch.host, `127.0.0.1:${port}`);

  const http10 = await curl(['--http1.0', `${base}/v`]);
  assert.equal(http10.json<Reflected>().version, 'HTTP/1.0');

  const custom = await curl(['-H', 'Host: example.test:8080', `${base}/v`]);
  assert.equal(custom.json<Reflected>().host, 'example.test:8080');
});

// ---- queries --------------------------------------------------------------------------------

test('queries: decoded (URLSearchParams rules), first value, all values, absent', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get('/q', (ctx) => {
      ctx.setResponseBodyJson({
        all: ctx.getRequestQueries(),
        a: ctx.getRequestQuery('a'),
        aValues: ctx.getRequestQueryValues('a'),
        b: ctx.getRequestQuery('b'),
        missing: ctx.getRequestQuery('missing') === undefined,
        missingValues: ctx.getRequestQueryValues('missing'),
      });
    });
  });
  const query = 'a=1&b=hello%20world&a=2&c=x+y&d=&e=%E2%82%AC&f&a=3&g%20h=i';
  for (const body of [
    await fetchJson<Record<string, unknown>>(`${base}/q?${query}`),
    (await curl([`${base}/q?${query}`])).json<Record<string, unknown>>(),
  ]) {
    assert.deepEqual(body['all'], {
      a: '1',
      b: 'hello world',
      c: 'x y',
      d: '',
      e: '€',
      f: '',
      'g h': 'i',
    });
    assert.equal(body['a'], '1');
    assert.deepEqual(body['aValues'], ['1', '2', '3']);
    assert.equal(body['b'], 'hello world');
    assert.equal(body['missing'], true);
    assert.deepEqual(body['missingValues'], []);
  }
  const none = await fetchJson<Record<string, unknown>>(`${base}/q`);
  assert.deepEqual(none['all'], {});
});

// ---- headers --------------------------------------------------------------------------------

test('request headers: lower-case names, case-insensitive get, repeated values, absent', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get('/h', (ctx) => {
      ctx.setResponseBodyJson({
        all: ctx.getRequestHeaders(),
        custom: ctx.getRequestHeader('X-CUSTOM-THING'),
        customLower: ctx.getRequestHeader('x-custom-thing'),
        multi: ctx.getRequestHeader('x-multi'),
        multiValues: ctx.getRequestHeaderValues('X-Multi'),
        has: ctx.hasRequestHeader('X-Custom-Thing'),
        hasNot: ctx.hasRequestHeader('x-not-sent'),
        absent: ctx.getRequestHeader('x-not-sent') === undefined,
        absentValues: ctx.getRequestHeaderValues('x-not-sent'),
      });
    });
  });
  const res = await curl([
    '-H',
    'X-Custom-Thing: Value With Case',
    '-H',
    'X-Multi: first',
    '-H',
    'x-multi: second',
    `${base}/h`,
  ]);
  const body = res.json<Record<string, unknown>>();
  const all = body['all'] as Record<string, string>;
  for (const name of Object.keys(all)) assert.equal(name, name.toLowerCase(), name);
  assert.equal(all['x-custom-thing'], 'Value With Case', 'values keep their case');
  assert.equal(all['host'], new URL(base).host);
  assert.equal(all['x-multi'], 'first, second');
  assert.equal(body['custom'], 'Value With Case');
  assert.equal(body['customLower'], 'Value With Case');
  assert.equal(body['multi'], 'first, second');
  assert.deepEqual(body['multiValues'], ['first', 'second']);
  assert.equal(body['has'], true);
  assert.equal(body['hasNot'], false);
  assert.equal(body['absent'], true);
  assert.deepEqual(body['absentValues'], []);

  const viaFetch = await fetchJson<Record<string, unknown>>(`${base}/h`, {
    headers: { 'X-Custom-Thing': 'from fetch' },
  });
  assert.equal(viaFetch['custom'], 'from fetch');
});

// ---- body -----------------------------------------------------------------------------------

test('request body: bytes (a Buffer), string, JSON; invalid JSON → 400', async (t) => {
  const { base } = await serve(t, (server) => {
    server.post('/bytes', (ctx) => {
      const body = ctx.getRequestBody();
      ctx
        .setResponseHeader('x-is-buffer', String(Buffer.isBuffer(body)))
        .setResponseHeader('x-length', body.length)
        .setResponseBody(body);
    });
    server.post('/string', (ctx) => {
      ctx.setResponseBody(`[${ctx.getRequestBodyString()}]`);
    });
    server.post('/json', (ctx) => {
      const value = ctx.getRequestBodyJson<{ n: number; list: string[] }>();
      ctx.setResponseBodyJson({ doubled: value.n * 2, list: value.list });
    });
  });
  const bytes = new Uint8Array(256).map((_, i) => i);
  const bin = await fetch(`${base}/bytes`, { method: 'POST', body: bytes });
  assert.equal(bin.headers.get('x-is-buffer'), 'true');
  assert.equal(bin.headers.get('x-length'), '256');
  assert.equal(bin.headers.get('content-type'), 'application/octet-stream');
  assert.deepEqual(new Uint8Array(await bin.arrayBuffer()), bytes);

  const text = await fetchText(`${base}/string`, { method: 'POST', body: 'héllo wörld ✓' });
  assert.equal(text.text, '[héllo wörld ✓]');
  assert.match(text.headers.get('content-type')!, /^text\/plain/);

  const empty = await fetchText(`${base}/string`, { method: 'POST' });
  assert.equal(empty.text, '[]');

  const json = await fetchText(`${base}/json`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ n: 21, list: ['a', 'ü'] }),
  });
  assert.deepEqual(JSON.parse(json.text), { doubled: 42, list: ['a', 'ü'] });

  for (const bad of ['{"n": 1,', 'not json', '']) {
    const res = await curl(['-X', 'POST', '--data-binary', bad, `${base}/json`]);
    assert.equal(res.status, 400, JSON.stringify(bad));
    assert.equal(res.json<{ error: string }>().error, 'Bad Request');
  }
});

test('parseRequestBody(schema): a Standard Schema validator; failures → 422 listing the issues', async (t) => {
  interface User {
    name: string;
    age: number;
  }
  const userSchema: StandardSchemaV1<unknown, User> = {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate(value: unknown) {
        const issues: Array<{ message: string; path?: Array<PropertyKey | { key: PropertyKey }> }> =
          [];
        const input = (typeof value === 'object' && value !== null ? value : {}) as Record<
          string,
          unknown
        >;
        if (typeof value !== 'object' || value === null)
          issues.push({ message: 'expected an object' });
        else {
          if (typeof input['name'] !== 'string')
            issues.push({ message: 'name must be a string', path: ['name'] });
          if (typeof input['age'] !== 'number')
            issues.push({ message: 'age must be a number', path: [{ key: 'age' }] });
        }
        if (issues.length > 0) return { issues };
        // The output differs from the input: the handler must get the validator's value.
        return {
          value: { name: (input['name'] as string).toUpperCase(), age: input['age'] as number },
        };
      },
    },
  };
  const asyncSchema: StandardSchemaV1<unknown, { ok: true }> = {
    '~standard': {
      version: 1,
      vendor: 'test',
      async validate(value: unknown) {
        await sleep(1);
        return value === true
          ? { value: { ok: true as const } }
          : { issues: [{ message: 'must be true' }] };
      },
    },
  };
  const { base } = await serve(t, (server) => {
    server.post('/users', async (ctx) => {
      const user = await ctx.parseRequestBody(userSchema);
      ctx.setResponseBodyJson(user);
    });
    server.post('/async', async (ctx) => {
      ctx.setResponseBodyJson(await ctx.parseRequestBody(asyncSchema));
    });
  });
  const post = (path: string, body: string): Promise<{ status: number; text: string }> =>
    fetchText(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });

  const ok = await post('/users', JSON.stringify({ name: 'ada', age: 36 }));
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.text), { name: 'ADA', age: 36 });

  const invalid = await post('/users', JSON.stringify({ name: 5 }));
  assert.equal(invalid.status, 422);
  const error = JSON.parse(invalid.text) as { error: string; message: string; code?: string };
  assert.match(error.error, /^Unprocessable (Content|Entity)$/);
  assert.match(error.message, /name must be a string/);
  assert.match(error.message, /age must be a number/);
  assert.match(error.message, /name/);
  assert.match(error.message, /age/);

  const notObject = await post('/users', '42');
  assert.equal(notObject.status, 422);
  assert.match(notObject.text, /expected an object/);

  const notJson = await post('/users', '{');
  assert.equal(notJson.status, 400, 'invalid JSON is 400 before validation');

  assert.deepEqual(JSON.parse((await post('/async', 'true')).text), { ok: true });
  const asyncBad = await post('/async', 'false');
  assert.equal(asyncBad.status, 422);
  assert.match(asyncBad.text, /must be true/);
});

// ---- cookies --------------------------------------------------------------------------------

test('request cookies: getRequestCookies() and getRequestCookie()', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get('/c', (ctx) => {
      ctx.setResponseBodyJson({
        all: ctx.getRequestCookies(),
        a: ctx.getRequestCookie('a'),
        missing: ctx.getRequestCookie('missing') === undefined,
      });
    });
  });
  const res = await curl(['-H', 'Cookie: a=1; b=hello%20world; c="quoted"; empty=', `${base}/c`]);
  const body = res.json<{ all: Record<string, string>; a: string; missing: boolean }>();
  assert.deepEqual(body.all, { a: '1', b: 'hello world', c: 'quoted', empty: '' });
  assert.equal(body.a, '1');
  assert.equal(body.missing, true);

  const viaFetch = await fetchJson<{ all: Record<string, string> }>(`${base}/c`, {
    headers: { cookie: 'session=abc123' },
  });
  assert.deepEqual(viaFetch.all, { session: 'abc123' });

  const none = await fetchJson<{ all: Record<string, string> }>(`${base}/c`);
  assert.deepEqual(none.all, {});
});

test('CookieBuilder with every attribute → Set-Cookie; several cookies are several headers', async (t) => {
  const expires = new Date(Date.UTC(2030, 0, 2, 3, 4, 5));
  const { base, port } = await serve(t, (server) => {
    server.get('/set', (ctx) => {
      ctx
        .setResponseCookie(
          new CookieBuilder('sid', 'abc123')
            .httpOnly()
            .secure()
            .sameSite('Lax')
            .path('/')
            .domain('example.com')
            .maxAge(3600)
            .expires(expires),
        )
        .setResponseCookie(new CookieBuilder('strict', 'x').sameSite('Strict'))
        .setResponseCookie('plain=1; Path=/plain')
        .setResponseCookie(new CookieBuilder('spaced', 'hello world; é').path('/'));
    });
    server.get('/echo', (ctx) => {
      ctx.setResponseBody(ctx.getRequestCookie('spaced') ?? '<absent>');
    });
  });
  assert.equal(
    new CookieBuilder('n', 'v')
      .sameSite('None')
      .secure()
      .build()
      .split('; ')
      .includes('SameSite=None'),
    true,
  );

  const res = await fetch(`${base}/set`);
  await res.arrayBuffer();
  const cookies = res.headers.getSetCookie();
  assert.equal(cookies.length, 4);
  const sid = cookies[0]!.split('; ');
  assert.equal(sid[0], 'sid=abc123');
  assert.deepEqual(
    sid.slice(1).sort(),
    [
      'Domain=example.com',
      'Expires=Wed, 02 Jan 2030 03:04:05 GMT',
      'HttpOnly',
      'Max-Age=3600',
      'Path=/',
      'SameSite=Lax',
      'Secure',
    ].sort(),
  );
  assert.deepEqual(cookies[1]!.split('; '), ['strict=x', 'SameSite=Strict']);
  assert.equal(cookies[2], 'plain=1; Path=/plain');

  // On the wire: one Set-Cookie line per cookie (never folded into one).
  const [wire] = await rawExchange(port, 'GET /set HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(wire!.rawHeaders.filter(([name]) => name.toLowerCase() === 'set-cookie').length, 4);

  // A value a cookie cannot carry as is round-trips through the browser-style Cookie header.
  const spaced = cookies[3]!.split('; ')[0]!;
  assert.doesNotMatch(spaced.slice('spaced='.length), /[ ;]/, 'the value is encoded');
  const back = await fetchText(`${base}/echo`, { headers: { cookie: spaced } });
  assert.equal(back.text, 'hello world; é');
});

// ---- response -------------------------------------------------------------------------------

test('response status and headers: set (replaces), add (appends), remove, get, chaining', async (t) => {
  const { port, base } = await serve(t, (server) => {
    server.get('/r', (ctx) => {
      const chained = ctx
        .setResponseStatusCode(201)
        .setResponseHeader('X-Replace', 'first')
        .setResponseHeader('x-replace', 'second')
        .addResponseHeader('X-Multi', 'one')
        .addResponseHeader('x-multi', 'two')
        .setResponseHeader('X-Gone', 'soon')
        .removeResponseHeader('x-GONE')
        .setResponseHeader('X-Number', 42);
      assert.equal(chained, ctx);
      let injected = false;
      try {
        ctx.setResponseHeader('x-evil', 'a\r\nInjected: 1');
      } catch {
        injected = true;
      }
      ctx.setResponseBodyJson({
        status: ctx.getResponseStatusCode(),
        replace: ctx.getResponseHeader('X-REPLACE'),
        multi: ctx.getResponseHeader('x-multi'),
        gone: ctx.getResponseHeader('x-gone') === undefined,
        headers: ctx.getResponseHeaders(),
        injectionRejected: injected,
      });
    });
  });
  const [wire] = await rawExchange(port, 'GET /r HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(wire!.status, 201);
  const lines = wire!.rawHeaders;
  assert.deepEqual(
    lines.filter(([n]) => n.toLowerCase() === 'x-replace').map(([, v]) => v),
    ['second'],
  );
  assert.deepEqual(
    lines.filter(([n]) => n.toLowerCase() === 'x-multi').map(([, v]) => v),
    ['one', 'two'],
  );
  assert.equal(wire!.headers['x-gone'], undefined);
  assert.equal(wire!.headers['x-number'], '42');
  assert.equal(wire!.headers['injected'], undefined, 'no header injection');
  const body = wire!.json<Record<string, unknown>>();
  assert.equal(body['status'], 201);
  assert.equal(body['replace'], 'second');
  assert.equal(body['multi'], 'one, two');
  assert.equal(body['gone'], true);
  assert.equal(body['injectionRejected'], true);
  const headers = body['headers'] as Record<string, string>;
  for (const name of Object.keys(headers)) assert.equal(name, name.toLowerCase());
  assert.equal(headers['x-replace'], 'second');
  assert.equal(headers['x-number'], '42');
  assert.equal('x-gone' in headers, false);

  const viaFetch = await fetchText(`${base}/r`);
  assert.equal(viaFetch.headers.get('x-multi'), 'one, two');
});

test('response body: setResponseBody / setResponseBodyJson (JSON content type) / getters', async (t) => {
  const { base } = await serve(t, (server) => {
    server.responseMiddleware((ctx) => {
      ctx.setResponseHeader('x-body-length', ctx.getResponseBody().length);
      ctx.setResponseHeader('x-body-is-buffer', String(Buffer.isBuffer(ctx.getResponseBody())));
      ctx.setResponseHeader('x-body-string', encodeURIComponent(ctx.getResponseBodyString()));
    });
    server.get('/json', (ctx) => {
      ctx.setResponseBodyJson({ a: 1, nested: { list: [1, 'two', null] }, text: 'ü' });
    });
    server.get('/json-keeps-other-headers', (ctx) => {
      ctx.setResponseHeader('x-other', 'kept').setResponseBodyJson([1, 2]);
    });
    server.get('/text', (ctx) => {
      ctx.setResponseBody('plain ü');
    });
    server.get('/html', (ctx) => {
      ctx.setResponseHeader('Content-Type', 'text/html; charset=utf-8').setResponseBody('<p>x</p>');
    });
    server.get('/bytes', (ctx) => {
      ctx.setResponseBody(new Uint8Array([104, 105]));
    });
  });
  const json = await fetchText(`${base}/json`);
  assert.match(json.headers.get('content-type')!, /^application\/json/);
  assert.deepEqual(JSON.parse(json.text), { a: 1, nested: { list: [1, 'two', null] }, text: 'ü' });
  assert.equal(json.headers.get('x-body-length'), String(Buffer.byteLength(json.text)));
  assert.equal(json.headers.get('x-body-is-buffer'), 'true');
  assert.equal(decodeURIComponent(json.headers.get('x-body-string')!), json.text);

  const other = await fetchText(`${base}/json-keeps-other-headers`);
  assert.equal(other.headers.get('x-other'), 'kept');
  assert.deepEqual(JSON.parse(other.text), [1, 2]);

  const text = await fetchText(`${base}/text`);
  assert.equal(text.text, 'plain ü');
  assert.equal(text.headers.get('content-length'), String(Buffer.byteLength('plain ü')));
  assert.equal(text.headers.get('x-body-string'), encodeURIComponent('plain ü'));

  const html = await fetchText(`${base}/html`);
  assert.equal(html.headers.get('content-type'), 'text/html; charset=utf-8');

  const bytes = await fetchText(`${base}/bytes`);
  assert.equal(bytes.text, 'hi');
  assert.equal(bytes.headers.get('x-body-string'), 'hi');
});

test('attributes: set in middleware, read/remove/clear later; any key type', async (t) => {
  const symbolKey = Symbol('user');
  const objectKey = {};
  const { base } = await serve(t, (server) => {
    server.requestMiddleware((ctx) => {
      ctx.setAttribute('user', { id: 7 }).setAttribute(symbolKey, 'sym').setAttribute(objectKey, 3);
      ctx.setAttribute('temp', 'x').setAttribute('other', 'y');
    });
    server.get('/attrs', (ctx) => {
      const before = {
        user: ctx.getAttribute<{ id: number }>('user'),
        symbol: ctx.getAttribute<string>(symbolKey),
        object: ctx.getAttribute<number>(objectKey),
        temp: ctx.getAttribute('temp'),
        missing: ctx.getAttribute('missing') === undefined,
      };
      ctx.removeAttribute('temp');
      const afterRemove = {
        temp: ctx.getAttribute('temp') === undefined,
        other: ctx.getAttribute('other'),
      };
      ctx.clearAttributes();
      const afterClear = {
        user: ctx.getAttribute('user') === undefined,
        symbol: ctx.getAttribute(symbolKey) === undefined,
      };
      ctx.setAttribute('late', 1);
      ctx.setResponseBodyJson({ before, afterRemove, afterClear });
    });
  });
  const body = await fetchJson(`${base}/attrs`);
  assert.deepEqual(body, {
    before: { user: { id: 7 }, symbol: 'sym', object: 3, temp: 'x', missing: true },
    afterRemove: { temp: true, other: 'y' },
    afterClear: { user: true, symbol: true },
  });
  // Attributes do not leak between requests.
  const second = await fetchJson<{ before: { temp: string } }>(`${base}/attrs`);
  assert.equal(second.before.temp, 'x');
});

// ---- socket address -------------------------------------------------------------------------

function addressRoute(server: Server): void {
  server.get('/addr', (ctx) => {
    ctx.setResponseBodyJson({
      addr: ctx.getSocketAddr(),
      text: ctx.getSocketAddrOrDefaultString(),
      host: ctx.getSocketHost(),
      port: ctx.getSocketPort(),
    });
  });
}

async function addressSeenFrom(
  port: number,
  host: string,
): Promise<{ body: Record<string, unknown>; localPort: number }> {
  const conn = await RawConnection.connect(port, host);
  try {
    const localPort = conn.socket.localPort!;
    await conn.write('GET /addr HTTP/1.1\r\nHost: x\r\n\r\n');
    const [res] = finalResponses(await conn.readResponses(1, 3000));
    return { body: res!.json(), localPort };
  } finally {
    conn.destroy();
  }
}

test('getSocketAddr() / getSocketAddrOrDefaultString() / getSocketHost() / getSocketPort() over IPv4', async (t) => {
  const { port } = await serve(t, addressRoute);
  const { body, localPort } = await addressSeenFrom(port, '127.0.0.1');
  assert.deepEqual(body['addr'], { address: '127.0.0.1', port: localPort, family: 'IPv4' });
  assert.equal(body['text'], `127.0.0.1:${localPort}`);
  assert.equal(body['host'], '127.0.0.1');
  assert.equal(body['port'], localPort);
});

test(
  'getSocketAddr() over IPv6: "[::1]:port"',
  { skip: (await ipv6Available()) ? false : 'no IPv6 loopback on this machine' },
  async (t) => {
    const { port } = await serve(t, addressRoute, { host: '::1' });
    const { body, localPort } = await addressSeenFrom(port, '::1');
    assert.deepEqual(body['addr'], { address: '::1', port: localPort, family: 'IPv6' });
    assert.equal(body['text'], `[::1]:${localPort}`);
    assert.equal(body['host'], '::1');
    assert.equal(body['port'], localPort);
    // curl too, to the IPv6 literal.
    const viaCurl = await curl([`http://[::1]:${port}/addr`]);
    assert.match(viaCurl.json<{ text: string }>().text, /^\[::1\]:\d+$/);
  },
);

// ---- ctx.signal -----------------------------------------------------------------------------

/**
 * A handler that waits on ctx.signal; `disconnect` ends the client socket while it waits.
 * Returns whether the signal fired (within 4 s) and that the server still serves afterwards.
 */
async function signalOnDisconnect(
  t: TestContext,
  disconnect: (socket: net.Socket) => void,
): Promise<void> {
  const started = deferred<boolean>();
  const outcome = deferred<{ aborted: boolean; afterMs: number }>();
  const { port, base } = await serve(t, (server) => {
    server.get('/slow', async (ctx) => {
      const signal = ctx.signal;
      started.resolve(signal.aborted);
      const t0 = Date.now();
      const aborted = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 4000);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      outcome.resolve({ aborted, afterMs: Date.now() - t0 });
      ctx.setResponseBody('too late');
    });
    server.get('/alive', (ctx) => {
      ctx.setResponseBody('alive');
    });
  });
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(await started.promise, false, 'the signal is not aborted while the client waits');
  disconnect(socket);
  const { aborted, afterMs } = await outcome.promise;
  assert.equal(
    aborted,
    true,
    'the signal fired after the client went away (not only when the handler ended)',
  );
  assert.ok(afterMs < 3000, `fired promptly (${afterMs} ms)`);
  assert.equal((await fetchText(`${base}/alive`)).text, 'alive', 'server keeps serving');
}

test('ctx.signal fires when the client disconnects mid-handler (socket.destroy(): FIN)', async (t) => {
  await signalOnDisconnect(t, (socket) => socket.destroy());
});

test('ctx.signal fires when the client disconnects mid-handler (reset: RST)', async (t) => {
  await signalOnDisconnect(t, (socket) => socket.resetAndDestroy());
});

test('ctx.signal also fires once the exchange is over (response sent)', async (t) => {
  const signals: Array<{ signal: AbortSignal; duringHandler: boolean }> = [];
  const { base } = await serve(t, (server) => {
    server.get('/done', async (ctx) => {
      signals.push({ signal: ctx.signal, duringHandler: ctx.signal.aborted });
      await sleep(5);
      ctx.setResponseBody('ok');
    });
  });
  assert.equal((await fetchText(`${base}/done`)).text, 'ok');
  await sleep(20);
  assert.equal(signals.length, 1);
  assert.equal(signals[0]!.duringHandler, false);
  assert.equal(signals[0]!.signal.aborted, true);
});

test('ctx.signal fires once send() has put out a complete response, while the handler goes on', async (t) => {
  const observed = deferred<{ before: boolean; after: boolean }>();
  const { base } = await serve(t, (server) => {
    server.get('/sent-early', async (ctx) => {
      const signal = ctx.signal;
      ctx.setResponseBody('sent early');
      const before = signal.aborted;
      await ctx.send();
      await sleep(50); // the exchange is over; any work left is abandoned work
      observed.resolve({ before, after: signal.aborted });
      await sleep(50);
    });
  });
  assert.equal((await fetchText(`${base}/sent-early`)).text, 'sent early');
  const { before, after } = await observed.promise;
  assert.equal(before, false);
  assert.equal(
    after,
    true,
    'API.md: the signal fires when "the exchange is over: the response sent"',
  );
});

// ---- streaming ------------------------------------------------------------------------------

test('setResponseStream() + send() + sendBody(): chunked framing, chunks arrive as sent', async (t) => {
  const gate = deferred();
  const { port } = await serve(t, (server) => {
    server.get('/stream', async (ctx) => {
      ctx.setResponseStream().setResponseHeader('content-type', 'text/plain');
      ctx.setResponseBody('one,');
      assert.equal(await ctx.send(), true);
      await gate.promise; // the test reads the first chunk before we go on
      ctx.setResponseBody('two,');
      await ctx.sendBody();
      ctx.setResponseBody(Buffer.from('three'));
      await ctx.sendBody();
    });
    server.get('/after', (ctx) => {
      ctx.setResponseBody('after');
    });
  });
  const conn = await RawConnection.connect(port);
  try {
    await conn.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
    const gotFirst = await conn.waitUntil(() => conn.received.includes('4\r\none,\r\n'), 3000);
    assert.equal(
      gotFirst,
      true,
      `first chunk arrives before the handler ends: ${conn.received.toString('latin1')}`,
    );
    const head = conn.received.toString('latin1');
    assert.match(head, /transfer-encoding: chunked\r\n/i);
    assert.doesNotMatch(head, /content-length/i);
    gate.resolve();
    const [res] = finalResponses(await conn.readResponses(1, 3000));
    assert.equal(res!.framing, 'chunked');
    assert.equal(res!.text(), 'one,two,three');
    assert.match(
      conn.received.toString('latin1'),
      /\r\n0\r\n\r\n$/,
      'the stream ends with the last chunk',
    );
    // The connection is reusable after the stream ended.
    await conn.write('GET /after HTTP/1.1\r\nHost: x\r\n\r\n');
    const all = finalResponses(await conn.readResponses(2, 3000));
    assert.equal(all[1]?.text(), 'after');
  } finally {
    conn.destroy();
  }
});

test('sendBody() without send() starts the stream; text/event-stream streams; fetch reads it incrementally', async (t) => {
  const gate = deferred();
  const { base } = await serve(t, (server) => {
    server.get('/implicit', async (ctx) => {
      for (const part of ['a', 'b', 'c']) {
        ctx.setResponseBody(part);
        await ctx.sendBody();
      }
    });
    server.get('/sse', async (ctx) => {
      ctx.setResponseHeader('content-type', 'text/event-stream');
      await ctx.send();
      ctx.setResponseBody('data: 1\n\n');
      await ctx.sendBody();
      await gate.promise;
      ctx.setResponseBody('data: 2\n\n');
      await ctx.sendBody();
    });
  });
  const implicit = await curl([`${base}/implicit`]);
  assert.equal(implicit.framing, 'chunked');
  assert.equal(implicit.text(), 'abc');

  const res = await fetch(`${base}/sse`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  assert.equal(res.headers.get('transfer-encoding'), 'chunked');
  const reader = res.body!.getReader();
  const first = await reader.read();
  assert.equal(Buffer.from(first.value!).toString(), 'data: 1\n\n');
  gate.resolve();
  let rest = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += Buffer.from(value).toString();
  }
  assert.equal(rest, 'data: 2\n\n');
});

test('sendBody() rejects once the peer is gone, so a loop can stop', async (t) => {
  const stopped = deferred<{ rejected: boolean; sent: number }>();
  const { port } = await serve(t, (server) => {
    server.get('/forever', async (ctx) => {
      ctx.setResponseStream();
      let sent = 0;
      const until = Date.now() + 4000;
      while (Date.now() < until) {
        ctx.setResponseBody(`tick ${sent}\n`);
        try {
          await ctx.sendBody();
        } catch {
          stopped.resolve({ rejected: true, sent });
          return;
        }
        sent++;
        await sleep(10);
      }
      stopped.resolve({ rejected: false, sent });
    });
  });
  const conn = await RawConnection.connect(port);
  await conn.write('GET /forever HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(await conn.waitUntil(() => conn.received.includes('tick 1'), 3000), true);
  conn.destroy();
  const { rejected } = await stopped.promise;
  assert.equal(rejected, true);
});

// ---- inject ---------------------------------------------------------------------------------

test('inject(): status, lower-case headers, body, text(), json(), query, object body as JSON, remoteAddress', async () => {
  const server = new Server();
  server.requestMiddleware((ctx) => {
    ctx.setResponseHeader('X-From-Middleware', 'yes');
  });
  server.post('/items/{id}', (ctx) => {
    ctx
      .setResponseStatusCode(201)
      .setResponseHeader('X-Mixed-Case', 'Value')
      .setResponseCookie(new CookieBuilder('k', 'v').path('/'))
      .setResponseBodyJson({
        id: ctx.getRouteParam('id'),
        q: ctx.getRequestQuery('q'),
        qs: ctx.getRequestQueryValues('q'),
        path: ctx.getRequestPath(),
        contentType: ctx.getRequestHeader('content-type'),
        foo: ctx.getRequestHeader('x-foo'),
        body: ctx.getRequestBodyJson(),
        socket: ctx.getSocketAddrOrDefaultString(),
        socketHost: ctx.getSocketHost(),
      });
  });
  server.get('/text', (ctx) => {
    ctx.setResponseBody(
      `${ctx.getRequestMethod()} ${ctx.getSocketHost()} ${ctx.getSocketAddrOrDefaultString()}`,
    );
  });
  server.put('/raw', (ctx) => {
    ctx.setResponseBody(ctx.getRequestBody());
  });
  server.get('/boom', () => {
    throw new HttpError(409, 'conflict', { code: 'C' });
  });

  // Works without run().
  const res = await server.inject({
    method: 'POST',
    path: '/items/42?q=a&q=b%20c',
    headers: { 'X-Foo': 'bar' },
    body: { hello: 'wörld', n: [1, 2] },
    remoteAddress: '10.1.2.3',
  });
  assert.equal(res.status, 201);
  for (const name of Object.keys(res.headers)) assert.equal(name, name.toLowerCase(), name);
  assert.equal(res.headers['x-mixed-case'], 'Value');
  assert.equal(res.headers['x-from-middleware'], 'yes');
  assert.match(res.headers['content-type']!, /^application\/json/);
  assert.match(res.headers['set-cookie']!, /^k=v; Path=\/$/);
  assert.ok(Buffer.isBuffer(res.body));
  assert.equal(res.text(), res.body.toString('utf8'));
  const body = res.json<Record<string, unknown>>();
  assert.equal(body['id'], '42');
  assert.equal(body['q'], 'a');
  assert.deepEqual(body['qs'], ['a', 'b c']);
  assert.equal(body['path'], '/items/42');
  assert.match(body['contentType'] as string, /^application\/json/);
  assert.equal(body['foo'], 'bar');
  assert.deepEqual(body['body'], { hello: 'wörld', n: [1, 2] });
  assert.equal(body['socketHost'], '10.1.2.3');
  assert.match(body['socket'] as string, /^10\.1\.2\.3:\d+$/);

  // Defaults: GET, remote address 127.0.0.1.
  const text = await server.inject({ path: '/text' });
  assert.equal(text.status, 200);
  assert.match(text.text(), /^GET 127\.0\.0\.1 127\.0\.0\.1:\d+$/);
  assert.match(text.headers['content-type']!, /^text\/plain/);

  const v6 = await server.inject({ path: '/text', remoteAddress: '::1' });
  assert.match(v6.text(), /^GET ::1 \[::1\]:\d+$/);

  const bytes = new Uint8Array([0, 1, 2, 255]);
  const raw = await server.inject({ method: 'PUT', path: '/raw', body: bytes });
  assert.deepEqual(new Uint8Array(raw.body), bytes);
  const str = await server.inject({ method: 'PUT', path: '/raw', body: 'just text' });
  assert.equal(str.text(), 'just text');

  const missing = await server.inject({ path: '/nope' });
  assert.equal(missing.status, 404);
  assert.equal(missing.json<{ error: string }>().error, 'Not Found');

  const wrongMethod = await server.inject({ method: 'DELETE', path: '/text' });
  assert.equal(wrongMethod.status, 405);
  assert.match(wrongMethod.headers['allow']!, /GET/);

  const error = await server.inject({ path: '/boom' });
  assert.equal(error.status, 409);
  assert.deepEqual(error.json(), { error: 'Conflict', message: 'conflict', code: 'C' });
});

test('inject() runs the same pipeline as a running server', async (t) => {
  const setup = (server: Server): void => {
    server.requestMiddleware((ctx) => {
      ctx.setAttribute('mw', ctx.getRouteParam('name'));
    });
    server.get('/hello/{name}', (ctx) => {
      ctx.setResponseBody(`hello ${String(ctx.getAttribute('mw'))}`);
    });
  };
  const server = new Server({ host: '127.0.0.1', port: 0 });
  setup(server);
  const running = await server.run();
  t.after(() => running.close({ timeout: 500 }));
  const injected = await server.inject({ path: '/hello/J%C3%B6rg' });
  const fetched = await fetchText(`http://127.0.0.1:${running.port}/hello/J%C3%B6rg`);
  assert.equal(injected.status, fetched.status);
  assert.equal(injected.text(), fetched.text);
  assert.equal(injected.text(), 'hello Jörg');
});

// ---- constants ------------------------------------------------------------------------------

test('header constants as in Hyperlane', () => {
  assert.equal(HTTP_BR, '\r\n');
  assert.equal(HTTP_DOUBLE_BR, '\r\n\r\n');
  assert.equal(CONTENT_TYPE.toLowerCase(), 'content-type');
  assert.equal(SET_COOKIE.toLowerCase(), 'set-cookie');
  assert.equal(SERVER.toLowerCase(), 'server');
  assert.equal(CONNECTION.toLowerCase(), 'connection');
  assert.equal(SEC_WEBSOCKET_KEY.toLowerCase(), 'sec-websocket-key');
  assert.equal(APPLICATION_JSON, 'application/json');
  assert.equal(TEXT_PLAIN, 'text/plain');
  assert.equal(TEXT_HTML, 'text/html');
  assert.equal(TEXT_EVENT_STREAM, 'text/event-stream');
  assert.equal(KEEP_ALIVE, 'keep-alive');
});
