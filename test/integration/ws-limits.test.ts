/**
 * Regression tests for the WebSocket limits a cold review found broken (commit f786ea5), each
 * named after what broke: a half-closed client upgraded into a connection that never ended,
 * floods whose memory grew without bound, a heartbeat that killed clients we were not reading,
 * a close frame that could not end a paused socket, idle connections pinning read buffers.
 *
 * Each test runs with our own framing (the default) and with `wsCompression: {}`, where the
 * `ws` library frames the connection instead (the raw client never offers permessage-deflate).
 * Where `ws` already behaved (the half-closed client, frames behind the handshake, the ping
 * flood, endless fragments, the close while paused), its run guards that it still does.
 *
 * Memory is measured in this process, which runs the server. Flood thresholds are generous (64
 * MiB against the hundreds or thousands the bugs grew by) and hold without `--expose-gc`; the
 * idle-connection test needs garbage gone, so it asks for full collections (see
 * `collectGarbage()`).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Session } from 'node:inspector/promises';
import net, { type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import type { Context, Server, ServerConfig } from '../../src/index.js';
import { eventually } from '../helpers/eventually.js';
import { RawConnection } from '../helpers/raw-client.js';
import {
  OP_BINARY,
  OP_CLOSE,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  closeCodeOf,
  encodeFrame,
  parseFrames,
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

const MiB = 1024 * 1024;

interface Fixture extends Served {
  /** What onWsClosed reported, for every connection but the liveness probes. */
  closes: Array<{ code: number; reason: string }>;
  /** Messages the /stuck route received (only the first one runs until `release()`). */
  stuckSeen: number;
  /** Lets the /stuck route's handlers finish. */
  release(): void;
  /** A raw handshake to `path`; the connection is destroyed before the server closes. */
  upgrade(path: string): Promise<RawWs>;
  /** A raw connection with nothing sent yet; destroyed before the server closes. */
  connect(): Promise<RawConnection>;
}

/** Echo: a text message comes back as text, bytes as binary. */
async function echo(ctx: Context): Promise<void> {
  ctx.setResponseBody(
    ctx.getWsMessageType() === 'binary' ? ctx.getRequestBody() : ctx.getRequestBodyString(),
  );
  await ctx.sendBody();
}

/**
 * A server with `/` (HTTP), `/alive` and `/echo` (echo), and `/stuck`, whose handler waits
 * until the test calls `release()`: the messages behind its first one queue.
 */
async function start(
  t: TestContext,
  mode: TransportMode,
  config: Partial<ServerConfig> = {},
  setup: (server: Server) => void = () => {},
): Promise<Fixture> {
  const conns: RawConnection[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  // Registered before serve() registers the server's close, so it runs first: a stuck handler
  // or a raw socket left open would make that close wait.
  let keepAlive: NodeJS.Timeout | undefined;
  t.after(() => {
    // The stuck handlers stay stuck: the server's close must not depend on them.
    for (const conn of conns) conn.destroy();
    // A connection the server failed to end leaves its close waiting on an unref'd deadline:
    // the event loop must not run dry meanwhile, or every later test is cancelled.
    keepAlive = setInterval(() => {}, 100);
  });
  const fixture = {
    closes: [],
    stuckSeen: 0,
    release,
    async upgrade(path: string) {
      const raw = await rawUpgrade(fixture.port, path);
      conns.push(raw.conn);
      return raw;
    },
    async connect() {
      const conn = await RawConnection.connect(fixture.port);
      conns.push(conn);
      return conn;
    },
  } as unknown as Fixture;
  const served = await serve(
    t,
    (server) => {
      server.get('/', (ctx) => {
        ctx.setResponseBody('alive');
      });
      server.route('/alive', echo);
      server.route('/echo', echo);
      server.route('/stuck', async () => {
        fixture.stuckSeen++;
        await gate;
      });
      server.onWsClosed((ctx, code, reason) => {
        if (ctx.getRequestPath() !== '/alive') fixture.closes.push({ code, reason });
      });
      setup(server);
    },
    { wsHeartbeat: false, ...mode.config, ...config },
  );
  t.after(() => clearInterval(keepAlive)); // runs after the server's close
  return Object.assign(fixture, served);
}

// ---- clients ---------------------------------------------------------------------------------

/** Opens a `ws` client that offers no compression. */
function openPlainWs(url: string): Promise<WebSocket> {
  return openWs(url, [], { perMessageDeflate: false });
}

/** The server answers HTTP, and a fresh WebSocket echoes. */
function assertAlive(fx: Fixture): Promise<void> {
  return assertWsAlive(fx.port, fx.url('/alive'));
}

/** An upgrade request's bytes, to send in one write with whatever should follow it. */
function handshake(port: number, path: string): Buffer {
  const key = randomBytes(16).toString('base64');
  return Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    'latin1',
  );
}

/** `count` copies of `frame` in one buffer. */
function repeat(frame: Buffer, count: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, () => frame));
}

/** A close frame carrying `code`. */
function closeFrame(code: number): Buffer {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code, 0);
  return encodeFrame(OP_CLOSE, payload);
}

// ---- memory ----------------------------------------------------------------------------------

const gc = (globalThis as { gc?: () => void }).gc;

/** Heap and ArrayBuffer bytes of this process (collected first when `--expose-gc` allows). */
function memory(collect = false): number {
  if (collect) gc?.();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** Resolves true once `socket` drains, false if it has not after `ms` (or it closed). */
function drained(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    const timer = setTimeout(done, ms, false);
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  });
}

interface FloodResult {
  /** Bytes the kernel took from the client (written minus what still waits in its buffer). */
  accepted: number;
  /** The socket stopped draining: the server no longer reads. */
  stalled: boolean;
  /** The connection ended under the flood. */
  peerClosed: boolean;
  /** Largest heap + ArrayBuffer growth seen, against `base`. */
  growth: number;
}

/**
 * Writes `chunk` again and again, never more than the socket takes (so the client itself holds
 * at most one chunk), until the server stops reading (no drain for `stallMs`), the connection
 * ends, `capBytes` went through, or this process grew by more than `limit` (the failure: it is
 * not worth flooding on to find out by how much).
 */
async function flood(
  socket: Socket,
  chunk: Buffer,
  base: number,
  { capBytes, limit, stallMs = 1000 }: { capBytes: number; limit: number; stallMs?: number },
): Promise<FloodResult> {
  let written = 0;
  let stalled = false;
  let growth = 0;
  for (;;) {
    if (socket.destroyed || !socket.writable) break;
    if (written - socket.writableLength >= capBytes) break;
    growth = Math.max(growth, memory() - base);
    if (growth > limit) break;
    written += chunk.length;
    if (socket.write(chunk)) {
      await nextTurn(); // the server runs in this process: let it read
    } else if (!(await drained(socket, stallMs))) {
      stalled = !socket.destroyed;
      break;
    }
  }
  const peerClosed = socket.destroyed || !socket.writable;
  await sleep(200); // let the server handle what reached it before the last measurement
  growth = Math.max(growth, memory(true) - base);
  return { accepted: written - socket.writableLength, stalled, peerClosed, growth };
}

/**
 * A full collection: `global.gc` under `--expose-gc`, else the inspector protocol's (in this
 * process, no flag needed). Read buffers that are garbage go; retained ones stay.
 */
async function collectGarbage(): Promise<void> {
  if (gc !== undefined) {
    gc();
    return;
  }
  const session = new Session();
  session.connect();
  try {
    await session.post('HeapProfiler.collectGarbage');
  } finally {
    session.disconnect();
  }
}

/** ArrayBuffer bytes still alive: the least seen over a few full collections. */
async function liveArrayBuffers(): Promise<number> {
  let least = Infinity;
  for (let round = 0; round < 3; round++) {
    await collectGarbage();
    await sleep(10);
    least = Math.min(least, process.memoryUsage().arrayBuffers);
  }
  return least;
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

// ---- tests -----------------------------------------------------------------------------------

for (const mode of TRANSPORT_MODES) {
  test(`${mode.name}: a client that sent its FIN while preWsUpgrade ran is not upgraded into a connection that never ends`, async (t) => {
    const fx = await start(t, mode, {}, (server) => {
      server.preWsUpgrade(async () => {
        await sleep(100);
      });
    });
    const conn = await fx.connect();
    // Handshake, one message and FIN, all before the hook is done.
    conn.socket.write(Buffer.concat([handshake(fx.port, '/echo'), encodeFrame(OP_TEXT, 'hi')]));
    conn.socket.end();
    assert.ok(
      await conn.waitClosed(5000),
      `the server ends the connection; got ${JSON.stringify(conn.received.toString('latin1'))}`,
    );
    await assertAlive(fx);
    const closing = fx.running.close();
    const outcome = await Promise.race([
      closing.then(() => 'closed'),
      sleep(5000).then(() => 'still open'),
    ]);
    assert.equal(outcome, 'closed', 'running.close() has no WebSocket left to wait for');
  });

  test(`${mode.name}: frames that came with the handshake behind an async preWsUpgrade cannot undo the read pause`, async (t) => {
    const fx = await start(t, mode, {}, (server) => {
      server.preWsUpgrade(async () => {
        await sleep(100);
      });
    });
    const message = encodeFrame(OP_BINARY, Buffer.alloc(1000, 0x61));
    // More than httpBufferSize (16 KiB) behind the handshake: the HTTP connection pauses too.
    const burst = repeat(message, 40);
    const conn = await fx.connect();
    const base = memory(true);
    conn.socket.write(Buffer.concat([handshake(fx.port, '/stuck'), burst]));
    const result = await flood(conn.socket, repeat(message, 64), base, {
      capBytes: 256 * MiB,
      limit: 64 * MiB,
    });
    const seen = `accepted ${mib(result.accepted)}, grew ${mib(result.growth)}`;
    t.diagnostic(seen);
    assert.ok(result.growth < 64 * MiB, `memory stays bounded: ${seen}`);
    assert.ok(result.stalled, `the server stopped reading: ${seen}`);
    assert.ok(result.accepted < 64 * MiB, `the client cannot push on: ${seen}`);
    assert.equal(fx.stuckSeen, 1, 'the stuck handler got its first message');
    await assertAlive(fx);
  });

  test(`${mode.name}: a flood of empty messages behind a stuck handler fills the queue (reading pauses)`, async (t) => {
    const fx = await start(t, mode);
    const raw = await fx.upgrade('/stuck');
    assert.equal(raw.status, 101);
    const base = memory(true);
    const chunk = repeat(encodeFrame(OP_TEXT, ''), 10_922); // 64 KiB of 6-byte frames
    const result = await flood(raw.conn.socket, chunk, base, {
      capBytes: 256 * MiB,
      limit: 64 * MiB,
    });
    const seen = `accepted ${mib(result.accepted)}, grew ${mib(result.growth)}`;
    t.diagnostic(seen);
    assert.ok(result.growth < 64 * MiB, `memory stays bounded: ${seen}`);
    assert.ok(result.stalled, `the server stopped reading: ${seen}`);
    assert.ok(result.accepted < 64 * MiB, `the client cannot push on: ${seen}`);
    await assertAlive(fx);
  });

  test(`${mode.name}: 1-byte messages each in a 64 KiB read do not pin their read buffers in the queue`, async (t) => {
    const fx = await start(t, mode);
    const raw = await fx.upgrade('/stuck');
    assert.equal(raw.status, 101);
    const base = memory(true);
    // Each write: one 1-byte message, then ~64 KiB of unsolicited pongs (which are ignored).
    const pongs = repeat(encodeFrame(OP_PONG, Buffer.alloc(125, 0x61)), 490);
    const chunk = Buffer.concat([encodeFrame(OP_TEXT, 'x'), pongs]);
    const result = await flood(raw.conn.socket, chunk, base, {
      capBytes: 256 * MiB,
      limit: 64 * MiB,
    });
    const seen = `accepted ${mib(result.accepted)}, grew ${mib(result.growth)}`;
    t.diagnostic(seen);
    assert.ok(result.growth < 64 * MiB, `memory stays bounded: ${seen}`);
    assert.ok(result.stalled, `the server stopped reading: ${seen}`);
    assert.ok(result.accepted < 64 * MiB, `the client cannot push on: ${seen}`);
    await assertAlive(fx);
  });

  test(`${mode.name}: pings from a client that never reads do not pile up pongs in memory`, async (t) => {
    const fx = await start(t, mode);
    const raw = await fx.upgrade('/echo');
    assert.equal(raw.status, 101);
    raw.conn.socket.pause(); // never read what the server sends
    const base = memory(true);
    const chunk = repeat(encodeFrame(OP_PING, Buffer.alloc(125, 0x61)), 500); // ~64 KiB
    const result = await flood(raw.conn.socket, chunk, base, {
      capBytes: 128 * MiB,
      limit: 64 * MiB,
    });
    // Our framing reads on and leaves pings unanswered while its socket waits to drain; `ws`
    // drops a peer with too many pongs pending. Either way, memory stays bounded.
    const seen = `accepted ${mib(result.accepted)}, grew ${mib(result.growth)}, peer closed: ${result.peerClosed}`;
    t.diagnostic(seen);
    assert.ok(result.growth < 64 * MiB, `memory stays bounded: ${seen}`);
    await assertAlive(fx);
  });

  test(`${mode.name}: endless empty continuation frames close with 1008`, async (t) => {
    const fx = await start(t, mode);
    const raw = await fx.upgrade('/echo');
    assert.equal(raw.status, 101);
    // 20,000 fragments (over the 16,384 a message may span), none adding a byte.
    await raw.send(
      Buffer.concat([
        encodeFrame(OP_TEXT, '', { fin: false }),
        repeat(encodeFrame(OP_CONT, '', { fin: false }), 20_000),
      ]),
    );
    const close = await raw.waitFrame((f) => f.opcode === OP_CLOSE, 5000);
    assert.equal(closeCodeOf(close), 1008);
    assert.ok(await raw.conn.waitClosed(3000), 'the connection ends');
    assert.ok(
      await eventually(() => fx.closes.some((c) => c.code === 1008), 3000),
      `onWsClosed reported 1008 (${JSON.stringify(fx.closes)})`,
    );
    await assertAlive(fx);
  });

  test(`${mode.name}: the heartbeat does not terminate a live client whose messages wait for a stuck handler`, async (t) => {
    const fx = await start(t, mode, { wsHeartbeat: 200 });
    const ws = await openPlainWs(fx.url('/stuck'));
    t.after(() => ws.terminate());
    // 1 MiB, far over wsBufferSize (4 KiB): reading pauses while the first message runs.
    for (let i = 0; i < 64; i++) ws.send(Buffer.alloc(16 * 1024));
    // Several heartbeats (200 ms) go by while we are the ones not reading.
    await sleep(1500);
    assert.equal(
      ws.readyState,
      WebSocket.OPEN,
      `still open (onWsClosed: ${JSON.stringify(fx.closes)})`,
    );
    assert.deepEqual(fx.closes, []);
    fx.release();
    assert.ok(
      await eventually(() => fx.stuckSeen === 64, 5000),
      `every message runs once the handler is free (${fx.stuckSeen} of 64)`,
    );
    assert.equal(ws.readyState, WebSocket.OPEN);
    await assertAlive(fx);
  });

  test(`${mode.name}: an idle connection does not keep its last read buffer alive`, async (t) => {
    const fx = await start(t, mode);
    const clients: RawWs[] = [];
    for (let i = 0; i < 50; i++) {
      const raw = await fx.upgrade('/echo');
      assert.equal(raw.status, 101);
      clients.push(raw);
    }
    const pongs = repeat(encodeFrame(OP_PONG, Buffer.alloc(125)), 490);
    const before = await liveArrayBuffers();
    // One 1-byte message per client, read with ~64 KiB of (ignored) pongs; each is echoed.
    for (const raw of clients) await raw.send(Buffer.concat([encodeFrame(OP_TEXT, 'x'), pongs]));
    for (const raw of clients) {
      const reply = await raw.waitFrame((f) => f.opcode === OP_TEXT);
      assert.equal(reply.payload.toString(), 'x');
    }
    // The read buffers are garbage once collected; retained ones (50 × 64 KiB) never go.
    const growth = (await liveArrayBuffers()) - before;
    t.diagnostic(`ArrayBuffers grew ${mib(growth)}`);
    assert.ok(
      growth < MiB,
      `50 idle connections keep < 1 MiB of ArrayBuffers: grew ${mib(growth)}`,
    );
    await assertAlive(fx);
  });

  test(`${mode.name}: a close frame read while reading is paused still lets the client's FIN end the connection`, async (t) => {
    const fx = await start(t, mode);
    // Half-open, so the client can still write (and end) after the server's close and FIN.
    const socket = net.connect({ port: fx.port, host: '127.0.0.1', allowHalfOpen: true });
    t.after(() => socket.destroy());
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
    });
    socket.on('error', () => {}); // a reset shows as 'close' below
    await once(socket, 'connect');
    socket.write(handshake(fx.port, '/stuck'));
    const headEnd = (): number => received.indexOf('\r\n\r\n') + 4;
    assert.ok(await eventually(() => headEnd() > 3), 'the handshake is answered');
    assert.match(received.toString('latin1'), /^HTTP\/1\.1 101 /);
    // The first message sticks in the handler; the next seven fill the queue past
    // wsBufferSize (4 KiB), so reading pauses; the close frame comes in the same read.
    const messages = repeat(encodeFrame(OP_BINARY, Buffer.alloc(1000, 0x62)), 8);
    socket.write(Buffer.concat([messages, closeFrame(1000)]));
    const closeFrames = (): Frame[] =>
      parseFrames(received.subarray(headEnd())).filter((f) => f.opcode === OP_CLOSE);
    assert.ok(await eventually(() => closeFrames().length > 0), 'the close is echoed');
    assert.equal(closeCodeOf(closeFrames()[0]!), 1000);
    // Bytes after its close frame (to be discarded), then the client's FIN. They arrive in a
    // later read than the close frame: a socket left paused keeps them buffered, and its 'end'
    // (the FIN) waits behind them for good.
    socket.write(repeat(encodeFrame(OP_BINARY, Buffer.alloc(1000, 0x63)), 64));
    socket.end();
    assert.ok(
      await eventually(() => fx.closes.length === 1, 3000),
      'the server saw its socket close (onWsClosed ran)',
    );
    assert.deepEqual(fx.closes, [{ code: 1000, reason: '' }]);
    assert.ok(await eventually(() => socket.closed, 3000), 'the TCP connection is closed');
    await assertAlive(fx);
  });
}
