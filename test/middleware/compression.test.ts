/**
 * compression(): Accept-Encoding negotiation, whole bodies and streams (SSE flushed per event),
 * over real sockets — fetch (which decodes), curl --compressed, raw node:http with manual zlib
 * decoding, raw node:net for hostile header bytes — and through server.inject().
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import zlib from 'node:zlib';
import {
  HyperlaneError,
  Server,
  compression,
  etag,
  isCompressibleType,
  sseEvent,
  type CompressionOptions,
  type Context,
} from '../../src/index.js';
import { negotiateEncoding, isIdentityRefused } from '../../src/middleware/accept-encoding.js';
import { assertServing, parseResponses, finalResponses } from '../helpers/raw-client.js';
import { serve, type Served } from '../helpers/serve.js';

// ---- helpers -------------------------------------------------------------------------------

const TEXT = 'hyperlane compresses this line well. '.repeat(200); // 7400 bytes
// Deterministic bytes that do not compress.
const NOISE = Buffer.concat(
  Array.from({ length: 128 }, (_, i) => createHash('sha256').update(String(i)).digest()),
);
const JSON_VALUE = { items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}` })) };

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body exactly as sent (still encoded). */
  raw: Buffer;
  /** The body decoded per its Content-Encoding. */
  decoded: Buffer;
}

function decode(body: Buffer, encoding: string | undefined): Buffer {
  // A 304 keeps the Content-Encoding of the 200 it stands for, without a body.
  if (encoding === undefined || encoding === 'identity' || body.length === 0) return body;
  if (encoding === 'gzip') return zlib.gunzipSync(body);
  if (encoding === 'br') return zlib.brotliDecompressSync(body);
  if (encoding === 'deflate') return zlib.inflateSync(body);
  throw new Error(`unexpected content-encoding ${encoding}`);
}

/** A node:http request that does not decode: headers as given, body as sent. */
function get(
  served: Served,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: served.port, path, method, headers, agent: false, timeout: 5000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          try {
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              raw,
              decoded: decode(raw, res.headers['content-encoding']),
            });
          } catch (error) {
            reject(error as Error);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout on ${path}`)));
    req.on('error', reject);
    req.end();
  });
}

/** Routes most tests share, behind compression() as request middleware. */
function routes(server: Server): void {
  server.get('/text', (ctx) => {
    ctx.setResponseHeader('content-type', 'text/plain; charset=utf-8').setResponseBody(TEXT);
  });
  server.get('/untyped', (ctx) => {
    ctx.setResponseBody(TEXT);
  });
  server.get('/json', (ctx) => {
    ctx.setResponseBodyJson(JSON_VALUE);
  });
  server.get('/size/{n}', (ctx) => {
    const n = Number(ctx.getRouteParam('n'));
    ctx.setResponseHeader('content-type', 'text/plain').setResponseBody('a'.repeat(n));
  });
  server.get('/png', (ctx) => {
    ctx.setResponseHeader('content-type', 'image/png').setResponseBody(Buffer.alloc(5000, 7));
  });
  server.get('/random-bytes', (ctx) => {
    ctx.setResponseBody(NOISE);
  });
  server.get('/status/{code}', (ctx) => {
    ctx
      .setResponseStatusCode(Number(ctx.getRouteParam('code')))
      .setResponseHeader('content-type', 'text/plain')
      .setResponseBody(Number(ctx.getRouteParam('code')) === 204 ? '' : TEXT);
  });
  server.get('/vary/{value}', (ctx) => {
    ctx
      .setResponseHeader('content-type', 'text/plain')
      .setResponseHeader('vary', decodeURIComponent(ctx.getRouteParam('value')!))
      .setResponseBody(TEXT);
  });
  server.get('/etag/{value}', (ctx) => {
    ctx
      .setResponseHeader('content-type', 'text/plain')
      .setResponseHeader('etag', decodeURIComponent(ctx.getRouteParam('value')!))
      .setResponseBody(TEXT);
  });
  server.get('/encoded', (ctx) => {
    ctx
      .setResponseHeader('content-type', 'text/plain')
      .setResponseHeader('content-encoding', 'gzip')
      .setResponseBody(zlib.gzipSync(TEXT));
  });
  server.get('/no-transform', (ctx) => {
    ctx
      .setResponseHeader('content-type', 'text/plain')
      .setResponseHeader('cache-control', 'public, no-transform')
      .setResponseBody(TEXT);
  });
  server.get('/with-length', (ctx) => {
    ctx
      .setResponseHeader('content-type', 'text/plain')
      .setResponseHeader('content-length', String(TEXT.length))
      .setResponseBody(TEXT);
  });
  server.get('/events', async (ctx) => {
    ctx.setResponseHeader('content-type', 'text/event-stream');
    await ctx.send();
    for (let i = 1; i <= 3; i++) {
      ctx.setResponseBody(sseEvent({ id: i, data: `event ${i}` }));
      await ctx.sendBody();
    }
  });
}

function compressedServer(
  t: TestContext,
  options: CompressionOptions = {},
  extra?: (server: Server) => void,
): Promise<Served> {
  return serve(t, (server) => {
    server.requestMiddleware(compression(options));
    extra?.(server);
    routes(server);
  });
}

function curl(args: string[]): Promise<{ head: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    execFile(
      'curl',
      ['-s', '-S', '--max-time', '5', '-D', '-', ...args],
      { encoding: 'buffer', timeout: 8000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`curl failed: ${error.message} ${stderr.toString()}`));
          return;
        }
        const end = stdout.indexOf('\r\n\r\n');
        resolve({
          head: stdout.subarray(0, end).toString('latin1').toLowerCase(),
          body: stdout.subarray(end + 4),
        });
      },
    );
  });
}

function sha(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

// ---- negotiation (RFC 9110 §12.5.3) -----------------------------------------------------------

type Coding = 'br' | 'gzip' | 'deflate';
const ALL: readonly Coding[] = ['br', 'gzip', 'deflate'];

test('negotiateEncoding follows q-values, `*`, identity and the server order', () => {
  const cases: Array<[string, string | undefined, (readonly Coding[])?]> = [
    ['gzip', 'gzip'],
    ['gzip, deflate, br', 'br'],
    ['deflate, gzip', 'gzip'],
    ['GZIP', 'gzip'],
    ['x-gzip', 'gzip'],
    ['Br;Q=1', 'br'],
    ['br;q=0.5, gzip;q=0.8', 'gzip'],
    ['br;q=1, gzip;q=0.8', 'br'],
    ['br;q=0.8, gzip;q=0.8, deflate;q=0.8', 'br'],
    ['deflate;q=0.9, gzip;q=0.9', 'gzip'],
    ['br;q=0.001, gzip;q=0', 'br'],
    ['br;q=0', undefined],
    ['br;q=0, *', 'gzip'],
    ['*', 'br'],
    ['*;q=0.5, gzip', 'gzip'],
    ['*;q=0', undefined],
    ['identity', undefined],
    ['identity;q=0', undefined],
    ['identity;q=0, gzip;q=0.1', 'gzip'],
    ['gzip;q=0.5, identity', undefined],
    ['gzip;q=0.5, identity;q=0.5', 'gzip'],
    ['', undefined],
    ['zstd, compress', undefined],
    ['zstd, compress, *;q=0.1', 'br'],
    ['gzip;q=2, deflate', 'deflate'],
    ['gzip;q=abc, deflate', 'deflate'],
    ['gzip;q=1.5, deflate', 'deflate'],
    ['gzip;q=0.1234, deflate', 'deflate'],
    ['gzip;q=, deflate', 'deflate'],
    ['gzip;q="1", deflate', 'deflate'],
    ['gzip;;, deflate', 'deflate'],
    ['gzip;level=9', 'gzip'],
    ['gz ip, deflate', 'deflate'],
    [';;;,,, ,\t', undefined],
    ['"br", gzip', 'gzip'],
    ['br\u00e9, gzip', 'gzip'],
    ['gzip;q=0, gzip;q=1', 'gzip'],
    ['br, gzip', 'gzip', ['gzip', 'br']],
    ['br', undefined, ['gzip']],
    ['*', 'deflate', ['deflate']],
  ];
  for (const [header, expected, available] of cases) {
    assert.equal(negotiateEncoding(header, available ?? ALL), expected, JSON.stringify(header));
  }
  assert.equal(isIdentityRefused('identity;q=0'), true);
  assert.equal(isIdentityRefused('*;q=0'), true);
  assert.equal(isIdentityRefused('*;q=0, identity'), false);
  assert.equal(isIdentityRefused('gzip'), false);
  assert.equal(isIdentityRefused('identity;q=0.000'), true);
  assert.equal(isIdentityRefused('identity;q=0.001'), false);
});

test('isCompressibleType: text and structured types yes, media and archives no', () => {
  for (const type of [
    'text/html',
    'text/plain; charset=utf-8',
    'TEXT/CSS',
    'text/event-stream',
    'application/json',
    'application/json; charset=utf-8',
    'application/ld+json',
    'application/vnd.api+json',
    'application/atom+xml',
    'application/javascript',
    'application/xml',
    'image/svg+xml',
    'application/wasm',
    '',
  ]) {
    assert.equal(isCompressibleType(type), true, type);
  }
  for (const type of [
    'image/png',
    'image/jpeg',
    'image/webp',
    'video/mp4',
    'audio/mpeg',
    'application/zip',
    'application/gzip',
    'application/octet-stream',
    'font/woff2',
    'application/pdf',
  ]) {
    assert.equal(isCompressibleType(type), false, type);
  }
});

test('compression() rejects bad options naming them', () => {
  const bad: unknown[] = [
    { threshold: -1 },
    { threshold: 1.5 },
    { threshold: '1024' },
    { encodings: [] },
    { encodings: ['zstd'] },
    { encodings: ['gzip', 'gzip'] },
    { encodings: 'gzip' },
    { level: 10 },
    { level: -1 },
    { brotliQuality: 12 },
    { filter: 'text/*' },
    { streams: 'yes' },
    { tresHold: 1 },
    null,
    'gzip',
  ];
  for (const options of bad) {
    assert.throws(
      () => compression(options as CompressionOptions),
      (error: unknown) =>
        error instanceof HyperlaneError &&
        error.code === 'HL_ERR_CONFIG' &&
        error.message.includes('compression'),
      JSON.stringify(options),
    );
  }
  assert.throws(() => compression({ level: 10 }), /level/);
  assert.throws(() => compression({ encodings: ['zstd' as 'gzip'] }), /zstd/);
  assert.throws(() => compression({ tresHold: 1 } as CompressionOptions), /tresHold/);
});

// ---- whole bodies over real sockets -------------------------------------------------------------

test('fetch receives a compressed body and decodes it', async (t) => {
  const served = await compressedServer(t);
  for (const path of ['/text', '/json', '/untyped']) {
    const res = await fetch(`${served.base}${path}`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-encoding') ?? '', /^(br|gzip|deflate)$/, path);
    assert.equal(res.headers.get('vary'), 'Accept-Encoding');
    const text = await res.text();
    assert.equal(text, path === '/json' ? JSON.stringify(JSON_VALUE) : TEXT, path);
  }
  const gz = await fetch(`${served.base}/text`, {
    headers: { 'accept-encoding': 'gzip' },
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(gz.headers.get('content-encoding'), 'gzip');
  assert.equal(await gz.text(), TEXT);
});

test('curl --compressed gets br, gzip or deflate and decodes it', async (t) => {
  const served = await compressedServer(t);
  const auto = await curl(['--compressed', `${served.base}/text`]);
  assert.match(auto.head, /\r\ncontent-encoding: (br|gzip|deflate)\r\n/);
  assert.equal(auto.body.toString(), TEXT);
  for (const coding of ['br', 'gzip', 'deflate']) {
    const res = await curl([
      '--compressed',
      '-H',
      `Accept-Encoding: ${coding}`,
      `${served.base}/json`,
    ]);
    assert.match(res.head, new RegExp(`\\r\\ncontent-encoding: ${coding}\\r\\n`), coding);
    assert.match(res.head, /\r\nvary: accept-encoding\r\n/);
    assert.deepEqual(JSON.parse(res.body.toString()), JSON_VALUE, coding);
  }
  const plain = await curl([`${served.base}/text`]);
  assert.doesNotMatch(plain.head, /content-encoding/, 'no Accept-Encoding, no compression');
  assert.match(plain.head, /\r\nvary: accept-encoding\r\n/);
  assert.equal(plain.body.toString(), TEXT);
});

test('raw clients get the coding their Accept-Encoding and q-values choose', async (t) => {
  const served = await compressedServer(t);
  const cases: Array<[string | undefined, string | undefined]> = [
    ['br', 'br'],
    ['gzip', 'gzip'],
    ['deflate', 'deflate'],
    ['gzip, deflate, br', 'br'],
    ['br;q=0.5, gzip;q=0.8', 'gzip'],
    ['br;q=0.2, gzip;q=0.1, deflate;q=0.3', 'deflate'],
    ['gzip;q=1, br;q=1', 'br'],
    ['*', 'br'],
    ['br;q=0, *', 'gzip'],
    ['*;q=0', undefined],
    ['identity', undefined],
    ['identity;q=0, gzip', 'gzip'],
    ['gzip;q=0.5, identity', undefined],
    ['zstd', undefined],
    ['', undefined],
    [undefined, undefined],
  ];
  for (const [accept, expected] of cases) {
    const headers: Record<string, string> =
      accept === undefined ? {} : { 'accept-encoding': accept };
    const res = await get(served, '/text', headers);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], expected, `Accept-Encoding: ${accept}`);
    assert.equal(res.decoded.toString(), TEXT, `Accept-Encoding: ${accept}`);
    assert.equal(res.headers.vary, 'Accept-Encoding');
    if (expected !== undefined) {
      assert.ok(res.raw.length < TEXT.length / 4, `${expected} shrank the body`);
      assert.equal(
        res.headers['content-length'],
        String(res.raw.length),
        'framed by the new length',
      );
    }
  }
});

test('the encodings option limits and orders the codings offered', async (t) => {
  const served = await compressedServer(t, { encodings: ['gzip', 'br'] });
  assert.equal(
    (await get(served, '/text', { 'accept-encoding': 'br, gzip' })).headers['content-encoding'],
    'gzip',
  );
  assert.equal(
    (await get(served, '/text', { 'accept-encoding': 'br' })).headers['content-encoding'],
    'br',
  );
  const deflate = await get(served, '/text', { 'accept-encoding': 'deflate' });
  assert.equal(deflate.headers['content-encoding'], undefined);
  assert.equal(deflate.decoded.toString(), TEXT);
});

test('level and brotliQuality are used', async (t) => {
  const served = await compressedServer(t, { level: 1, brotliQuality: 11 });
  const gz = await get(served, '/json', { 'accept-encoding': 'gzip' });
  assert.deepEqual(gz.raw, zlib.gzipSync(JSON.stringify(JSON_VALUE), { level: 1 }));
  const br = await get(served, '/json', { 'accept-encoding': 'br' });
  assert.deepEqual(
    br.raw,
    zlib.brotliCompressSync(JSON.stringify(JSON_VALUE), {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 },
    }),
  );
});

test('bodies under the threshold go out as they are, with Vary', async (t) => {
  const served = await compressedServer(t);
  const small = await get(served, '/size/1023', { 'accept-encoding': 'gzip' });
  assert.equal(small.headers['content-encoding'], undefined);
  assert.equal(small.headers.vary, 'Accept-Encoding');
  assert.equal(small.raw.toString(), 'a'.repeat(1023));
  const big = await get(served, '/size/1024', { 'accept-encoding': 'gzip' });
  assert.equal(big.headers['content-encoding'], 'gzip');
  assert.equal(big.decoded.toString(), 'a'.repeat(1024));
  // A client that refuses identity gets a coding whatever the size.
  const refused = await get(served, '/size/10', { 'accept-encoding': 'gzip, identity;q=0' });
  assert.equal(refused.headers['content-encoding'], 'gzip');
  assert.equal(refused.decoded.toString(), 'a'.repeat(10));

  const zero = await compressedServer(t, { threshold: 0 });
  const tiny = await get(zero, '/size/200', { 'accept-encoding': 'gzip' });
  assert.equal(tiny.headers['content-encoding'], 'gzip');
  assert.equal(tiny.decoded.toString(), 'a'.repeat(200));
  const empty = await get(zero, '/size/0', { 'accept-encoding': 'gzip' });
  assert.equal(empty.headers['content-encoding'], undefined, 'nothing to gain on an empty body');
  assert.equal(empty.raw.length, 0);
});

test('media types that do not compress are left alone, without Vary', async (t) => {
  const served = await compressedServer(t);
  const png = await get(served, '/png', { 'accept-encoding': 'gzip, br' });
  assert.equal(png.headers['content-encoding'], undefined);
  assert.equal(png.headers.vary, undefined);
  assert.deepEqual(png.raw, Buffer.alloc(5000, 7));
  // Untyped bytes that do not shrink go out unchanged.
  const bytes = await get(served, '/random-bytes', { 'accept-encoding': 'gzip' });
  assert.equal(bytes.headers['content-encoding'], undefined);
  assert.deepEqual(bytes.raw, NOISE);
});

test('a custom filter decides which types compress', async (t) => {
  const served = await compressedServer(t, { filter: (type) => type.startsWith('image/') });
  assert.equal(
    (await get(served, '/png', { 'accept-encoding': 'gzip' })).headers['content-encoding'],
    'gzip',
  );
  const text = await get(served, '/text', { 'accept-encoding': 'gzip' });
  assert.equal(text.headers['content-encoding'], undefined);
  assert.equal(text.headers.vary, undefined);
});

test('HEAD, 204 and 304 are not compressed', async (t) => {
  const served = await compressedServer(t);
  const head = await get(served, '/text', { 'accept-encoding': 'gzip' }, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-encoding'], undefined);
  assert.equal(head.headers.vary, 'Accept-Encoding');
  assert.equal(head.headers['content-length'], String(TEXT.length));
  assert.equal(head.raw.length, 0);
  for (const code of [204, 304]) {
    const res = await get(served, `/status/${code}`, { 'accept-encoding': 'gzip' });
    assert.equal(res.status, code);
    assert.equal(res.headers['content-encoding'], undefined, String(code));
    assert.equal(res.raw.length, 0);
  }
  // Other statuses with a body are compressed like 200.
  const notFound = await get(served, '/status/404', { 'accept-encoding': 'gzip' });
  assert.equal(notFound.status, 404);
  assert.equal(notFound.headers['content-encoding'], 'gzip');
  assert.equal(notFound.decoded.toString(), TEXT);
});

test('a Content-Encoding already set or Cache-Control: no-transform is respected', async (t) => {
  const served = await compressedServer(t);
  const encoded = await get(served, '/encoded', { 'accept-encoding': 'br' });
  assert.equal(encoded.headers['content-encoding'], 'gzip');
  assert.equal(encoded.decoded.toString(), TEXT, 'compressed once, by the handler');
  const keep = await get(served, '/no-transform', { 'accept-encoding': 'gzip' });
  assert.equal(keep.headers['content-encoding'], undefined);
  assert.equal(keep.raw.toString(), TEXT);
});

test('Vary: Accept-Encoding is merged into an existing Vary without duplicates', async (t) => {
  const served = await compressedServer(t);
  const cases: Array<[string, string]> = [
    ['Origin', 'Origin, Accept-Encoding'],
    ['Origin, Cookie', 'Origin, Cookie, Accept-Encoding'],
    ['accept-encoding', 'accept-encoding'],
    ['Origin, Accept-Encoding', 'Origin, Accept-Encoding'],
    ['Origin,Accept-Encoding ', 'Origin,Accept-Encoding'],
    ['*', '*'],
    ['Accept-Encoding-Extra', 'Accept-Encoding-Extra, Accept-Encoding'],
  ];
  for (const [given, expected] of cases) {
    for (const accept of ['gzip', 'identity']) {
      const res = await get(served, `/vary/${encodeURIComponent(given)}`, {
        'accept-encoding': accept,
      });
      assert.equal(res.headers.vary, expected, `${given} (${accept})`);
      assert.equal(res.decoded.toString(), TEXT);
    }
  }
});

test('a strong ETag becomes weak when the body is compressed', async (t) => {
  const served = await compressedServer(t);
  const strong = await get(served, `/etag/${encodeURIComponent('"v1"')}`, {
    'accept-encoding': 'gzip',
  });
  assert.equal(strong.headers.etag, 'W/"v1"');
  const weak = await get(served, `/etag/${encodeURIComponent('W/"v1"')}`, {
    'accept-encoding': 'gzip',
  });
  assert.equal(weak.headers.etag, 'W/"v1"');
  const identity = await get(served, `/etag/${encodeURIComponent('"v1"')}`);
  assert.equal(identity.headers.etag, '"v1"', 'unchanged bytes keep the strong tag');
});

test('etag() before compression(): a weak tag that still answers 304', async (t) => {
  const served = await serve(t, (server) => {
    server.requestMiddleware(etag());
    server.requestMiddleware(compression());
    routes(server);
  });
  const first = await get(served, '/text', { 'accept-encoding': 'gzip' });
  assert.equal(first.headers['content-encoding'], 'gzip');
  const tag = first.headers.etag!;
  assert.match(tag, /^W\/"/);
  const again = await get(served, '/text', { 'accept-encoding': 'gzip', 'if-none-match': tag });
  assert.equal(again.status, 304);
  assert.equal(again.raw.length, 0);
  assert.equal(again.headers.vary, 'Accept-Encoding');
});

test('compression() before etag(): the tag names the content, weak once compressed, and 304s skip compressing', async (t) => {
  const served = await serve(t, (server) => {
    server.requestMiddleware(compression());
    server.requestMiddleware(etag());
    routes(server);
  });
  const gzip = await get(served, '/text', { 'accept-encoding': 'gzip' });
  const br = await get(served, '/text', { 'accept-encoding': 'br' });
  assert.equal(gzip.headers['content-encoding'], 'gzip');
  // Compression runs last, on the final body: etag() has hashed the content, and a strong tag
  // becomes weak because the bytes on the wire changed (RFC 9110 §8.8.1).
  assert.match(gzip.headers.etag!, /^W\/"/);
  assert.equal(gzip.headers.etag, br.headers.etag, 'one content, one (weak) tag');
  const again = await get(served, '/text', {
    'accept-encoding': 'gzip',
    'if-none-match': gzip.headers.etag!,
  });
  assert.equal(again.status, 304);
  assert.equal(again.raw.length, 0);
});

test('a handler-set Content-Length is replaced by the compressed length', async (t) => {
  const served = await compressedServer(t);
  const res = await get(served, '/with-length', { 'accept-encoding': 'gzip' });
  assert.equal(res.headers['content-encoding'], 'gzip');
  assert.equal(res.headers['content-length'], String(res.raw.length));
  assert.equal(res.decoded.toString(), TEXT);
});

test('as response middleware it compresses whole bodies', async (t) => {
  const served = await serve(t, (server) => {
    routes(server);
    server.responseMiddleware(compression({ encodings: ['gzip'] }));
  });
  const res = await get(served, '/json', { 'accept-encoding': 'gzip, br' });
  assert.equal(res.headers['content-encoding'], 'gzip');
  assert.deepEqual(JSON.parse(res.decoded.toString()), JSON_VALUE);
  // A stream started by the route has gone out before response middleware runs: untouched.
  const events = await get(served, '/events', { 'accept-encoding': 'gzip' });
  assert.equal(events.headers['content-encoding'], undefined);
  assert.match(events.raw.toString(), /data: event 3/);
});

test('registered twice, a response is compressed once', async (t) => {
  const served = await serve(t, (server) => {
    server.requestMiddleware(compression({ encodings: ['gzip'] }));
    routes(server);
    server.responseMiddleware(compression({ encodings: ['br'] }));
  });
  const res = await get(served, '/text', { 'accept-encoding': 'gzip, br' });
  assert.equal(res.headers['content-encoding'], 'gzip');
  assert.equal(res.decoded.toString(), TEXT);
});

// ---- streams ------------------------------------------------------------------------------------

test('SSE is compressed and flushed event by event', async (t) => {
  // One gate per request: the route holds the second event back until the client decoded the first.
  let releaseSecond!: () => void;
  let second = Promise.resolve();
  let finished = false;
  const served = await serve(t, (server) => {
    server.requestMiddleware(compression());
    server.get('/live', async (ctx) => {
      ctx.setResponseHeader('content-type', 'text/event-stream');
      await ctx.send();
      ctx.setResponseBody(sseEvent({ id: 1, data: 'first' }));
      await ctx.sendBody();
      await second;
      ctx.setResponseBody(sseEvent({ id: 2, data: 'second' }));
      await ctx.sendBody();
      finished = true;
    });
  });
  for (const [coding, decoder] of [
    ['gzip', () => zlib.createGunzip()],
    ['br', () => zlib.createBrotliDecompress()],
    ['deflate', () => zlib.createInflate()],
  ] as const) {
    second = new Promise<void>((resolve) => (releaseSecond = resolve));
    const text = await new Promise<string>((resolve, reject) => {
      const req = http.get(
        {
          host: '127.0.0.1',
          port: served.port,
          path: '/live',
          headers: { 'accept-encoding': coding },
          agent: false,
        },
        (res) => {
          try {
            assert.equal(res.headers['content-encoding'], coding);
            assert.equal(res.headers['content-type'], 'text/event-stream');
            assert.equal(res.headers['transfer-encoding'], 'chunked');
          } catch (error) {
            reject(error as Error);
            return;
          }
          const unzip = decoder();
          let received = '';
          unzip.on('data', (data: Buffer) => {
            received += data.toString();
            if (received.includes('data: first\n\n') && !finished) {
              // The first event decoded while the server still holds the second back.
              assert.equal(received, sseEvent({ id: 1, data: 'first' }));
              releaseSecond();
            }
          });
          unzip.on('end', () => resolve(received));
          unzip.on('error', reject);
          res.pipe(unzip);
        },
      );
      req.on('error', reject);
    });
    assert.equal(
      text,
      sseEvent({ id: 1, data: 'first' }) + sseEvent({ id: 2, data: 'second' }),
      coding,
    );
    assert.equal(finished, true);
    finished = false;
  }
});

test('fetch reads a compressed event stream as it is sent', async (t) => {
  const served = await compressedServer(t);
  const res = await fetch(`${served.base}/events`, { signal: AbortSignal.timeout(5000) });
  assert.match(res.headers.get('content-encoding') ?? '', /^(br|gzip|deflate)$/);
  assert.equal(res.headers.get('vary'), 'Accept-Encoding');
  assert.equal(
    await res.text(),
    [1, 2, 3].map((i) => sseEvent({ id: i, data: `event ${i}` })).join(''),
  );
});

test('a big streamed response arrives intact in every coding', async (t) => {
  const chunk = (i: number): string =>
    `chunk ${i} `.padEnd(8192, String.fromCharCode(97 + (i % 26)));
  const expected = Array.from({ length: 256 }, (_, i) => chunk(i)).join('');
  const served = await serve(t, (server) => {
    server.requestMiddleware(compression());
    server.get('/big', async (ctx) => {
      ctx
        .setResponseHeader('content-type', 'application/x-ndjson')
        .setResponseHeader('content-length', String(expected.length))
        .setResponseStream();
      await ctx.send();
      for (let i = 0; i < 256; i++) {
        ctx.setResponseBody(chunk(i));
        await ctx.sendBody();
      }
    });
  });
  for (const coding of ['gzip', 'br', 'deflate']) {
    const res = await get(served, '/big', { 'accept-encoding': coding });
    assert.equal(res.headers['content-encoding'], coding);
    assert.equal(res.headers['content-length'], undefined, 'the declared length was uncompressed');
    assert.equal(res.decoded.length, expected.length, coding);
    assert.equal(sha(res.decoded), sha(expected), coding);
    assert.ok(res.raw.length < expected.length / 10, `${coding}: ${res.raw.length} bytes`);
  }
  const viaFetch = await fetch(`${served.base}/big`, { signal: AbortSignal.timeout(5000) });
  assert.equal(sha(Buffer.from(await viaFetch.arrayBuffer())), sha(expected));
  const viaCurl = await curl(['--compressed', `${served.base}/big`]);
  assert.equal(sha(viaCurl.body), sha(expected));
});

test('a stream begun by sendBody() alone, and chunks sent without awaiting, stay in one coding', async (t) => {
  const served = await serve(t, (server) => {
    server.requestMiddleware(compression());
    server.get('/implicit', async (ctx) => {
      // No setResponseStream(): the first sendBody() starts the stream.
      ctx.setResponseHeader('content-type', 'text/plain').setResponseBody(TEXT);
      await ctx.sendBody();
      ctx.setResponseBody('tail one;');
      await ctx.sendBody();
      ctx.setResponseBody('tail two');
      await ctx.sendBody();
    });
    server.get('/burst', async (ctx) => {
      ctx.setResponseHeader('content-type', 'text/plain').setResponseStream();
      await ctx.send();
      const sends: Promise<void>[] = [];
      for (let i = 0; i < 50; i++) {
        ctx.setResponseBody(`line ${i}\n`);
        sends.push(ctx.sendBody());
      }
      await Promise.all(sends);
    });
  });
  const burst = Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join('');
  for (const coding of ['gzip', 'br', 'deflate']) {
    const implicit = await get(served, '/implicit', { 'accept-encoding': coding });
    assert.equal(implicit.headers['content-encoding'], coding);
    assert.equal(implicit.decoded.toString(), `${TEXT}tail one;tail two`, coding);
    const res = await get(served, '/burst', { 'accept-encoding': coding });
    assert.equal(res.headers['content-encoding'], coding);
    assert.equal(res.decoded.toString(), burst, coding);
  }
});

test('an empty compressed stream is still a valid encoding', async (t) => {
  const served = await serve(t, (server) => {
    server.requestMiddleware(compression());
    server.get('/empty', async (ctx) => {
      ctx.setResponseHeader('content-type', 'text/event-stream');
      await ctx.send();
    });
  });
  for (const coding of ['gzip', 'br', 'deflate']) {
    const res = await get(served, '/empty', { 'accept-encoding': coding });
    assert.equal(res.headers['content-encoding'], coding);
    assert.ok(res.raw.length > 0, `${coding}: a complete, empty ${coding} stream`);
    assert.equal(res.decoded.length, 0);
  }
});

test('streams: false leaves streams uncompressed', async (t) => {
  const served = await compressedServer(t, { streams: false });
  const events = await get(served, '/events', { 'accept-encoding': 'gzip' });
  assert.equal(events.headers['content-encoding'], undefined);
  assert.equal(events.headers.vary, undefined);
  assert.match(events.raw.toString(), /data: event 1\n\n/);
  assert.equal(
    (await get(served, '/text', { 'accept-encoding': 'gzip' })).headers['content-encoding'],
    'gzip',
  );
});

test('a client that leaves a compressed stream does not stop the server', async (t) => {
  let stopped!: () => void;
  const stoppedPromise = new Promise<void>((resolve) => (stopped = resolve));
  const served = await serve(t, (server) => {
    server.requestMiddleware(compression());
    server.get('/endless', async (ctx) => {
      ctx.setResponseHeader('content-type', 'text/event-stream');
      await ctx.send();
      try {
        for (let i = 0; ; i++) {
          ctx.setResponseBody(sseEvent({ id: i, data: 'x'.repeat(100) }));
          await ctx.sendBody();
        }
      } catch {
        stopped();
      }
    });
    routes(server);
  });
  await new Promise<void>((resolve, reject) => {
    const req = http.get(
      {
        host: '127.0.0.1',
        port: served.port,
        path: '/endless',
        headers: { 'accept-encoding': 'gzip' },
        agent: false,
      },
      (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      },
    );
    req.on('error', () => {});
    req.on('close', resolve);
    setTimeout(() => reject(new Error('no data')), 5000).unref();
  });
  await stoppedPromise;
  await assertServing(served.port, '/text');
});

// ---- inject ---------------------------------------------------------------------------------

test('inject(): gzip bodies and streams decode', async () => {
  const server = new Server();
  server.requestMiddleware(compression());
  routes(server);
  const whole = await server.inject({ path: '/text', headers: { 'accept-encoding': 'gzip' } });
  assert.equal(whole.headers['content-encoding'], 'gzip');
  assert.equal(whole.headers.vary, 'Accept-Encoding');
  assert.equal(zlib.gunzipSync(whole.body).toString(), TEXT);
  const stream = await server.inject({ path: '/events', headers: { 'accept-encoding': 'gzip' } });
  assert.equal(stream.headers['content-encoding'], 'gzip');
  assert.equal(
    zlib.gunzipSync(stream.body).toString(),
    [1, 2, 3].map((i) => sseEvent({ id: i, data: `event ${i}` })).join(''),
  );
  const br = await server.inject({ path: '/json', headers: { 'accept-encoding': 'br' } });
  assert.deepEqual(JSON.parse(zlib.brotliDecompressSync(br.body).toString()), JSON_VALUE);
  const plain = await server.inject({ path: '/text' });
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.text(), TEXT);
});

// ---- hostile input --------------------------------------------------------------------------

test('hostile Accept-Encoding values never break the server', async (t) => {
  const served = await compressedServer(t);
  const values = [
    ';;;;',
    ',,,,,,',
    'gzip;q=NaN',
    'gzip;q=-1',
    'gzip;q=1e3',
    'gzip;q=0.5;q=0.9',
    'br;q=0x1',
    '*;q=',
    '=;=;=',
    'gzip'.repeat(2000),
    'gzip;q=0.5,'.repeat(500),
    ', '.repeat(3000),
    'identity;q=0, *;q=0',
    'constructor, __proto__, toString',
    'gzip\u00ff\u00fe',
  ];
  for (const value of values) {
    const res = await get(served, '/text', { 'accept-encoding': value });
    assert.equal(res.status, 200, value.slice(0, 40));
    assert.equal(res.decoded.toString(), TEXT, value.slice(0, 40));
  }
  // Repeated header lines are joined, as a list should be.
  const joined = await get(served, '/text', {
    'accept-encoding': ['zstd', 'gzip'] as unknown as string,
  });
  assert.equal(joined.headers['content-encoding'], 'gzip');

  // Bytes node:http will not send: raw sockets.
  const rawValues = ['gzip\x01br', 'gzip;q=\x7f', '\t\tgzip\t;\tq=0.5\t', 'gz\x80ip, deflate'];
  for (const value of rawValues) {
    const socket = net.connect(served.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve) => {
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
      socket.write(
        Buffer.from(
          `GET /text HTTP/1.1\r\nHost: x\r\nAccept-Encoding: ${value}\r\nConnection: close\r\n\r\n`,
          'latin1',
        ),
      );
    });
    const [res] = finalResponses(parseResponses(Buffer.concat(chunks), { eof: true }).responses);
    assert.ok(res !== undefined, JSON.stringify(value));
    if (res.status === 200) {
      assert.equal(decode(res.body, res.headers['content-encoding']).toString(), TEXT);
    } else {
      assert.equal(res.status, 400, JSON.stringify(value));
    }
    await assertServing(served.port, '/text');
  }
  assert.equal(
    (await get(served, '/text', { 'accept-encoding': 'gzip' })).headers['content-encoding'],
    'gzip',
  );
  await assertServing(served.port, '/events');
});

test('errors thrown after compression() still produce a readable answer', async (t) => {
  const served = await serve(t, (server) => {
    server.requestMiddleware(compression({ threshold: 0 }));
    server.get('/boom', () => {
      throw new Error('secret');
    });
    server.get('/ctx', (ctx: Context) => {
      ctx.setResponseHeader('content-type', 'text/plain').setResponseBody(TEXT);
    });
  });
  const res = await get(served, '/boom', { 'accept-encoding': 'gzip' });
  assert.equal(res.status, 500);
  assert.deepEqual(JSON.parse(res.decoded.toString()), {
    error: 'Internal Server Error',
    message: 'Internal Server Error',
  });
  await assertServing(served.port, '/ctx');
});
