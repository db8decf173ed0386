import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { CookieBuilder, HttpError, HyperlaneError, type Context } from '../../src/index.js';
import {
  signCookieValue,
  signedCookies,
  unsignCookieValue,
} from '../../src/middleware/signed-cookies.js';
import { RawConnection, finalResponses } from '../helpers/raw-client.js';
import { serve } from '../helpers/serve.js';

const SECRET = 'a'.repeat(16) + 'secret-for-tests-0123456789'; // 43 bytes
const OLD_SECRET = 'old-secret-old-secret-old-secret-0001';
const NEW_SECRET = 'new-secret-new-secret-new-secret-0002';

/** The signature of cookie `name`'s `value`: an HMAC over `name=value`. */
function sig(name: string, value: string, secret: string): string {
  return createHmac('sha256', secret).update(`${name}=${value}`).digest('base64url');
}

/** Reports what handlers see: every verified cookie. */
function echoCookies(ctx: Context): void {
  ctx.setResponseBodyJson(ctx.getRequestCookies());
}

async function cookiesSeen(base: string, cookie: string): Promise<Record<string, string>> {
  const res = await fetch(`${base}/echo`, {
    headers: { cookie },
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(res.status, 200);
  return (await res.json()) as Record<string, string>;
}

/** `name=value` pairs of the response's Set-Cookie headers, ready for a Cookie header. */
function cookieHeaderFrom(res: Response): string {
  return res.headers
    .getSetCookie()
    .map((line) => line.split(';')[0]!)
    .join('; ');
}

test('round trip: cookies set by a handler are signed, and come back verified and unsigned', async (t) => {
  const { base } = await serve(t, (server) => {
    server.requestMiddleware(signedCookies(SECRET));
    server.get('/login', (ctx) => {
      ctx
        .setResponseCookie(new CookieBuilder('sid', 'abc123').path('/').httpOnly().sameSite('Lax'))
        .setResponseCookie(new CookieBuilder('name', 'Zoë; the "admin"'))
        .setResponseCookie('theme=dark; Path=/')
        .setResponseBody('welcome');
    });
    server.get('/echo', echoCookies);
    server.get('/one', (ctx) => void ctx.setResponseBody(ctx.getRequestCookie('sid') ?? 'none'));
  });
  const login = await fetch(`${base}/login`);
  assert.equal(await login.text(), 'welcome');
  const lines = login.headers.getSetCookie();
  assert.equal(lines.length, 3);
  assert.equal(
    lines[0],
    `sid=abc123.${sig('sid', 'abc123', SECRET)}; Path=/; HttpOnly; SameSite=Lax`,
  );
  assert.equal(lines[2], `theme=dark.${sig('theme', 'dark', SECRET)}; Path=/`);
  assert.equal(
    lines[0],
    `sid=${signCookieValue('sid', 'abc123', SECRET)}; Path=/; HttpOnly; SameSite=Lax`,
  );

  const cookie = cookieHeaderFrom(login);
  assert.deepEqual(await cookiesSeen(base, cookie), {
    sid: 'abc123',
    name: 'Zoë; the "admin"',
    theme: 'dark',
  });
  const one = await fetch(`${base}/one`, { headers: { cookie } });
  assert.equal(await one.text(), 'abc123');
});

test('tampered, garbage and unsigned cookies are absent; valid ones beside them survive', async (t) => {
  const { base } = await serve(t, (server) => {
    server.requestMiddleware(signedCookies(SECRET));
    server.get('/echo', echoCookies);
  });
  const good = signCookieValue('keep', 'good', SECRET);
  const s = sig('x', 'value', SECRET);
  const bad = [
    'plain', // unsigned
    `other.${s}`, // value changed
    `value.${s.slice(0, -1)}`, // signature truncated
    `value.${s}A`, // signature too long
    `value.${s.slice(0, -1)}${s.endsWith('A') ? 'B' : 'A'}`, // signature changed
    `value.${sig('x', 'value', 'wrong secret, also long enough 123')}`, // another secret
    `value.${Buffer.from(createHmac('sha256', SECRET).update('x=value').digest()).toString('base64')}`, // base64, not base64url
    `.${'A'.repeat(43)}`,
    '.',
    '',
    `value.${'\u00ff'.repeat(43)}`,
    `value..${s}`,
    `value.${createHmac('sha256', SECRET).update('value').digest('base64url')}`, // value only, no name
    good, // signed for another name
  ];
  for (const value of bad) {
    assert.deepEqual(
      await cookiesSeen(base, `x=${value}; keep=${good}`),
      { keep: 'good' },
      JSON.stringify(value),
    );
  }
  // The first occurrence that verifies wins; a forged duplicate before it does not hide it.
  const goodA = signCookieValue('a', 'good', SECRET);
  assert.deepEqual(await cookiesSeen(base, `a=forged.${s}; a=${goodA}`), { a: 'good' });
  // An empty value can be signed too.
  assert.deepEqual(await cookiesSeen(base, `e=${signCookieValue('e', '', SECRET)}`), { e: '' });
  // A quoted signed value.
  const goodQ = signCookieValue('q', 'good', SECRET);
  assert.deepEqual(await cookiesSeen(base, `q="${goodQ}"`), { q: 'good' });
});

test('a signed value cannot be replayed under another cookie name (swap attack)', async (t) => {
  const { port, base } = await serve(t, (server) => {
    server.requestMiddleware(signedCookies(SECRET));
    // A harmless cookie whose value the client chooses...
    server.get('/prefs', (ctx) => {
      ctx.setResponseCookie(new CookieBuilder('lang', ctx.getRequestQuery('lang') ?? 'en'));
    });
    // ...and an authorization decision based on another signed cookie.
    server.get('/admin', (ctx) => {
      ctx.setResponseBody(ctx.getRequestCookie('role') === 'admin' ? 'WELCOME ADMIN' : 'forbidden');
    });
    server.get('/echo', echoCookies);
  });
  const ask = async (request: string) => {
    const conn = await RawConnection.connect(port);
    try {
      await conn.write(request);
      const [res] = finalResponses(await conn.readResponses(1));
      assert.ok(res !== undefined);
      return res;
    } finally {
      conn.destroy();
    }
  };
  const prefs = await ask('GET /prefs?lang=admin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const line = prefs.headers['set-cookie'] ?? '';
  const signed = /^lang=([^;]*)/.exec(line)?.[1];
  assert.ok(signed?.startsWith('admin.'), line);
  // The signed value is good under its own name...
  assert.deepEqual(await cookiesSeen(base, `lang=${signed}`), { lang: 'admin' });
  // ...and worthless under another one.
  const admin = await ask(
    `GET /admin HTTP/1.1\r\nHost: x\r\nCookie: role=${signed}\r\nConnection: close\r\n\r\n`,
  );
  assert.equal(admin.status, 200);
  assert.equal(admin.text(), 'forbidden');
  assert.deepEqual(await cookiesSeen(base, `role=${signed}; lang=${signed}`), { lang: 'admin' });
});

test('rotation: the first secret signs, every secret verifies', async (t) => {
  const { base } = await serve(t, (server) => {
    server.requestMiddleware(signedCookies([NEW_SECRET, OLD_SECRET]));
    server.get('/echo', echoCookies);
    server.get('/set', (ctx) => void ctx.setResponseCookie('sid=fresh'));
  });
  const fromOld = signCookieValue('a', 'kept', OLD_SECRET);
  const fromNew = signCookieValue('b', 'new', NEW_SECRET);
  const fromRetired = signCookieValue('c', 'gone', 'retired-secret-retired-secret-0003');
  assert.deepEqual(await cookiesSeen(base, `a=${fromOld}; b=${fromNew}; c=${fromRetired}`), {
    a: 'kept',
    b: 'new',
  });
  const set = await fetch(`${base}/set`);
  assert.deepEqual(set.headers.getSetCookie(), [`sid=fresh.${sig('sid', 'fresh', NEW_SECRET)}`]);
  assert.equal(
    unsignCookieValue('sid', `fresh.${sig('sid', 'fresh', NEW_SECRET)}`, OLD_SECRET),
    undefined,
  );
  // An old-secret cookie still verifies only under its own name.
  assert.deepEqual(await cookiesSeen(base, `b=${fromOld}`), {});
  // The cookie the server just signed with the new secret comes back verified.
  assert.deepEqual(await cookiesSeen(base, cookieHeaderFrom(set)), { sid: 'fresh' });
});

test('every Set-Cookie is signed: set before the middleware, as raw headers, on error responses', async (t) => {
  const { base } = await serve(t, (server) => {
    server.requestMiddleware((ctx) => void ctx.addResponseHeader('Set-Cookie', 'early=1'));
    server.requestMiddleware(signedCookies(SECRET));
    server.get('/headers', (ctx) => {
      ctx.setResponseHeader('set-cookie', 'raw=v; Max-Age=60');
      ctx.addResponseHeader('set-cookie', 'quoted="q v"');
      ctx.addResponseHeader('set-cookie', 'no-equals-sign');
      ctx.addResponseHeader('set-cookie', 'gone=; Max-Age=0');
    });
    server.get('/error', (ctx) => {
      ctx.setResponseCookie('flash=oops');
      throw new HttpError(400, 'bad');
    });
  });
  const res = await fetch(`${base}/headers`);
  assert.deepEqual(res.headers.getSetCookie(), [
    `raw=v.${sig('raw', 'v', SECRET)}; Max-Age=60`,
    `quoted="q v.${sig('quoted', 'q v', SECRET)}"`,
    'no-equals-sign',
    `gone=.${sig('gone', '', SECRET)}; Max-Age=0`,
  ]);
  const error = await fetch(`${base}/error`);
  assert.equal(error.status, 400);
  assert.deepEqual(error.headers.getSetCookie(), [
    `early=1.${sig('early', '1', SECRET)}`,
    `flash=oops.${sig('flash', 'oops', SECRET)}`,
  ]);
});

test('malformed Cookie headers over raw net never crash the server', async (t) => {
  const good = signCookieValue('z', 'ok', SECRET);
  const { port, base } = await serve(t, (server) => {
    server.requestMiddleware(signedCookies(SECRET));
    server.get('/echo', echoCookies);
    server.get('/alive', (ctx) => void ctx.setResponseBody('alive'));
  });
  const hostile = [
    '',
    ';',
    ';;;;;;',
    '=',
    '==',
    '=x',
    `=${good}`,
    'a',
    'a=',
    'a="',
    'a=""',
    'a="""',
    'a=%',
    `a=%E0%A4%A.${sig('a', '%E0%A4%A', SECRET)}`,
    `a=%zz.${sig('a', '%zz', SECRET)}`,
    `__proto__=${good}`,
    `constructor=${good}; toString=${good}`,
    `a=${'x'.repeat(8000)}.${sig('a', 'x'.repeat(8000), SECRET)}`,
    Array.from({ length: 250 }, (_, i) => `c${i}=v.${'A'.repeat(43)}`).join('; '),
    `a=\xff\xfe.${'\xff'.repeat(43)}`,
    `a=${good}\tb=${good}`,
    ` ; a = ${good} ; `,
  ];
  for (const cookie of hostile) {
    const conn = await RawConnection.connect(port);
    try {
      await conn.write(
        `GET /echo HTTP/1.1\r\nHost: x\r\nCookie: ${cookie}\r\nCookie: z=${good}\r\nConnection: close\r\n\r\n`,
      );
      const [res] = finalResponses(await conn.readResponses(1));
      assert.ok(res !== undefined, `no answer for ${JSON.stringify(cookie.slice(0, 60))}`);
      assert.equal(res.status, 200, JSON.stringify(cookie.slice(0, 60)));
      const seen = res.json<Record<string, string>>();
      assert.equal(seen.z, 'ok', 'a later Cookie header is read too');
      for (const value of Object.values(seen)) {
        assert.ok(!value.includes('.'), `only unsigned values are reported: ${value}`);
      }
    } finally {
      conn.destroy();
    }
    const alive = await fetch(`${base}/alive`);
    assert.equal(await alive.text(), 'alive');
  }
  // Names that are special in JavaScript are plain cookies here.
  const special = await cookiesSeen(
    base,
    `__proto__=${signCookieValue('__proto__', 'ok', SECRET)}; constructor=${signCookieValue('constructor', 'ok', SECRET)}`,
  );
  assert.equal(Object.getOwnPropertyDescriptor(special, '__proto__')?.value, 'ok');
  assert.equal(special.constructor, 'ok');
  assert.equal(({} as Record<string, unknown>).ok, undefined, 'no prototype pollution');
});

test('on a WebSocket route, cookies are verified once and stay verified for every message', async (t) => {
  const good = signCookieValue('user', 'ws-user', SECRET);
  const { url } = await serve(t, (server) => {
    server.requestMiddleware(signedCookies(SECRET));
    server.route('/ws', async (ctx) => {
      ctx.setResponseBody(JSON.stringify(ctx.getRequestCookies()));
      await ctx.sendBody();
    });
  });
  const ws = new WebSocket(url('/ws'), {
    headers: { cookie: `user=${good}; forged=x.${'A'.repeat(43)}` },
  });
  t.after(() => ws.terminate());
  await once(ws, 'open');
  const replies: string[] = [];
  ws.on('message', (data: Buffer) => replies.push(data.toString()));
  for (let i = 0; i < 3; i++) {
    ws.send(`m${i}`);
    while (replies.length <= i) await once(ws, 'message');
  }
  assert.deepEqual(replies, Array(3).fill('{"user":"ws-user"}'));
});

test('signCookieValue / unsignCookieValue: the signature binds the name', () => {
  const signed = signCookieValue('greeting', 'hello', SECRET);
  assert.equal(signed, `hello.${sig('greeting', 'hello', SECRET)}`);
  assert.equal(unsignCookieValue('greeting', signed, SECRET), 'hello');
  assert.equal(unsignCookieValue('greeting', signed, [NEW_SECRET, SECRET]), 'hello');
  assert.equal(unsignCookieValue('greeting', signed, NEW_SECRET), undefined);
  assert.equal(unsignCookieValue('greeting', 'hello', SECRET), undefined);
  assert.equal(unsignCookieValue('greeting', `${signed}x`, SECRET), undefined);
  // Under any other name the same signed value is worthless.
  assert.equal(unsignCookieValue('role', signed, SECRET), undefined);
  assert.equal(unsignCookieValue('greetin', signed, SECRET), undefined);
  // A value with dots: the signature is after the last one.
  assert.equal(unsignCookieValue('n', signCookieValue('n', 'a.b.c', SECRET), SECRET), 'a.b.c');
  // Byte secrets work and equal their UTF-8 text.
  assert.equal(signCookieValue('n', 'v', Buffer.from(SECRET)), signCookieValue('n', 'v', SECRET));
});

test('bad secrets throw HL_ERR_CONFIG; short ones get a process warning', async () => {
  const isConfig = (name: string) => (error: unknown) =>
    error instanceof HyperlaneError &&
    error.code === 'HL_ERR_CONFIG' &&
    error.message.includes(name);
  assert.throws(() => signedCookies(''), isConfig('secrets[0]'));
  assert.throws(() => signedCookies([]), isConfig('at least one'));
  assert.throws(() => signedCookies([SECRET, '']), isConfig('secrets[1]'));
  assert.throws(() => signedCookies(new Uint8Array(0)), isConfig('secrets[0]'));
  assert.throws(() => signedCookies(42 as unknown as string), isConfig('secrets[0]'));
  assert.throws(() => signedCookies([null] as unknown as string[]), isConfig('secrets[0]'));
  assert.throws(() => signCookieValue('n', 'v', ''), isConfig('secret'));
  assert.throws(() => unsignCookieValue('n', 'v', []), isConfig('at least one'));
  assert.throws(() => signCookieValue('', 'v', SECRET), isConfig('name'));
  // A name holding `=` would make `name=value` ambiguous (`a=b` + `c` against `a` + `b=c`).
  assert.throws(() => signCookieValue('a=b', 'c', SECRET), isConfig('name'));
  assert.throws(
    () => unsignCookieValue(undefined as unknown as string, 'v', SECRET),
    isConfig('name'),
  );

  const warned = once(process, 'warning');
  signedCookies('short');
  const [warning] = (await warned) as [Error & { code?: string }];
  assert.equal(warning.code, 'HL_WEAK_COOKIE_SECRET');
});
