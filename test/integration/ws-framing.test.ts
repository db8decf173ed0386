/**
 * RFC 6455 framing conformance of the server's WebSocket transport, over raw `node:net`
 * sockets (bytes split, coalesced or malformed at will) and the `ws` client.
 *
 * Each test runs twice: with our own framing (the default) and with `wsCompression: {}`, where
 * the `ws` library frames the connection instead. The raw client never offers
 * permessage-deflate, so both answer the same bytes with the same frames.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WebSocket } from 'ws';
import type { Context, Server, ServerConfig } from '../../src/index.js';
import { eventually } from '../helpers/eventually.js';
import {
  OP_BINARY,
  OP_CLOSE,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  closeCodeOf,
  closeReasonOf,
  encodeFrame,
  rawUpgrade,
  TRANSPORT_MODES,
  assertWsAlive,
  openWs,
  type Frame,
  type RawWs,
  type TransportMode,
} from '../helpers/raw-ws.js';
import { serve, type Served } from '../helpers/serve.js';

// ---- fixture ---------------------------------------------------------------------------------

interface Fixture extends Served {
  /** Messages the /echo route handled, in order ("text:…" or "binary:<length>"). */
  seen: string[];
  /** What onWsClosed reported, for every connection but the liveness probes. */
  closes: Array<{ code: number; reason: string }>;
  /** Connections that completed the handshake (onWsConnected ran), probes excluded. */
  connected: number;
  /** A raw handshake to `path`; the connection is destroyed before the server closes. */
  upgrade(path: string, headers?: Record<string, string | null>): Promise<RawWs>;
}

/** Text with 2-, 3- and 4-byte UTF-8 sequences. */
const MULTIBYTE = 'héllo wörld ✓ 日本語 🎉 — ünïcødé';

/** `n` bytes of a fixed pattern, so a payload that arrives shifted or truncated shows. */
function pattern(n: number): Buffer {
  const bytes = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

/** Echo: a text message comes back as text, bytes as binary. */
async function echo(ctx: Context): Promise<void> {
  ctx.setResponseBody(
    ctx.getWsMessageType() === 'binary' ? ctx.getRequestBody() : ctx.getRequestBodyString(),
  );
  await ctx.sendBody();
}

/** "text" → MULTIBYTE as text; "bin:N" → `pattern(N)` as binary. */
async function reply(ctx: Context): Promise<void> {
  const ask = ctx.getRequestBodyString();
  ctx.setResponseBody(ask === 'text' ? MULTIBYTE : pattern(Number(ask.slice(4))));
  await ctx.sendBody();
}

async function start(
  t: TestContext,
  mode: TransportMode,
  config: Partial<ServerConfig> = {},
  setup: (server: Server) => void = () => {},
): Promise<Fixture> {
  const raws: RawWs[] = [];
  // Registered before serve() registers the server's close, so it runs first: a raw socket
  // left open would make that close wait for it.
  t.after(() => {
    for (const raw of raws) raw.conn.destroy();
  });
  const fixture = {
    seen: [],
    closes: [],
    connected: 0,
    async upgrade(path: string, headers: Record<string, string | null> = {}) {
      const raw = await rawUpgrade(fixture.port, path, headers);
      raws.push(raw);
      return raw;
    },
  } as unknown as Fixture;
  const served = await serve(
    t,
    (server) => {
      server.get('/', (ctx) => {
        ctx.setResponseBody('alive');
      });
      server.route('/alive', echo);
      server.route('/echo', async (ctx) => {
        fixture.seen.push(
          ctx.getWsMessageType() === 'binary'
            ? `binary:${ctx.getRequestBody().length}`
            : `text:${ctx.getRequestBodyString()}`,
        );
        await echo(ctx);
      });
      server.route('/reply', reply);
      server.route('/bye', async (ctx) => {
        await ctx.closed(4001, 'server bye');
      });
      server.onWsConnected((ctx) => {
        if (ctx.getRequestPath() !== '/alive') fixture.connected++;
      });
      server.onWsClosed((ctx, code, reason) => {
        if (ctx.getRequestPath() !== '/alive') fixture.closes.push({ code, reason });
      });
      setup(server);
    },
    { ...mode.config, ...config },
  );
  return Object.assign(fixture, served);
}

// ---- clients ---------------------------------------------------------------------------------

/** Opens a `ws` client; rejects on an error or a non-101 answer. */
/** The next message on `ws`; rejects on an error, or if none comes in time. */
async function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  const [data, isBinary] = (await once(ws, 'message', {
    signal: AbortSignal.timeout(5000),
  })) as [Buffer, boolean];
  return { data, isBinary };
}

async function closeWs(ws: WebSocket): Promise<number> {
  const closed = once(ws, 'close', { signal: AbortSignal.timeout(3000) });
  ws.close();
  const [code] = (await closed) as [number];
  return code;
}

/** The server answers HTTP, and a fresh WebSocket echoes. */
function assertAlive(fx: Fixture): Promise<void> {
  return assertWsAlive(fx.port, fx.url('/alive'));
}

/** Waits until the server sent `count` frames matching `pred`; returns them. */
async function waitFrames(
  raw: RawWs,
  pred: (frame: Frame) => boolean,
  count: number,
  timeoutMs = 5000,
): Promise<Frame[]> {
  await raw.conn.waitUntil(() => raw.frames().filter(pred).length >= count, timeoutMs);
  const frames = raw.frames().filter(pred);
  assert.ok(
    frames.length >= count,
    `expected ${count} frames; got ${JSON.stringify(raw.frames().map((f) => [f.opcode, f.payload.length]))}`,
  );
  return frames;
}

/** Waits for the server's close frame and checks its code. */
async function expectClose(raw: RawWs, code: number, label: string): Promise<Frame> {
  const close = await raw.waitFrame((f) => f.opcode === OP_CLOSE);
  assert.equal(closeCodeOf(close), code, `${label}: close code`);
  assert.equal(close.masked, false, `${label}: server frames are not masked`);
  return close;
}

/** Waits until onWsClosed ran `count` times in all; returns the last report. */
async function lastClose(fx: Fixture, count: number): Promise<{ code: number; reason: string }> {
  assert.ok(
    await eventually(() => fx.closes.length >= count, 3000),
    `onWsClosed ran ${count} times (${JSON.stringify(fx.closes)})`,
  );
  return fx.closes[count - 1]!;
}

/** Waits until onWsClosed reported `code` for some connection. */
async function waitCloseCode(fx: Fixture, code: number): Promise<void> {
  assert.ok(
    await eventually(() => fx.closes.some((c) => c.code === code), 3000),
    `onWsClosed reported ${code} (${JSON.stringify(fx.closes)})`,
  );
}

/** A close frame's payload: the code, then the reason bytes. */
function closePayload(code: number, reason: Buffer | string = ''): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code, 0);
  return Buffer.concat([head, typeof reason === 'string' ? Buffer.from(reason) : reason]);
}

/** Pieces cut at `cuts` (offsets into `bytes`). */
function cutAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let from = 0;
  for (const cut of cuts) {
    pieces.push(bytes.subarray(from, cut));
    from = cut;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

/** Writes each piece on its own, letting the server read between them. */
async function sendPieces(raw: RawWs, pieces: Buffer[]): Promise<void> {
  for (const piece of pieces) {
    await raw.send(piece);
    await sleep(15); // pacing, so the pieces reach the server in separate reads
  }
}

function headerLengthOf(payloadLength: number): number {
  return payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10;
}

// ---- tests -----------------------------------------------------------------------------------

for (const mode of TRANSPORT_MODES) {
  test(`${mode.name}: frames written one byte at a time are reassembled (7-, 16-, 64-bit lengths)`, async (t) => {
    const fx = await start(t, mode);
    const text = Buffer.from('héllo ✓ 🎉', 'utf8'); // multi-byte characters split across reads
    const raw = await fx.upgrade('/echo');
    assert.equal(raw.status, 101);
    await raw.conn.write(encodeFrame(OP_TEXT, text), { mode: 'bytes' });
    const [textReply] = await waitFrames(raw, (f) => f.opcode === OP_TEXT, 1);
    assert.equal(textReply!.payload.toString('utf8'), 'héllo ✓ 🎉');

    const sizes = [5, 300, 70_000];
    for (const [i, size] of sizes.entries()) {
      await raw.conn.write(encodeFrame(OP_BINARY, pattern(size)), { mode: 'bytes' });
      const replies = await waitFrames(raw, (f) => f.opcode === OP_BINARY, i + 1, 20_000);
      assert.ok(replies[i]!.payload.equals(pattern(size)), `${size} bytes echoed intact`);
    }
    // A fragmented message with a ping between its fragments, byte by byte too.
    await raw.conn.write(
      Buffer.concat([
        encodeFrame(OP_TEXT, 'frag-', { fin: false }),
        encodeFrame(OP_PING, 'mid'),
        encodeFrame(OP_CONT, 'mented'),
      ]),
      { mode: 'bytes' },
    );
    const pong = await raw.waitFrame((f) => f.opcode === OP_PONG);
    assert.equal(pong.payload.toString(), 'mid');
    const texts = await waitFrames(raw, (f) => f.opcode === OP_TEXT, 2);
    assert.equal(texts[1]!.payload.toString(), 'frag-mented');
    assert.deepEqual(fx.seen, [
      'text:héllo ✓ 🎉',
      'binary:5',
      'binary:300',
      'binary:70000',
      'text:frag-mented',
    ]);
    assert.ok(!raw.frames().some((f) => f.opcode === OP_CLOSE), 'no close frame');
    await assertAlive(fx);
  });

  test(`${mode.name}: a frame split right after its 2-byte header, or after the whole header`, async (t) => {
    const fx = await start(t, mode);
    const raw = await fx.upgrade('/echo');
    assert.equal(raw.status, 101);
    let expected = 0;
    for (const size of [5, 300, 70_000]) {
      const frame = encodeFrame(OP_BINARY, pattern(size));
      const header = headerLengthOf(size);
      for (const cuts of [[2], [header], [header + 4], [2, header + 2, header + 4 + (size >> 1)]]) {
        await sendPieces(raw, cutAt(frame, cuts));
        expected++;
        const replies = await waitFrames(raw, (f) => f.opcode === OP_BINARY, expected);
        assert.ok(
          replies[expected - 1]!.payload.equals(pattern(size)),
          `${size} bytes cut at ${cuts.join()}`,
        );
      }
    }
    assert.equal(fx.seen.length, expected);
    await assertAlive(fx);
  });

  test(`${mode.name}: several frames coalesced in one write are all handled, in order`, async (t) => {
    const fx = await start(t, mode);
    const raw = await fx.upgrade('/echo');
    assert.equal(raw.status, 101);
    await raw.send(
      Buffer.concat([
        encodeFrame(OP_TEXT, 'one'),
        encodeFrame(OP_BINARY, pattern(300)),
        encodeFrame(OP_PING, 'p'),
        encodeFrame(OP_TEXT, 'a', { fin: false }),
        encodeFrame(OP_CONT, 'b', { fin: false }),
        encodeFrame(OP_CONT, 'c'),
        encodeFrame(OP_BINARY, pattern(70_000)),
        encodeFrame(OP_TEXT, ''),
        encodeFrame(OP_TEXT, 'last'),
      ]),
    );
    const data = await waitFrames(raw, (f) => f.opcode === OP_TEXT || f.opcode === OP_BINARY, 6);
    assert.deepEqual(
      data.map((f) => [f.opcode, f.payload.length]),
      [
        [OP_TEXT, 3],
        [OP_BINARY, 300],
        [OP_TEXT, 3],
        [OP_BINARY, 70_000],
        [OP_TEXT, 0],
        [OP_TEXT, 4],
      ],
    );
    assert.equal(data[0]!.payload.toString(), 'one');
    assert.ok(data[1]!.payload.equals(pattern(300)));
    assert.equal(data[2]!.payload.toString(), 'abc');
    assert.ok(data[3]!.payload.equals(pattern(70_000)));
    assert.equal(data[5]!.payload.toString(), 'last');
    const pong = await raw.waitFrame((f) => f.opcode === OP_PONG);
    assert.equal(pong.payload.toString(), 'p');
    assert.deepEqual(fx.seen, [
      'text:one',
      'binary:300',
      'text:abc',
      'binary:70000',
      'text:',
      'text:last',
    ]);
    await assertAlive(fx);
  });

  test(`${mode.name}: the server's frames are final, unmasked, with the shortest length encoding`, async (t) => {
    const fx = await start(t, mode);
    const raw = await fx.upgrade('/reply');
    assert.equal(raw.status, 101);
    await raw.send(encodeFrame(OP_TEXT, 'text'));
    const text = await raw.waitFrame((f) => f.opcode === OP_TEXT);
    assert.equal(text.payload.toString('utf8'), MULTIBYTE);
    assert.equal(text.lengthCode, Buffer.byteLength(MULTIBYTE)); // bytes, not UTF-16 units
    assert.deepEqual([text.fin, text.rsv, text.masked], [true, 0, false]);

    const cases: Array<[size: number, lengthCode: number]> = [
      [125, 125],
      [126, 126],
      [65_535, 126],
      [65_536, 127],
      [200_000, 127],
    ];
    for (const [i, [size, lengthCode]] of cases.entries()) {
      await raw.send(encodeFrame(OP_TEXT, `bin:${size}`));
      const frames = await waitFrames(raw, (f) => f.opcode === OP_BINARY, i + 1);
      const frame = frames[i]!;
      assert.equal(frame.lengthCode, lengthCode, `${size}: length field`);
      assert.deepEqual([frame.fin, frame.rsv, frame.masked], [true, 0, false], `${size}: flags`);
      assert.equal(frame.payload.length, size);
      assert.ok(frame.payload.equals(pattern(size)), `${size}: payload intact`);
    }
    assert.equal(raw.frames().length, cases.length + 1, 'one frame per message, nothing else');

    // The `ws` client checks the same frames (it fails on a masked or malformed server frame).
    const ws = await openWs(fx.url('/reply'));
    ws.send('text');
    const message = await nextMessage(ws);
    assert.equal(message.isBinary, false);
    assert.equal(message.data.toString('utf8'), MULTIBYTE);
    for (const [size] of cases) {
      ws.send(`bin:${size}`);
      const binary = await nextMessage(ws);
      assert.equal(binary.isBinary, true);
      assert.ok(binary.data.equals(pattern(size)), `ws client: ${size} bytes intact`);
    }
    assert.equal(await closeWs(ws), 1005);
    await assertAlive(fx);
  });

  test(`${mode.name}: a 64-bit length of 2^40 or with the top bit set closes with 1009 at once`, async (t) => {
    const fx = await start(t, mode);
    const huge = Buffer.alloc(14);
    huge[0] = 0x82;
    huge[1] = 0x80 | 127;
    huge.writeBigUInt64BE(2n ** 40n, 2);
    huge.set([1, 2, 3, 4], 10); // the mask key; the payload never comes
    const topBit = Buffer.alloc(10);
    topBit[0] = 0x82;
    topBit[1] = 0x80 | 127;
    topBit.writeBigUInt64BE(2n ** 63n + 5n, 2);
    let count = 0;
    for (const [label, bytes] of [
      ['2^40 bytes', huge],
      ['top bit set', topBit],
    ] as const) {
      const raw = await fx.upgrade('/echo');
      assert.equal(raw.status, 101, label);
      await raw.send(bytes);
      await expectClose(raw, 1009, label);
      raw.conn.destroy();
      assert.equal((await lastClose(fx, ++count)).code, 1009, `${label}: onWsClosed`);
      await assertAlive(fx);
    }
    assert.deepEqual(fx.seen, []);
  });

  test(`${mode.name}: close frames are echoed; bad ones close with 1002 / 1007`, async (t) => {
    const fx = await start(t, mode);
    let count = 0;

    // Empty payload: an empty close comes back, onWsClosed sees 1005, and TCP ends.
    const empty = await fx.upgrade('/echo');
    await empty.send(encodeFrame(OP_CLOSE, Buffer.alloc(0)));
    const emptyEcho = await empty.waitFrame((f) => f.opcode === OP_CLOSE);
    assert.equal(emptyEcho.payload.length, 0, 'the echo of an empty close is empty');
    assert.ok(await empty.conn.waitClosed(3000), 'the server ends TCP after the echo');
    assert.deepEqual(await lastClose(fx, ++count), { code: 1005, reason: '' });
    empty.conn.destroy();

    // Code and reason: both echoed, both reported.
    const bye = await fx.upgrade('/echo');
    await bye.send(encodeFrame(OP_CLOSE, closePayload(4000, 'bye')));
    const byeEcho = await expectClose(bye, 4000, 'code 4000');
    assert.equal(closeReasonOf(byeEcho), 'bye');
    assert.ok(await bye.conn.waitClosed(3000), 'the server ends TCP after the echo');
    assert.deepEqual(await lastClose(fx, ++count), { code: 4000, reason: 'bye' });
    bye.conn.destroy();
    await assertAlive(fx);

    const bad: Array<[string, Buffer, number]> = [
      ['1-byte payload', Buffer.from([0x03]), 1002],
      ...[999, 1004, 1005, 1006, 1015, 2000, 5000].map((code): [string, Buffer, number] => [
        `code ${code}`,
        closePayload(code),
        1002,
      ]),
      ['reason of invalid UTF-8', closePayload(1000, Buffer.from([0x61, 0xff, 0xfe])), 1007],
      ['reason ending mid-character', closePayload(4000, Buffer.from([0xe2, 0x9c])), 1007],
    ];
    for (const [label, payload, code] of bad) {
      const raw = await fx.upgrade('/echo');
      assert.equal(raw.status, 101, label);
      await raw.send(encodeFrame(OP_CLOSE, payload));
      await expectClose(raw, code, label);
      raw.conn.destroy();
      assert.equal((await lastClose(fx, ++count)).code, code, `${label}: onWsClosed`);
      await assertAlive(fx);
    }
  });

  test(`${mode.name}: after a protocol error, the client's answering close ends the TCP connection`, async (t) => {
    const fx = await start(t, mode);
    const raw = await fx.upgrade('/echo');
    await raw.send(encodeFrame(OP_TEXT, 'unmasked', { mask: false }));
    await expectClose(raw, 1002, 'unmasked frame');
    // Both close frames exchanged: RFC 6455 §5.5.1 says the server MUST now close TCP.
    await raw.send(encodeFrame(OP_CLOSE, closePayload(1002)));
    assert.ok(
      await raw.conn.waitClosed(3000),
      'the server ended the TCP connection once the client answered its close',
    );
    assert.equal((await lastClose(fx, 1)).code, 1002);
    assert.deepEqual(fx.seen, []);
    await assertAlive(fx);
  });

  test(`${mode.name}: data frames after a close frame are ignored`, async (t) => {
    const fx = await start(t, mode);
    const raw = await fx.upgrade('/echo');
    await raw.send(encodeFrame(OP_TEXT, 'before'));
    await raw.waitFrame((f) => f.opcode === OP_TEXT);
    // In the same write as the close, and in a write of their own after it.
    await raw.send(
      Buffer.concat([
        encodeFrame(OP_CLOSE, closePayload(1000)),
        encodeFrame(OP_TEXT, 'after-1'),
        encodeFrame(OP_BINARY, pattern(10)),
      ]),
    );
    await expectClose(raw, 1000, 'close echo');
    await raw.send(encodeFrame(OP_TEXT, 'after-2'));
    assert.ok(await raw.conn.waitClosed(3000));
    assert.equal((await lastClose(fx, 1)).code, 1000);
    assert.deepEqual(fx.seen, ['text:before'], 'the handler saw nothing after the close');
    assert.deepEqual(
      raw.frames().map((f) => f.opcode),
      [OP_TEXT, OP_CLOSE],
    );
    await assertAlive(fx);
  });

  test(`${mode.name}: an unsolicited pong is ignored; a 125-byte ping gets the same payload back`, async (t) => {
    const fx = await start(t, mode);
    const raw = await fx.upgrade('/echo');
    await raw.send(encodeFrame(OP_PONG, 'unasked'));
    await raw.send(encodeFrame(OP_PONG, Buffer.alloc(0)));
    await raw.send(encodeFrame(OP_TEXT, 'still open'));
    const echoed = await raw.waitFrame((f) => f.opcode === OP_TEXT);
    assert.equal(echoed.payload.toString(), 'still open');

    const ping = pattern(125);
    await raw.send(encodeFrame(OP_PING, ping));
    const pong = await raw.waitFrame((f) => f.opcode === OP_PONG);
    assert.ok(pong.payload.equals(ping), 'the pong carries the ping payload');
    assert.deepEqual([pong.fin, pong.masked, pong.lengthCode], [true, false, 125]);
    assert.ok(!raw.frames().some((f) => f.opcode === OP_CLOSE), 'no close frame');
    assert.equal(raw.conn.closed, false);
    assert.deepEqual(fx.seen, ['text:still open']);
    await assertAlive(fx);
  });

  test(`${mode.name}: a client that half-closes TCP without a close frame: 1006, socket closed`, async (t) => {
    const fx = await start(t, mode);
    const raw = await fx.upgrade('/echo');
    await raw.send(encodeFrame(OP_TEXT, 'hi'));
    await raw.waitFrame((f) => f.opcode === OP_TEXT);
    raw.conn.socket.end();
    assert.ok(await raw.conn.waitClosed(3000), 'the server closed its side too');
    assert.deepEqual(await lastClose(fx, 1), { code: 1006, reason: '' });
    await assertAlive(fx);
  });

  test(`${mode.name}: ctx.closed() sends a close frame; the client's answer ends TCP`, async (t) => {
    const fx = await start(t, mode);
    const raw = await fx.upgrade('/bye');
    await raw.send(encodeFrame(OP_TEXT, 'x'));
    const close = await expectClose(raw, 4001, 'ctx.closed()');
    assert.equal(closeReasonOf(close), 'server bye');
    await raw.send(encodeFrame(OP_CLOSE, closePayload(4001, 'server bye')));
    assert.ok(await raw.conn.waitClosed(3000), 'TCP ends once both close frames went');
    assert.deepEqual(await lastClose(fx, 1), { code: 4001, reason: 'server bye' });
    await assertAlive(fx);
  });

  test(`${mode.name}: Sec-WebSocket-Protocol must be a list of distinct tokens`, async (t) => {
    const fx = await start(t, mode, {}, (server) => server.wsProtocols(['chat']));
    const malformed: Array<Record<string, string>> = [
      { 'Sec-WebSocket-Protocol': 'a,,b' },
      { 'Sec-WebSocket-Protocol': 'a b' },
      { 'Sec-WebSocket-Protocol': 'chat, chat' },
      { 'Sec-WebSocket-Protocol': 'chat;v=1' },
      { 'Sec-WebSocket-Protocol': 'chat,' },
      // A duplicate across two header lines (the differently-cased name adds a line).
      { 'Sec-WebSocket-Protocol': 'chat', 'sec-websocket-protocol': 'chat' },
    ];
    for (const headers of malformed) {
      const label = JSON.stringify(headers);
      const raw = await fx.upgrade('/echo', headers);
      assert.equal(raw.status, 400, label);
      assert.notEqual(raw.headers['upgrade']?.toLowerCase(), 'websocket', label);
      assert.ok(await raw.conn.waitClosed(3000), `${label}: the connection closes`);
      raw.conn.destroy();
      await assertAlive(fx);
    }
    assert.equal(fx.connected, 0, 'no malformed handshake upgraded');

    // A list split over two header lines is one list: 'chat' is found on the second line.
    const split = await fx.upgrade('/echo', {
      'Sec-WebSocket-Protocol': 'other',
      'sec-websocket-protocol': 'v2, chat',
    });
    assert.equal(split.status, 101);
    assert.equal(split.headers['sec-websocket-protocol'], 'chat');
    await split.send(encodeFrame(OP_TEXT, 'chatting'));
    assert.equal(
      (await split.waitFrame((f) => f.opcode === OP_TEXT)).payload.toString(),
      'chatting',
    );
    split.conn.destroy();

    const ws = await openWs(fx.url('/echo'), ['other', 'chat']);
    assert.equal(ws.protocol, 'chat');
    await closeWs(ws);
    await assertAlive(fx);
  });

  test(`${mode.name}: UTF-8 of a text message is checked once its fragments are joined`, async (t) => {
    const fx = await start(t, mode);
    const emoji = Buffer.from('😀', 'utf8'); // 4 bytes
    const raw = await fx.upgrade('/echo');
    await raw.send(
      Buffer.concat([
        encodeFrame(OP_TEXT, emoji.subarray(0, 1), { fin: false }),
        encodeFrame(OP_CONT, emoji.subarray(1)),
      ]),
    );
    const joined = await raw.waitFrame((f) => f.opcode === OP_TEXT);
    assert.equal(joined.payload.toString('utf8'), '😀');
    // 1 + 2 + 1 bytes over three fragments, each written alone.
    await sendPieces(raw, [
      encodeFrame(OP_TEXT, Buffer.concat([Buffer.from('x'), emoji.subarray(0, 1)]), {
        fin: false,
      }),
      encodeFrame(OP_CONT, emoji.subarray(1, 3), { fin: false }),
      encodeFrame(OP_CONT, emoji.subarray(3)),
    ]);
    const texts = await waitFrames(raw, (f) => f.opcode === OP_TEXT, 2);
    assert.equal(texts[1]!.payload.toString('utf8'), 'x😀');
    raw.conn.destroy();
    assert.deepEqual(fx.seen, ['text:😀', 'text:x😀']);

    // The message ends mid-character: each fragment alone could still be a valid prefix.
    const cut = await fx.upgrade('/echo');
    await cut.send(
      Buffer.concat([
        encodeFrame(OP_TEXT, Buffer.concat([Buffer.from('a'), emoji.subarray(0, 2)]), {
          fin: false,
        }),
        encodeFrame(OP_CONT, emoji.subarray(2, 3)),
      ]),
    );
    await expectClose(cut, 1007, 'text ending mid-character');
    cut.conn.destroy();
    await waitCloseCode(fx, 1007);
    assert.equal(fx.seen.length, 2, 'the broken message never reached the handler');
    await assertAlive(fx);
  });

  test(`${mode.name}: wsMessageLimit counts all fragments: at the limit accepted, one over 1009`, async (t) => {
    const fx = await start(t, mode, { wsMessageLimit: 1000 });
    const ok = await fx.upgrade('/echo');
    await sendPieces(ok, [
      encodeFrame(OP_BINARY, pattern(300), { fin: false }),
      encodeFrame(OP_CONT, pattern(300), { fin: false }),
      encodeFrame(OP_CONT, pattern(400)),
    ]);
    const reply = await ok.waitFrame((f) => f.opcode === OP_BINARY);
    assert.equal(reply.payload.length, 1000);
    // Text at the limit too, with a ping between its fragments.
    await ok.send(
      Buffer.concat([
        encodeFrame(OP_TEXT, 'a'.repeat(999), { fin: false }),
        encodeFrame(OP_PING, ''),
        encodeFrame(OP_CONT, 'b'),
      ]),
    );
    const text = await ok.waitFrame((f) => f.opcode === OP_TEXT);
    assert.equal(text.payload.length, 1000);
    ok.conn.destroy();
    assert.deepEqual(fx.seen, ['binary:1000', `text:${'a'.repeat(999)}b`]);

    const over = await fx.upgrade('/echo');
    await sendPieces(over, [
      encodeFrame(OP_BINARY, pattern(300), { fin: false }),
      encodeFrame(OP_CONT, pattern(300), { fin: false }),
      encodeFrame(OP_CONT, pattern(401)),
    ]);
    await expectClose(over, 1009, 'one byte over the limit');
    over.conn.destroy();
    await waitCloseCode(fx, 1009);
    assert.equal(fx.seen.length, 2, 'the oversized message never reached the handler');
    await assertAlive(fx);
  });

  test(`${mode.name}: an unmasked client frame closes with 1002`, async (t) => {
    const fx = await start(t, mode);
    for (const bytes of [
      encodeFrame(OP_TEXT, 'hi', { mask: false }),
      encodeFrame(OP_BINARY, pattern(300), { mask: false }).subarray(0, 4), // header alone
    ]) {
      const raw = await fx.upgrade('/echo');
      await raw.send(bytes);
      await expectClose(raw, 1002, 'unmasked');
      raw.conn.destroy();
      await assertAlive(fx);
    }
    assert.equal((await lastClose(fx, 2)).code, 1002);
    assert.deepEqual(fx.seen, []);
  });
}

// ---- our framing only ------------------------------------------------------------------------

test('own framing: replies to messages sent before a close frame go out before its answer', async (t) => {
  const [own] = TRANSPORT_MODES;
  let release!: () => void;
  const stuck = new Promise<void>((resolve) => {
    release = resolve;
  });
  t.after(() => release());
  const fx = await start(t, own!, {}, (server) => {
    server.route('/slow', async (ctx) => {
      const text = ctx.getRequestBodyString();
      await sleep(100); // work that outlasts the arrival of the close frame
      ctx.setResponseBody(`done ${text}`);
      await ctx.sendBody();
    });
    server.route('/stuck', async () => {
      await stuck;
    });
  });

  // Two messages and the close frame in one write: both replies, then the echoed close.
  const raw = await fx.upgrade('/slow');
  await raw.send(
    Buffer.concat([
      encodeFrame(OP_TEXT, 'one'),
      encodeFrame(OP_TEXT, 'two'),
      encodeFrame(OP_CLOSE, closePayload(4000, 'bye')),
    ]),
  );
  const close = await expectClose(raw, 4000, 'answer after the replies');
  assert.equal(closeReasonOf(close), 'bye');
  const order = raw.frames().map((f) => (f.opcode === OP_TEXT ? f.payload.toString() : f.opcode));
  assert.deepEqual(order, ['done one', 'done two', OP_CLOSE]);
  assert.ok(await eventually(() => raw.conn.closed, 3000), 'the TCP connection ends after it');
  assert.deepEqual(await lastClose(fx, 1), { code: 4000, reason: 'bye' });

  // A handler that never finishes delays the answer only for a short grace.
  const held = await fx.upgrade('/stuck');
  await held.send(
    Buffer.concat([encodeFrame(OP_TEXT, 'wait'), encodeFrame(OP_CLOSE, closePayload(1000))]),
  );
  await expectClose(held, 1000, 'answer after the grace');
  held.conn.destroy();
  await assertAlive(fx);
});

test('own framing: a deferred close answer outlives a short heartbeat and a server close', async (t) => {
  const [own] = TRANSPORT_MODES;
  let release!: () => void;
  const stuck = new Promise<void>((resolve) => {
    release = resolve;
  });
  t.after(() => release());
  let stuckSeen = 0;
  const fx = await start(t, own!, { wsHeartbeat: 200 }, (server) => {
    server.route('/slow', async (ctx) => {
      await sleep(700); // several heartbeats, during which the closing peer stays silent
      ctx.setResponseBody(`done ${ctx.getRequestBodyString()}`);
      await ctx.sendBody();
    });
    server.route('/stuck', async () => {
      stuckSeen++;
      await stuck;
    });
  });
  const slow = await fx.upgrade('/slow');
  await slow.send(
    Buffer.concat([encodeFrame(OP_TEXT, 'one'), encodeFrame(OP_CLOSE, closePayload(4000))]),
  );
  await expectClose(slow, 4000, 'answered, not terminated by the heartbeat');
  const order = slow.frames().map((f) => (f.opcode === OP_TEXT ? f.payload.toString() : f.opcode));
  assert.deepEqual(order, ['done one', OP_CLOSE]);

  // The server closing while a peer's close waits: the peer gets its own close answered.
  const held = await fx.upgrade('/stuck');
  await held.send(
    Buffer.concat([encodeFrame(OP_TEXT, 'wait'), encodeFrame(OP_CLOSE, closePayload(4002))]),
  );
  // The message and the close frame came in one write: once the handler has the message, the
  // close frame has been read and its answer deferred.
  assert.ok(await eventually(() => stuckSeen === 1, 3000), 'the stuck handler got its message');
  const closing = fx.running.close({ timeout: 2000 });
  await expectClose(held, 4002, 'the echo, not 1001');
  assert.equal(held.frames().filter((f) => f.opcode === OP_CLOSE).length, 1, 'one close frame');
  held.conn.destroy();
  await closing;
});
