/**
 * serveStatic(): files from a temp directory over real sockets — fetch, curl (ranges,
 * `--path-as-is` traversal attempts) and raw node:net (NUL bytes, backslashes, pipelining,
 * slow readers). After every hostile request the server must still serve.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { Server, type Context } from '../../src/index.js';
import { HyperlaneError } from '../../src/error/hyperlane-error.js';
import { contentTypeFor } from '../../src/middleware/mime-types.js';
import {
  endsWithRegexParam,
  serveStatic,
  type ServeStaticOptions,
} from '../../src/middleware/serve-static.js';
import {
  RawConnection,
  assertServing,
  assertWellFramed,
  finalResponses,
  parseResponses,
  type ParsedResponse,
} from '../helpers/raw-client.js';
import { eventually } from '../helpers/eventually.js';
import { serve } from '../helpers/serve.js';
import { curl } from '../helpers/curl.js';

// ---- fixture --------------------------------------------------------------------------------

let tmp = '';
let root = '';
const HELLO = 'Hello, static world!\n';
const SECRET = 'TOP-SECRET-OUTSIDE-ROOT';
const MIB = 1024 * 1024;
const BIG_SIZE = 2 * MIB + 12345;
const HUGE_SIZE = 24 * MIB;
let big: Buffer;
let huge: Buffer;
// A fixed modification time, so Last-Modified / If-Modified-Since are predictable.
const MTIME = new Date('2024-03-01T12:00:00Z');

function pattern(size: number, seed: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) buf[i] = (i * 31 + (i >>> 9) + seed) & 0xff;
  return buf;
}

function sha(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'hl-static-'));
  root = join(tmp, 'public');
  big = pattern(BIG_SIZE, 1);
  huge = pattern(HUGE_SIZE, 7);
  await mkdir(join(root, 'docs'), { recursive: true });
  await mkdir(join(root, 'empty-dir'));
  await mkdir(join(root, '.hidden'));
  await mkdir(join(root, 'sub dir'));
  await writeFile(join(tmp, 'outside-secret.txt'), SECRET);
  await writeFile(join(root, 'hello.txt'), HELLO);
  await writeFile(join(root, 'page.html'), '<!doctype html><p>page</p>');
  await writeFile(join(root, 'app.js'), 'console.log(1);');
  await writeFile(join(root, 'style.css'), 'p{color:red}');
  await writeFile(join(root, 'data.json'), '{"a":1}');
  await writeFile(join(root, 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  await writeFile(join(root, 'pixel.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]));
  await writeFile(join(root, 'font.woff2'), Buffer.from([1, 2, 3]));
  await writeFile(join(root, 'blob.unknownext'), Buffer.from([0, 255, 0]));
  await writeFile(join(root, 'UPPER.TXT'), 'upper');
  await writeFile(join(root, 'empty.txt'), '');
  await writeFile(join(root, 'exact-64k.bin'), pattern(64 * 1024, 2));
  await writeFile(join(root, 'just-over-64k.bin'), pattern(64 * 1024 + 1, 3));
  await writeFile(join(root, 'big.bin'), big);
  await writeFile(join(root, 'huge.bin'), huge);
  await writeFile(join(root, '.env'), 'SECRET=dotfile');
  await writeFile(join(root, '.hidden', 'inside.txt'), 'hidden inside');
  await writeFile(join(root, 'docs', 'index.html'), '<h1>docs index</h1>');
  await writeFile(join(root, 'docs', 'guide.txt'), 'guide');
  await writeFile(join(root, 'sub dir', 'café.txt'), 'unicode name');
  await symlink(join(tmp, 'outside-secret.txt'), join(root, 'escape-link.txt'));
  await symlink(tmp, join(root, 'escape-dir'));
  await symlink(join(root, 'hello.txt'), join(root, 'inner-link.txt'));
  for (const name of ['hello.txt', 'big.bin', 'docs/index.html']) {
    await utimes(join(root, name), MTIME, MTIME);
  }
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

// ---- helpers --------------------------------------------------------------------------------

interface Fetched {
  status: number;
  headers: Headers;
  body: Buffer;
  text: string;
}

async function get(url: string, init: RequestInit = {}): Promise<Fetched> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000), ...init });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, text: body.toString('utf8') };
}

/** Sends raw bytes on a fresh connection and returns the final responses. */
async function raw(
  port: number,
  bytes: string | Uint8Array,
  n = 1,
  isHead?: (index: number) => boolean,
): Promise<ParsedResponse[]> {
  const conn = await RawConnection.connect(port);
  try {
    await conn.write(bytes);
    const opts = isHead === undefined ? {} : { isHead };
    return finalResponses(await conn.readResponses(n, 10_000, opts));
  } finally {
    conn.destroy();
  }
}

function alive(server: Server): void {
  server.get('/__alive', (ctx) => {
    ctx.setResponseBody('alive');
  });
}

/** A server with serveStatic mounted as a route under /static/. */
async function routeServer(t: TestContext, options: ServeStaticOptions = {}) {
  return serve(t, (server) => {
    alive(server);
    server.get('/static/{path:^.*$}', serveStatic(root, options));
    server.route('/any/{path:^.*$}', serveStatic(root, options));
  });
}

/** A server with serveStatic as request middleware, and a few routes behind it. */
async function middlewareServer(t: TestContext, options: ServeStaticOptions = {}) {
  const ran: string[] = [];
  const served = await serve(t, (server) => {
    server.requestMiddleware(serveStatic(root, options));
    alive(server);
    server.get('/api/ping', (ctx) => {
      ran.push('/api/ping');
      ctx.setResponseBody('pong');
    });
    server.get('/hello.txt', (ctx) => {
      ran.push('/hello.txt');
      ctx.setResponseBody('route, not file');
    });
    server.post('/page.html', (ctx) => {
      ctx.setResponseBody('posted');
    });
  });
  return { ...served, ran };
}

/** How many descriptors this process holds open on `file` (Linux: /proc), or undefined. */
function openHandlesOn(file: string): number | undefined {
  if (!existsSync('/proc/self/fd')) return undefined;
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === file) count++;
    } catch {
      // closed while we looked
    }
  }
  return count;
}

// ---- basics ---------------------------------------------------------------------------------

test('serves a file with content type, length, validators, cache control and accept-ranges', async (t) => {
  const { base } = await routeServer(t);
  const res = await get(`${base}/static/hello.txt`);
  assert.equal(res.status, 200);
  assert.equal(res.text, HELLO);
  assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(HELLO)));
  // Strong (size-mtime-inode), so If-Range can use it.
  assert.match(res.headers.get('etag') ?? '', /^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
  assert.equal(res.headers.get('last-modified'), MTIME.toUTCString());
  assert.equal(res.headers.get('cache-control'), 'public, max-age=0');
  assert.equal(res.headers.get('accept-ranges'), 'bytes');
});

test('content types: common web types, charset on text, octet-stream for unknown', async (t) => {
  const { base } = await routeServer(t);
  const expected: Record<string, string> = {
    'page.html': 'text/html; charset=utf-8',
    'app.js': 'text/javascript; charset=utf-8',
    'style.css': 'text/css; charset=utf-8',
    'data.json': 'application/json; charset=utf-8',
    'logo.svg': 'image/svg+xml; charset=utf-8',
    'pixel.png': 'image/png',
    'font.woff2': 'font/woff2',
    'blob.unknownext': 'application/octet-stream',
    'UPPER.TXT': 'text/plain; charset=utf-8',
    'big.bin': 'application/octet-stream',
    'docs/': 'text/html; charset=utf-8',
  };
  for (const [name, type] of Object.entries(expected)) {
    const res = await get(`${base}/static/${name}`);
    assert.equal(res.status, 200, name);
    assert.equal(res.headers.get('content-type'), type, name);
  }
  assert.equal(contentTypeFor('no-extension'), 'application/octet-stream');
  assert.equal(contentTypeFor('dir.d/file'), 'application/octet-stream');
  assert.equal(contentTypeFor('.env'), 'application/octet-stream');
  assert.equal(contentTypeFor('a.MP4'), 'video/mp4');
});

test('binary files and files at the whole/stream boundary come back byte for byte', async (t) => {
  const { base } = await routeServer(t);
  const png = await get(`${base}/static/pixel.png`);
  assert.deepEqual([...png.body], [0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]);
  for (const [name, size, seed] of [
    ['exact-64k.bin', 64 * 1024, 2],
    ['just-over-64k.bin', 64 * 1024 + 1, 3],
  ] as const) {
    const res = await get(`${base}/static/${name}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.length, size);
    assert.equal(sha(res.body), sha(pattern(size, seed)), name);
  }
});

test('an empty file is a 200 with content-length 0', async (t) => {
  const { base } = await routeServer(t);
  const res = await curl([`${base}/static/empty.txt`]);
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-length'], '0');
  assert.equal(res.body.length, 0);
});

test('percent-encoded names (spaces, UTF-8) are served; the router decodes the tail param', async (t) => {
  const { base } = await routeServer(t);
  const res = await get(`${base}/static/sub%20dir/caf%C3%A9.txt`);
  assert.equal(res.status, 200);
  assert.equal(res.text, 'unicode name');
});

test('a 2 MiB file streams whole, with content-length framing, over fetch, curl and HTTP/1.0', async (t) => {
  const { base, port } = await routeServer(t);
  const viaFetch = await get(`${base}/static/big.bin`);
  assert.equal(viaFetch.status, 200);
  assert.equal(viaFetch.body.length, BIG_SIZE);
  assert.equal(sha(viaFetch.body), sha(big));

  const viaCurl = await curl([`${base}/static/big.bin`]);
  assert.equal(viaCurl.status, 200);
  assert.equal(viaCurl.body.length, BIG_SIZE);
  assert.equal(sha(viaCurl.body), sha(big));
  // Framed by its length rather than chunked (needs the engine's declared-length streams).
  assert.equal(viaCurl.framing, 'content-length');
  assert.equal(viaCurl.headers['content-length'], String(BIG_SIZE));
  assert.equal(viaCurl.headers['transfer-encoding'], undefined);
  assertWellFramed(viaCurl, 'big file');

  const http10 = await curl(['--http1.0', `${base}/static/big.bin`]);
  assert.equal(http10.status, 200);
  assert.equal(sha(http10.body), sha(big));
  await assertServing(port, '/__alive');
});

test('keep-alive: pipelined file responses (streamed, 206, 304, small) stay in step', async (t) => {
  const { port } = await routeServer(t);
  const etag = (await get(`http://127.0.0.1:${port}/static/hello.txt`)).headers.get('etag')!;
  const host = 'Host: x\r\n';
  const responses = await raw(
    port,
    `GET /static/big.bin HTTP/1.1\r\n${host}\r\n` +
      `GET /static/big.bin HTTP/1.1\r\n${host}Range: bytes=100-200099\r\n\r\n` +
      `GET /static/hello.txt HTTP/1.1\r\n${host}If-None-Match: ${etag}\r\n\r\n` +
      `HEAD /static/big.bin HTTP/1.1\r\n${host}\r\n` +
      `GET /static/hello.txt HTTP/1.1\r\n${host}\r\n`,
    5,
    (index) => index === 3,
  );
  assert.deepEqual(
    responses.map((r) => r.status),
    [200, 206, 304, 200, 200],
  );
  assert.equal(sha(responses[0]!.body), sha(big));
  assert.equal(sha(responses[1]!.body), sha(big.subarray(100, 200100)));
  assert.equal(responses[2]!.body.length, 0);
  assert.equal(responses[3]!.headers['content-length'], String(BIG_SIZE));
  assert.equal(responses[3]!.body.length, 0);
  assert.equal(responses[4]!.text(), HELLO);
  for (const res of responses) assertWellFramed(res);
});

test('inject(): small files, streamed files and ranges without a socket', async () => {
  const server = new Server();
  server.get('/static/{path:^.*$}', serveStatic(root));
  const small = await server.inject({ path: '/static/hello.txt' });
  assert.equal(small.status, 200);
  assert.equal(small.text(), HELLO);
  const large = await server.inject({ path: '/static/big.bin' });
  assert.equal(large.status, 200);
  assert.equal(sha(large.body), sha(big));
  const part = await server.inject({
    path: '/static/big.bin',
    headers: { range: 'bytes=5-70004' },
  });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 5-70004/${BIG_SIZE}`);
  assert.equal(sha(part.body), sha(big.subarray(5, 70005)));
});

// ---- conditional requests -------------------------------------------------------------------

test('If-None-Match → 304 (exact, weak-compared, in a list, *); a different tag → 200', async (t) => {
  const { base } = await routeServer(t);
  const first = await get(`${base}/static/hello.txt`);
  const etag = first.headers.get('etag')!;
  const weakForm = `W/${etag}`;
  for (const value of [etag, weakForm, `"nope", ${etag}`, '*']) {
    const res = await curl(['-H', `If-None-Match: ${value}`, `${base}/static/hello.txt`]);
    assert.equal(res.status, 304, value);
    assert.equal(res.body.length, 0);
    assert.equal(res.headers['etag'], etag);
    assert.equal(res.headers['cache-control'], 'public, max-age=0');
    assert.equal(res.headers['content-length'], undefined);
    assertWellFramed(res, value);
  }
  const miss = await get(`${base}/static/hello.txt`, { headers: { 'if-none-match': '"other"' } });
  assert.equal(miss.status, 200);
  assert.equal(miss.text, HELLO);
  // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
  const both = await get(`${base}/static/hello.txt`, {
    headers: { 'if-none-match': '"other"', 'if-modified-since': MTIME.toUTCString() },
  });
  assert.equal(both.status, 200);
});

test('If-Modified-Since → 304 at or after Last-Modified, 200 before it or when unparsable', async (t) => {
  const { base } = await routeServer(t);
  const url = `${base}/static/hello.txt`;
  const same = await get(url, { headers: { 'if-modified-since': MTIME.toUTCString() } });
  assert.equal(same.status, 304);
  const later = new Date(MTIME.getTime() + 3600_000).toUTCString();
  assert.equal((await get(url, { headers: { 'if-modified-since': later } })).status, 304);
  const earlier = new Date(MTIME.getTime() - 1000).toUTCString();
  const old = await get(url, { headers: { 'if-modified-since': earlier } });
  assert.equal(old.status, 200);
  assert.equal(old.text, HELLO);
  const junk = await get(url, { headers: { 'if-modified-since': 'not a date' } });
  assert.equal(junk.status, 200);
});

test('304 for a large file and for HEAD; conditional requests via curl -z', async (t) => {
  const { base } = await routeServer(t);
  const etag = (await get(`${base}/static/big.bin`, { method: 'HEAD' })).headers.get('etag')!;
  const big304 = await curl(['-H', `If-None-Match: ${etag}`, `${base}/static/big.bin`]);
  assert.equal(big304.status, 304);
  assert.equal(big304.body.length, 0);
  const head304 = await curl(['-I', '-H', `If-None-Match: ${etag}`, `${base}/static/big.bin`], {
    isHead: true,
  });
  assert.equal(head304.status, 304);
  const z = await curl(['-z', MTIME.toUTCString(), `${base}/static/hello.txt`]);
  assert.equal(z.status, 304);
});

// ---- ranges ---------------------------------------------------------------------------------

test('Range: a-b, a-, -n, clamped ends → 206 with exact bytes and Content-Range', async (t) => {
  const { base } = await routeServer(t);
  const size = Buffer.byteLength(HELLO);
  const cases: Array<[string, number, number]> = [
    ['0-4', 0, 4],
    ['7-', 7, size - 1],
    ['-6', size - 6, size - 1],
    ['3-3', 3, 3],
    [`5-${size + 100}`, 5, size - 1],
    [`-${size + 50}`, 0, size - 1],
  ];
  for (const [spec, first, last] of cases) {
    const res = await curl(['-r', spec, `${base}/static/hello.txt`]);
    assert.equal(res.status, 206, spec);
    assert.equal(res.text(), HELLO.slice(first, last + 1), spec);
    assert.equal(res.headers['content-range'], `bytes ${first}-${last}/${size}`, spec);
    assert.equal(res.headers['content-length'], String(last - first + 1), spec);
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    assertWellFramed(res, spec);
  }
});

test('Range on the 2 MiB file: streamed spans are exact', async (t) => {
  const { base } = await routeServer(t);
  const cases: Array<[string, number, number]> = [
    ['1000000-1100000', 1000000, 1100000],
    ['0-65535', 0, 65535],
    ['-100000', BIG_SIZE - 100000, BIG_SIZE - 1],
    [`${MIB}-`, MIB, BIG_SIZE - 1],
  ];
  for (const [spec, first, last] of cases) {
    const res = await curl(['-r', spec, `${base}/static/big.bin`]);
    assert.equal(res.status, 206, spec);
    assert.equal(res.body.length, last - first + 1, spec);
    assert.equal(sha(res.body), sha(big.subarray(first, last + 1)), spec);
    assert.equal(res.headers['content-range'], `bytes ${first}-${last}/${BIG_SIZE}`);
    assert.equal(res.headers['content-length'], String(last - first + 1));
  }
  const viaFetch = await get(`${base}/static/big.bin`, { headers: { range: 'bytes=12345-99999' } });
  assert.equal(viaFetch.status, 206);
  assert.equal(sha(viaFetch.body), sha(big.subarray(12345, 100000)));
});

test('unsatisfiable ranges → 416 with Content-Range: bytes */size; the server keeps serving', async (t) => {
  const { base, port } = await routeServer(t);
  const size = Buffer.byteLength(HELLO);
  for (const spec of [`${size}-`, `${size + 10}-${size + 20}`, '-0', '99999999999999999999-']) {
    const res = await curl(['-H', `Range: bytes=${spec}`, `${base}/static/hello.txt`]);
    assert.equal(res.status, 416, spec);
    assert.equal(res.headers['content-range'], `bytes */${size}`, spec);
    assert.equal(res.body.length, 0);
    assertWellFramed(res, spec);
    await assertServing(port, '/__alive');
  }
  const empty = await curl(['-H', 'Range: bytes=0-', `${base}/static/empty.txt`]);
  assert.equal(empty.status, 416);
  assert.equal(empty.headers['content-range'], 'bytes */0');
});

test('multiple, malformed or non-byte ranges are ignored: the whole file with 200', async (t) => {
  const { base, port } = await routeServer(t);
  for (const value of [
    'bytes=0-1,3-4', // several ranges: not served as multipart/byteranges
    'bytes=0-1, 5-',
    'bytes=5-3', // last < first: invalid, so ignored
    'bytes=abc',
    'bytes=-',
    'bytes=1-2-3',
    'items=0-1',
    'bytes 0-1',
    '',
  ]) {
    const res = await curl(['-H', `Range: ${value}`, `${base}/static/hello.txt`]);
    assert.equal(res.status, 200, value);
    assert.equal(res.text(), HELLO, value);
    assert.equal(res.headers['content-range'], undefined, value);
  }
  await assertServing(port, '/__alive');
});

test('If-Range: matching ETag or date → 206; stale validator → whole file 200', async (t) => {
  const { base } = await routeServer(t);
  const url = `${base}/static/hello.txt`;
  const etag = (await get(url)).headers.get('etag')!;
  const withTag = await curl(['-r', '0-4', '-H', `If-Range: ${etag}`, url]);
  assert.equal(withTag.status, 206);
  assert.equal(withTag.text(), HELLO.slice(0, 5));
  const withDate = await curl(['-r', '0-4', '-H', `If-Range: ${MTIME.toUTCString()}`, url]);
  assert.equal(withDate.status, 206);
  const staleTag = await curl(['-r', '0-4', '-H', 'If-Range: "stale"', url]);
  assert.equal(staleTag.status, 200);
  assert.equal(staleTag.text(), HELLO);
  const staleDate = new Date(MTIME.getTime() - 60_000).toUTCString();
  const old = await curl(['-r', '0-4', '-H', `If-Range: ${staleDate}`, url]);
  assert.equal(old.status, 200);
  assert.equal(old.text(), HELLO);
  // A stale If-Range on an unsatisfiable range: the whole file, not a 416.
  const staleBeyond = await curl(['-r', '999-', '-H', 'If-Range: "stale"', url]);
  assert.equal(staleBeyond.status, 200);
  // Strong comparison (RFC 9110 §13.1.5): our tag made weak never matches, so the whole file.
  const weakTag = await curl(['-r', '0-4', '-H', `If-Range: W/${etag}`, url]);
  assert.equal(weakTag.status, 200);
  assert.equal(weakTag.text(), HELLO);
});

test('the ETag changes when a file is replaced by one of the same size and mtime', async (t) => {
  const { base } = await routeServer(t);
  const dir = join(root, 'swap');
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'v.txt');
  await writeFile(file, 'version-1');
  await utimes(file, MTIME, MTIME);
  const first = await get(`${base}/static/swap/v.txt`);
  // A deploy that keeps sizes and timestamps (reproducible builds) still changes the tag.
  await writeFile(join(dir, 'next.txt'), 'version-2');
  await utimes(join(dir, 'next.txt'), MTIME, MTIME);
  await rm(file);
  await rename(join(dir, 'next.txt'), file);
  const second = await get(`${base}/static/swap/v.txt`);
  assert.equal(second.text, 'version-2');
  assert.equal(second.headers.get('last-modified'), first.headers.get('last-modified'));
  assert.notEqual(second.headers.get('etag'), first.headers.get('etag'));
  const resumed = await curl([
    '-r',
    '0-4',
    '-H',
    `If-Range: ${first.headers.get('etag')}`,
    `${base}/static/swap/v.txt`,
  ]);
  assert.equal(resumed.status, 200, 'no bytes of the new file spliced onto the old one');
  t.after(() => rm(dir, { recursive: true, force: true }));
});

// ---- HEAD -----------------------------------------------------------------------------------

test('HEAD: the GET headers (content-length = file size) and no body, small and large', async (t) => {
  const { base, port } = await routeServer(t);
  for (const [name, size] of [
    ['hello.txt', Buffer.byteLength(HELLO)],
    ['big.bin', BIG_SIZE],
    ['empty.txt', 0],
  ] as const) {
    const res = await curl(['-I', `${base}/static/${name}`], { isHead: true });
    assert.equal(res.status, 200, name);
    assert.equal(res.headers['content-length'], String(size), name);
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.ok(res.headers['etag'] !== undefined);
  }
  // On one connection: had HEAD leaked body bytes, the following GET would not parse.
  const [head, next] = await raw(
    port,
    'HEAD /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /static/hello.txt HTTP/1.1\r\nHost: x\r\n\r\n',
    2,
    (index) => index === 0,
  );
  assert.equal(head!.status, 200);
  assert.equal(head!.headers['content-length'], String(BIG_SIZE));
  assert.equal(next!.text(), HELLO);
  // Range is ignored on HEAD.
  const ranged = await curl(['-I', '-r', '0-1', `${base}/static/hello.txt`], { isHead: true });
  assert.equal(ranged.status, 200);
});

// ---- directories and index files ------------------------------------------------------------

test('index files: dir/ serves index.html; dir without slash → 301 keeping the query', async (t) => {
  const { base } = await routeServer(t);
  const index = await get(`${base}/static/docs/`);
  assert.equal(index.status, 200);
  assert.equal(index.text, '<h1>docs index</h1>');
  assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
  const redirect = await get(`${base}/static/docs?v=1`, { redirect: 'manual' });
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.get('location'), '/static/docs/?v=1');
  const followed = await get(`${base}/static/docs`);
  assert.equal(followed.status, 200);
  assert.equal(followed.text, '<h1>docs index</h1>');
  // A directory without an index file is not found; the root of the mount too (no index).
  assert.equal((await get(`${base}/static/empty-dir/`)).status, 404);
  assert.equal((await get(`${base}/static/empty-dir`, { redirect: 'manual' })).status, 404);
  assert.equal((await get(`${base}/static/`)).status, 404);
  // A file with a trailing slash is not a directory.
  assert.equal((await get(`${base}/static/hello.txt/`)).status, 404);
});

test('index option: custom names, a list tried in order, or false', async (t) => {
  const custom = await routeServer(t, { index: ['missing.html', 'guide.txt'] });
  const res = await get(`${custom.base}/static/docs/`);
  assert.equal(res.status, 200);
  assert.equal(res.text, 'guide');
  assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
  const none = await routeServer(t, { index: false });
  assert.equal((await get(`${none.base}/static/docs/`)).status, 404);
  assert.equal((await get(`${none.base}/static/docs`, { redirect: 'manual' })).status, 404);
});

// ---- methods --------------------------------------------------------------------------------

test('as a route handler, methods other than GET/HEAD → 405 with Allow: GET, HEAD', async (t) => {
  const { base } = await routeServer(t);
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    const res = await get(`${base}/any/hello.txt`, { method });
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
  }
  assert.equal((await get(`${base}/any/hello.txt`)).text, HELLO);
});

// ---- path traversal and hostile input -------------------------------------------------------

test('traversal with .. (raw and percent-encoded) → 403, never the file outside the root', async (t) => {
  const { base, port } = await routeServer(t);
  const attempts = [
    '/static/../outside-secret.txt',
    '/static/../../outside-secret.txt',
    '/static/docs/../../outside-secret.txt',
    '/static/%2e%2e/outside-secret.txt',
    '/static/%2E%2E/outside-secret.txt',
    '/static/.%2e/outside-secret.txt',
    '/static/%2e%2e%2foutside-secret.txt',
    '/static/docs%2f..%2f..%2foutside-secret.txt',
    '/static/..%5coutside-secret.txt',
    '/static/docs%5c..%5c..%5coutside-secret.txt',
    '/static/hello.txt%00.png',
    '/static/./hello.txt',
    '/static/%2e/hello.txt',
  ];
  for (const target of attempts) {
    const res = await curl(['--path-as-is', `${base}${target}`]);
    assert.ok(!res.text().includes(SECRET), `${target} leaked the secret`);
    assert.equal(res.status, 403, target);
    await assertServing(port, '/__alive');
  }
});

test('raw NUL bytes and backslashes in the request line are refused; the server keeps serving', async (t) => {
  const { port } = await routeServer(t);
  const host = ' HTTP/1.1\r\nHost: x\r\n\r\n';
  const attempts: Array<[string | Buffer, number]> = [
    // The request parser itself refuses a raw NUL in the target.
    [
      Buffer.concat([
        Buffer.from('GET /static/hello.txt'),
        Buffer.from([0]),
        Buffer.from(`.png${host}`),
      ]),
      400,
    ],
    [`GET /static/..\\outside-secret.txt${host}`, 403],
    [`GET /static/docs\\..\\..\\outside-secret.txt${host}`, 403],
    [`GET /static/\\hello.txt${host}`, 403],
    [`GET /static/..%2F..%2Foutside-secret.txt${host}`, 403],
    // Decoded once only: `%2e` stays literal text, a name that does not exist.
    [`GET /static/%252e%252e/outside-secret.txt${host}`, 404],
  ];
  for (const [bytes, status] of attempts) {
    const [res] = await raw(port, bytes);
    const label = JSON.stringify(bytes.toString());
    assert.ok(res !== undefined, `${label}: a response`);
    assert.ok(!res.text().includes(SECRET), `${label} leaked the secret`);
    assert.equal(res.status, status, label);
    await assertServing(port, '/__alive');
  }
});

test('symlinks that resolve outside the root → 404; symlinks inside it are served', async (t) => {
  const { base, port } = await routeServer(t);
  for (const target of ['/static/escape-link.txt', '/static/escape-dir/outside-secret.txt']) {
    const res = await get(`${base}${target}`);
    assert.equal(res.status, 404, target);
    assert.ok(!res.text.includes(SECRET));
    await assertServing(port, '/__alive');
  }
  const inner = await get(`${base}/static/inner-link.txt`);
  assert.equal(inner.status, 200);
  assert.equal(inner.text, HELLO);
});

test("dotfiles: 'ignore' (default) → 404, 'deny' → 403, 'allow' → served", async (t) => {
  const ignore = await routeServer(t);
  const deny = await routeServer(t, { dotfiles: 'deny' });
  const allow = await routeServer(t, { dotfiles: 'allow' });
  for (const target of ['/static/.env', '/static/.hidden/inside.txt', '/static/%2eenv']) {
    assert.equal((await get(`${ignore.base}${target}`)).status, 404, target);
    assert.equal((await get(`${deny.base}${target}`)).status, 403, target);
    assert.equal((await get(`${allow.base}${target}`)).status, 200, target);
  }
  assert.equal((await get(`${allow.base}/static/.env`)).text, 'SECRET=dotfile');
  // Traversal stays forbidden whatever the dotfile policy.
  const up = await curl(['--path-as-is', `${allow.base}/static/../outside-secret.txt`]);
  assert.equal(up.status, 403);
  await assertServing(ignore.port, '/__alive');
});

test('missing files → 404 JSON as a route; a root that does not exist yet is just empty', async (t) => {
  const { base } = await routeServer(t);
  const res = await get(`${base}/static/nope.txt`);
  assert.equal(res.status, 404);
  assert.deepEqual(JSON.parse(res.text), { error: 'Not Found', message: 'file not found' });
  const missingRoot = await serve(t, (server) => {
    server.get('/s/{path:^.*$}', serveStatic(join(tmp, 'not-there')));
  });
  assert.equal((await get(`${missingRoot.base}/s/hello.txt`)).status, 404);
});

// ---- options --------------------------------------------------------------------------------

test('maxAge and immutable shape Cache-Control; etag / lastModified can be turned off', async (t) => {
  const cached = await routeServer(t, { maxAge: 31536000, immutable: true });
  const res = await get(`${cached.base}/static/hello.txt`);
  assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');

  const bare = await routeServer(t, { etag: false, lastModified: false });
  const plain = await get(`${bare.base}/static/hello.txt`, {
    headers: { 'if-modified-since': new Date().toUTCString() },
  });
  assert.equal(plain.status, 200, 'If-Modified-Since ignored without Last-Modified');
  assert.equal(plain.headers.get('etag'), null);
  assert.equal(plain.headers.get('last-modified'), null);
  const star = await get(`${bare.base}/static/hello.txt`, { headers: { 'if-none-match': '*' } });
  assert.equal(star.status, 304);
});

test('bad options throw HL_ERR_CONFIG naming the option', () => {
  const bad: Array<[unknown, unknown, RegExp]> = [
    ['', {}, /root/],
    [42, {}, /root/],
    [root, { maxAge: -1 }, /maxAge/],
    [root, { maxAge: 1.5 }, /maxAge/],
    [root, { maxAge: '60' }, /maxAge/],
    [root, { dotfiles: 'hide' }, /dotfiles/],
    [root, { etag: 'yes' }, /etag/],
    [root, { immutable: 1 }, /immutable/],
    [root, { lastModified: null }, /lastModified/],
    [root, { index: '../x.html' }, /index/],
    [root, { index: [''] }, /index/],
    [root, { index: 7 }, /index/],
    [root, { mode: 'proxy' }, /mode/],
    [root, { prefix: 'static' }, /prefix/],
    [root, { prefix: '/static/../x' }, /prefix/],
    [root, { prefix: '/a//b' }, /prefix/],
    [root, { prefix: '/a%2Fb' }, /prefix/],
    [root, { prefix: 7 }, /prefix/],
    [root, { prefix: '/static', mode: 'route' }, /prefix/],
    [root, { maxage: 10 }, /maxage/],
  ];
  for (const [r, options, message] of bad) {
    assert.throws(
      () => serveStatic(r as string, options as ServeStaticOptions),
      (error: unknown) =>
        error instanceof HyperlaneError &&
        error.code === 'HL_ERR_CONFIG' &&
        message.test(error.message),
      JSON.stringify(options),
    );
  }
});

// ---- as request middleware ------------------------------------------------------------------

test('as request middleware: serves the request path; no file → the chain goes on', async (t) => {
  const { base, port, ran } = await middlewareServer(t);
  const file = await get(`${base}/page.html`);
  assert.equal(file.status, 200);
  assert.equal(file.text, '<!doctype html><p>page</p>');
  // A served file answers: the route registered for the same path does not run over it.
  const shadowed = await get(`${base}/hello.txt`);
  assert.equal(shadowed.text, HELLO);
  assert.deepEqual(ran, []);
  const ping = await get(`${base}/api/ping`);
  assert.equal(ping.text, 'pong');
  assert.deepEqual(ran, ['/api/ping']);
  const missing = await get(`${base}/nothing-here.txt`);
  assert.equal(missing.status, 404);
  assert.match(missing.text, /no route for GET/); // the framework's own 404, not ours
  // Other methods pass through: POST /page.html reaches its route.
  const posted = await get(`${base}/page.html`, { method: 'POST' });
  assert.equal(posted.text, 'posted');
  // A path routed for POST only still serves the file to GET, without the router's Allow.
  const viaGet = await get(`${base}/page.html`);
  assert.equal(viaGet.headers.get('allow'), null);
  const big = await get(`${base}/big.bin`);
  assert.equal(sha(big.body), sha(pattern(BIG_SIZE, 1)));
  const range = await curl(['-r', '10-19', `${base}/hello.txt`]);
  assert.equal(range.status, 206);
  assert.equal(range.text(), HELLO.slice(10, 20));
  await assertServing(port, '/__alive');
});

test('as request middleware: directories redirect with a slash; hostile paths pass on untouched', async (t) => {
  const { base, port } = await middlewareServer(t);
  const redirect = await get(`${base}/docs?x=1`, { redirect: 'manual' });
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.get('location'), '/docs/?x=1');
  // Leading slashes collapse: `//docs` must not redirect to the host "docs".
  const doubled = await curl(['--path-as-is', `${base}//docs`]);
  assert.equal(doubled.status, 301);
  assert.equal(doubled.headers['location'], '/docs/');
  assert.equal((await get(`${base}/docs/`)).text, '<h1>docs index</h1>');

  // Not a file: the framework's own 404 (no route), with none of serveStatic's headers.
  for (const target of [
    '/bad%zzescape.txt',
    '/../outside-secret.txt',
    '/%2e%2e/outside-secret.txt',
    '/docs/%2e%2e/%2e%2e/outside-secret.txt',
    '/..%5Coutside-secret.txt',
    '/hello.txt%00',
    '/escape-link.txt',
    '/.env',
    '/empty-dir',
  ]) {
    const res = await curl(['--path-as-is', `${base}${target}`]);
    assert.ok(!res.text().includes(SECRET), `${target} leaked the secret`);
    assert.ok(!res.text().includes('SECRET=dotfile'), `${target} leaked a dotfile`);
    assert.ok(res.status === 404 || res.status === 400, `${target}: ${res.status}`);
    assert.doesNotMatch(res.text(), /path not allowed|file not found|percent-encoding/, target);
    for (const header of ['etag', 'last-modified', 'cache-control', 'accept-ranges']) {
      assert.equal(res.headers[header], undefined, `${target}: ${header}`);
    }
    await assertServing(port, '/__alive');
  }
});

test('as request middleware, hostile-looking paths reach the app routes (dotfiles deny too)', async (t) => {
  const { base, port } = await serve(t, (server) => {
    server.requestMiddleware(serveStatic(root, { mode: 'middleware', dotfiles: 'deny' }));
    alive(server);
    server.get('/search/{q}', (ctx) => {
      ctx.setResponseBody(`results for ${ctx.getRouteParam('q')}`);
    });
    server.get('/.well-known/openid-configuration', (ctx) => {
      ctx.setResponseBodyJson({ issuer: 'x' });
    });
    server.get('/files/{name}', (ctx) => {
      ctx.setResponseBody(`file route ${ctx.getRouteParam('name')}`);
    });
  });
  const cases: Array<[string, number, string]> = [
    ['/search/C%5C%5C', 200, 'results for C\\\\'],
    ['/search/..', 200, 'results for ..'],
    ['/search/%2e%2e', 200, 'results for ..'],
    ['/.well-known/openid-configuration', 200, '{"issuer":"x"}'],
    ['/files/.env', 200, 'file route .env'],
  ];
  for (const [target, status, body] of cases) {
    const res = await curl(['--path-as-is', `${base}${target}`]);
    assert.equal(res.status, status, target);
    assert.equal(res.text(), body, target);
    assert.equal(res.headers['etag'], undefined, target);
    await assertServing(port, '/__alive');
  }
  // A real dotfile under the root is still never served.
  const dot = await get(`${base}/.env`);
  assert.equal(dot.status, 404);
  assert.ok(!dot.text.includes('SECRET=dotfile'));
  // Raw bytes a client could send: backslash traversal is not served and the app keeps going.
  const [res] = await raw(port, 'GET /..\\outside-secret.txt HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.ok(res !== undefined && !res.text().includes(SECRET));
  assert.equal(res.status, 404);
  await assertServing(port, '/__alive');
});

test("mode 'auto' as request middleware leaves param routes alone (no 404/405, no file headers)", async (t) => {
  const { base, port } = await serve(t, (server) => {
    server.requestMiddleware(serveStatic(root)); // default mode: 'auto'
    alive(server);
    server.get('/users/{id}', (ctx) => {
      ctx.setResponseBody(`user ${ctx.getRouteParam('id')}`);
    });
    server.post('/users/{id}', (ctx) => {
      ctx.setResponseBody(`updated ${ctx.getRouteParam('id')}`);
    });
    server.get('/wiki/{page:[a-z.]+}/raw', (ctx) => {
      ctx.setResponseBody(`raw ${ctx.getRouteParam('page')}`);
    });
  });
  const user = await get(`${base}/users/42`);
  assert.equal(user.status, 200);
  assert.equal(user.text, 'user 42');
  const updated = await get(`${base}/users/42`, { method: 'POST' });
  assert.equal(updated.status, 200);
  assert.equal(updated.text, 'updated 42');
  assert.equal(updated.headers.get('allow'), null);
  // The param names a file under the root: still the route, with no file headers.
  const named = await get(`${base}/users/hello.txt`);
  assert.equal(named.text, 'user hello.txt');
  for (const header of ['etag', 'last-modified', 'cache-control', 'accept-ranges']) {
    assert.equal(named.headers.get(header), null, header);
  }
  assert.equal((await get(`${base}/wiki/page.html/raw`)).text, 'raw page.html');
  // Files at the request path are still served, in front of the routes.
  assert.equal((await get(`${base}/hello.txt`)).text, HELLO);
  const raw404 = await raw(port, 'GET /users HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(raw404[0]?.status, 404);
  assert.match(raw404[0]?.text() ?? '', /no route for GET/);
  await assertServing(port, '/__alive');
});

test('auto mode is a route only on a regex tail param; endsWithRegexParam reads patterns', async (t) => {
  for (const pattern of [
    '/static/{path:^.*$}',
    '/{p:.*}',
    '/a/{x}/{rest:.+}',
    '/s/{p:[}]+}',
    '/s/{p:\\}}',
    '/s/{p:a{1,3}}',
    '/s/{p:(?:[a-z]/)*[a-z]+}',
  ]) {
    assert.equal(endsWithRegexParam(pattern), true, pattern);
  }
  for (const pattern of [
    '/',
    '/static',
    '/users/{id}',
    '/{p:.*}/tail',
    '/a/{x:\\d+}/{y}',
    '/s/{p:a{1,3}}/x',
    '/s/{p:[}/]+}/x',
  ]) {
    assert.equal(endsWithRegexParam(pattern), false, pattern);
  }
  // A route with a plain last param and serveStatic as its handler serves the request path.
  const { base } = await serve(t, (server) => {
    server.get('/docs/{name}', serveStatic(root));
    server.get('/tail/{path:^.*$}', serveStatic(root));
  });
  assert.equal((await get(`${base}/docs/guide.txt`)).text, 'guide');
  assert.equal((await get(`${base}/tail/docs/guide.txt`)).text, 'guide');
  const missing = await get(`${base}/tail/nope.txt`);
  assert.deepEqual(JSON.parse(missing.text), { error: 'Not Found', message: 'file not found' });
});

test('prefix: only paths below it are looked up, mapped below the root', async (t) => {
  const { base, port } = await serve(t, (server) => {
    server.requestMiddleware(serveStatic(root, { prefix: '/assets' }));
    alive(server);
    server.get('/hello.txt', (ctx) => {
      ctx.setResponseBody('route, not file');
    });
    server.get('/assets/{name}', (ctx) => {
      ctx.setResponseBody(`no such asset ${ctx.getRouteParam('name')}`);
    });
    server.get('/assetsX/hello.txt', (ctx) => {
      ctx.setResponseBody('sibling route');
    });
  });
  assert.equal((await get(`${base}/assets/hello.txt`)).text, HELLO);
  assert.equal((await get(`${base}/assets/docs/guide.txt`)).text, 'guide');
  assert.equal((await get(`${base}/assets/sub%20dir/caf%C3%A9.txt`)).text, 'unicode name');
  // Outside the prefix: not served, even though root/hello.txt exists.
  assert.equal((await get(`${base}/hello.txt`)).text, 'route, not file');
  assert.equal((await get(`${base}/assetsX/hello.txt`)).text, 'sibling route');
  assert.equal((await get(`${base}/assets/missing.txt`)).text, 'no such asset missing.txt');
  // A directory below the prefix is redirected to its slash form, keeping the prefix.
  const dir = await get(`${base}/assets/docs`, { redirect: 'manual' });
  assert.equal(dir.status, 301);
  assert.equal(dir.headers.get('location'), '/assets/docs/');
  assert.equal((await get(`${base}/assets/docs/`)).text, '<h1>docs index</h1>');
  // The prefix alone is the root, which has no index file: it passes on.
  assert.equal((await get(`${base}/assets`)).status, 404);
  const escape = await curl(['--path-as-is', `${base}/assets/../outside-secret.txt`]);
  assert.ok(!escape.text().includes(SECRET));
  await assertServing(port, '/__alive');
});

test('prefix: requests outside it make no file-system call at all', async (t) => {
  const { base } = await serve(t, (server) => {
    server.requestMiddleware(serveStatic(root, { prefix: '/static/' }));
    server.get('/api/users/{id}', (ctx) => void ctx.setResponseBody(ctx.getRouteParam('id')!));
  });
  // Count the calls serveStatic makes, through Node's own module (no stand-in for our code).
  const calls: string[] = [];
  const original = { realpath: fsp.realpath, stat: fsp.stat, open: fsp.open };
  const restore = () => {
    Object.assign(fsp, original);
    syncBuiltinESMExports();
  };
  t.after(restore);
  Object.assign(fsp, {
    realpath: (...args: Parameters<typeof fsp.realpath>) => {
      calls.push(`realpath ${String(args[0])}`);
      return original.realpath(...args);
    },
    stat: (...args: Parameters<typeof fsp.stat>) => {
      calls.push(`stat ${String(args[0])}`);
      return original.stat(...args);
    },
  });
  syncBuiltinESMExports();
  for (const path of ['/api/users/1', '/hello.txt', '/staticX/hello.txt', '/api/users/..%2f..']) {
    await get(`${base}${path}`);
  }
  assert.deepEqual(calls, []);
  assert.equal((await get(`${base}/static/hello.txt`)).text, HELLO);
  assert.ok(calls.length > 0, 'the counter does see serveStatic lookups');
  // `prefix: '/'` is no prefix at all.
  assert.doesNotThrow(() => serveStatic(root, { prefix: '/', mode: 'route' }));
  restore();
});
test("mode: 'middleware' keeps param routes working behind request middleware", async (t) => {
  const { base } = await serve(t, (server) => {
    server.requestMiddleware(serveStatic(root, { mode: 'middleware' }));
    server.get('/users/{id}', (ctx) => {
      ctx.setResponseBody(`user ${ctx.getRouteParam('id')}`);
    });
  });
  assert.equal((await get(`${base}/users/42`)).text, 'user 42');
  assert.equal((await get(`${base}/hello.txt`)).text, HELLO);
  // And 'route' mode answers 404 itself even on a route without params.
  const routed = await serve(t, (server) => {
    server.get('/favicon.ico', serveStatic(root, { mode: 'route' }));
  });
  const res = await get(`${routed.base}/favicon.ico`);
  assert.equal(res.status, 404);
  assert.deepEqual(JSON.parse(res.text), { error: 'Not Found', message: 'file not found' });
});

// ---- large files: backpressure, slow and vanishing clients ----------------------------------

test('a paused reader of a large file: the server waits on it and keeps serving others', async (t) => {
  const progress = { chunks: 0, bytes: 0 };
  const { base, port } = await serve(t, (server) => {
    // Counts what serveStatic hands to sendBody(): the real method still does the work.
    server.requestMiddleware((ctx: Context) => {
      if (ctx.getRequestPath() !== '/static/huge.bin') return;
      const sendBody = ctx.sendBody;
      ctx.sendBody = function (this: Context): Promise<void> {
        progress.chunks++;
        progress.bytes += this.getResponseBody().length;
        return sendBody.call(this);
      };
    });
    alive(server);
    server.get('/progress', (ctx) => {
      ctx.setResponseBodyJson(progress);
    });
    server.get('/static/{path:^.*$}', serveStatic(root));
  });
  const slow = await RawConnection.connect(port);
  t.after(() => slow.destroy());
  await slow.write('GET /static/huge.bin HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.ok(await slow.waitUntil(() => slow.receivedLength > 0, 5000), 'the stream started');
  slow.socket.pause();

  // Wait until the server stops sending: each chunk waits for the socket to drain.
  let last = -1;
  let stableFor = 0;
  const settled = await eventually(
    async () => {
      const seen = (await get(`${base}/progress`)).body.toString();
      const { bytes } = JSON.parse(seen) as typeof progress;
      stableFor = bytes === last ? stableFor + 1 : 0;
      last = bytes;
      return stableFor >= 10;
    },
    20_000,
    50,
  );
  assert.ok(settled, 'the server stopped writing while the client does not read');
  assert.ok(progress.chunks > 0);
  // Kernel buffers on both ends hold a few MiB at most; the rest waits on the disk.
  assert.ok(
    progress.bytes < HUGE_SIZE / 2,
    `only part of the file was handed to the socket (${progress.bytes} of ${HUGE_SIZE} bytes)`,
  );
  // Meanwhile, other clients are served: a small file and a range of the big one.
  assert.equal((await get(`${base}/static/hello.txt`)).text, HELLO);
  const part = await get(`${base}/static/big.bin`, { headers: { range: 'bytes=0-999' } });
  assert.equal(sha(part.body), sha(big.subarray(0, 1000)));

  slow.socket.resume();
  // Compare lengths while waiting (parsing the growing buffer on every read is quadratic).
  const headLength = slow.received.indexOf('\r\n\r\n') + 4;
  assert.ok(headLength > 4, 'the head arrived before the pause');
  const done = await slow.waitUntil(() => slow.receivedLength >= headLength + HUGE_SIZE, 30_000);
  assert.ok(done, 'the paused download completes once the client reads again');
  const [res] = parseResponses(slow.received).responses;
  assert.equal(res!.status, 200);
  assert.equal(res!.body.length, HUGE_SIZE);
  assert.equal(sha(res!.body), sha(huge));
  assert.equal(progress.bytes, HUGE_SIZE);
});

test('a client that disconnects mid-download: the stream stops, the file is closed, the server serves on', async (t) => {
  const { port } = await routeServer(t);
  const hugePath = realpathSync(join(root, 'huge.bin'));
  for (let i = 0; i < 5; i++) {
    const conn = await RawConnection.connect(port);
    await conn.write('GET /static/huge.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.ok(await conn.waitUntil(() => conn.receivedLength > 256 * 1024, 5000));
    if (i === 0) assert.notEqual(openHandlesOn(hugePath), 0, 'the file is open while streaming');
    conn.destroy();
    await assertServing(port, '/__alive');
  }
  if (openHandlesOn(hugePath) !== undefined) {
    // The file handles of abandoned downloads are closed (counted from /proc on Linux).
    const closed = await eventually(() => openHandlesOn(hugePath) === 0, 5000);
    assert.ok(closed, `${openHandlesOn(hugePath)} handles still open on huge.bin`);
  }
  await assertServing(port, '/__alive');
});
