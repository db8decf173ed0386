/**
 * Conformance of the HTTP/1.1 engine (issue 2, "HTTP/1.1 engine on node:net"), over real sockets.
 *
 * Valid exchanges are fed whole, byte by byte and split at seeded random points: keep-alive,
 * Connection: close, pipelining (3 requests, ordered responses; and a long pipeline that must
 * be bounded, not dropped), HTTP/1.0 close vs keep-alive, Expect: 100-continue (interim 100 then
 * the final response; 413 instead of 100 when Content-Length is over bodyLimit), HEAD (no body,
 * the GET's Content-Length), absolute-form and `*` targets, query strings, chunked bodies with
 * extensions and trailers.
 *
 * Every malformed request asserts the exact status, that the server closed the connection, and
 * that a new connection is still served: 400 framing / syntax (RFC 9112 §6.3, §11.2 and the
 * rest of the list in the issue), 501 codings we do not implement before chunked, 431 head over
 * httpBufferSize, 414 request line over httpBufferSize, 413 body over bodyLimit (Content-Length
 * at once; chunked once the sum passes it), 505 unsupported version, 408 requestTimeout with an
 * incomplete head or body, and idle keep-alive sockets closed after keepAliveTimeout.
 *
 * Every final response is checked for a Date header and correct framing. curl does a GET and a
 * POST with a body.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from '../../src/index.js';
import {
  RawConnection,
  assertServing,
  assertWellFramed,
  exchange,
  finalResponses,
  parseResponses,
  showBytes,
  startServer,
  type ParsedResponse,
  type SendMode,
  type StartedServer,
} from '../helpers/raw-client.js';
import { INVALID, expectedStatuses } from '../fuzz/corpus.js';

const execFileAsync = promisify(execFile);

// ------------------------------------------------------------------------------------------------
// Requests and apps

/** Request line + field lines joined with CRLF, the blank line, then the body. */
function req(head: readonly string[], body = ''): string {
  return head.join('\r\n') + '\r\n\r\n' + body;
}

interface Echo {
  method: string;
  path: string;
  url: string;
  version: string;
  host: string;
  queries: Record<string, string>;
  a: string[];
  headers: Record<string, string>;
  body: string;
}

function echo(ctx: Context): void {
  ctx.setResponseStatusCode(200).setResponseBodyJson({
    method: ctx.getRequestMethod(),
    path: ctx.getRequestPath(),
    url: ctx.getRequestUrl(),
    version: ctx.getRequestVersion(),
    host: ctx.getRequestHost(),
    queries: ctx.getRequestQueries(),
    a: ctx.getRequestQueryValues('a'),
    headers: ctx.getRequestHeaders(),
    body: ctx.getRequestBodyString(),
  } satisfies Echo);
}

function setupApp(server: StartedServer['server']): void {
  server.get('/hello', (ctx) => {
    ctx.setResponseStatusCode(200).setResponseBody('Hello');
  });
  server.get('/x', (ctx) => {
    ctx.setResponseStatusCode(200).setResponseBody('hello');
  });
  server.route('/echo', echo);
  server.route('/p', echo);
  server.post('/upload', echo);
  server.get('/big', (ctx) => {
    // A fresh buffer per response, so responses a server holds show up in its memory.
    ctx.setResponseStatusCode(200).setResponseBody(Buffer.alloc(BIG_SIZE, 0x78));
  });
  server.get('/huge', (ctx) => {
    // More than the kernel's socket buffers hold: part of it waits in the process.
    ctx.setResponseStatusCode(200).setResponseBody(Buffer.alloc(HUGE_SIZE, 0x79));
  });
  server.get('/stream', async (ctx) => {
    ctx
      .setResponseStatusCode(200)
      .setResponseHeader('content-type', 'text/plain')
      .setResponseStream();
    await ctx.send();
    ctx.setResponseBody('one,');
    await ctx.sendBody();
    ctx.setResponseBody('two');
    await ctx.sendBody();
  });
}

/** Size of the GET /big response body (backpressure test). */
const BIG_SIZE = 256 * 1024;
/** Size of the GET /huge response body: more than loopback socket buffers hold. */
const HUGE_SIZE = 16 * 1024 * 1024;

interface Mode {
  label: string;
  mode: SendMode;
  seed?: number;
}

const MODES: readonly Mode[] = [
  { label: 'whole', mode: 'whole' },
  { label: 'byte by byte', mode: 'bytes' },
  { label: 'random splits (seed 1)', mode: 'random', seed: 1 },
  { label: 'random splits (seed 2)', mode: 'random', seed: 2 },
  { label: 'random splits (seed 3)', mode: 'random', seed: 3 },
];

function writeOpts(m: Mode): { mode: SendMode; seed?: number } {
  return m.seed === undefined ? { mode: m.mode } : { mode: m.mode, seed: m.seed };
}

function framedAll(responses: readonly ParsedResponse[], label: string): void {
  for (const r of responses) assertWellFramed(r, label);
}

function echoOf(r: ParsedResponse | undefined, label: string): Echo {
  assert.ok(r, `${label}: a response`);
  assert.equal(r.status, 200, `${label}: status 200, got ${r.status} ${showBytes(r.raw, 300)}`);
  return r.json<Echo>();
}

/** Send a malformed request; assert the exact status, the close, and that the server still serves. */
async function assertRefused(
  port: number,
  input: string | Buffer,
  statuses: number | readonly number[],
  label: string,
  opts: { mode?: SendMode; timeoutMs?: number } = {},
): Promise<ParsedResponse> {
  const allowed = typeof statuses === 'number' ? [statuses] : statuses;
  const x = await exchange(port, input, {
    mode: opts.mode ?? 'whole',
    timeoutMs: opts.timeoutMs ?? 3000,
  });
  const show = `${label}\n  input: ${showBytes(typeof input === 'string' ? Buffer.from(input, 'latin1') : input, 300)}\n  got:   ${showBytes(x.bytes, 300)} closed=${x.closed}`;
  assert.equal(x.parseError, undefined, `well-formed response: ${show}`);
  assert.equal(x.finals.length, 1, `exactly one response: ${show}`);
  const res = x.finals[0] as ParsedResponse;
  assert.ok(allowed.includes(res.status), `status ${allowed.join(' or ')}: ${show}`);
  assertWellFramed(res, label);
  assert.ok(x.closed, `connection closed by the server: ${show}`);
  assert.equal(x.rest.length, 0, `nothing after the response: ${show}`);
  await assertServing(port);
  return res;
}

// ------------------------------------------------------------------------------------------------

describe('HTTP/1.1 conformance over sockets', { timeout: 120_000 }, () => {
  /** Generous limits: the valid exchanges. */
  let main: StartedServer;
  /** httpBufferSize 1024, bodyLimit 1024: the limits. */
  let small: StartedServer;
  /** requestTimeout 300, keepAliveTimeout 200. */
  let timed: StartedServer;
  /** Default config: the corpus of invalid requests (its limit cases assume 16 KiB / 1 MiB). */
  let defaults: StartedServer;

  before(async () => {
    main = await startServer(setupApp, { requestTimeout: 10_000, keepAliveTimeout: 10_000 });
    small = await startServer(setupApp, {
      httpBufferSize: 1024,
      bodyLimit: 1024,
      requestTimeout: 10_000,
    });
    timed = await startServer(setupApp, { requestTimeout: 300, keepAliveTimeout: 200 });
    defaults = await startServer(setupApp);
  });

  after(async () => {
    await Promise.all([main?.close(), small?.close(), timed?.close(), defaults?.close()]);
  });

  // ----------------------------------------------------------------------------------------------
  for (const m of MODES) {
    describe(`valid exchanges, fed ${m.label}`, () => {
      test('keep-alive: two requests on one connection, which stays open', async () => {
        const conn = await RawConnection.connect(main.port);
        try {
          await conn.write(req(['GET /echo?a=1 HTTP/1.1', 'Host: example.com']), writeOpts(m));
          let rs = finalResponses(await conn.readResponses(1));
          assert.equal(rs.length, 1);
          assert.deepEqual(echoOf(rs[0], 'first').a, ['1']);
          await conn.write(
            req(['POST /echo?a=2 HTTP/1.1', 'Host: example.com', 'Content-Length: 5'], 'hello'),
            writeOpts(m),
          );
          rs = finalResponses(await conn.readResponses(2));
          assert.equal(rs.length, 2, showBytes(conn.received));
          const second = echoOf(rs[1], 'second');
          assert.deepEqual([second.method, second.a, second.body], ['POST', ['2'], 'hello']);
          framedAll(rs, 'keep-alive');
          await sleep(50);
          assert.equal(conn.closed, false, 'keep-alive connection left open');
        } finally {
          conn.destroy();
        }
      });

      test('Connection: close: the server closes after the response', async () => {
        const x = await exchange(
          main.port,
          req(['GET /hello HTTP/1.1', 'Host: example.com', 'Connection: close']),
          writeOpts(m),
        );
        assert.equal(x.finals.length, 1, showBytes(x.bytes));
        assert.equal(x.finals[0]?.status, 200);
        assert.equal(x.finals[0]?.text(), 'Hello');
        assert.equal(
          x.finals[0]?.headers['connection']?.toLowerCase(),
          'close',
          'response says Connection: close',
        );
        assertWellFramed(x.finals[0] as ParsedResponse, 'close');
        assert.ok(x.closed, 'closed');
      });

      test('pipelining: 3 requests in one go, responses in order', async () => {
        const input =
          req(['GET /echo?a=first HTTP/1.1', 'Host: example.com']) +
          req(['POST /echo?a=second HTTP/1.1', 'Host: example.com', 'Content-Length: 3'], 'two') +
          req(
            ['PUT /echo?a=third HTTP/1.1', 'Host: example.com', 'Transfer-Encoding: chunked'],
            '5\r\nthree\r\n0\r\n\r\n',
          );
        const x = await exchange(main.port, input, { ...writeOpts(m), responses: 3 });
        assert.equal(x.finals.length, 3, showBytes(x.bytes));
        framedAll(x.finals, 'pipelining');
        const echoes = x.finals.map((r, i) => echoOf(r, `#${i}`));
        assert.deepEqual(
          echoes.map((e) => [e.method, e.a[0], e.body]),
          [
            ['GET', 'first', ''],
            ['POST', 'second', 'two'],
            ['PUT', 'third', 'three'],
          ],
        );
        assert.equal(x.closed, false, 'pipelined keep-alive connection stays open');
      });

      test('HTTP/1.0 without keep-alive: response, then close', async () => {
        const x = await exchange(main.port, req(['GET /echo HTTP/1.0']), writeOpts(m));
        assert.equal(x.finals.length, 1, showBytes(x.bytes));
        const e = echoOf(x.finals[0], 'HTTP/1.0');
        assert.equal(e.version, 'HTTP/1.0');
        assertWellFramed(x.finals[0] as ParsedResponse, 'HTTP/1.0');
        assert.ok(x.closed, 'HTTP/1.0 connection closed after the response');
      });

      test('HTTP/1.0 with Connection: keep-alive: stays open, serves a second request', async () => {
        const conn = await RawConnection.connect(main.port);
        try {
          await conn.write(req(['GET /echo?a=1 HTTP/1.0', 'Connection: keep-alive']), writeOpts(m));
          let rs = finalResponses(await conn.readResponses(1));
          assert.equal(rs.length, 1, showBytes(conn.received));
          assert.equal(
            rs[0]?.headers['connection']?.toLowerCase(),
            'keep-alive',
            'an HTTP/1.0 client needs Connection: keep-alive to keep the connection',
          );
          await sleep(50);
          assert.equal(conn.closed, false, 'still open after the first response');
          await conn.write(req(['GET /echo?a=2 HTTP/1.0']), writeOpts(m));
          rs = finalResponses(await conn.readResponses(2));
          assert.equal(rs.length, 2, showBytes(conn.received));
          assert.deepEqual(echoOf(rs[1], 'second').a, ['2']);
          framedAll(rs, 'HTTP/1.0 keep-alive');
          assert.ok(
            await conn.waitClosed(2000),
            'closed after the second (non keep-alive) request',
          );
        } finally {
          conn.destroy();
        }
      });

      test('Expect: 100-continue: interim 100, then the body, then the final response', async () => {
        const conn = await RawConnection.connect(main.port);
        try {
          await conn.write(
            req([
              'POST /echo HTTP/1.1',
              'Host: example.com',
              'Content-Length: 11',
              'Expect: 100-continue',
            ]),
            writeOpts(m),
          );
          const got100 = await conn.waitUntil(
            () => conn.parse().responses.some((r) => r.status === 100),
            3000,
          );
          assert.ok(got100, `100 Continue before the body: ${showBytes(conn.received)}`);
          const interim = conn.parse().responses;
          assert.equal(interim.length, 1, 'only the interim response so far');
          assert.equal(interim[0]?.status, 100);
          assertWellFramed(interim[0] as ParsedResponse, '100');
          await conn.write('hello world', writeOpts(m));
          const rs = await conn.readResponses(1);
          const finals = finalResponses(rs);
          assert.equal(finals.length, 1, showBytes(conn.received));
          assert.equal(echoOf(finals[0], 'final').body, 'hello world');
          assertWellFramed(finals[0] as ParsedResponse, 'after 100');
        } finally {
          conn.destroy();
        }
      });

      test('HEAD: no body, the Content-Length a GET would have', async () => {
        const input =
          req(['HEAD /x HTTP/1.1', 'Host: example.com']) +
          req(['GET /x HTTP/1.1', 'Host: example.com', 'Connection: close']);
        const x = await exchange(main.port, input, { ...writeOpts(m), isHead: (i) => i === 0 });
        assert.equal(x.parseError, undefined, showBytes(x.bytes));
        assert.equal(
          x.finals.length,
          2,
          `HEAD response has no body, so the GET's follows at once: ${showBytes(x.bytes)}`,
        );
        const [head, get] = x.finals as [ParsedResponse, ParsedResponse];
        assert.equal(head.status, 200);
        assert.equal(head.body.length, 0);
        assert.equal(get.text(), 'hello');
        assert.equal(head.headers['content-length'], '5', 'HEAD carries the GET Content-Length');
        assert.equal(get.headers['content-length'], '5');
        assertWellFramed(head, 'HEAD');
        assertWellFramed(get, 'GET after HEAD');
        assert.equal(x.rest.length, 0, 'no stray body bytes');
      });

      test('absolute-form target: GET http://h/p?q=1 routes to /p', async () => {
        const x = await exchange(
          main.port,
          req(['GET http://h/p?q=1 HTTP/1.1', 'Host: h', 'Connection: close']),
          writeOpts(m),
        );
        const e = echoOf(x.finals[0], 'absolute-form');
        assert.equal(e.path, '/p');
        assert.deepEqual(e.queries, { q: '1' });
        assert.equal(e.url, 'http://h/p?q=1');
        assertWellFramed(x.finals[0] as ParsedResponse, 'absolute-form');
      });

      test('OPTIONS * → 204 with Allow', async () => {
        const x = await exchange(
          main.port,
          req(['OPTIONS * HTTP/1.1', 'Host: example.com', 'Connection: close']),
          writeOpts(m),
        );
        assert.equal(x.finals.length, 1, showBytes(x.bytes));
        const r = x.finals[0] as ParsedResponse;
        assert.equal(r.status, 204, showBytes(x.bytes));
        assert.ok(r.headers['allow'], 'Allow header');
        const allow = (r.headers['allow'] ?? '').split(',').map((s) => s.trim());
        for (const method of ['GET', 'HEAD', 'POST'])
          assert.ok(allow.includes(method), `Allow lists ${method}: ${r.headers['allow']}`);
        assert.equal(r.body.length, 0);
        assertWellFramed(r, 'OPTIONS *');
      });

      test('query strings are decoded; repeated keys keep every value', async () => {
        const x = await exchange(
          main.port,
          req([
            'GET /echo?a=1&b=two%20words&a=3&c=&d=x+y&e=%C3%A9 HTTP/1.1',
            'Host: example.com',
            'Connection: close',
          ]),
          writeOpts(m),
        );
        const e = echoOf(x.finals[0], 'query');
        assert.equal(e.path, '/echo');
        assert.equal(e.url, '/echo?a=1&b=two%20words&a=3&c=&d=x+y&e=%C3%A9');
        assert.deepEqual({ ...e.queries }, { a: '1', b: 'two words', c: '', d: 'x y', e: 'é' });
        assert.deepEqual(e.a, ['1', '3']);
      });

      test('chunked body with extensions and trailers', async () => {
        const body =
          '5;name=value\r\nhello\r\n1;quoted="a \\" b"\r\n \r\n5\r\nworld\r\n0;last=1\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n';
        const x = await exchange(
          main.port,
          req(
            [
              'POST /upload HTTP/1.1',
              'Host: example.com',
              'Transfer-Encoding: chunked',
              'Trailer: X-Checksum, X-Other',
              'Connection: close',
            ],
            body,
          ),
          writeOpts(m),
        );
        const e = echoOf(x.finals[0], 'chunked');
        assert.equal(e.body, 'hello world');
        assertWellFramed(x.finals[0] as ParsedResponse, 'chunked');
        assert.ok(x.closed);
      });

      test('chunked body in many small chunks, then a pipelined request', async () => {
        const parts = Array.from({ length: 20 }, (_, i) =>
          String.fromCharCode(97 + i).repeat(i + 1),
        );
        const chunked =
          parts.map((p) => `${p.length.toString(16)}\r\n${p}\r\n`).join('') + '0\r\n\r\n';
        const input =
          req(
            ['POST /upload HTTP/1.1', 'Host: example.com', 'Transfer-Encoding: chunked'],
            chunked,
          ) + req(['GET /hello HTTP/1.1', 'Host: example.com', 'Connection: close']);
        const x = await exchange(main.port, input, writeOpts(m));
        assert.equal(x.finals.length, 2, showBytes(x.bytes));
        assert.equal(echoOf(x.finals[0], 'chunked').body, parts.join(''));
        assert.equal(x.finals[1]?.text(), 'Hello');
        framedAll(x.finals, 'chunked + pipelined');
      });
    });
  }

  // ----------------------------------------------------------------------------------------------
  describe('more valid exchanges', () => {
    test('absolute-form target: the authority is the host (RFC 9112 §3.2.2: ignore Host)', async () => {
      const x = await exchange(
        main.port,
        req(['GET http://h/p?q=1 HTTP/1.1', 'Host: other.example', 'Connection: close']),
      );
      const e = echoOf(x.finals[0], 'absolute-form host');
      assert.equal(e.path, '/p');
      assert.equal(e.host, 'h');
    });

    test('empty lines before the request line are ignored (RFC 9112 §2.2)', async () => {
      const x = await exchange(
        main.port,
        '\r\n\r\n' + req(['GET /hello HTTP/1.1', 'Host: example.com', 'Connection: close']),
      );
      assert.equal(x.finals[0]?.status, 200, showBytes(x.bytes));
    });

    test('HTTP/1.1 Connection: keep-alive, close → close wins (RFC 9112 §9.3)', async () => {
      const x = await exchange(
        main.port,
        req(['GET /hello HTTP/1.1', 'Host: example.com', 'Connection: keep-alive, close']),
        { timeoutMs: 1500, quietMs: 300 },
      );
      assert.equal(x.finals[0]?.status, 200);
      assert.ok(x.closed, 'closed');
    });

    test('HTTP/1.0 Connection: keep-alive, close → close wins (RFC 9112 §9.3)', async () => {
      const x = await exchange(
        main.port,
        req(['GET /hello HTTP/1.0', 'Connection: keep-alive, close']),
        { timeoutMs: 1500, quietMs: 300 },
      );
      assert.equal(x.finals[0]?.status, 200);
      assert.ok(x.closed, `closed; got ${showBytes(x.bytes)}`);
    });

    for (const [path, size] of [
      ['/big', BIG_SIZE],
      ['/huge', HUGE_SIZE],
    ] as const) {
      for (const [label, head] of [
        ['Connection: close', ['GET PATH HTTP/1.1', 'Host: example.com', 'Connection: close']],
        ['HTTP/1.0 without keep-alive', ['GET PATH HTTP/1.0']],
      ] as const) {
        test(`${label}, GET ${path}: a client that reads late still gets every byte, then the close`, async () => {
          // The server closes as soon as the response is written: what the kernel still holds
          // (all of /big, part of /huge) must reach the client all the same.
          const conn = await RawConnection.connect(main.port);
          try {
            conn.socket.pause();
            await conn.write(req(head.map((line) => line.replace('PATH', path))));
            await sleep(300);
            conn.socket.resume();
            assert.ok(await conn.waitClosed(20_000), 'closed by the server');
            const [res] = finalResponses(conn.parse().responses);
            assert.equal(res?.status, 200);
            assert.equal(res.headers['connection']?.toLowerCase(), 'close');
            assert.equal(res.body.length, size, 'the whole body');
            assert.ok(res.body.every((byte) => byte === res.body[0]));
          } finally {
            conn.destroy();
          }
          await assertServing(main.port);
        });
      }
    }

    test('the Date header follows the clock: within a second of it, and moving on with it', async () => {
      const dateOf = async (): Promise<number> => {
        const x = await exchange(
          main.port,
          req(['GET /hello HTTP/1.1', 'Host: example.com', 'Connection: close']),
        );
        const date = x.finals[0]?.headers['date'];
        assert.ok(date !== undefined, showBytes(x.bytes));
        const at = Date.parse(date);
        // The header has whole seconds: it may lag the clock by up to one, never lead it.
        assert.ok(at <= Date.now() && at > Date.now() - 2000, `${date} is now`);
        return at;
      };
      const first = await dateOf();
      await sleep(1100);
      assert.ok((await dateOf()) >= first + 1000, 'a second later, a later Date');
    });

    test('a long pipeline (200 requests in one write) is answered in order, never dropped', async () => {
      const n = 200;
      let input = '';
      for (let i = 0; i < n; i++) input += req([`GET /echo?a=${i} HTTP/1.1`, 'Host: example.com']);
      const x = await exchange(small.port, input, { responses: n, timeoutMs: 10_000 });
      assert.equal(x.parseError, undefined);
      assert.equal(
        x.finals.length,
        n,
        `all ${n} answered (got ${x.finals.length}, closed=${x.closed})`,
      );
      x.finals.forEach((r, i) => assert.equal(echoOf(r, `#${i}`).a[0], String(i)));
    });

    test('pipelining to a client that does not read: every response arrives once it reads (backpressure, no loss)', async () => {
      // We stop reading and pipeline many requests with large responses: the server must pause
      // (it cannot write) and bound what it holds, then finish every request in order once we read.
      const conn = await RawConnection.connect(small.port);
      try {
        conn.socket.pause();
        const n = 300;
        for (let i = 0; i < n; i++) {
          conn.socket.write(
            req([`GET /echo?a=${i} HTTP/1.1`, 'Host: example.com', `X-Pad: ${'p'.repeat(700)}`]),
          );
        }
        await sleep(300);
        conn.socket.resume();
        const rs = finalResponses(await conn.readResponses(n, 15_000));
        assert.equal(rs.length, n, `all ${n} answered (closed=${conn.closed})`);
        rs.forEach((r, i) => assert.equal(echoOf(r, `#${i}`).a[0], String(i)));
      } finally {
        conn.destroy();
      }
    });
    test('a streamed response is chunked, ends, and the connection is reused', async () => {
      const conn = await RawConnection.connect(main.port);
      try {
        await conn.write(req(['GET /stream HTTP/1.1', 'Host: example.com']));
        let rs = finalResponses(await conn.readResponses(1, 3000));
        assert.equal(rs.length, 1, showBytes(conn.received));
        const r = rs[0] as ParsedResponse;
        assert.equal(r.framing, 'chunked', 'a stream is sent chunked');
        assert.equal(r.text(), 'one,two');
        assertWellFramed(r, 'stream');
        await conn.write(req(['GET /hello HTTP/1.1', 'Host: example.com']));
        rs = finalResponses(await conn.readResponses(2, 3000));
        assert.equal(rs[1]?.text(), 'Hello', 'next request on the same connection');
      } finally {
        conn.destroy();
      }
    });

    test('backpressure: with a client that does not read, the server does not buffer every response', async (t) => {
      // 300 pipelined GET /big (256 KiB each, ~77 MB in all) while we read nothing. If the server
      // kept writing, it would hold ~77 MB of responses; it must stop reading and wait for drain.
      const n = 300;
      const socket = net.connect({ port: main.port, host: '127.0.0.1' });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      try {
        socket.pause();
        const before = process.memoryUsage().external;
        const one = req(['GET /big HTTP/1.1', 'Host: example.com']);
        socket.write(one.repeat(n));
        await sleep(1000);
        const grown = process.memoryUsage().external - before;
        t.diagnostic(
          `external memory grew ${(grown / 1048576).toFixed(1)} MiB while the client did not read`,
        );
        assert.ok(
          grown < 32 * 1024 * 1024,
          `server-side buffering stays bounded (external memory grew ${(grown / 1048576).toFixed(1)} MiB)`,
        );
        // Now read: every response arrives, in full.
        let total = 0;
        const expected = n * BIG_SIZE;
        const done = new Promise<void>((resolve) => {
          socket.on('data', (d: Buffer) => {
            total += d.length;
            if (total >= expected) resolve();
          });
          socket.on('close', () => resolve());
        });
        socket.resume();
        await Promise.race([done, sleep(20_000, undefined, { ref: false })]);
        assert.ok(
          total >= expected,
          `all ${n} responses arrive once we read (${total} of at least ${expected} bytes)`,
        );
      } finally {
        socket.destroy();
      }
    });
  });

  // ----------------------------------------------------------------------------------------------
  describe('refusals: exact status, connection closed, server still serving', () => {
    const host = 'Host: example.com';
    const cases: Array<{ name: string; raw: string; status: number | number[] }> = [
      // RFC 9112 §6.3, §11.2: request smuggling
      {
        name: 'Content-Length and Transfer-Encoding',
        raw: req(
          ['POST /echo HTTP/1.1', host, 'Content-Length: 5', 'Transfer-Encoding: chunked'],
          '0\r\n\r\n',
        ),
        status: 400,
      },
      {
        name: 'Transfer-Encoding and Content-Length',
        raw: req(
          ['POST /echo HTTP/1.1', host, 'Transfer-Encoding: chunked', 'Content-Length: 5'],
          '0\r\n\r\n',
        ),
        status: 400,
      },
      {
        name: 'differing duplicate Content-Length',
        raw: req(['POST /echo HTTP/1.1', host, 'Content-Length: 3', 'Content-Length: 5'], 'abcde'),
        status: 400,
      },
      {
        name: 'identical duplicate Content-Length',
        raw: req(['POST /echo HTTP/1.1', host, 'Content-Length: 3', 'Content-Length: 3'], 'abc'),
        status: 400,
      },
      {
        name: 'Content-Length list "3, 3"',
        raw: req(['POST /echo HTTP/1.1', host, 'Content-Length: 3, 3'], 'abc'),
        status: 400,
      },
      ...['abc', '+3', '-3', '0x3', '3 3', '3.0', '', '3a'].map((v) => ({
        name: `non-digit Content-Length ${JSON.stringify(v)}`,
        raw: req(['POST /echo HTTP/1.1', host, `Content-Length: ${v}`], 'abc'),
        status: 400,
      })),
      ...['gzip', 'chunked, gzip', 'identity', 'deflate'].map((v) => ({
        name: `Transfer-Encoding ${JSON.stringify(v)}: final coding not chunked`,
        raw: req(['POST /echo HTTP/1.1', host, `Transfer-Encoding: ${v}`], 'abc'),
        status: 400,
      })),
      ...['gzip, chunked', 'deflate, chunked'].map((v) => ({
        name: `Transfer-Encoding ${JSON.stringify(v)}: a coding we do not implement before chunked`,
        raw: req(['POST /echo HTTP/1.1', host, `Transfer-Encoding: ${v}`], '3\r\nabc\r\n0\r\n\r\n'),
        status: 501,
      })),
      // RFC 9112 §5: field syntax
      {
        name: 'obs-fold',
        raw: req(['GET /echo HTTP/1.1', host, 'X-Folded: a', ' b']),
        status: 400,
      },
      {
        name: 'obs-fold with HTAB',
        raw: req(['GET /echo HTTP/1.1', host, 'X-Folded: a', '\tb']),
        status: 400,
      },
      {
        name: 'whitespace before the colon',
        raw: req(['GET /echo HTTP/1.1', host, 'X-Bad : v']),
        status: 400,
      },
      {
        name: 'HTAB before the colon',
        raw: req(['GET /echo HTTP/1.1', host, 'X-Bad\t: v']),
        status: 400,
      },
      {
        name: 'whitespace before the colon of Transfer-Encoding',
        raw: req(['POST /echo HTTP/1.1', host, 'Transfer-Encoding : chunked'], '0\r\n\r\n'),
        status: 400,
      },
      {
        name: 'NUL in a header value',
        raw: req(['GET /echo HTTP/1.1', host, 'X-Nul: a\x00b']),
        status: 400,
      },
      {
        name: 'bare CR in a header value',
        raw: req(['GET /echo HTTP/1.1', host, 'X-Cr: a\rb']),
        status: 400,
      },
      {
        name: 'CTL in a header value',
        raw: req(['GET /echo HTTP/1.1', host, 'X-Ctl: a\x07b']),
        status: 400,
      },
      {
        name: 'invalid token byte in a header name',
        raw: req(['GET /echo HTTP/1.1', host, 'X(Bad): v']),
        status: 400,
      },
      {
        name: 'NUL in a header name',
        raw: req(['GET /echo HTTP/1.1', host, 'X\x00: v']),
        status: 400,
      },
      {
        name: 'header line without a colon',
        raw: req(['GET /echo HTTP/1.1', host, 'NoColon']),
        status: 400,
      },
      { name: 'invalid method token', raw: req(['GE(T /echo HTTP/1.1', host]), status: 400 },
      { name: 'NUL in the target', raw: req(['GET /ec\x00ho HTTP/1.1', host]), status: 400 },
      {
        name: 'bare CR in the request line',
        raw: req(['GET /echo\r HTTP/1.1', host]),
        status: 400,
      },
      {
        name: 'request line with two spaces',
        raw: req(['GET  /echo HTTP/1.1', host]),
        status: 400,
      },
      // RFC 9112 §7.1: chunked framing
      ...['zz', '-1', ' 3', '3 ', '0x3', '', 'fffffffffffffffffffff'].map((v) => ({
        name: `bad chunk size ${JSON.stringify(v)}`,
        raw: req(
          ['POST /echo HTTP/1.1', host, 'Transfer-Encoding: chunked'],
          `${v}\r\nabc\r\n0\r\n\r\n`,
        ),
        status: v.startsWith('fff') ? [400, 413] : 400,
      })),
      {
        name: 'chunk data without its CRLF',
        raw: req(
          ['POST /echo HTTP/1.1', host, 'Transfer-Encoding: chunked'],
          '3\r\nabcd\r\n0\r\n\r\n',
        ),
        status: 400,
      },
      {
        name: 'chunk extension that is not a token',
        raw: req(
          ['POST /echo HTTP/1.1', host, 'Transfer-Encoding: chunked'],
          '3;a b\r\nabc\r\n0\r\n\r\n',
        ),
        status: 400,
      },
      {
        name: 'bad trailer line',
        raw: req(
          ['POST /echo HTTP/1.1', host, 'Transfer-Encoding: chunked'],
          '3\r\nabc\r\n0\r\nX-T : v\r\n\r\n',
        ),
        status: 400,
      },
      // RFC 9112 §3.2: Host
      { name: 'missing Host on HTTP/1.1', raw: req(['GET /echo HTTP/1.1']), status: 400 },
      {
        name: 'two Host lines',
        raw: req(['GET /echo HTTP/1.1', 'Host: a.example', 'Host: b.example']),
        status: 400,
      },
      {
        name: 'two identical Host lines',
        raw: req(['GET /echo HTTP/1.1', 'Host: a.example', 'Host: a.example']),
        status: 400,
      },
      // RFC 9110 §2.5, §15.6.6: versions
      ...['HTTP/1.2', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/3.0'].map((v) => ({
        name: `unsupported version ${v}`,
        raw: req([`GET /echo ${v}`, host]),
        status: 505,
      })),
      ...['HTTP/1.10', 'http/1.1', 'HTTP/1', 'HTTP/1.1.1', 'HTTPS/1.1', 'HTTP/x.y'].map((v) => ({
        name: `malformed version ${v}`,
        raw: req([`GET /echo ${v}`, host]),
        status: 400,
      })),
      // limits: httpBufferSize 1024, bodyLimit 1024 on this server
      {
        name: 'head over httpBufferSize (one big header) → 431',
        raw: req(['GET /echo HTTP/1.1', host, `X-Big: ${'b'.repeat(1100)}`]),
        status: 431,
      },
      {
        name: 'head over httpBufferSize (many headers) → 431',
        raw: req([
          'GET /echo HTTP/1.1',
          host,
          ...Array.from({ length: 60 }, (_, i) => `X-H${i}: ${'v'.repeat(20)}`),
        ]),
        status: 431,
      },
      {
        name: 'request line over httpBufferSize → 414',
        raw: req([`GET /echo?q=${'q'.repeat(1100)} HTTP/1.1`, host]),
        status: 414,
      },
      {
        name: 'Content-Length over bodyLimit → 413',
        raw: req(['POST /echo HTTP/1.1', host, 'Content-Length: 1025'], 'x'.repeat(1025)),
        status: 413,
      },
      {
        name: 'chunked body whose sum passes bodyLimit → 413',
        raw: req(
          ['POST /echo HTTP/1.1', host, 'Transfer-Encoding: chunked'],
          `200\r\n${'a'.repeat(512)}\r\n200\r\n${'b'.repeat(512)}\r\n1\r\nc\r\n0\r\n\r\n`,
        ),
        status: 413,
      },
      {
        name: 'Expect: 100-continue with Content-Length over bodyLimit → 413, no 100',
        raw: req(['POST /echo HTTP/1.1', host, 'Content-Length: 5000', 'Expect: 100-continue']),
        status: 413,
      },
    ];

    for (const c of cases) {
      for (const mode of ['whole', 'bytes'] as const) {
        test(`${c.name} → ${Array.isArray(c.status) ? c.status.join('|') : c.status} (${mode})`, async () => {
          await assertRefused(small.port, c.raw, c.status, c.name, { mode });
        });
      }
    }

    test('413 for Content-Length over bodyLimit comes before any body byte is sent', async () => {
      const conn = await RawConnection.connect(small.port);
      try {
        await conn.write(req(['POST /echo HTTP/1.1', host, 'Content-Length: 100000']));
        const rs = await conn.readResponses(1, 3000);
        assert.equal(finalResponses(rs)[0]?.status, 413, showBytes(conn.received));
        assert.ok(
          rs.every((r) => r.status !== 100),
          'no 100 Continue',
        );
        assert.ok(await conn.waitClosed(3000), 'closed');
      } finally {
        conn.destroy();
      }
      await assertServing(small.port);
    });

    test('chunked over bodyLimit is refused once the sum passes it, without waiting for the rest', async () => {
      const conn = await RawConnection.connect(small.port);
      try {
        await conn.write(
          req(
            ['POST /echo HTTP/1.1', host, 'Transfer-Encoding: chunked'],
            `300\r\n${'a'.repeat(768)}\r\n300\r\n${'b'.repeat(768)}\r\n`,
          ),
        );
        const rs = await conn.readResponses(1, 3000);
        assert.equal(finalResponses(rs)[0]?.status, 413, showBytes(conn.received));
        assert.ok(await conn.waitClosed(3000), 'closed');
      } finally {
        conn.destroy();
      }
      await assertServing(small.port);
    });

    test('a refusal after a valid pipelined request: the valid one is answered first', async () => {
      const input =
        req(['GET /hello HTTP/1.1', host]) + req(['GET /echo HTTP/1.1', host, 'X-Bad : v']);
      const x = await exchange(small.port, input);
      assert.deepEqual(
        x.finals.map((r) => r.status),
        [200, 400],
        showBytes(x.bytes),
      );
      framedAll(x.finals, 'pipelined refusal');
      assert.ok(x.closed);
      await assertServing(small.port);
    });

    test('a connection that ends in the middle of a request is closed, and the server still serves', async () => {
      const conn = await RawConnection.connect(small.port);
      await conn.write(req(['POST /echo HTTP/1.1', host, 'Content-Length: 10'], 'abc'));
      conn.socket.end();
      const closed = await conn.waitClosed(3000);
      conn.destroy();
      assert.ok(closed, 'closed after the client half-closed mid-request');
      await assertServing(small.port);
    });
  });

  // ----------------------------------------------------------------------------------------------
  describe('the invalid corpus (default config): status, close, still serving', () => {
    for (const entry of INVALID) {
      test(`${entry.name} → ${expectedStatuses(entry).join('|')}`, async () => {
        await assertRefused(
          defaults.port,
          Buffer.from(entry.raw, 'latin1'),
          expectedStatuses(entry),
          `${entry.name} (${entry.rule ?? ''})`,
        );
      });
    }
  });

  // ----------------------------------------------------------------------------------------------
  describe('timeouts (requestTimeout 300 ms, keepAliveTimeout 200 ms)', () => {
    async function assertTimedOut(input: string, label: string): Promise<void> {
      const conn = await RawConnection.connect(timed.port);
      const started = Date.now();
      try {
        await conn.write(input);
        const closed = await conn.waitClosed(3000);
        const elapsed = Date.now() - started;
        assert.ok(closed, `${label}: closed by the server`);
        const rs = conn.parse().responses;
        assert.equal(rs.length, 1, `${label}: one response: ${showBytes(conn.received)}`);
        assert.equal(rs[0]?.status, 408, `${label}: 408: ${showBytes(conn.received)}`);
        assertWellFramed(rs[0] as ParsedResponse, label);
        assert.ok(elapsed >= 250, `${label}: not before requestTimeout (${elapsed} ms)`);
        assert.ok(elapsed < 2000, `${label}: soon after requestTimeout (${elapsed} ms)`);
      } finally {
        conn.destroy();
      }
      await assertServing(timed.port);
    }

    test('incomplete head → 408 and close', async () => {
      await assertTimedOut('GET /hello HTTP/1.1\r\nHost: example.com\r\n', 'incomplete head');
    });

    test('incomplete request line → 408 and close', async () => {
      await assertTimedOut('GET /hel', 'incomplete request line');
    });

    test('incomplete Content-Length body → 408 and close', async () => {
      await assertTimedOut(
        req(['POST /echo HTTP/1.1', 'Host: example.com', 'Content-Length: 10'], 'abc'),
        'incomplete body',
      );
    });

    test('incomplete chunked body → 408 and close', async () => {
      await assertTimedOut(
        req(['POST /echo HTTP/1.1', 'Host: example.com', 'Transfer-Encoding: chunked'], '5\r\nhel'),
        'incomplete chunked body',
      );
    });

    test('slowloris: a head dripped byte by byte still times out at requestTimeout', async () => {
      const conn = await RawConnection.connect(timed.port);
      const started = Date.now();
      let stop = false;
      const drip = (async () => {
        const head = `GET /hello HTTP/1.1\r\nHost: example.com\r\nX-Slow: ${'s'.repeat(200)}`;
        for (const ch of head) {
          if (stop || !conn.writable || conn.closed) return;
          await conn.write(ch);
          await sleep(20);
        }
      })();
      try {
        const closed = await conn.waitClosed(3000);
        const elapsed = Date.now() - started;
        stop = true;
        assert.ok(closed, 'closed by the server although bytes kept coming');
        assert.equal(conn.parse().responses[0]?.status, 408, showBytes(conn.received));
        assert.ok(elapsed < 2000, `at requestTimeout, not at the end of the drip (${elapsed} ms)`);
      } finally {
        stop = true;
        await drip;
        conn.destroy();
      }
      await assertServing(timed.port);
    });

    test('a complete request within requestTimeout is served', async () => {
      const x = await exchange(
        timed.port,
        req(['GET /hello HTTP/1.1', 'Host: example.com', 'Connection: close']),
        { mode: 'bytes' },
      );
      assert.equal(x.finals[0]?.status, 200, showBytes(x.bytes));
    });

    test('an idle keep-alive connection is closed after keepAliveTimeout, silently', async () => {
      const conn = await RawConnection.connect(timed.port);
      try {
        await conn.write(req(['GET /hello HTTP/1.1', 'Host: example.com']));
        const rs = await conn.readResponses(1, 2000);
        assert.equal(rs.length, 1);
        const answeredAt = Date.now();
        const after = conn.receivedLength;
        const closed = await conn.waitClosed(3000);
        const idle = Date.now() - answeredAt;
        assert.ok(closed, 'idle connection closed');
        assert.ok(idle >= 150, `kept for about keepAliveTimeout (${idle} ms)`);
        assert.ok(idle < 1500, `closed soon after keepAliveTimeout (${idle} ms)`);
        assert.equal(
          conn.receivedLength,
          after,
          `no bytes on an idle close: ${showBytes(conn.received.subarray(after))}`,
        );
      } finally {
        conn.destroy();
      }
      await assertServing(timed.port);
    });

    test('a keep-alive connection used again before keepAliveTimeout stays open', async () => {
      const conn = await RawConnection.connect(timed.port);
      try {
        for (let i = 0; i < 4; i++) {
          await conn.write(req([`GET /echo?a=${i} HTTP/1.1`, 'Host: example.com']));
          const rs = finalResponses(await conn.readResponses(i + 1, 2000));
          assert.equal(rs.length, i + 1, `request ${i} answered`);
          await sleep(100);
        }
        assert.equal(conn.closed, false, 'still open: each idle gap was under keepAliveTimeout');
      } finally {
        conn.destroy();
      }
    });
  });

  // ----------------------------------------------------------------------------------------------
  describe('curl', () => {
    async function curl(args: string[]): Promise<ParsedResponse[]> {
      const { stdout } = await execFileAsync(
        'curl',
        ['-sS', '-i', '--http1.1', '--max-time', '10', ...args],
        { encoding: 'buffer' },
      );
      const parsed = parseResponses(stdout, { eof: true });
      assert.equal(parsed.error, undefined, stdout.toString('latin1'));
      return parsed.responses;
    }

    test('GET', async () => {
      const rs = finalResponses(await curl([`http://127.0.0.1:${main.port}/hello`]));
      assert.equal(rs.length, 1);
      assert.equal(rs[0]?.status, 200);
      assert.equal(rs[0]?.text(), 'Hello');
      assertWellFramed(rs[0] as ParsedResponse, 'curl GET');
    });

    test('POST with a body', async () => {
      const rs = finalResponses(
        await curl([
          '-H',
          'Content-Type: text/plain',
          '--data-binary',
          'hello from curl',
          `http://127.0.0.1:${main.port}/echo?a=curl`,
        ]),
      );
      const e = echoOf(rs[0], 'curl POST');
      assert.equal(e.method, 'POST');
      assert.equal(e.body, 'hello from curl');
      assert.deepEqual(e.a, ['curl']);
      assert.equal(e.headers['content-type'], 'text/plain');
      assertWellFramed(rs[0] as ParsedResponse, 'curl POST');
    });

    test('POST with Expect: 100-continue and a chunked body', async () => {
      const rs = await curl([
        '-H',
        'Expect: 100-continue',
        '-H',
        'Transfer-Encoding: chunked',
        '--data-binary',
        'chunked from curl',
        `http://127.0.0.1:${main.port}/echo`,
      ]);
      const finals = finalResponses(rs);
      const e = echoOf(finals[0], 'curl chunked');
      assert.equal(e.body, 'chunked from curl');
      assert.equal(e.headers['transfer-encoding'], 'chunked');
    });
  });
});
