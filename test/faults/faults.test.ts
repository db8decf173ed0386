/**
 * Faults (issue 8): clients that vanish at every stage of an exchange, clients that never
 * read, slowloris, the connection limit, errors thrown from every kind of hook, and running
 * out of file descriptors. After each, the server must hold no connection, WebSocket or
 * unfinished Context for the clients that left, and must go on serving.
 *
 * Servers run in this process on 127.0.0.1:0, except the EMFILE test, which needs a child
 * process under a low open-file limit (`test/soak/fixtures/server.ts`).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import {
  type Server,
  sseEvent,
  type Context,
  type ServerConfig,
  type ServerStats,
} from '../../src/index.js';
import { eventually } from '../helpers/eventually.js';
import { RawConnection, assertServing, parseResponses, request } from '../helpers/raw-client.js';
import { serve, type Served } from '../helpers/serve.js';
import { startFixture } from '../soak/fixture-process.js';

// Generous: a slow, shared 2-core CI machine; a hang still fails, it does not stall the run.
const LIMIT = { timeout: 120_000 };

// ---- instruments -----------------------------------------------------------------------------

/** Counts Contexts from their first hook to `onFinish`, and reads the server's live stats. */
interface Instruments {
  /** Live counts, through a Context kept from a probe request. */
  stats(): ServerStats;
  /** Contexts created whose exchange has not finished. */
  contextsOpen(): number;
  contextsCreated(): number;
  /** Contexts not yet garbage collected, after forcing full collections. */
  contextsLive(): Promise<number>;
}

// A full GC on demand, to see whether Contexts are really let go (a leak keeps them reachable).
setFlagsFromString('--expose-gc');
const forceGc = runInNewContext('gc') as () => void;

/**
 * Registers the counting hooks (first, so that they see every Context before anything can
 * throw), a probe route and a liveness route. Call before any other registration.
 */
function instrument(server: Server): Instruments {
  let probe: Context | null = null;
  const seen = new WeakSet<Context>();
  let created = 0;
  let finished = 0;
  let collected = 0;
  const registry = new FinalizationRegistry<number>(() => {
    collected++;
  });
  const count = (ctx: Context): void => {
    if (seen.has(ctx)) return; // WebSocket Contexts run middleware once per message
    seen.add(ctx);
    created++;
    registry.register(ctx, 0);
    ctx.onFinish(() => {
      finished++;
    });
  };
  server.preWsUpgrade(count);
  server.requestMiddleware(count);
  server.get('/__probe', (ctx) => {
    probe ??= ctx;
    ctx.setResponseBody('probe');
  });
  server.get('/__alive', (ctx) => {
    ctx.setResponseBody('alive');
  });
  return {
    stats: () => {
      assert.ok(probe !== null, 'the probe ran');
      return probe.getServerStats();
    },
    contextsOpen: () => created - finished,
    contextsCreated: () => created,
    contextsLive: async () => {
      for (let round = 0; round < 5; round++) {
        forceGc();
        await sleep(20); // finalization callbacks run in a later task
      }
      return created - collected;
    },
  };
}

interface Setup {
  served: Served;
  port: number;
  inst: Instruments;
}

/** `serve()` with instruments, the probe captured (its connection closed) before returning. */
async function start(
  t: TestContext,
  setup: (server: Server) => void,
  config: Partial<ServerConfig> = {},
): Promise<Setup> {
  let inst: Instruments | null = null;
  const served = await serve(
    t,
    (server) => {
      inst = instrument(server);
      setup(server);
    },
    config,
  );
  const res = await request(
    served.port,
    'GET /__probe HTTP/1.1\r\nHost: faults\r\nConnection: close\r\n\r\n',
    { timeoutMs: 10_000 },
  );
  assert.equal(res.finals[0]?.status, 200, 'probe answered');
  return { served, port: served.port, inst: inst! };
}

/** Waits until the server holds no connection, WebSocket or open Context, and no Context is reachable. */
async function assertSettled(inst: Instruments, what: string, timeoutMs = 15_000): Promise<void> {
  const settled = await eventually(
    () => {
      const s = inst.stats();
      return s.connections === 0 && s.webSockets === 0 && inst.contextsOpen() === 0;
    },
    timeoutMs,
    20,
  );
  const s = inst.stats();
  assert.ok(
    settled,
    `${what}: nothing left once the clients are gone; connections ${s.connections}, ` +
      `WebSockets ${s.webSockets}, open Contexts ${inst.contextsOpen()}`,
  );
  // Finished is not enough: nothing may keep them reachable either (the probe's is kept).
  const live = await inst.contextsLive();
  assert.ok(live <= 1, `${what}: ${live} of ${inst.contextsCreated()} Contexts still reachable`);
}

/** Routes console.error (where the server logs) to a list for the test's duration. */
function captureErrors(t: TestContext): string[] {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => {
    lines.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '));
  };
  t.after(() => {
    console.error = original;
  });
  return lines;
}

/** A raw client connection to 127.0.0.1:port. */
function connectRaw(port: number): Promise<RawConnection> {
  return RawConnection.connect(port);
}

/** Closes every raw connection of a test. */
function track(t: TestContext): (conn: RawConnection) => RawConnection {
  const all: RawConnection[] = [];
  t.after(() => {
    for (const conn of all) conn.destroy();
  });
  return (conn) => {
    all.push(conn);
    return conn;
  };
}

/** Resolves when `value()` has not changed for `quietMs` (true), or `timeoutMs` passes (false). */
async function stalls(value: () => number, quietMs: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let last = value();
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(100);
    const now = value();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return true;
    }
  }
  return false;
}

// ---- WebSocket by hand ---------------------------------------------------------------------

/** A client frame header (masked) for `length` payload bytes, with its masking key. */
function frameHeader(opcode: number, length: number, fin = true): Buffer {
  const first = (fin ? 0x80 : 0) | opcode;
  let header: Buffer;
  if (length < 126) header = Buffer.from([first, 0x80 | length]);
  else if (length < 65536) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([header, randomBytes(4)]);
}

/** A raw socket that completed a WebSocket handshake on `path`. */
async function rawWebSocket(port: number, path: string): Promise<RawConnection> {
  const conn = await connectRaw(port);
  const key = randomBytes(16).toString('base64');
  await conn.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const gotHead = await conn.waitUntil(() => conn.received.includes('\r\n\r\n'), 10_000);
  const head = conn.received.toString('latin1');
  assert.ok(
    gotHead && head.startsWith('HTTP/1.1 101'),
    `upgraded; got ${JSON.stringify(head.slice(0, 200))}`,
  );
  return conn;
}

/** A `ws` client that echoes one message through `path`, then closes. */
async function wsEchoes(port: number, path: string): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const reply = new Promise<string>((resolve) =>
      ws.once('message', (data: Buffer) => resolve(data.toString())),
    );
    ws.send('still here');
    assert.equal(await reply, 'still here');
  } finally {
    ws.close();
  }
}

// ---- vanishing clients -----------------------------------------------------------------------

test('clients that vanish mid-request head leave nothing behind', LIMIT, async (t) => {
  let routeRan = 0;
  const { port, inst } = await start(t, (server) => {
    server.get('/t', (ctx) => {
      routeRan++;
      ctx.setResponseBody('t');
    });
  });
  const head = Buffer.from(
    `GET /t?x=1 HTTP/1.1\r\nHost: faults\r\nX-Long: ${'a'.repeat(300)}\r\nAccept: */*\r\n\r\n`,
  );
  const cuts = [1, 3, 9, 15, 16, 17, 30, 40, 200, head.length - 3, head.length - 1];
  const conns: RawConnection[] = [];
  for (const cut of cuts) {
    for (const how of ['destroy', 'end'] as const) {
      const conn = await connectRaw(port);
      conns.push(conn);
      await conn.write(head.subarray(0, cut));
      if (how === 'destroy') conn.destroy();
      else conn.socket.end(); // half-close: the request can never complete
    }
  }
  await assertSettled(inst, 'heads cut short');
  for (const conn of conns) conn.destroy();
  assert.equal(routeRan, 0, 'no route ran for an incomplete request');
  await assertServing(port, '/__alive');
  await assertServing(port, '/t');
});

test('clients that vanish mid-body leave nothing behind', LIMIT, async (t) => {
  let routeRan = 0;
  const { port, inst } = await start(t, (server) => {
    server.post('/upload', (ctx) => {
      routeRan++;
      ctx.setResponseBody(String(ctx.getRequestBody().length));
    });
  });
  const keep = track(t);
  const body = randomBytes(64 * 1024);
  // Content-Length declared, a part sent, then gone (reset) or half-closed.
  for (const how of ['destroy', 'end'] as const) {
    for (const sent of [0, 1, 1000, 64 * 1024]) {
      const conn = keep(await connectRaw(port));
      await conn.write(`POST /upload HTTP/1.1\r\nHost: faults\r\nContent-Length: 1000000\r\n\r\n`);
      await conn.write(body.subarray(0, sent));
      if (how === 'destroy') conn.destroy();
      else conn.socket.end();
    }
  }
  // Chunked: whole chunks, then half a chunk, then gone.
  for (const how of ['destroy', 'end'] as const) {
    const conn = keep(await connectRaw(port));
    await conn.write(
      `POST /upload HTTP/1.1\r\nHost: faults\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `10\r\n0123456789abcdef\r\n100\r\nhalf a chunk`,
    );
    if (how === 'destroy') conn.destroy();
    else conn.socket.end();
  }
  // Expect: 100-continue, the 100 received, then gone without a byte of body.
  const expecting = keep(await connectRaw(port));
  await expecting.write(
    `POST /upload HTTP/1.1\r\nHost: faults\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n`,
  );
  assert.ok(
    await expecting.waitUntil(() => expecting.received.includes('100 Continue'), 10_000),
    'got 100 Continue',
  );
  expecting.destroy();

  await assertSettled(inst, 'bodies cut short');
  assert.equal(routeRan, 0, 'no route ran for an incomplete body');
  const res = await request(
    port,
    'POST /upload HTTP/1.1\r\nHost: faults\r\nContent-Length: 5\r\n\r\nhello',
    { timeoutMs: 10_000 },
  );
  assert.equal(res.finals[0]?.text(), '5', 'a whole body is still served');
});

/** Clients leave a long stream, a big body and an SSE stream part way, five times each. */
async function vanishMidResponse(t: TestContext, compress: boolean): Promise<void> {
  // Random bytes, so that compression cannot shrink the stream to nothing.
  const chunk = randomBytes(64 * 1024);
  const big = randomBytes(8 * 1024 * 1024);
  const outcomes: string[] = [];
  const { port, inst } = await start(
    t,
    (server) => {
      // A long stream: the handler must learn that the client left (sendBody() rejects).
      server.get('/stream', async (ctx) => {
        ctx.setResponseStream().setResponseHeader('content-type', 'application/octet-stream');
        let sent = 0;
        try {
          while (sent < 256 * 1024 * 1024) {
            ctx.setResponseBody(chunk);
            await ctx.sendBody();
            sent += chunk.length;
          }
          outcomes.push('stream completed');
        } catch {
          outcomes.push(ctx.signal.aborted ? 'stream rejected, signal aborted' : 'stream rejected');
        }
      });
      server.get('/big', (ctx) => {
        ctx.setResponseHeader('content-type', 'application/octet-stream').setResponseBody(big);
      });
      server.get('/sse', async (ctx) => {
        ctx.setResponseHeader('content-type', 'text/event-stream');
        await ctx.send();
        try {
          for (let i = 0; ; i++) {
            ctx.setResponseBody(
              sseEvent({ id: i, data: `tick ${i} ${chunk.toString('base64', 0, 600)}` }),
            );
            await ctx.sendBody();
            await sleep(5);
          }
        } catch {
          outcomes.push('sse rejected');
        }
      });
    },
    compress ? { compression: { threshold: 0 } } : {},
  );
  const encoding = compress ? 'Accept-Encoding: gzip\r\n' : '';
  const keep = track(t);
  for (let round = 0; round < 5; round++) {
    const stream = keep(await connectRaw(port));
    await stream.write(`GET /stream HTTP/1.1\r\nHost: faults\r\n${encoding}\r\n`);
    assert.ok(
      await stream.waitUntil(() => stream.receivedLength >= 256 * 1024, 10_000),
      'stream flowing',
    );
    stream.destroy();

    const whole = keep(await connectRaw(port));
    await whole.write(`GET /big HTTP/1.1\r\nHost: faults\r\n${encoding}\r\n`);
    assert.ok(
      await whole.waitUntil(() => whole.receivedLength >= 64 * 1024, 10_000),
      'body flowing',
    );
    whole.destroy();

    const sse = keep(await connectRaw(port));
    await sse.write(`GET /sse HTTP/1.1\r\nHost: faults\r\n${encoding}\r\n`);
    assert.ok(await sse.waitUntil(() => sse.receivedLength >= 4096, 10_000), 'events flowing');
    sse.destroy();
  }
  await assertSettled(inst, 'responses cut short');
  assert.ok(
    await eventually(() => outcomes.length === 10, 10_000),
    `handlers ended: ${outcomes.join(', ')}`,
  );
  assert.equal(
    outcomes.filter((o) => o === 'stream rejected, signal aborted').length,
    5,
    outcomes.join(', '),
  );
  assert.equal(outcomes.filter((o) => o === 'sse rejected').length, 5, outcomes.join(', '));
  await assertServing(port, '/__alive');
}

test('clients that vanish mid-response stop the handler and leave nothing behind', LIMIT, (t) =>
  vanishMidResponse(t, false),
);

test('clients that vanish mid-response, compressed: the same', LIMIT, (t) =>
  vanishMidResponse(t, true),
);

test(
  'clients that vanish mid-WebSocket-frame are closed once, with onWsClosed',
  LIMIT,
  async (t) => {
    const closes: number[] = [];
    let connected = 0;
    const { port, inst } = await start(t, (server) => {
      server.onWsConnected(() => {
        connected++;
      });
      server.onWsClosed((_ctx, code) => {
        closes.push(code);
      });
      server.get('/ws', async (ctx) => {
        ctx.setResponseBody(ctx.getRequestBodyString());
        await ctx.send();
      });
    });
    const keep = track(t);
    const halves: Array<[string, Buffer]> = [
      ['one byte of a header', Buffer.from([0x81])],
      ['a header and mask, no payload', frameHeader(0x1, 100)],
      [
        'a 16-bit length, part of the payload',
        Buffer.concat([frameHeader(0x2, 4000), randomBytes(1000)]),
      ],
      [
        'a 64-bit length, part of the payload',
        Buffer.concat([frameHeader(0x2, 500_000), randomBytes(20_000)]),
      ],
      [
        'a whole first fragment, half of the next',
        Buffer.concat([
          frameHeader(0x1, 5, false),
          Buffer.from('abcde'),
          frameHeader(0x0, 50),
          Buffer.from('xy'),
        ]),
      ],
      ['half a close frame', frameHeader(0x8, 20)],
    ];
    for (const [, bytes] of halves) {
      const conn = keep(await rawWebSocket(port, '/ws'));
      await conn.write(bytes);
      conn.destroy();
    }
    await assertSettled(inst, 'WebSockets cut mid-frame');
    assert.ok(
      await eventually(() => closes.length === halves.length, 10_000),
      `onWsClosed ran: ${closes.join(',')}`,
    );
    assert.equal(connected, halves.length, 'every socket was connected');
    assert.equal(closes.length, halves.length, 'onWsClosed ran once per connection');
    await wsEchoes(port, '/ws');
    await assertSettled(inst, 'the echo client closed');
  },
);

// ---- clients that never read -----------------------------------------------------------------

test(
  'a client that never reads a stream: sendBody() stops progressing, memory stays bounded',
  LIMIT,
  async (t) => {
    const chunk = Buffer.alloc(64 * 1024, 0x63);
    let sent = 0;
    let ended = '';
    const { port, inst } = await start(t, (server) => {
      server.get('/firehose', async (ctx) => {
        ctx.setResponseStream();
        try {
          for (;;) {
            ctx.setResponseBody(chunk);
            await ctx.sendBody();
            sent += chunk.length;
          }
        } catch {
          ended = 'rejected';
        }
      });
    });
    const reader = track(t)(await connectRaw(port));
    reader.socket.pause(); // never reads
    await reader.write('GET /firehose HTTP/1.1\r\nHost: faults\r\n\r\n');
    const stalled = await stalls(() => sent, 1500, 30_000);
    t.diagnostic(`bytes the handler got out before it had to wait: ${sent}`);
    assert.ok(stalled, `sendBody() stopped progressing (at ${sent} bytes)`);
    // Unbounded, it would have queued gigabytes by now; bounded, only the socket buffers fill.
    assert.ok(sent < 64 * 1024 * 1024, `bounded: ${sent} bytes`);
    await assertServing(port, '/__alive');
    reader.destroy();
    assert.ok(
      await eventually(() => ended === 'rejected', 10_000),
      'the handler saw the client go',
    );
    await assertSettled(inst, 'the slow reader left');
  },
);

test(
  'a client that pipelines requests for big bodies and never reads holds back the rest',
  LIMIT,
  async (t) => {
    const body = Buffer.alloc(1024 * 1024, 0x64);
    let handled = 0;
    const { port, inst } = await start(t, (server) => {
      server.get('/mb', (ctx) => {
        handled++;
        ctx.setResponseBody(body);
      });
    });
    const reader = track(t)(await connectRaw(port));
    reader.socket.pause();
    const requests = 300;
    await reader.write('GET /mb HTTP/1.1\r\nHost: faults\r\n\r\n'.repeat(requests));
    const stalled = await stalls(() => handled, 1500, 30_000);
    t.diagnostic(
      `requests handled before the server waited for the reader: ${handled} of ${requests}`,
    );
    assert.ok(stalled, 'the server stopped handling requests for the reader that does not read');
    assert.ok(handled < 64, `bounded: ${handled} MiB of responses queued, not ${requests}`);
    await assertServing(port, '/__alive');
    reader.destroy();
    await assertSettled(inst, 'the slow reader left');
  },
);

test('a WebSocket client that never reads: sendBody() stops progressing', LIMIT, async (t) => {
  const chunk = Buffer.alloc(64 * 1024, 0x65);
  let sent = 0;
  let ended = '';
  let closed = 0;
  const { port, inst } = await start(t, (server) => {
    server.onWsClosed(() => {
      closed++;
    });
    server.disableWsHook('/firehose');
    server.get('/firehose', async (ctx) => {
      try {
        for (;;) {
          ctx.setResponseBody(chunk);
          await ctx.sendBody();
          sent += chunk.length;
        }
      } catch {
        ended = 'rejected';
      }
    });
  });
  const reader = track(t)(await rawWebSocket(port, '/firehose'));
  reader.socket.pause();
  const stalled = await stalls(() => sent, 1500, 30_000);
  t.diagnostic(`bytes of messages sent before the handler had to wait: ${sent}`);
  assert.ok(stalled, `sendBody() stopped progressing (at ${sent} bytes)`);
  assert.ok(sent < 64 * 1024 * 1024, `bounded: ${sent} bytes`);
  reader.destroy();
  assert.ok(await eventually(() => ended === 'rejected', 10_000), 'the handler saw the client go');
  assert.ok(await eventually(() => closed === 1, 10_000), 'onWsClosed ran');
  await assertSettled(inst, 'the slow WebSocket reader left');
});

// ---- slowloris -------------------------------------------------------------------------------

/** The soft open-file limit of this process (Linux), or Infinity if unknown. */
function openFileLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s+/)[3];
    return soft === undefined || soft === 'unlimited' ? Infinity : Number(soft);
  } catch {
    return Infinity;
  }
}

test(
  'slowloris: 1,000 sockets sending a byte a second get 408 and do not stop others being served',
  LIMIT,
  async (t) => {
    // Client and server share this process: two fds per slow socket.
    const sockets = Math.min(1000, Math.floor((openFileLimit() - 200) / 2));
    if (sockets < 1000) t.diagnostic(`open-file limit allows only ${sockets} slow sockets`);
    const { port, inst } = await start(
      t,
      (server) => {
        server.get('/', (ctx) => {
          ctx.setResponseBody('served');
        });
      },
      { requestTimeout: 2000 },
    );
    const slow: RawConnection[] = [];
    t.after(() => {
      for (const conn of slow) conn.destroy();
    });
    const line = Buffer.from(`GET / HTTP/1.1\r\nHost: faults\r\nX-Slow: ${'z'.repeat(200)}\r\n`);
    for (let i = 0; i < sockets; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, sockets - i) }, () => connectRaw(port)),
      );
      for (const conn of batch) conn.socket.write(line.subarray(0, 1));
      slow.push(...batch);
    }
    let sentBytes = 1;
    const dribble = setInterval(() => {
      for (const conn of slow)
        if (!conn.closed && conn.writable)
          conn.socket.write(line.subarray(sentBytes, sentBytes + 1));
      sentBytes = Math.min(sentBytes + 1, line.length - 1);
    }, 1000);
    t.after(() => clearInterval(dribble));

    // Meanwhile a normal client is served, again and again.
    for (let i = 0; i < 10; i++) {
      const res = await request(port, 'GET / HTTP/1.1\r\nHost: faults\r\n\r\n', {
        timeoutMs: 15_000,
      });
      assert.equal(
        res.finals[0]?.status,
        200,
        `normal request ${i} answered while ${sockets} sockets dribble`,
      );
      assert.equal(res.finals[0]?.text(), 'served');
    }
    const allClosed = await eventually(() => slow.every((conn) => conn.closed), 30_000, 100);
    clearInterval(dribble);
    const statuses = new Map<number, number>();
    for (const conn of slow) {
      const status = parseResponses(conn.received, { eof: true }).responses[0]?.status ?? 0;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    t.diagnostic(`slow sockets by status: ${JSON.stringify([...statuses])}`);
    assert.ok(
      allClosed,
      `every slow socket was closed (${slow.filter((c) => !c.closed).length} open)`,
    );
    assert.equal(statuses.get(408), sockets, 'each slow socket got 408 Request Timeout');
    for (const conn of slow) conn.destroy();
    await assertSettled(inst, 'slowloris over');
    await assertServing(port, '/');
  },
);

test('slow bodies get 408, silent connections and stalled readers are closed', LIMIT, async (t) => {
  const big = Buffer.alloc(8 * 1024 * 1024, 0x66);
  const { port, inst } = await start(
    t,
    (server) => {
      server.post('/upload', (ctx) => {
        ctx.setResponseBody(String(ctx.getRequestBody().length));
      });
      server.get('/big', (ctx) => {
        ctx.setResponseBody(big);
      });
    },
    { requestTimeout: 2000, keepAliveTimeout: 1000 },
  );
  const keep = track(t);
  // A body dribbled a byte at a time: the request clock covers the body too.
  const dribblers: RawConnection[] = [];
  for (let i = 0; i < 50; i++) {
    const conn = keep(await connectRaw(port));
    await conn.write('POST /upload HTTP/1.1\r\nHost: faults\r\nContent-Length: 1000\r\n\r\nx');
    dribblers.push(conn);
  }
  const dribble = setInterval(() => {
    for (const conn of dribblers) if (!conn.closed && conn.writable) conn.socket.write('x');
  }, 500);
  t.after(() => clearInterval(dribble));
  // Connections that never send a byte.
  const silent: RawConnection[] = [];
  for (let i = 0; i < 50; i++) silent.push(keep(await connectRaw(port)));
  // A reader that stops reading a whole (not streamed) response part way.
  const stalled = keep(await connectRaw(port));
  stalled.socket.pause();
  await stalled.write('GET /big HTTP/1.1\r\nHost: faults\r\n\r\n');

  assert.ok(
    await eventually(() => dribblers.every((c) => c.closed), 30_000, 50),
    'every slow body was cut off',
  );
  clearInterval(dribble);
  for (const conn of dribblers) {
    assert.equal(parseResponses(conn.received, { eof: true }).responses[0]?.status, 408);
  }
  assert.ok(
    await eventually(() => silent.every((c) => c.closed), 30_000, 50),
    'silent connections closed after keepAliveTimeout',
  );
  for (const conn of silent) assert.equal(conn.receivedLength, 0, 'without a response');
  // The stalled reader holds the one remaining connection until the close grace passes.
  const cut = await eventually(() => inst.stats().connections === 0, 30_000, 100);
  assert.ok(cut, `a reader that stalls is dropped in the end (${inst.stats().connections} left)`);
  await assertSettled(inst, 'slow clients gone');
  await assertServing(port, '/__alive');
});

// ---- maxConnections --------------------------------------------------------------------------

test(
  'maxConnections reached: a new connection is closed at once, and service resumes',
  LIMIT,
  async (t) => {
    const { port, inst } = await start(
      t,
      (server) => {
        server.get('/', (ctx) => {
          ctx.setResponseBody('ok');
        });
      },
      { maxConnections: 5 },
    );
    const keep = track(t);
    const ask = async (conn: RawConnection, n: number): Promise<void> => {
      const before = conn.parse().responses.length;
      await conn.write('GET / HTTP/1.1\r\nHost: faults\r\n\r\n');
      const responses = await conn.readResponses(before + 1, 10_000);
      assert.equal(responses[before]?.status, 200, `request ${n} on a held connection answered`);
    };
    const held: RawConnection[] = [];
    for (let i = 0; i < 5; i++) {
      const conn = keep(await connectRaw(port));
      await ask(conn, i);
      held.push(conn);
    }
    assert.equal(inst.stats().connections, 5);

    // Over the limit: the kernel accepts, the server closes at once, without a byte of answer.
    for (let i = 0; i < 3; i++) {
      const extra = await connectRaw(port).catch(() => null);
      if (extra === null) continue; // refused outright is fine too
      keep(extra);
      await extra.write('GET / HTTP/1.1\r\nHost: faults\r\n\r\n');
      assert.ok(await extra.waitClosed(10_000), 'the connection over the limit was closed');
      assert.equal(extra.receivedLength, 0, 'and got no response');
    }
    // The held ones are unaffected.
    for (const [i, conn] of held.entries()) await ask(conn, 10 + i);

    // One leaves: a new client gets in.
    held.pop()!.destroy();
    assert.ok(
      await eventually(() => inst.stats().connections === 4, 10_000),
      'the server saw it go',
    );
    const served = await eventually(
      async () => {
        const res = await request(port, 'GET / HTTP/1.1\r\nHost: faults\r\n\r\n', {
          timeoutMs: 5000,
        });
        return res.finals[0]?.status === 200;
      },
      10_000,
      100,
    );
    assert.ok(served, 'a new connection is served once there is room');
    for (const conn of held) conn.destroy();
    await assertSettled(inst, 'all left');
  },
);

// ---- errors in every hook kind ---------------------------------------------------------------

type HttpHookKind =
  'requestMiddleware' | 'route' | 'responseMiddleware' | 'errorHook' | 'onBeforeSend' | 'onFinish';
type WsHookKind = 'preWsUpgrade' | 'onWsConnected' | 'wsMessage' | 'onWsClosed';

test('errors thrown in every kind of hook leak no connection and no Context', LIMIT, async (t) => {
  const logged = captureErrors(t);
  const errorsSeen: string[] = [];
  const { port, inst } = await start(t, (server) => {
    // `x-throw: <kind>` (and `x-async: 1`) picks the hook that throws.
    const throwIf = (ctx: Context, kind: string): void | Promise<void> => {
      if (ctx.getRequestHeader('x-throw') !== kind) return;
      if (ctx.getRequestHeader('x-async') === '1')
        return Promise.reject(new Error(`async ${kind} failed`));
      throw new Error(`${kind} failed`);
    };
    server.errorHook((ctx, error) => {
      errorsSeen.push(error instanceof Error ? error.message : String(error));
      return throwIf(ctx, 'errorHook');
    });
    server.requestMiddleware((ctx) => throwIf(ctx, 'requestMiddleware'));
    server.responseMiddleware((ctx) => throwIf(ctx, 'responseMiddleware'));
    server.preWsUpgrade((ctx) => throwIf(ctx, 'preWsUpgrade'));
    server.onWsConnected((ctx) => throwIf(ctx, 'onWsConnected'));
    server.onWsClosed((ctx) => throwIf(ctx, 'onWsClosed'));
    server.get('/t', (ctx) => {
      if (ctx.isWebSocket()) {
        // Only the message `throw` fails, so the next one shows the connection lived on.
        const thrown =
          ctx.getRequestBodyString() === 'throw' ? throwIf(ctx, 'wsMessage') : undefined;
        if (thrown !== undefined) return thrown;
        ctx.setResponseBody(ctx.getRequestBodyString());
        return ctx.send();
      }
      ctx.onBeforeSend((c) => {
        if (c.getRequestHeader('x-throw') === 'onBeforeSend')
          throw new Error('onBeforeSend failed');
      });
      ctx.onFinish((c) => {
        if (c.getRequestHeader('x-throw') === 'onFinish') throw new Error('onFinish failed');
      });
      if (ctx.getRequestHeader('x-throw') === 'errorHook') throw new Error('route failed first');
      const thrown = throwIf(ctx, 'route');
      if (thrown !== undefined) return thrown;
      ctx.setResponseBody('ok');
      return undefined;
    });
  });

  const httpKinds: Array<[HttpHookKind, number]> = [
    ['requestMiddleware', 500],
    ['route', 500],
    ['responseMiddleware', 500],
    ['errorHook', 500],
    ['onBeforeSend', 500],
    ['onFinish', 200], // the response was already out
  ];
  for (const [kind, status] of httpKinds) {
    for (const async of ['0', '1']) {
      if (async === '1' && (kind === 'onBeforeSend' || kind === 'onFinish')) continue; // sync hooks
      // Five on one keep-alive connection, then one per connection.
      const conn = await connectRaw(port);
      try {
        const head = `GET /t HTTP/1.1\r\nHost: faults\r\nX-Throw: ${kind}\r\nX-Async: ${async}\r\n\r\n`;
        for (let i = 0; i < 5; i++) {
          await conn.write(head);
          const responses = await conn.readResponses(i + 1, 10_000);
          assert.equal(
            responses[i]?.status,
            status,
            `${kind} (async ${async}) request ${i}: ${responses[i]?.text() ?? 'no response'}`,
          );
          if (conn.closed) break; // an error may close the connection; that is allowed
        }
      } finally {
        conn.destroy();
      }
      const res = await request(
        port,
        `GET /t HTTP/1.1\r\nHost: faults\r\nX-Throw: ${kind}\r\nX-Async: ${async}\r\nConnection: close\r\n\r\n`,
        { timeoutMs: 10_000 },
      );
      assert.equal(res.finals[0]?.status, status, `${kind} (async ${async}) on its own connection`);
      await assertSettled(inst, `after errors in ${kind} (async ${async})`);
    }
  }

  const wsKinds: WsHookKind[] = ['preWsUpgrade', 'onWsConnected', 'wsMessage', 'onWsClosed'];
  for (const kind of wsKinds) {
    for (const async of ['0', '1']) {
      for (let i = 0; i < 3; i++) {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/t`, {
          headers: { 'x-throw': kind, 'x-async': async },
        });
        const outcome = await new Promise<string>((resolve) => {
          const timer = setTimeout(() => resolve('no outcome in 10 s'), 10_000);
          ws.on('close', () => clearTimeout(timer));
          ws.on('unexpected-response', (_req, res) => {
            res.resume();
            clearTimeout(timer);
            resolve(`http ${res.statusCode}`);
          });
          ws.on('error', () => resolve('error'));
          ws.on('open', () => {
            // A failing message (no answer: nothing is auto-sent on a WebSocket), then a good one.
            ws.send('throw');
            ws.send('ping');
            ws.on('message', (data: Buffer) => {
              if (data.toString() !== 'ping') return; // the `throw` echoed where nothing threw
              ws.close(1000);
              resolve(`echo ${data.toString()}`);
            });
            ws.once('close', (code) => resolve(`closed ${code}`));
          });
        });
        if (kind === 'preWsUpgrade') assert.equal(outcome, 'http 500', `${kind}: refused with 500`);
        else if (kind === 'onWsConnected')
          assert.equal(outcome, 'closed 1011', `${kind}: closed 1011`);
        else assert.equal(outcome, 'echo ping', `${kind}: the connection lives on`);
        ws.terminate();
      }
      await assertSettled(inst, `after errors in ${kind} (async ${async})`);
    }
  }
  t.diagnostic(
    `Contexts created ${inst.contextsCreated()}, in memory after GC ${await inst.contextsLive()}`,
  );
  assert.ok(errorsSeen.length > 0, 'the error hook saw the errors');
  assert.ok(logged.length > 0, 'the server logged the errors hooks could not report');
  await assertServing(port, '/__alive');
  const res = await request(port, 'GET /t HTTP/1.1\r\nHost: faults\r\n\r\n', { timeoutMs: 10_000 });
  assert.equal(res.finals[0]?.text(), 'ok', 'a request without errors is still served');
});

test(
  'a WebSocket handler (disableWsHook) that throws closes with 1011, like a failing onWsConnected',
  LIMIT,
  async (t) => {
    captureErrors(t);
    const { port, inst } = await start(t, (server) => {
      server.disableWsHook('/h');
      server.get('/h', async (ctx) => {
        for await (const message of ctx.wsMessages()) {
          if (message.text() === 'throw') throw new Error('handler failed');
        }
      });
    });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/h`);
    const code = await new Promise<number>((resolve) => {
      ws.on('error', () => {});
      ws.on('open', () => ws.send('throw'));
      ws.on('close', (c) => resolve(c));
    });
    await assertSettled(inst, 'handler failed');
    assert.equal(code, 1011, 'a failed handler is not a normal closure');
  },
);

test(
  'sendBody() with a throwing onBeforeSend hook rejects rather than throwing synchronously',
  LIMIT,
  async (t) => {
    captureErrors(t);
    const { port } = await start(t, (server) => {
      server.get('/s', (ctx) => {
        ctx.onBeforeSend(() => {
          throw new Error('hook failed');
        });
        ctx.setResponseStream().setResponseBody('part');
        let how = 'returned';
        try {
          ctx.sendBody().catch(() => {});
        } catch {
          how = 'threw synchronously';
        }
        ctx.setResponseHeader('x-send-body', how);
      });
    });
    const res = await request(port, 'GET /s HTTP/1.1\r\nHost: faults\r\n\r\n', {
      timeoutMs: 10_000,
    });
    assert.equal(res.finals[0]?.headers['x-send-body'], 'returned');
  },
);

// ---- EMFILE ----------------------------------------------------------------------------------

test('running out of file descriptors (EMFILE) does not crash the server', LIMIT, async (t) => {
  const fixture = await startFixture({ nofile: 64 });
  t.after(() => fixture.kill());
  const before = await fixture.stats();
  t.diagnostic(`fds in use at start under a limit of 64: ${before.fds}`);
  const clients: net.Socket[] = [];
  t.after(() => {
    for (const socket of clients) socket.destroy();
  });
  let answered = 0;
  let closedEarly = 0;
  // Twice as many connections as the process has fds: the kernel queues them, the server
  // cannot accept them all.
  for (let i = 0; i < 128; i++) {
    const socket = net.connect({ port: fixture.port, host: '127.0.0.1' });
    socket.on('error', () => {});
    socket.once('data', () => answered++);
    socket.on('close', () => closedEarly++);
    socket.write(`GET /hello?n=${i} HTTP/1.1\r\nHost: emfile\r\n\r\n`);
    clients.push(socket);
  }
  await eventually(() => answered + closedEarly >= 20, 10_000);
  await sleep(1000); // let the server hit the limit over and over
  const during = await fixture.stats();
  t.diagnostic(
    `with 128 clients: ${during.connections} connections, fds ${during.fds}, ${answered} answered, ${closedEarly} closed`,
  );
  assert.equal(fixture.child.exitCode, null, 'the server process is still running');
  assert.ok(
    during.connections > 0 && during.connections <= 64,
    `accepted what it could: ${during.connections}`,
  );

  for (const socket of clients) socket.destroy();
  const served = await eventually(
    async () => {
      const res = await request(fixture.port, 'GET /hello?n=x HTTP/1.1\r\nHost: emfile\r\n\r\n', {
        timeoutMs: 3000,
      }).catch(() => null);
      return res?.finals[0]?.text() === 'hello x';
    },
    30_000,
    200,
  );
  assert.ok(served, 'the server serves again once the clients have gone');
  const after = await eventually(
    async () => (await fixture.stats()).connections === 0,
    15_000,
    100,
  );
  assert.ok(after, 'and holds no connection for them');
  assert.equal(fixture.child.exitCode, null, 'the server process never crashed');
  await fixture.close(2000);
  const exit = await Promise.race([fixture.exited, sleep(15_000, null, { ref: false })]);
  assert.deepEqual(
    exit,
    { code: 0, signal: null },
    `the process exits cleanly; stderr: ${fixture.stderr().slice(-500)}`,
  );
});
