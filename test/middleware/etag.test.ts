/**
 * etag() (API.md "Batteries") over real sockets: tags for GET/HEAD 200 bodies, 304 on a matching
 * If-None-Match (weak comparison, lists, `*`), what is left alone (other methods and statuses,
 * streams, a route's own ETag), bad options, and hostile If-None-Match bytes over raw TCP, each
 * followed by a liveness request.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { WebSocket } from 'ws';
import { HyperlaneError, type Context } from '../../src/index.js';
import { etag, type EtagOptions } from '../../src/middleware/etag.js';
import { assertServing, assertWellFramed, request } from '../helpers/raw-client.js';
import { serve } from '../helpers/serve.js';
import { call } from '../helpers/call.js';

const execFileAsync = promisify(execFile);
const TEXT = 'Grüße, hyperlane';
const BYTES = Uint8Array.from([0, 1, 2, 250, 251, 252]);

/** The tag etag() makes for `body`: `"<hex length>-<27 chars of base64 SHA-1>"`. */
function expectedTag(body: string | Uint8Array): string {
  const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
  const digest = createHash('sha1').update(bytes).digest('base64').slice(0, 27);
  return `"${bytes.length.toString(16)}-${digest}"`;
}

async function etagServer(
  t: TestContext,
  options?: EtagOptions,
): Promise<{ base: string; port: number; runs: () => number }> {
  let runs = 0;
  const served = await serve(t, (server) => {
    server.requestMiddleware(etag(options));
    server.get('/text', (ctx) => {
      runs++;
      ctx
        .setResponseHeader('Cache-Control', 'max-age=60')
        .setResponseHeader('Vary', 'Accept-Language')
        .setResponseHeader('X-Custom', 'kept')
        .setResponseBody(TEXT);
    });
    server.get('/bytes', (ctx) => {
      ctx.setResponseBody(BYTES);
    });
    server.get('/empty', () => {});
    server.get('/json', (ctx) => {
      ctx.setResponseBodyJson({ a: 1 });
    });
    server.post('/text', (ctx) => {
      ctx.setResponseBody(TEXT);
    });
    server.get('/created', (ctx) => {
      ctx.setResponseStatusCode(201).setResponseBody(TEXT);
    });
    server.get('/own-tag', (ctx) => {
      ctx.setResponseHeader('ETag', 'W/"v7,with-comma"').setResponseBody('versioned');
    });
    server.get('/stream', async (ctx) => {
      ctx.setResponseHeader('Content-Type', 'text/event-stream');
      await ctx.send();
      ctx.setResponseBody('data: one\n\n');
      await ctx.sendBody();
    });
    server.head('/declared', (ctx) => {
      ctx.setResponseHeader('Content-Length', '1234');
    });
    server.get('/__alive', (ctx) => {
      ctx.setResponseBody('alive');
    });
  });
  return { base: served.base, port: served.port, runs: () => runs };
}

test('GET: a strong ETag from the body bytes (strings as UTF-8, bytes, JSON, empty)', async (t) => {
  const { base } = await etagServer(t);
  const text = await call(base, '/text');
  assert.equal(text.status, 200);
  assert.equal(text.text, TEXT);
  assert.equal(text.headers.get('etag'), expectedTag(TEXT));
  assert.equal((await call(base, '/bytes')).headers.get('etag'), expectedTag(BYTES));
  assert.equal((await call(base, '/json')).headers.get('etag'), expectedTag('{"a":1}'));
  assert.equal((await call(base, '/empty')).headers.get('etag'), expectedTag(''));
  // Same body, same tag.
  assert.equal((await call(base, '/text')).headers.get('etag'), expectedTag(TEXT));
});

test('If-None-Match matching → 304 without a body, keeping ETag, Cache-Control, Vary; the route still runs', async (t) => {
  const { base, port, runs } = await etagServer(t);
  const tag = expectedTag(TEXT);
  const res = await call(base, '/text', { headers: { 'If-None-Match': tag } });
  assert.equal(res.status, 304);
  assert.equal(res.text, '');
  assert.equal(res.headers.get('etag'), tag);
  assert.equal(res.headers.get('cache-control'), 'max-age=60');
  assert.equal(res.headers.get('vary'), 'Accept-Language');
  assert.equal(res.headers.get('x-custom'), 'kept');
  assert.equal(res.headers.get('content-type'), null);
  assert.equal(runs(), 1);

  // On the wire: no body, no framing headers, and the connection stays usable.
  const raw = await request(
    port,
    `GET /text HTTP/1.1\r\nHost: x\r\nIf-None-Match: ${tag}\r\n\r\nGET /text HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    { responses: 2 },
  );
  assert.equal(raw.finals.length, 2);
  assert.equal(raw.finals[0]?.status, 304);
  assert.equal(raw.finals[0]?.body.length, 0);
  assertWellFramed(raw.finals[0]!, '304');
  assert.equal(raw.finals[0]?.headers['content-length'], undefined);
  assert.equal(raw.finals[1]?.status, 200);
  assert.equal(raw.finals[1]?.text(), TEXT);

  const viaCurl = await execFileAsync('curl', [
    '-s',
    '-i',
    '--max-time',
    '5',
    '-H',
    `If-None-Match: ${tag}`,
    `${base}/text`,
  ]);
  assert.match(viaCurl.stdout, /^HTTP\/1\.1 304 /);
  assert.ok(viaCurl.stdout.endsWith('\r\n\r\n'), 'no body after the head');
});

test('If-None-Match: lists, `*`, weak comparison; non-matching tags and junk give the full 200', async (t) => {
  const { base } = await etagServer(t);
  const tag = expectedTag(TEXT);
  const matching = [
    tag,
    `W/${tag}`,
    '*',
    ' * ',
    `"other", ${tag}`,
    `"a","b",W/${tag} , "c"`,
    `junk, ${tag}`,
    `"with,comma", ${tag}`,
  ];
  for (const value of matching) {
    const res = await call(base, '/text', { headers: { 'if-none-match': value } });
    assert.equal(res.status, 304, value);
  }
  const notMatching = [
    '"other"',
    tag.slice(1, -1),
    `${tag.slice(0, -1)}x"`,
    `"${tag}"`,
    '**',
    '*x',
    'W/',
    '"unterminated',
    ',,,',
    '',
    `W/"x" ${tag.slice(1)}`,
  ];
  for (const value of notMatching) {
    const res = await call(base, '/text', { headers: { 'if-none-match': value } });
    assert.equal(res.status, 200, value);
    assert.equal(res.text, TEXT);
  }
});

test('weak: true → W/"…" tags, matched by strong and weak forms', async (t) => {
  const { base } = await etagServer(t, { weak: true });
  const res = await call(base, '/text');
  const tag = `W/${expectedTag(TEXT)}`;
  assert.equal(res.headers.get('etag'), tag);
  for (const value of [tag, expectedTag(TEXT)]) {
    const again = await call(base, '/text', { headers: { 'if-none-match': value } });
    assert.equal(again.status, 304, value);
    assert.equal(again.headers.get('etag'), tag);
  }
});

test('HEAD: the same tag as GET, and 304 on a match', async (t) => {
  const { base } = await etagServer(t);
  const head = await call(base, '/text', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('etag'), expectedTag(TEXT));
  const conditional = await call(base, '/text', {
    method: 'HEAD',
    headers: { 'if-none-match': expectedTag(TEXT) },
  });
  assert.equal(conditional.status, 304);
  // A HEAD handler that only announces a length has no bytes to hash: no (wrong) tag.
  const declared = await call(base, '/declared', {
    method: 'HEAD',
    headers: { 'if-none-match': expectedTag('') },
  });
  assert.equal(declared.status, 200);
  assert.equal(declared.headers.get('content-length'), '1234');
  assert.equal(declared.headers.get('etag'), null);
});

test('left alone: POST, other statuses (201, 404), streams; a route ETag is kept and still compared', async (t) => {
  const { base } = await etagServer(t);
  const tag = expectedTag(TEXT);
  const post = await call(base, '/text', {
    method: 'POST',
    headers: { 'if-none-match': '*' },
    body: 'x',
  });
  assert.equal(post.status, 200);
  assert.equal(post.headers.get('etag'), null);
  const created = await call(base, '/created', { headers: { 'if-none-match': tag } });
  assert.equal(created.status, 201);
  assert.equal(created.headers.get('etag'), null);
  const missing = await call(base, '/missing', { headers: { 'if-none-match': '*' } });
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get('etag'), null);
  const stream = await call(base, '/stream', { headers: { 'if-none-match': '*' } });
  assert.equal(stream.status, 200);
  assert.equal(stream.text, 'data: one\n\n');
  assert.equal(stream.headers.get('etag'), null);

  const own = await call(base, '/own-tag');
  assert.equal(own.headers.get('etag'), 'W/"v7,with-comma"');
  assert.equal(own.text, 'versioned');
  const ownMatch = await call(base, '/own-tag', {
    headers: { 'if-none-match': '"v7,with-comma"' },
  });
  assert.equal(ownMatch.status, 304);
  assert.equal(ownMatch.headers.get('etag'), 'W/"v7,with-comma"');
});

test('hostile If-None-Match bytes over raw TCP: no match, no crash, the server keeps serving', async (t) => {
  const { port } = await etagServer(t);
  const tag = expectedTag(TEXT);
  const hostile: [string, Buffer, number][] = [
    ['obs-text', Buffer.from([0x22, 0xff, 0x80, 0x22, 0x2c, 0x57, 0x2f, 0xe9]), 200],
    ['many commas', Buffer.from(','.repeat(12000)), 200],
    ['many quotes', Buffer.from('"'.repeat(12001)), 200],
    ['many W/', Buffer.from('W/'.repeat(6000)), 200],
    ['many tags then the match', Buffer.from(`${'"x",'.repeat(2500)}${tag}`), 304],
    ['unterminated before the match', Buffer.from(`"open, ${tag}`), 200],
  ];
  for (const [label, value, status] of hostile) {
    const head = Buffer.concat([
      Buffer.from('GET /text HTTP/1.1\r\nHost: x\r\nIf-None-Match: '),
      value,
      Buffer.from('\r\nConnection: close\r\n\r\n'),
    ]);
    const res = (await request(port, head)).finals[0];
    assert.equal(res?.status, status, label);
    if (status === 200) assert.equal(res?.text(), TEXT, label);
    await assertServing(port);
  }
  // Several If-None-Match fields are one list.
  const split = await request(
    port,
    `GET /text HTTP/1.1\r\nHost: x\r\nIf-None-Match: "a"\r\nIf-None-Match: ${tag}\r\nConnection: close\r\n\r\n`,
  );
  assert.equal(split.finals[0]?.status, 304);
});

test('a WebSocket route: etag() adds nothing per message, and messages flow', async (t) => {
  let wsContext: Context | undefined;
  const { url, base } = await serve(t, (server) => {
    server.requestMiddleware(etag());
    server.requestMiddleware(etag({ weak: true }));
    server.get('/ws', async (ctx) => {
      wsContext = ctx;
      ctx.setResponseBody(`echo ${ctx.getRequestBodyString()}`);
      await ctx.sendBody();
    });
    server.get('/text', (ctx) => void ctx.setResponseBody(TEXT));
  });
  const ws = new WebSocket(url('/ws'));
  t.after(() => ws.terminate());
  await once(ws, 'open');
  const replies: string[] = [];
  ws.on('message', (data: Buffer) => replies.push(data.toString()));
  const n = 300;
  for (let i = 0; i < n; i++) ws.send(`m${i}`);
  while (replies.length < n) await once(ws, 'message');
  assert.equal(replies[0], 'echo m0');
  assert.equal(replies[n - 1], `echo m${n - 1}`);
  assert.equal(wsContext?.isWebSocket(), true);
  // Peek at the Context: no send hook was queued for any message.
  const hooks = (wsContext as unknown as { beforeSendHooks: unknown[] | null }).beforeSendHooks;
  assert.equal(hooks?.length ?? 0, 0);
  const plain = await call(base, '/text');
  assert.equal(plain.headers.get('etag'), expectedTag(TEXT));
});

test('invalid options throw HL_ERR_CONFIG naming the option', () => {
  const bad: [unknown, RegExp][] = [
    [{ weak: 'yes' }, /weak/],
    [{ strong: true }, /unknown option "strong"/],
    [null, /options/],
  ];
  for (const [options, message] of bad) {
    assert.throws(
      () => etag(options as EtagOptions),
      (error: unknown) =>
        error instanceof HyperlaneError &&
        error.code === 'HL_ERR_CONFIG' &&
        message.test(error.message),
      JSON.stringify(options),
    );
  }
});
