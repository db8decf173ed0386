/**
 * WebSocket support (API.md Lifecycle item 5, "Decisions on details" on wsMessages; issue 3)
 * against real clients: the `ws` package, and raw `net` sockets speaking RFC 6455 by hand where
 * a test needs bytes `ws` would never send (invalid UTF-8, unmasked frames, bad handshakes).
 *
 * Every test starts its own server on 127.0.0.1:0 and closes it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { constants as zlibConstants, inflateRawSync } from 'node:zlib';
import { WebSocket, type ClientOptions } from 'ws';
import { HttpError, Server, type Context } from '../../src/index.js';
import { RawConnection, assertServing, parseResponses } from '../helpers/raw-client.js';
import { eventually } from '../helpers/eventually.js';
import {
  OP_BINARY,
  OP_CLOSE,
  OP_CONT,
  OP_PING,
  OP_TEXT,
  acceptFor,
  closeCodeOf,
  encodeFrame,
  parseFrames,
  rawUpgrade,
} from '../helpers/raw-ws.js';
import { serve } from '../helpers/serve.js';

// ---- helpers -------------------------------------------------------------------------------

/** Rejects after `ms` with `what` in the message, so a hang fails instead of stalling. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface Received {
  data: Buffer;
  isBinary: boolean;
  text: string;
}

interface CloseInfo {
  code: number;
  reason: string;
}

/** A `ws` client that queues what it receives, so tests can await messages in order. */
class Client {
  readonly ws: WebSocket;
  readonly received: Received[] = [];
  readonly closed: Promise<CloseInfo>;
  closeInfo: CloseInfo | null = null;
  pings = 0;
  upgradeHeaders: IncomingMessage['headers'] | null = null;
  private read = 0;
  private wake: (() => void) | null = null;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const buf = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data);
      this.received.push({ data: buf, isBinary, text: buf.toString('utf8') });
      this.poke();
    });
    ws.on('ping', () => {
      this.pings++;
    });
    ws.on('upgrade', (res: IncomingMessage) => {
      this.upgradeHeaders = res.headers;
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => {
      ws.on('close', (code: number, reason: Buffer) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        this.poke();
        resolve(this.closeInfo);
      });
    });
  }

  /** Opens a connection; rejects on an error or a non-101 answer. */
  static open(url: string, protocols?: string[], options: ClientOptions = {}): Promise<Client> {
    const ws =
      protocols === undefined
        ? new WebSocket(url, options)
        : new WebSocket(url, protocols, options);
    const client = new Client(ws);
    return within(
      new Promise<Client>((resolve, reject) => {
        ws.once('open', () => resolve(client));
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res: IncomingMessage) => {
          ws.terminate();
          reject(new Error(`unexpected response ${res.statusCode}`));
        });
      }),
      5000,
      `open ${url}`,
    );
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** The next message not yet taken; rejects if none comes within `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    while (this.read >= this.received.length) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms`);
      if (this.closeInfo !== null) {
        throw new Error(`connection closed (${this.closeInfo.code}) before a message came`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.received[this.read++]!;
  }

  async nextText(timeoutMs = 3000): Promise<string> {
    const message = await this.next(timeoutMs);
    assert.equal(message.isBinary, false, `expected a text message, got binary ${message.text}`);
    return message.text;
  }

  /** Sends and waits until the bytes are written. */
  send(data: string | Buffer, options: { binary?: boolean; fin?: boolean } = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.send(data, options, (error) => (error ? reject(error) : resolve()));
    });
  }

  waitClosed(timeoutMs = 3000): Promise<CloseInfo> {
    return within(this.closed, timeoutMs, 'the WebSocket to close');
  }

  async close(code?: number, reason?: string): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    return this.waitClosed();
  }
}

/** What a `ws` client gets when the server answers the handshake with something else than 101. */
function openExpectingRefusal(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  const ws = new WebSocket(url, { headers });
  ws.on('error', () => {});
  return within(
    new Promise((resolve, reject) => {
      ws.once('open', () => {
        ws.terminate();
        reject(new Error('the upgrade was accepted'));
      });
      ws.once('unexpected-response', (_req, res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          ws.terminate();
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
        res.on('error', reject);
      });
    }),
    5000,
    `refusal from ${url}`,
  );
}

/** Echo: a text message comes back as text, bytes as binary. */
async function echo(ctx: Context): Promise<void> {
  ctx.setResponseBody(
    ctx.getWsMessageType() === 'binary' ? ctx.getRequestBody() : ctx.getRequestBodyString(),
  );
  await ctx.sendBody();
}

// ---- echo, types, fragments, compression, limits -----------------------------------------------

test('echo keeps text as text and binary as binary; getWsMessageType() reports it', async (t) => {
  const types: string[] = [];
  const { url, port } = await serve(t, (server) => {
    server.route('/echo', async (ctx) => {
      types.push(ctx.getWsMessageType());
      assert.equal(ctx.isWebSocket(), true);
      await echo(ctx);
    });
    server.get('/get-echo', echo);
    server.route('/send-twice', async (ctx) => {
      ctx.setResponseBody(`a:${ctx.getRequestBodyString()}`);
      assert.equal(await ctx.send(), true);
      ctx.setResponseBody(Buffer.from([1, 2, 3]));
      await ctx.send();
    });
  });
  const client = await Client.open(url('/echo'));
  await client.send('héllo wörld ✓');
  const text = await client.next();
  assert.equal(text.isBinary, false);
  assert.equal(text.text, 'héllo wörld ✓');

  const bytes = Buffer.from([0, 255, 128, 10, 13, 0xc3]);
  await client.send(bytes, { binary: true });
  const binary = await client.next();
  assert.equal(binary.isBinary, true);
  assert.deepEqual(binary.data, bytes);

  // An empty text message and an empty binary one.
  await client.send('');
  const emptyText = await client.next();
  assert.equal(emptyText.isBinary, false);
  assert.equal(emptyText.data.length, 0);
  await client.send(Buffer.alloc(0), { binary: true });
  const emptyBinary = await client.next();
  assert.equal(emptyBinary.isBinary, true);
  assert.equal(emptyBinary.data.length, 0);
  assert.deepEqual(types, ['text', 'binary', 'text', 'binary']);
  await client.close();

  // Upgrades match get() routes too; send() on a WebSocket sends the body as one message.
  const viaGet = await Client.open(url('/get-echo'));
  await viaGet.send('via get');
  assert.equal(await viaGet.nextText(), 'via get');
  await viaGet.close();

  const twice = await Client.open(url('/send-twice'));
  await twice.send('x');
  assert.equal(await twice.nextText(), 'a:x');
  const second = await twice.next();
  assert.equal(second.isBinary, true);
  assert.deepEqual(second.data, Buffer.from([1, 2, 3]));
  await twice.close();
  await assertServing(port);
});

test('fragmented messages are reassembled into one message, control frames may interleave', async (t) => {
  const seen: Array<{ type: string; body: string }> = [];
  const { url, port } = await serve(t, (server) => {
    server.route('/echo', async (ctx) => {
      seen.push({ type: ctx.getWsMessageType(), body: ctx.getRequestBodyString() });
      await echo(ctx);
    });
  });
  const client = await Client.open(url('/echo'));
  await client.send('frag-', { fin: false });
  await client.send('men-', { fin: false });
  await client.send('ted', { fin: true });
  assert.equal(await client.nextText(), 'frag-men-ted');

  await client.send(Buffer.from([1, 2]), { binary: true, fin: false });
  await client.send(Buffer.from([3]), { binary: true, fin: false });
  await client.send(Buffer.from([4, 5]), { binary: true, fin: true });
  const binary = await client.next();
  assert.equal(binary.isBinary, true);
  assert.deepEqual(binary.data, Buffer.from([1, 2, 3, 4, 5]));
  // A multi-byte character split across fragments is still valid UTF-8 once joined.
  const snowman = Buffer.from('☃', 'utf8');
  await client.send(snowman.subarray(0, 1), { binary: false, fin: false });
  await client.send(snowman.subarray(1), { binary: false, fin: true });
  assert.equal(await client.nextText(), '☃');
  await client.close();

  // Raw: text fragments with a ping in between; the server pongs and still joins the message.
  const raw = await rawUpgrade(port, '/echo');
  assert.equal(raw.status, 101);
  await raw.send(
    Buffer.concat([
      encodeFrame(OP_TEXT, 'one ', { fin: false }),
      encodeFrame(OP_PING, 'are you there'),
      encodeFrame(OP_CONT, 'two ', { fin: false }),
      encodeFrame(OP_CONT, 'three', { fin: true }),
    ]),
  );
  const pong = await raw.waitFrame((f) => f.opcode === 0xa);
  assert.equal(pong.payload.toString(), 'are you there');
  assert.equal(pong.masked, false, 'server frames are not masked');
  const reply = await raw.waitFrame((f) => f.opcode === OP_TEXT);
  assert.equal(reply.payload.toString(), 'one two three');
  assert.equal(reply.fin, true);
  raw.conn.destroy();
  assert.equal(seen.filter((s) => s.body === 'one two three').length, 1);
  await assertServing(port);
});

test('permessage-deflate is negotiated with wsCompression and big messages round-trip', async (t) => {
  const { url, port } = await serve(t, (server) => server.route('/echo', echo), {
    wsCompression: { threshold: 0 },
  });
  const client = await Client.open(url('/echo'));
  assert.match(client.ws.extensions, /permessage-deflate/);
  assert.match(String(client.upgradeHeaders?.['sec-websocket-extensions']), /permessage-deflate/);

  const socket = (client.ws as unknown as { _socket: Socket })._socket;
  const before = socket.bytesRead;
  const big = 'All work and no play makes Jack a dull boy. '.repeat(8000); // ~350 KB
  await client.send(big);
  assert.equal(await client.nextText(5000), big);
  const readForBig = socket.bytesRead - before;
  assert.ok(
    readForBig < 50_000,
    `the echo of ${big.length} repetitive bytes came compressed (read ${readForBig} bytes)`,
  );

  const random = randomBytes(200_000);
  await client.send(random, { binary: true });
  const back = await client.next(5000);
  assert.equal(back.isBinary, true);
  assert.ok(back.data.equals(random), 'random binary survives compression');
  for (let i = 0; i < 20; i++) {
    await client.send(`small ${i}`);
    assert.equal(await client.nextText(), `small ${i}`);
  }
  await client.close();

  // Raw: with threshold 0 even a 5-byte message comes back compressed (RSV1 set).
  const raw = await rawUpgrade(port, '/echo', {
    'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits',
  });
  assert.equal(raw.status, 101);
  assert.match(raw.headers['sec-websocket-extensions'] ?? '', /^permessage-deflate/);
  await raw.send(encodeFrame(OP_TEXT, 'hello'));
  const frame = await raw.waitFrame((f) => f.opcode === OP_TEXT);
  assert.equal(frame.rsv & 0x4, 0x4, 'RSV1 marks a compressed message');
  const inflated = inflateRawSync(Buffer.concat([frame.payload, Buffer.from([0, 0, 0xff, 0xff])]), {
    finishFlush: zlibConstants.Z_SYNC_FLUSH,
  });
  assert.equal(inflated.toString(), 'hello');
  raw.conn.destroy();
  await assertServing(port);
});

test('permessage-deflate is not negotiated when wsCompression is off (the default)', async (t) => {
  const { url, port } = await serve(t, (server) => server.route('/echo', echo));
  const client = await Client.open(url('/echo'), undefined, { perMessageDeflate: true });
  assert.equal(client.ws.extensions, '');
  assert.equal(client.upgradeHeaders?.['sec-websocket-extensions'], undefined);
  const big = 'z'.repeat(100_000);
  await client.send(big);
  assert.equal(await client.nextText(), big);
  await client.close();

  const raw = await rawUpgrade(port, '/echo', {
    'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits',
  });
  assert.equal(raw.status, 101);
  assert.equal(raw.headers['sec-websocket-extensions'], undefined);
  // A compressed frame (RSV1) without the extension is a protocol error.
  await raw.send(encodeFrame(OP_TEXT, 'hello', { rsv: 0x4 }));
  const close = await raw.waitFrame((f) => f.opcode === OP_CLOSE);
  assert.equal(closeCodeOf(close), 1002);
  raw.conn.destroy();
});

test('a message over wsMessageLimit closes with 1009; at the limit it is accepted', async (t) => {
  const closes: number[] = [];
  let handled = 0;
  const { url, port } = await serve(
    t,
    (server) => {
      server.route('/echo', async (ctx) => {
        handled++;
        await echo(ctx);
      });
      server.onWsClosed((_ctx, code) => {
        closes.push(code);
      });
    },
    { wsMessageLimit: 1024 },
  );
  const ok = await Client.open(url('/echo'));
  await ok.send('a'.repeat(1024));
  assert.equal((await ok.nextText()).length, 1024);
  await ok.close();

  const tooBig = await Client.open(url('/echo'));
  tooBig.ws.send('b'.repeat(1025));
  const info = await tooBig.waitClosed();
  assert.equal(info.code, 1009);
  assert.equal(handled, 1, 'the oversized message never reached the route');

  // The limit applies to the whole message, not each fragment.
  const fragmented = await Client.open(url('/echo'));
  fragmented.ws.send('c'.repeat(600), { fin: false });
  fragmented.ws.send('c'.repeat(600), { fin: true });
  assert.equal((await fragmented.waitClosed()).code, 1009);
  assert.equal(handled, 1);
  assert.ok(await eventually(() => closes.length === 3));
  assert.deepEqual(closes.slice(1), [1009, 1009], 'onWsClosed sees 1009');
  await assertServing(port);
});

test('invalid UTF-8 in a text message closes with 1007', async (t) => {
  const closes: number[] = [];
  let handled = 0;
  const { port } = await serve(t, (server) => {
    server.route('/echo', async (ctx) => {
      handled++;
      await echo(ctx);
    });
    server.onWsClosed((_ctx, code) => {
      closes.push(code);
    });
  });
  for (const payload of [
    Buffer.from([0xff, 0xfe]),
    Buffer.from([0x61, 0xc3]), // truncated 2-byte sequence
    Buffer.from([0xed, 0xa0, 0x80]), // UTF-16 surrogate
  ]) {
    const raw = await rawUpgrade(port, '/echo');
    assert.equal(raw.status, 101);
    await raw.send(encodeFrame(OP_TEXT, payload));
    const close = await raw.waitFrame((f) => f.opcode === OP_CLOSE);
    assert.equal(closeCodeOf(close), 1007, `payload ${payload.toString('hex')}`);
    raw.conn.destroy();
  }
  // The same bytes as a binary message are fine.
  const raw = await rawUpgrade(port, '/echo');
  await raw.send(encodeFrame(OP_BINARY, Buffer.from([0xff, 0xfe])));
  const reply = await raw.waitFrame((f) => f.opcode === OP_BINARY);
  assert.deepEqual(reply.payload, Buffer.from([0xff, 0xfe]));
  raw.conn.destroy();
  assert.equal(handled, 1);
  assert.ok(await eventually(() => closes.length === 4));
  assert.equal(
    closes.filter((code) => code === 1007).length,
    3,
    `onWsClosed reports 1007: ${closes.join()}`,
  );
  await assertServing(port);
});

/** A masked ping whose short payload is declared in the 16-bit length field (not the shortest form). */
function pingWithLongLength(text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.from([0x80 | OP_PING, 0x80 | 126, 0, payload.length]);
  return Buffer.concat([header, Buffer.alloc(4), payload]); // an all-zero mask leaves it as is
}

test('protocol errors (unmasked frame, reserved opcode, bad fragmentation) close with 1002', async (t) => {
  const closes: number[] = [];
  let handled = 0;
  const { port } = await serve(t, (server) => {
    server.route('/echo', async (ctx) => {
      handled++;
      await echo(ctx);
    });
    server.onWsClosed((_ctx, code) => {
      closes.push(code);
    });
  });
  const cases: Array<[string, Buffer]> = [
    ['unmasked client frame', encodeFrame(OP_TEXT, 'hi', { mask: false })],
    ['reserved opcode 0x3', encodeFrame(0x3, 'hi')],
    ['RSV2 set', encodeFrame(OP_TEXT, 'hi', { rsv: 0x2 })],
    ['fragmented ping', encodeFrame(OP_PING, 'p', { fin: false })],
    ['continuation without a start', encodeFrame(OP_CONT, 'hi')],
    [
      'new text frame inside a fragmented message',
      Buffer.concat([encodeFrame(OP_TEXT, 'a', { fin: false }), encodeFrame(OP_TEXT, 'b')]),
    ],
    ['control frame over 125 bytes', encodeFrame(OP_PING, Buffer.alloc(126))],
    ['short control frame with a 16-bit length', pingWithLongLength('hi')],
  ];
  for (const [name, bytes] of cases) {
    const raw = await rawUpgrade(port, '/echo');
    assert.equal(raw.status, 101, name);
    await raw.send(bytes);
    const close = await raw.waitFrame((f) => f.opcode === OP_CLOSE);
    assert.equal(closeCodeOf(close), 1002, name);
    raw.conn.destroy();
  }
  assert.equal(handled, 0);
  assert.ok(await eventually(() => closes.length === cases.length), `closes: ${closes.join()}`);
  assert.deepEqual(
    closes,
    cases.map(() => 1002),
    'onWsClosed reports 1002',
  );
  await assertServing(port);
});

// ---- handshake -----------------------------------------------------------------------------

test('malformed handshakes are answered over HTTP (400 / 426) and the connection closes', async (t) => {
  let routeRuns = 0;
  let hookRuns = 0;
  const { port } = await serve(t, (server) => {
    server.preWsUpgrade(() => {
      hookRuns++;
    });
    server.route('/ws', async (ctx) => {
      routeRuns++;
      await echo(ctx);
    });
  });
  const cases: Array<{
    name: string;
    overrides: Record<string, string | null>;
    status: number;
    line?: string;
  }> = [
    { name: 'missing key', overrides: { 'Sec-WebSocket-Key': null }, status: 400 },
    { name: 'key too short', overrides: { 'Sec-WebSocket-Key': 'abc' }, status: 400 },
    {
      name: 'key of 24 chars that is not 16 bytes',
      overrides: { 'Sec-WebSocket-Key': 'AAAAAAAAAAAAAAAAAAAAAAAA' },
      status: 400,
    },
    {
      name: 'key of 20 bytes',
      overrides: { 'Sec-WebSocket-Key': randomBytes(20).toString('base64') },
      status: 400,
    },
    { name: 'version 8', overrides: { 'Sec-WebSocket-Version': '8' }, status: 426 },
    { name: 'no version', overrides: { 'Sec-WebSocket-Version': null }, status: 426 },
    { name: 'Connection without upgrade', overrides: { Connection: 'keep-alive' }, status: 400 },
    { name: 'no Connection', overrides: { Connection: null }, status: 400 },
    { name: 'POST', overrides: {}, status: 400, line: 'POST /ws HTTP/1.1' },
  ];
  for (const c of cases) {
    const raw = await rawUpgrade(port, '/ws', c.overrides, c.line);
    assert.ok(await raw.conn.waitClosed(3000), `${c.name}: the server closes the connection`);
    const parsed = parseResponses(raw.conn.received, { eof: true });
    const response = parsed.responses[0];
    assert.ok(response !== undefined, `${c.name}: a complete response (${parsed.error ?? ''})`);
    assert.equal(response.status, c.status, `${c.name}: ${response.text()}`);
    assert.notEqual(response.headers['upgrade'], 'websocket', c.name);
    if (c.status === 426) assert.equal(response.headers['sec-websocket-version'], '13', c.name);
    raw.conn.destroy();
  }
  assert.equal(routeRuns, 0, 'no route ran for a refused handshake');
  assert.equal(hookRuns, 0, 'preWsUpgrade does not run for a malformed handshake');

  // A well-formed handshake gets 101 with the right accept value.
  const good = await rawUpgrade(port, '/ws', { Connection: 'keep-alive, Upgrade' });
  assert.equal(good.status, 101);
  assert.equal(good.headers['sec-websocket-accept'], acceptFor(good.key));
  assert.match(good.headers['upgrade'] ?? '', /^websocket$/i);
  good.conn.destroy();

  // An upgrade to a path with no route is a plain 404.
  const missing = await rawUpgrade(port, '/nowhere');
  assert.equal(missing.status, 404);
  missing.conn.destroy();
  await assertServing(port);
  assert.equal(hookRuns, 1);
});

test('preWsUpgrade can refuse (401 with a body, thrown HttpError) and its headers go out on the 101', async (t) => {
  let routeRuns = 0;
  let connected = 0;
  const { url, port } = await serve(t, (server) => {
    server.preWsUpgrade(async (ctx) => {
      await sleep(5);
      const token = ctx.getRequestHeader('authorization');
      if (token === undefined) {
        ctx.setResponseStatusCode(401).setResponseBody('token required');
        await ctx.send();
        return;
      }
      if (token === 'Bearer forbidden') throw new HttpError(403, 'not for you');
      ctx.setAttribute('user', token.slice('Bearer '.length));
      ctx.setResponseCookie('sid=abc123; HttpOnly');
      ctx.setResponseHeader('x-auth', 'ok');
    });
    server.onWsConnected(() => {
      connected++;
    });
    server.route('/secure', async (ctx) => {
      routeRuns++;
      ctx.setResponseBody(`${ctx.getAttribute<string>('user')}:${ctx.getRequestBodyString()}`);
      await ctx.sendBody();
    });
  });
  const refused = await openExpectingRefusal(url('/secure'));
  assert.equal(refused.status, 401);
  assert.equal(refused.body, 'token required');

  const forbidden = await openExpectingRefusal(url('/secure'), {
    authorization: 'Bearer forbidden',
  });
  assert.equal(forbidden.status, 403);
  const json = JSON.parse(forbidden.body) as { error: string; message: string };
  assert.equal(json.error, 'Forbidden');
  assert.equal(json.message, 'not for you');
  assert.equal(routeRuns, 0);
  assert.equal(connected, 0);

  const client = await Client.open(url('/secure'), undefined, {
    headers: { authorization: 'Bearer alice' },
  });
  assert.equal(client.upgradeHeaders?.['x-auth'], 'ok');
  assert.deepEqual(client.upgradeHeaders?.['set-cookie'], ['sid=abc123; HttpOnly']);
  await client.send('hi');
  assert.equal(await client.nextText(), 'alice:hi', 'attributes from preWsUpgrade reach the route');
  await client.close();
  assert.equal(connected, 1);
  await assertServing(port);
});

test('subprotocol negotiation follows the server preference order; no match selects none', async (t) => {
  const seen: Array<string | undefined> = [];
  const { url, port } = await serve(
    t,
    (server) => {
      server.route('/chat', async (ctx) => {
        seen.push(ctx.getRequestHeader('sec-websocket-protocol'));
        await echo(ctx);
      });
    },
    { wsProtocols: ['chat.v2', 'chat.v1'] },
  );
  const client = await Client.open(url('/chat'), ['chat.v1', 'chat.v2']);
  assert.equal(client.ws.protocol, 'chat.v2');
  await client.send('x');
  assert.equal(await client.nextText(), 'x');
  assert.deepEqual(seen, ['chat.v1,chat.v2'], 'the offer stays readable as a request header');
  await client.close();

  const only = await Client.open(url('/chat'), ['chat.v1']);
  assert.equal(only.ws.protocol, 'chat.v1');
  await only.close();

  const none = await rawUpgrade(port, '/chat', { 'Sec-WebSocket-Protocol': 'other, mqtt' });
  assert.equal(none.status, 101);
  assert.equal(none.headers['sec-websocket-protocol'], undefined);
  none.conn.destroy();

  const notOffered = await Client.open(url('/chat'));
  assert.equal(notOffered.ws.protocol, '');
  await notOffered.close();
});

test('with no wsProtocols configured the server never selects a subprotocol', async (t) => {
  const { port } = await serve(t, (server) => server.route('/chat', echo));
  const raw = await rawUpgrade(port, '/chat', { 'Sec-WebSocket-Protocol': 'chat.v1' });
  assert.equal(raw.status, 101);
  assert.equal(raw.headers['sec-websocket-protocol'], undefined);
  raw.conn.destroy();
});

// ---- lifecycle -----------------------------------------------------------------------------

test('onWsConnected runs (awaited) before the first message and can sendBody()', async (t) => {
  const order: string[] = [];
  const { url } = await serve(t, (server) => {
    server.onWsConnected(async (ctx) => {
      order.push('connected-1:start');
      await sleep(150);
      ctx.setAttribute('connected', true);
      ctx.setResponseBody('welcome');
      await ctx.sendBody();
      order.push('connected-1:end');
    });
    server.onWsConnected((ctx) => {
      order.push('connected-2');
      ctx.setResponseBody(Buffer.from('second hook'));
      return ctx.sendBody();
    });
    server.route('/ws', async (ctx) => {
      order.push(`message:${ctx.getRequestBodyString()}`);
      ctx.setResponseBody(`connected=${String(ctx.getAttribute('connected'))}`);
      await ctx.sendBody();
    });
  });
  const client = await Client.open(url('/ws'));
  // Sent at once, while the first hook is still sleeping.
  await client.send('early');
  assert.equal(await client.nextText(), 'welcome');
  const second = await client.next();
  assert.equal(second.isBinary, true);
  assert.equal(second.text, 'second hook');
  assert.equal(await client.nextText(), 'connected=true');
  assert.deepEqual(order, ['connected-1:start', 'connected-1:end', 'connected-2', 'message:early']);
  await client.close();
});

test("one Context per connection: attributes persist, headers stay the upgrade request's", async (t) => {
  const contexts = new Set<Context>();
  const { url } = await serve(t, (server) => {
    server.route('/count', async (ctx) => {
      contexts.add(ctx);
      const count = (ctx.getAttribute<number>('count') ?? 0) + 1;
      ctx.setAttribute('count', count);
      ctx.setResponseBody(
        `${count}:${ctx.getRequestBodyString()}:${ctx.getRequestHeader('x-client') ?? '-'}:${ctx.getRequestQuery('room') ?? '-'}`,
      );
      await ctx.sendBody();
    });
  });
  const a = await Client.open(url('/count?room=blue'), undefined, { headers: { 'x-client': 'A' } });
  const b = await Client.open(url('/count?room=red'), undefined, { headers: { 'x-client': 'B' } });
  for (let i = 1; i <= 5; i++) {
    await a.send(`a${i}`);
    assert.equal(await a.nextText(), `${i}:a${i}:A:blue`);
    if (i % 2 === 0) {
      await b.send(`b${i}`);
      assert.equal(await b.nextText(), `${i / 2}:b${i}:B:red`);
    }
  }
  assert.equal(contexts.size, 2, 'one Context per connection');
  await a.close();
  await b.close();
});

test('request and response middleware run per message; route params work; nothing is auto-sent', async (t) => {
  const { url } = await serve(t, (server) => {
    server.requestMiddleware((ctx) => {
      if (!ctx.isWebSocket()) return;
      ctx.setAttribute('req', (ctx.getAttribute<number>('req') ?? 0) + 1);
      if (ctx.getRequestBodyString() === 'blocked') ctx.aborted();
    });
    server.responseMiddleware((ctx) => {
      if (!ctx.isWebSocket()) return;
      ctx.setAttribute('resp', (ctx.getAttribute<number>('resp') ?? 0) + 1);
      // Setting a body here sends nothing: only explicit sends go out.
      ctx.setResponseBody('should never be sent');
    });
    server.route('/rooms/{room}/users/{user}', async (ctx) => {
      ctx.setResponseBodyJson({
        room: ctx.getRouteParam('room'),
        user: ctx.getRouteParam('user'),
        body: ctx.getRequestBodyString(),
        req: ctx.getAttribute('req'),
        resp: ctx.getAttribute('resp') ?? 0,
      });
      await ctx.sendBody();
    });
  });
  const client = await Client.open(url('/rooms/l%C3%BCbeck/users/42'));
  for (let i = 1; i <= 3; i++) {
    await client.send(`m${i}`);
    assert.deepEqual(JSON.parse(await client.nextText()), {
      room: 'lübeck',
      user: '42',
      body: `m${i}`,
      req: i,
      resp: i - 1,
    });
  }
  // Aborted in request middleware: the route does not run for this message only.
  await client.send('blocked');
  await client.send('m5');
  assert.deepEqual(JSON.parse(await client.nextText()), {
    room: 'lübeck',
    user: '42',
    body: 'm5',
    req: 5,
    resp: 3,
  });
  await sleep(100);
  assert.equal(client.received.length, 4, 'exactly one message per handled message');
  await client.close();
});

test('onWsClosed fires exactly once with the client close code and reason; signal fires', async (t) => {
  const closes: Array<{ code: number; reason: string; aborted: boolean; path: string }> = [];
  const { url } = await serve(t, (server) => {
    server.route('/ws', echo);
    server.onWsClosed((ctx, code, reason) => {
      closes.push({ code, reason, aborted: ctx.signal.aborted, path: ctx.getRequestPath() });
    });
  });
  const client = await Client.open(url('/ws'));
  await client.send('x');
  await client.next();
  const info = await client.close(4001, 'client-bye');
  assert.equal(info.code, 4001);
  assert.ok(await eventually(() => closes.length >= 1));
  await sleep(200);
  assert.deepEqual(closes, [{ code: 4001, reason: 'client-bye', aborted: true, path: '/ws' }]);

  // An abrupt disconnect still fires the hook once (1006: no close frame).
  const rude = await Client.open(url('/ws'));
  rude.ws.terminate();
  assert.ok(await eventually(() => closes.length >= 2));
  await sleep(200);
  assert.equal(closes.length, 2);
  assert.equal(closes[1]!.code, 1006);
});

test('ctx.closed(4002, "bye") closes the WebSocket with that code and reason', async (t) => {
  const closes: number[] = [];
  let after = 0;
  const { url, port } = await serve(t, (server) => {
    server.route('/ws', async (ctx) => {
      if (ctx.getRequestBodyString() === 'quit') {
        await ctx.closed(4002, 'bye');
        return;
      }
      after++;
      await echo(ctx);
    });
    server.responseMiddleware((ctx) => {
      if (ctx.isClosed()) after += 100; // closed() stops the rest of the chain
    });
    server.onWsClosed((_ctx, code) => {
      closes.push(code);
    });
  });
  const client = await Client.open(url('/ws'));
  await client.send('hello');
  assert.equal(await client.nextText(), 'hello');
  await client.send('quit');
  const info = await client.waitClosed();
  assert.deepEqual(info, { code: 4002, reason: 'bye' });
  assert.ok(await eventually(() => closes.length === 1));
  assert.deepEqual(closes, [4002]);
  assert.equal(after, 1);

  // closed() with no code closes with 1000.
  let plainCtx: Context | null = null;
  const s2 = await serve(t, (server) => {
    server.onWsConnected(async (ctx) => {
      plainCtx = ctx;
      await ctx.closed();
    });
    server.route('/ws', echo);
  });
  const c2 = await Client.open(s2.url('/ws'));
  assert.equal((await c2.waitClosed()).code, 1000);
  assert.ok(plainCtx !== null);
  await assertServing(port);
});

test('sendBody() rejects once the peer is gone, so a push loop stops', async (t) => {
  let outcome: { error: unknown; sent: number; at: number; signalAborted: boolean } | null = null;
  const { url } = await serve(t, (server) => {
    server.onWsConnected((ctx) => {
      // A push loop detached from the hook, as a ticker would be.
      void (async () => {
        let sent = 0;
        try {
          for (;;) {
            ctx.setResponseBody(`tick ${sent}`);
            await ctx.sendBody();
            sent++;
            await sleep(10);
          }
        } catch (error) {
          outcome = { error, sent, at: Date.now(), signalAborted: ctx.signal.aborted };
        }
      })();
    });
    server.route('/ticks', () => {});
  });
  const client = await Client.open(url('/ticks'));
  assert.equal(await client.nextText(), 'tick 0');
  await client.next();
  const goneAt = Date.now();
  client.ws.terminate();
  assert.ok(await eventually(() => outcome !== null, 2000), 'the loop stopped within 2 s');
  const result = outcome as unknown as { error: unknown; at: number; signalAborted: boolean };
  assert.ok(result.error instanceof Error);
  assert.equal((result.error as Error & { code?: string }).code, 'HL_ERR_PEER_GONE');
  assert.ok(result.at - goneAt < 2000);
  assert.equal(result.signalAborted, true, 'ctx.signal fired too');
});

test('disableWsHook: the handler runs once and reads ctx.wsMessages(); returning closes with 1000', async (t) => {
  let handlerRuns = 0;
  let middlewareRuns = 0;
  const closes: number[] = [];
  let connectedRan = false;
  const { url } = await serve(t, (server) => {
    // Registered before the route: the pattern may come in any order.
    server.disableWsHook('/loop/{id}');
    server.requestMiddleware((ctx) => {
      if (ctx.isWebSocket()) middlewareRuns++;
    });
    server.onWsConnected(async () => {
      await sleep(50);
      connectedRan = true;
    });
    server.onWsClosed((_ctx, code) => {
      closes.push(code);
    });
    server.route('/loop/{id}', async (ctx) => {
      handlerRuns++;
      assert.equal(connectedRan, true, 'onWsConnected ran before the handler');
      let n = 0;
      for await (const m of ctx.wsMessages()) {
        n++;
        if (m.text() === 'end') break;
        assert.equal(ctx.getRequestBody(), m.data, 'wsMessages() updates getRequestBody()');
        assert.equal(ctx.getWsMessageType(), m.type);
        ctx.setResponseBody(
          m.type === 'binary'
            ? Buffer.concat([Buffer.from([n]), m.data])
            : `${ctx.getRouteParam('id')}#${n}:${m.type}:${m.text()}`,
        );
        await ctx.sendBody();
      }
      ctx.setResponseBody(`done after ${n}`);
      await ctx.sendBody();
    });
  });
  const client = await Client.open(url('/loop/7'));
  // Sent immediately, while onWsConnected is still sleeping: queued, not lost.
  await client.send('one');
  await client.send(Buffer.from([9, 9]), { binary: true });
  await client.send('three');
  assert.equal(await client.nextText(), '7#1:text:one');
  const binary = await client.next();
  assert.equal(binary.isBinary, true);
  assert.deepEqual(binary.data, Buffer.from([2, 9, 9]));
  assert.equal(await client.nextText(), '7#3:text:three');
  await client.send('end');
  assert.equal(await client.nextText(), 'done after 4');
  const info = await client.waitClosed();
  assert.equal(info.code, 1000);
  assert.equal(handlerRuns, 1);
  assert.ok(middlewareRuns <= 1, `middleware does not run per message (ran ${middlewareRuns})`);
  assert.ok(await eventually(() => closes.length === 1));
  assert.deepEqual(closes, [1000]);

  // The client leaving ends the for-await loop; the handler finishes.
  let loopEnded = false;
  const s2 = await serve(t, (server) => {
    server.disableWsHook('/wait');
    server.route('/wait', async (ctx) => {
      for await (const m of ctx.wsMessages()) {
        ctx.setResponseBody(m.text());
        await ctx.sendBody();
      }
      loopEnded = true;
    });
  });
  const c2 = await Client.open(s2.url('/wait'));
  await c2.send('ping');
  assert.equal(await c2.nextText(), 'ping');
  await c2.close(1000);
  assert.ok(await eventually(() => loopEnded, 2000), 'wsMessages() ends when the peer closes');
});

// ---- heartbeat, shutdown, load ------------------------------------------------------------------

test('heartbeat: a client that answers pings stays; one that never pongs is terminated', async (t) => {
  const closes: number[] = [];
  const { url } = await serve(
    t,
    (server) => {
      server.route('/ws', echo);
      server.onWsClosed((_ctx, code) => {
        closes.push(code);
      });
    },
    { wsHeartbeat: 200 },
  );
  const polite = await Client.open(url('/ws'));
  const mute = await Client.open(url('/ws'), undefined, { autoPong: false });
  const openedAt = Date.now();
  const muteClosed = await mute.waitClosed(3000);
  const elapsed = Date.now() - openedAt;
  assert.ok(elapsed < 1200, `the mute client was dropped within ~1 s (took ${elapsed} ms)`);
  assert.equal(muteClosed.code, 1006, 'terminated without a close handshake');
  assert.ok(mute.pings >= 1, 'it was pinged');

  await sleep(Math.max(0, 1300 - (Date.now() - openedAt)));
  assert.equal(polite.ws.readyState, WebSocket.OPEN, 'the client that pongs is still connected');
  assert.ok(polite.pings >= 4, `pinged every ~200 ms (got ${polite.pings})`);
  await polite.send('still here');
  assert.equal(await polite.nextText(), 'still here');
  assert.equal(closes.length, 1);
  await polite.close();
});

test('heartbeat: a peer that keeps sending stays even if it never pongs', async (t) => {
  const { url } = await serve(t, (server) => server.route('/ws', echo), { wsHeartbeat: 200 });
  const chatty = await Client.open(url('/ws'), undefined, { autoPong: false });
  // Any bytes received since the previous ping show the peer is alive, pong or not.
  for (let i = 0; i < 12; i++) {
    await chatty.send(`tick ${i}`);
    assert.equal(await chatty.nextText(), `tick ${i}`);
    await sleep(100);
  }
  assert.ok(chatty.pings >= 4, `it was pinged all along (got ${chatty.pings})`);
  assert.equal(chatty.ws.readyState, WebSocket.OPEN, 'still connected after ~1.2 s');
  await chatty.close();
});

test('heartbeat: a raw peer that ignores pings is dropped', async (t) => {
  const { port } = await serve(t, (server) => server.route('/ws', echo), { wsHeartbeat: 200 });
  const raw = await rawUpgrade(port, '/ws');
  assert.equal(raw.status, 101);
  const start = Date.now();
  assert.ok(await raw.conn.waitClosed(2000), 'the server closed the socket');
  assert.ok(Date.now() - start < 1200);
  assert.ok(
    raw.frames().some((f) => f.opcode === OP_PING),
    'it sent a ping first',
  );
  raw.conn.destroy();
});

test('graceful close sends 1001 to open clients and run().closed resolves', async (t) => {
  const closes: number[] = [];
  const server = new Server({ host: '127.0.0.1', port: 0 });
  server.route('/ws', echo);
  server.disableWsHook('/loop');
  server.route('/loop', async (ctx) => {
    for await (const m of ctx.wsMessages()) {
      ctx.setResponseBody(m.text());
      await ctx.sendBody();
    }
  });
  server.onWsClosed((_ctx, code) => {
    closes.push(code);
  });
  const running = await server.run();
  t.after(() => running.close({ timeout: 500 }));
  const url = `ws://127.0.0.1:${running.port}`;
  const clients = await Promise.all([
    Client.open(`${url}/ws`),
    Client.open(`${url}/ws`),
    Client.open(`${url}/loop`),
  ]);
  for (const client of clients) {
    await client.send('hi');
    assert.equal(await client.nextText(), 'hi');
  }
  let closedResolved = false;
  void running.closed.then(() => {
    closedResolved = true;
  });
  const started = Date.now();
  const closing = running.close();
  const infos = await Promise.all(clients.map((c) => c.waitClosed(3000)));
  assert.deepEqual(
    infos.map((i) => i.code),
    [1001, 1001, 1001],
  );
  await within(closing, 3000, 'close()');
  await within(running.closed, 1000, 'run().closed');
  assert.equal(closedResolved, true);
  assert.ok(Date.now() - started < 3000);
  assert.ok(
    await eventually(() => closes.length === 3, 1000),
    `onWsClosed ran for all: ${closes.join()}`,
  );
  assert.deepEqual(closes, [1001, 1001, 1001]);
  await assert.rejects(
    fetch(`http://127.0.0.1:${running.port}/`, { signal: AbortSignal.timeout(1000) }),
    'the port no longer accepts',
  );
});

test('200 concurrent clients each echo 20 messages correctly', { timeout: 30_000 }, async (t) => {
  const { url, port } = await serve(t, (server) => {
    server.route('/echo/{n}', async (ctx) => {
      ctx.setResponseBody(`${ctx.getRouteParam('n')}|${ctx.getRequestBodyString()}`);
      await ctx.sendBody();
    });
  });
  const CLIENTS = 200;
  const MESSAGES = 20;
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) => Client.open(url(`/echo/${i}`))),
  );
  await Promise.all(
    clients.map(async (client, i) => {
      for (let j = 0; j < MESSAGES; j++) client.ws.send(`c${i}-m${j}`);
      for (let j = 0; j < MESSAGES; j++) {
        assert.equal(await client.nextText(10_000), `${i}|c${i}-m${j}`);
      }
    }),
  );
  await Promise.all(clients.map((c) => c.close()));
  await assertServing(port);
});

test('the server keeps serving HTTP and WebSocket after every kind of failure', async (t) => {
  const { url, port } = await serve(
    t,
    (server) => {
      server.get('/', (ctx) => {
        ctx.setResponseBody('alive');
      });
      server.route('/ws', echo);
      server.route('/boom', () => {
        throw new Error('boom');
      });
      server.errorHook(() => {});
    },
    { wsMessageLimit: 64 },
  );
  // A handler that throws on a message: the connection survives or closes, the server lives.
  const boom = await Client.open(url('/boom'));
  await boom.send('x');
  await sleep(50);
  boom.ws.terminate();
  const big = await Client.open(url('/ws'));
  big.ws.send('x'.repeat(100));
  assert.equal((await big.waitClosed()).code, 1009);
  const bad = await rawUpgrade(port, '/ws');
  await bad.send(encodeFrame(OP_TEXT, Buffer.from([0xff])));
  await bad.waitFrame((f) => f.opcode === OP_CLOSE);
  bad.conn.destroy();
  const half = await rawUpgrade(port, '/ws');
  await half.send(encodeFrame(OP_TEXT, 'abcdef').subarray(0, 4)); // truncated frame, then gone
  half.conn.destroy();
  const res = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'alive');
  const client = await Client.open(url('/ws'));
  await client.send('fine');
  assert.equal(await client.nextText(), 'fine');
  await client.close();
});

// ---- edges -----------------------------------------------------------------------------------

test('frames sent in the same packet as the handshake are not lost (async preWsUpgrade)', async (t) => {
  const { port } = await serve(t, (server) => {
    server.preWsUpgrade(async () => {
      await sleep(100);
    });
    server.route('/echo', echo);
  });
  const conn = await RawConnection.connect(port);
  t.after(() => conn.destroy());
  const key = randomBytes(16).toString('base64');
  await conn.write(
    Buffer.concat([
      Buffer.from(
        `GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
      encodeFrame(OP_TEXT, 'early-1'),
      encodeFrame(OP_TEXT, 'early-2'),
    ]),
  );
  const texts = (): string[] => {
    const end = conn.received.indexOf('\r\n\r\n');
    if (end === -1) return [];
    return parseFrames(conn.received.subarray(end + 4))
      .filter((f) => f.opcode === OP_TEXT)
      .map((f) => f.payload.toString());
  };
  await conn.waitUntil(() => texts().length >= 2, 3000);
  assert.match(conn.received.toString('latin1'), /^HTTP\/1\.1 101 /);
  assert.deepEqual(texts(), ['early-1', 'early-2']);
});

test('an idle WebSocket outlives keepAliveTimeout and requestTimeout', async (t) => {
  const { url } = await serve(t, (server) => server.route('/echo', echo), {
    keepAliveTimeout: 150,
    requestTimeout: 150,
    wsHeartbeat: false,
  });
  const client = await Client.open(url('/echo'));
  await sleep(700);
  assert.equal(client.ws.readyState, WebSocket.OPEN);
  await client.send('still open');
  assert.equal(await client.nextText(), 'still open');
  await client.close();
});

test('an onWsConnected hook that throws closes with 1011 and reaches errorHook', async (t) => {
  const errors: unknown[] = [];
  let routeRuns = 0;
  const { url, port } = await serve(t, (server) => {
    server.errorHook((_ctx, error) => {
      errors.push(error);
    });
    server.onWsConnected(() => {
      throw new Error('hook failed');
    });
    server.route('/ws', () => {
      routeRuns++;
    });
  });
  const client = await Client.open(url('/ws'));
  client.ws.send('x');
  const info = await client.waitClosed();
  assert.equal(info.code, 1011);
  assert.equal(routeRuns, 0);
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as Error).message, 'hook failed');
  await assertServing(port);
});

test('preWsUpgrade calling ctx.aborted() refuses the upgrade', async (t) => {
  let routeRuns = 0;
  const { url } = await serve(t, (server) => {
    server.preWsUpgrade((ctx) => {
      ctx.setResponseStatusCode(429).setResponseBody('slow down');
      ctx.aborted();
    });
    server.route('/ws', () => {
      routeRuns++;
    });
  });
  const refused = await openExpectingRefusal(url('/ws'));
  assert.equal(refused.status, 429);
  assert.equal(refused.body, 'slow down');
  assert.equal(routeRuns, 0);
});

test('sendBody() rejects after ctx.closed() closed the WebSocket', async (t) => {
  let outcome: unknown = null;
  const { url } = await serve(t, (server) => {
    server.route('/ws', async (ctx) => {
      await ctx.closed(4003, 'done');
      ctx.setResponseBody('too late');
      try {
        await ctx.sendBody();
        outcome = 'resolved';
      } catch (error) {
        outcome = error;
      }
    });
  });
  const client = await Client.open(url('/ws'));
  await client.send('x');
  assert.deepEqual(await client.waitClosed(), { code: 4003, reason: 'done' });
  assert.ok(await eventually(() => outcome !== null));
  assert.ok(outcome instanceof Error, `sendBody() rejected (${String(outcome)})`);
  assert.equal(client.received.length, 0, 'nothing was sent after the close');
});

test('messages are handled one at a time, in arrival order, even with slow async handlers', async (t) => {
  let active = 0;
  let maxActive = 0;
  const { url } = await serve(
    t,
    (server) => {
      server.route('/seq', async (ctx) => {
        active++;
        maxActive = Math.max(maxActive, active);
        const n = Number(ctx.getRequestBodyString());
        await sleep(n % 3);
        ctx.setResponseBody(String(n));
        await ctx.sendBody();
        active--;
      });
    },
    { wsBufferSize: 256 },
  );
  const client = await Client.open(url('/seq'));
  const COUNT = 300;
  for (let i = 0; i < COUNT; i++) client.ws.send(String(i));
  for (let i = 0; i < COUNT; i++) assert.equal(await client.nextText(5000), String(i));
  assert.equal(maxActive, 1);
  await client.close();
});

test('a WebSocket peer that never reads makes sendBody() wait: buffered bytes stay bounded', async (t) => {
  const MESSAGE = 64 * 1024;
  const push = { sent: 0, error: undefined as unknown, endedAt: 0 };
  const { port } = await serve(t, (server) => {
    server.onWsConnected((ctx) => {
      void (async () => {
        const payload = Buffer.alloc(MESSAGE, 7);
        try {
          for (;;) {
            ctx.setResponseBody(payload);
            await ctx.sendBody();
            push.sent++;
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
        } catch (error) {
          push.error = error;
          push.endedAt = Date.now();
        }
      })();
    });
    server.route('/push', () => {});
  });
  const raw = await rawUpgrade(port, '/push');
  assert.equal(raw.status, 101);
  raw.conn.socket.pause();
  await sleep(1500);
  const at1500 = push.sent;
  await sleep(500);
  const at2000 = push.sent;
  assert.ok(at2000 > 0);
  assert.ok(
    at2000 * MESSAGE < 16 * 1024 * 1024,
    `bounded: ${at2000} messages = ${((at2000 * MESSAGE) / 1048576).toFixed(1)} MiB accepted for a peer that never reads`,
  );
  assert.equal(at2000, at1500, 'no progress while the peer does not read');
  assert.equal(push.error, undefined);
  raw.conn.destroy();
  const goneAt = Date.now();
  assert.ok(
    await eventually(() => push.endedAt !== 0, 2000),
    'the loop ends once the peer is gone',
  );
  assert.ok(push.endedAt - goneAt < 2000);
});

test('a handshake still in preWsUpgrade when the server closes is not answered with a success status', async (t) => {
  const server = new Server({ host: '127.0.0.1', port: 0 });
  server.preWsUpgrade(async () => {
    await sleep(300);
  });
  server.route('/ws', echo);
  const running = await server.run();
  t.after(() => running.close({ timeout: 500 }));
  const ws = new WebSocket(`ws://127.0.0.1:${running.port}/ws`);
  ws.on('error', () => {});
  const outcome = within(
    new Promise<string>((resolve) => {
      ws.once('open', () => {
        ws.once('close', (code: number) => resolve(`opened, then closed ${code}`));
      });
      ws.once('unexpected-response', (_req, res: IncomingMessage) => {
        res.resume();
        resolve(`status ${res.statusCode}`);
      });
      ws.once('close', () => resolve('closed before opening'));
    }),
    3000,
    'the handshake outcome',
  );
  await sleep(100);
  await within(running.close(), 3000, 'close()');
  const result = await outcome;
  ws.terminate();
  // Either the upgrade completes and the client is told 1001, or it is refused with an error
  // status (503); a 2xx without an upgrade tells the client nothing useful.
  assert.ok(
    result === 'opened, then closed 1001' ||
      result === 'closed before opening' ||
      /^status [45]\d\d$/.test(result),
    `outcome: ${result}`,
  );
});

test('ctx.closed() with a code or reason ws cannot send: onWsClosed reports what really happened', async (t) => {
  const closes: number[] = [];
  const results: string[] = [];
  const { url } = await serve(t, (server) => {
    server.route('/ws', async (ctx) => {
      const code = Number(ctx.getRequestBodyString());
      try {
        await ctx.closed(code, code === 4000 ? 'r'.repeat(200) : 'x');
        results.push('resolved');
      } catch (error) {
        results.push(`rejected: ${(error as Error).message}`);
      }
    });
    server.onWsClosed((_ctx, code) => {
      closes.push(code);
    });
  });
  for (const code of [999, 1005, 4000]) {
    const client = await Client.open(url('/ws'));
    await client.send(String(code));
    assert.ok(await eventually(() => results.length === closes.length + 1));
    const rejected = results.at(-1)!.startsWith('rejected');
    if (!rejected) {
      // The close went out (a sanitized code/reason): the client saw a close frame.
      const info = await client.waitClosed();
      assert.ok(await eventually(() => closes.length === results.length));
      assert.equal(closes.at(-1), info.code, `code ${code}: onWsClosed matches the wire`);
      continue;
    }
    // closed() refused: the connection must still be usable or end with a code that was sent.
    await sleep(100);
    client.ws.terminate();
    await client.waitClosed();
    assert.ok(await eventually(() => closes.length === results.length));
    assert.equal(
      closes.at(-1),
      1006,
      `code ${code}: closed() rejected and no close frame was exchanged, yet onWsClosed reported ${closes.at(-1)}`,
    );
  }
});
