/**
 * Server-Sent Events (API.md "Context: response" → Sending, "SSE"; issue 3) over real clients:
 * Node's fetch reading the body stream, and raw `net` sockets where framing, HTTP/1.0 or a
 * reader that never reads matter.
 *
 * Every test starts its own server on 127.0.0.1:0 and closes it.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { HyperlaneError, SSE_KEEP_ALIVE, Server, sseEvent, type Context } from '../../src/index.js';
import { RawConnection, finalResponses, parseResponses } from '../helpers/raw-client.js';
import { eventually } from '../helpers/eventually.js';
import { serve } from '../helpers/serve.js';

// ---- helpers -------------------------------------------------------------------------------

interface ParsedEvent {
  id: string | undefined;
  event: string | undefined;
  retry: string | undefined;
  data: string;
  dataLines: number;
  /** The block as received. */
  raw: string;
}

/** Parses one event block (the text between blank lines); undefined for a comment-only block. */
function parseBlock(block: string): ParsedEvent | undefined {
  const event: ParsedEvent = {
    id: undefined,
    event: undefined,
    retry: undefined,
    data: '',
    dataLines: 0,
    raw: block,
  };
  const data: string[] = [];
  let fields = 0;
  for (const line of block.split(/\r\n|\r|\n/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    fields++;
    if (name === 'data') data.push(value);
    else if (name === 'id') event.id = value;
    else if (name === 'event') event.event = value;
    else if (name === 'retry') event.retry = value;
  }
  if (fields === 0) return undefined;
  event.data = data.join('\n');
  event.dataLines = data.length;
  return event;
}

/** Reads an event stream from a fetch response, block by block. */
class SseReader {
  readonly events: ParsedEvent[] = [];
  /** Comment lines seen (e.g. `: keep-alive`). */
  readonly comments: string[] = [];
  text = '';
  done = false;
  error: unknown = undefined;
  private buffer = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private taken = 0;
  private pump: Promise<void>;

  constructor(response: Response) {
    assert.ok(response.body !== null);
    this.reader = response.body.getReader();
    this.pump = this.run();
  }

  private async run(): Promise<void> {
    try {
      for (;;) {
        const { value, done } = await this.reader.read();
        if (done) break;
        const chunk = this.decoder.decode(value, { stream: true });
        this.text += chunk;
        this.buffer += chunk;
        let end: number;
        while ((end = this.buffer.indexOf('\n\n')) !== -1) {
          const block = this.buffer.slice(0, end);
          this.buffer = this.buffer.slice(end + 2);
          for (const line of block.split('\n')) if (line.startsWith(':')) this.comments.push(line);
          const event = parseBlock(block);
          if (event !== undefined) this.events.push(event);
        }
      }
    } catch (error) {
      this.error = error;
    } finally {
      this.done = true;
    }
  }

  /** The next event not yet taken. */
  async next(timeoutMs = 3000): Promise<ParsedEvent> {
    const ok = await eventually(() => this.events.length > this.taken || this.done, timeoutMs, 5);
    const event = this.events[this.taken];
    assert.ok(
      ok && event !== undefined,
      `an event within ${timeoutMs} ms (done=${this.done}, text=${JSON.stringify(this.text.slice(-200))})`,
    );
    this.taken++;
    return event;
  }

  /** Waits until the stream ends; rejects after `timeoutMs`. */
  async end(timeoutMs = 3000): Promise<void> {
    const ok = await eventually(() => this.done, timeoutMs, 5);
    assert.ok(ok, `the stream ended within ${timeoutMs} ms`);
    await this.pump;
  }

  /** What remains after the last complete block (should be empty at a clean end). */
  get leftover(): string {
    return this.buffer;
  }

  cancel(): void {
    void this.reader.cancel().catch(() => {});
  }
}

/** Registers GET /events?n=N&delay=ms: N events with ids 1..N, two-line data. */
function eventsRoute(server: Server, record?: (ctx: Context) => void): void {
  server.get('/events', async (ctx) => {
    record?.(ctx);
    const n = Number(ctx.getRequestQuery('n') ?? 5);
    const delay = Number(ctx.getRequestQuery('delay') ?? 0);
    ctx
      .setResponseHeader('content-type', 'text/event-stream')
      .setResponseHeader('cache-control', 'no-cache');
    await ctx.send();
    for (let i = 1; i <= n; i++) {
      ctx.setResponseBody(
        sseEvent({
          id: i,
          event: 'tick',
          data: `first line ${i}\nsecond line ${i}`,
          ...(i === 1 ? { retry: 1500 } : {}),
        }),
      );
      await ctx.sendBody();
      if (delay > 0) await sleep(delay);
    }
  });
  server.get('/plain', (ctx) => {
    ctx.setResponseBody('ok');
  });
}

/** Splits a chunked body (the bytes after the head) into its chunks; null if incomplete. */
function splitChunks(body: Buffer): { chunks: Buffer[]; ended: boolean; rest: Buffer } {
  const chunks: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', pos);
    if (lineEnd === -1) return { chunks, ended: false, rest: body.subarray(pos) };
    const size = parseInt(body.subarray(pos, lineEnd).toString('latin1'), 16);
    assert.ok(Number.isInteger(size), `chunk size line at ${pos}`);
    if (size === 0) {
      const ended = body.subarray(lineEnd, lineEnd + 4).toString('latin1') === '\r\n\r\n';
      return { chunks, ended, rest: body.subarray(lineEnd + 4) };
    }
    if (body.length < lineEnd + 2 + size + 2)
      return { chunks, ended: false, rest: body.subarray(pos) };
    chunks.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    assert.equal(body.subarray(lineEnd + 2 + size, lineEnd + 4 + size).toString('latin1'), '\r\n');
    pos = lineEnd + 4 + size;
  }
}

function expectedEvent(i: number): string {
  return sseEvent({
    id: i,
    event: 'tick',
    data: `first line ${i}\nsecond line ${i}`,
    ...(i === 1 ? { retry: 1500 } : {}),
  });
}

// ---- sseEvent --------------------------------------------------------------------------------

test('sseEvent formats fields in order with one data: line per line of data', () => {
  assert.equal(sseEvent({ data: 'x' }), 'data: x\n\n');
  assert.equal(
    sseEvent({ data: 'hello', event: 'greet', id: 'a-1', retry: 2000 }),
    'id: a-1\nevent: greet\nretry: 2000\ndata: hello\n\n',
  );
  assert.equal(sseEvent({ data: 'n', id: 42 }), 'id: 42\ndata: n\n\n', 'a numeric id');
  assert.equal(sseEvent({ data: 'n', id: 0 }), 'id: 0\ndata: n\n\n', 'id 0 is kept');
  assert.equal(sseEvent({ data: 'a\nb\nc' }), 'data: a\ndata: b\ndata: c\n\n');
  assert.equal(sseEvent({ data: 'a\r\nb' }), 'data: a\ndata: b\n\n', 'CRLF splits');
  assert.equal(sseEvent({ data: 'a\rb' }), 'data: a\ndata: b\n\n', 'a lone CR splits');
  assert.equal(
    sseEvent({ data: 'a\n' }),
    'data: a\ndata: \n\n',
    'a trailing newline keeps an empty line',
  );
  assert.equal(sseEvent({ data: '' }), 'data: \n\n');
  assert.equal(
    sseEvent({ data: { a: 1, b: [2] } }),
    'data: {"a":1,"b":[2]}\n\n',
    'objects as JSON',
  );
  assert.equal(sseEvent({ data: ': not a comment' }), 'data: : not a comment\n\n');
  // The wire text parses back to the same event.
  const parsed = parseBlock(sseEvent({ data: 'l1\r\nl2\nl3', id: 7, event: 'e' }).trimEnd());
  assert.deepEqual(
    parsed && { id: parsed.id, event: parsed.event, data: parsed.data, lines: parsed.dataLines },
    { id: '7', event: 'e', data: 'l1\nl2\nl3', lines: 3 },
  );
  assert.equal(SSE_KEEP_ALIVE, ': keep-alive\n\n');
});

test('sseEvent throws on a line break in id or event, and on a bad retry', () => {
  const invalid = (error: unknown): boolean =>
    error instanceof HyperlaneError && error.code === 'HL_ERR_SSE_INVALID';
  assert.throws(() => sseEvent({ data: 'x', id: 'a\nb' }), invalid);
  assert.throws(() => sseEvent({ data: 'x', id: 'a\rb' }), invalid);
  assert.throws(() => sseEvent({ data: 'x', id: 'a\r\n' }), invalid);
  assert.throws(() => sseEvent({ data: 'x', event: 'up\ndata: injected' }), invalid);
  assert.throws(() => sseEvent({ data: 'x', event: 'x\r' }), invalid);
  assert.throws(() => sseEvent({ data: 'x', retry: -1 }), invalid);
  assert.throws(() => sseEvent({ data: 'x', retry: 1.5 }), invalid);
});

// ---- streaming over fetch ----------------------------------------------------------------------

test('an event stream over fetch: headers, events in order, increasing ids, multi-line data', async (t) => {
  const { base } = await serve(t, (server) => eventsRoute(server));
  const response = await fetch(`${base}/events?n=8&delay=5`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  assert.equal(response.headers.get('cache-control'), 'no-cache');
  assert.equal(response.headers.get('content-length'), null, 'a stream has no Content-Length');
  const reader = new SseReader(response);
  await reader.end();
  assert.equal(reader.error, undefined, 'the stream ended cleanly');
  assert.equal(reader.leftover, '', 'no partial event at the end');
  assert.equal(reader.events.length, 8);
  let previous = 0;
  for (const [index, event] of reader.events.entries()) {
    const id = Number(event.id);
    assert.ok(id > previous, `ids increase: ${id} after ${previous}`);
    previous = id;
    assert.equal(id, index + 1);
    assert.equal(event.event, 'tick');
    assert.equal(event.dataLines, 2, 'multi-line data comes as several data: lines');
    assert.equal(event.data, `first line ${id}\nsecond line ${id}`);
  }
  assert.equal(reader.events[0]!.retry, '1500');
  assert.equal(reader.events[1]!.retry, undefined);
  assert.equal(reader.text, Array.from({ length: 8 }, (_, i) => expectedEvent(i + 1)).join(''));
});

test('events arrive while the handler is still running (not buffered until the end)', async (t) => {
  let handlerDone = false;
  const { base } = await serve(t, (server) => {
    server.get('/slow', async (ctx) => {
      ctx.setResponseHeader('content-type', 'text/event-stream');
      await ctx.send();
      for (let i = 1; i <= 3; i++) {
        ctx.setResponseBody(sseEvent({ id: i, data: `e${i}` }));
        await ctx.sendBody();
        await sleep(300);
      }
      handlerDone = true;
    });
  });
  const started = Date.now();
  const response = await fetch(`${base}/slow`);
  const reader = new SseReader(response);
  const first = await reader.next(1000);
  assert.equal(first.data, 'e1');
  assert.equal(handlerDone, false);
  assert.ok(Date.now() - started < 250, `first event after ${Date.now() - started} ms`);
  const second = await reader.next(1000);
  assert.equal(second.data, 'e2');
  assert.equal(handlerDone, false);
  await reader.end();
  assert.equal(reader.events.length, 3);
});

test('chunked framing: one chunk per sendBody(), a terminating 0-chunk, and the connection is reused', async (t) => {
  const { port } = await serve(t, (server) => eventsRoute(server));
  const conn = await RawConnection.connect(port);
  t.after(() => conn.destroy());
  await conn.write(`GET /events?n=4 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  const [response] = finalResponses(await conn.readResponses(1, 3000));
  assert.ok(response !== undefined, 'a complete (terminated) response');
  assert.equal(response.status, 200);
  assert.equal(response.framing, 'chunked');
  assert.equal(response.headers['transfer-encoding'], 'chunked');
  assert.equal(response.headers['content-length'], undefined);
  assert.equal(response.headers['connection'], undefined, 'keep-alive on HTTP/1.1 by default');
  const headEnd = response.raw.indexOf('\r\n\r\n') + 4;
  const { chunks, ended } = splitChunks(response.raw.subarray(headEnd));
  assert.equal(ended, true, 'the stream ends with 0\\r\\n\\r\\n');
  assert.deepEqual(
    chunks.map((c) => c.toString('utf8')),
    [1, 2, 3, 4].map(expectedEvent),
    'each sendBody() is one chunk',
  );

  // The same socket serves the next request.
  const before = conn.received.length;
  await conn.write(`GET /plain HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  await conn.waitUntil(
    () => finalResponses(parseResponses(conn.received.subarray(before)).responses).length === 1,
    3000,
  );
  const [plain] = finalResponses(parseResponses(conn.received.subarray(before)).responses);
  assert.ok(plain !== undefined, 'a second response on the same connection');
  assert.equal(plain.status, 200);
  assert.equal(plain.text(), 'ok');
  assert.equal(conn.closed, false);

  // And another stream after it.
  const before2 = conn.received.length;
  await conn.write(`GET /events?n=2 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  await conn.waitUntil(
    () => finalResponses(parseResponses(conn.received.subarray(before2)).responses).length === 1,
    3000,
  );
  const [again] = finalResponses(parseResponses(conn.received.subarray(before2)).responses);
  assert.ok(again !== undefined);
  assert.equal(again.text(), expectedEvent(1) + expectedEvent(2));
});

test('a stream ends cleanly when the handler returns; fetch can reuse the connection', async (t) => {
  const ports = new Set<number>();
  const { base } = await serve(t, (server) =>
    eventsRoute(server, (ctx) => {
      ports.add(ctx.getSocketPort() ?? -1);
    }),
  );
  for (let round = 0; round < 3; round++) {
    const response = await fetch(`${base}/events?n=3`);
    const reader = new SseReader(response);
    await reader.end();
    assert.equal(reader.error, undefined);
    assert.equal(reader.events.length, 3);
  }
  assert.equal(
    ports.size,
    1,
    `one keep-alive connection served every stream (${[...ports].join()})`,
  );
});

test('ctx.closed() ends the stream with the 0-chunk and closes the connection', async (t) => {
  let sendAfterClose: unknown = null;
  const { port } = await serve(t, (server) => {
    server.get('/close', async (ctx) => {
      ctx.setResponseHeader('content-type', 'text/event-stream');
      await ctx.send();
      ctx.setResponseBody(sseEvent({ id: 1, data: 'last' }));
      await ctx.sendBody();
      await ctx.closed();
      try {
        await ctx.sendBody();
        sendAfterClose = 'resolved';
      } catch (error) {
        sendAfterClose = error;
      }
    });
  });
  const conn = await RawConnection.connect(port);
  t.after(() => conn.destroy());
  await conn.write(`GET /close HTTP/1.1\r\nHost: x\r\n\r\nGET /close HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.ok(await conn.waitClosed(3000), 'the server closed the connection');
  const { responses, rest } = parseResponses(conn.received, { eof: true });
  assert.equal(responses.length, 1, 'the pipelined second request is not answered');
  assert.equal(responses[0]!.framing, 'chunked');
  assert.equal(responses[0]!.text(), sseEvent({ id: 1, data: 'last' }));
  assert.equal(rest.length, 0);
  assert.ok(
    sendAfterClose instanceof HyperlaneError,
    `sendBody() after closed() rejects (${String(sendAfterClose)})`,
  );
});

test('Last-Event-ID is readable on reconnect and the stream resumes after it', async (t) => {
  const seen: Array<string | undefined> = [];
  const { base } = await serve(t, (server) => {
    server.get('/feed', async (ctx) => {
      const last = ctx.getRequestHeader('last-event-id');
      seen.push(last);
      let id = last === undefined ? 0 : Number(last);
      ctx.setResponseHeader('content-type', 'text/event-stream');
      await ctx.send();
      const stop = id + 200;
      try {
        while (id < stop) {
          id++;
          ctx.setResponseBody(sseEvent({ id, data: `event ${id}` }));
          await ctx.sendBody();
          await sleep(10);
        }
      } catch {
        // the client left
      }
    });
  });
  const abort = new AbortController();
  const first = new SseReader(await fetch(`${base}/feed`, { signal: abort.signal }));
  const got: string[] = [];
  for (let i = 0; i < 3; i++) got.push((await first.next()).id ?? '');
  abort.abort();
  assert.deepEqual(got, ['1', '2', '3']);

  const abort2 = new AbortController();
  const second = new SseReader(
    await fetch(`${base}/feed`, { headers: { 'Last-Event-ID': '3' }, signal: abort2.signal }),
  );
  const resumed = await second.next();
  assert.equal(resumed.id, '4', 'the server resumes after the last id the client saw');
  assert.equal(resumed.data, 'event 4');
  assert.equal((await second.next()).id, '5');
  abort2.abort();
  assert.deepEqual(seen, [undefined, '3']);
});

test('the client aborting stops the server loop: sendBody() rejects and ctx.signal aborts', async (t) => {
  let pushOutcome: { error: unknown; at: number; signal: boolean } | null = null;
  let quietOutcome: { at: number } | null = null;
  const { base, port } = await serve(t, (server) => {
    server.get('/push', async (ctx) => {
      ctx.setResponseHeader('content-type', 'text/event-stream');
      await ctx.send();
      let i = 0;
      try {
        for (;;) {
          ctx.setResponseBody(sseEvent({ id: ++i, data: 'tick' }));
          await ctx.sendBody();
          await sleep(20);
        }
      } catch (error) {
        pushOutcome = { error, at: Date.now(), signal: ctx.signal.aborted };
      }
    });
    // Sends nothing after the head: only ctx.signal can tell it the client left.
    server.get('/quiet', async (ctx) => {
      ctx.setResponseHeader('content-type', 'text/event-stream');
      await ctx.send();
      const signal = ctx.signal;
      assert.equal(signal.aborted, false, 'the signal has not fired while the stream is open');
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      quietOutcome = { at: Date.now() };
    });
  });
  const abort = new AbortController();
  const reader = new SseReader(await fetch(`${base}/push`, { signal: abort.signal }));
  await reader.next();
  await reader.next();
  const abortedAt = Date.now();
  abort.abort();
  assert.ok(await eventually(() => pushOutcome !== null, 2000), 'the push loop stopped within 2 s');
  const push = pushOutcome as unknown as { error: unknown; at: number; signal: boolean };
  assert.ok(push.error instanceof HyperlaneError);
  assert.equal(push.error.code, 'HL_ERR_PEER_GONE');
  assert.ok(push.at - abortedAt < 2000);
  assert.equal(push.signal, true, 'ctx.signal aborted as well');

  const abortQuiet = new AbortController();
  const response = await fetch(`${base}/quiet`, { signal: abortQuiet.signal });
  assert.equal(response.status, 200);
  await sleep(50);
  assert.equal(quietOutcome, null);
  const quietAbortedAt = Date.now();
  abortQuiet.abort();
  assert.ok(await eventually(() => quietOutcome !== null, 2000), 'ctx.signal fired within 2 s');
  assert.ok((quietOutcome as unknown as { at: number }).at - quietAbortedAt < 2000);

  const alive = await fetch(`${base}/push`, { signal: AbortSignal.timeout(2000) });
  assert.equal(alive.status, 200);
  await alive.body?.cancel();
  assert.ok(port > 0);
});

test('a reader that never reads makes sendBody() wait: what the server buffers stays bounded', async (t) => {
  const EVENT_BYTES = 64 * 1024;
  const flood = { sent: 0, error: undefined as unknown, endedAt: 0 };
  const { port } = await serve(t, (server) => {
    server.get('/flood', async (ctx) => {
      ctx.setResponseHeader('content-type', 'text/event-stream');
      await ctx.send();
      const payload = 'x'.repeat(EVENT_BYTES - 20);
      try {
        for (;;) {
          ctx.setResponseBody(sseEvent({ id: flood.sent, data: payload }));
          await ctx.sendBody();
          flood.sent++;
          // Yield to the event loop, so a sendBody() that never waits floods instead of starving timers.
          await yieldToLoop();
        }
      } catch (error) {
        flood.error = error;
        flood.endedAt = Date.now();
      }
    });
  });
  const socket = net.connect({ port, host: '127.0.0.1' });
  t.after(() => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.pause(); // never read
  socket.write(`GET /flood HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  const heapBefore = process.memoryUsage().heapUsed;
  await sleep(1500);
  const at1500 = flood.sent;
  await sleep(500);
  const at2000 = flood.sent;
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
  const bytes = at2000 * EVENT_BYTES;
  assert.ok(at2000 > 0, 'some events went out');
  assert.ok(
    bytes < 16 * 1024 * 1024,
    `at most a few MB were accepted for a reader that never reads (${at2000} events = ${(bytes / 1048576).toFixed(1)} MiB)`,
  );
  assert.equal(at2000, at1500, 'sendBody() is blocked: no progress while the reader does not read');
  assert.equal(flood.error, undefined, 'the loop is waiting, not failing');
  assert.ok(heapGrowth < 64 * 1024 * 1024, `heap grew ${(heapGrowth / 1048576).toFixed(1)} MiB`);

  // Reading resumes the flow.
  let drained = 0;
  socket.on('data', (chunk: Buffer) => {
    drained += chunk.length;
  });
  socket.resume();
  assert.ok(
    await eventually(() => flood.sent > at2000 + 20, 3000),
    'the loop continues once the reader reads',
  );
  socket.destroy();
  const goneAt = Date.now();
  assert.ok(
    await eventually(() => flood.endedAt !== 0, 2000),
    'the loop ends once the reader is gone',
  );
  assert.ok(flood.endedAt - goneAt < 2000);
  assert.ok(drained > 0);
});

test('sseKeepAlive: a silent stream gets ": keep-alive" comments; a busy one does not', async (t) => {
  const { base } = await serve(
    t,
    (server) => {
      server.get('/silent', async (ctx) => {
        ctx.setResponseHeader('content-type', 'text/event-stream');
        await ctx.send();
        await sleep(2300);
        ctx.setResponseBody(sseEvent({ id: 1, data: 'finally' }));
        await ctx.sendBody();
      });
      server.get('/busy', async (ctx) => {
        ctx.setResponseHeader('content-type', 'text/event-stream');
        await ctx.send();
        for (let i = 1; i <= 30; i++) {
          ctx.setResponseBody(sseEvent({ id: i, data: 'tick' }));
          await ctx.sendBody();
          await sleep(40);
        }
      });
      server.get('/not-sse', async (ctx) => {
        ctx.setResponseHeader('content-type', 'application/octet-stream').setResponseStream();
        await ctx.send();
        await sleep(1300);
        ctx.setResponseBody('end');
        await ctx.sendBody();
      });
    },
    { sseKeepAlive: 300 },
  );
  const [silent, busy, raw] = await Promise.all([
    fetch(`${base}/silent`).then((r) => new SseReader(r)),
    fetch(`${base}/busy`).then((r) => new SseReader(r)),
    fetch(`${base}/not-sse`).then((r) => r.text()),
  ]);
  await Promise.all([silent.end(5000), busy.end(5000)]);
  assert.ok(
    silent.comments.length >= 2,
    `keep-alive comments on a silent stream: ${silent.comments.length}`,
  );
  assert.ok(silent.comments.every((c) => c === ': keep-alive'));
  assert.equal(silent.events.length, 1, 'comments are not events');
  assert.equal(silent.events[0]!.data, 'finally');
  assert.equal(
    busy.comments.length,
    0,
    'a stream that writes more often than sseKeepAlive gets none',
  );
  assert.equal(busy.events.length, 30);
  assert.equal(raw, 'end', 'only event streams get SSE comments');
});

test('sseKeepAlive is honoured at its own cadence (100 ms → several comments a second)', async (t) => {
  const { base } = await serve(
    t,
    (server) => {
      server.get('/silent', async (ctx) => {
        ctx.setResponseHeader('content-type', 'text/event-stream');
        await ctx.send();
        await sleep(1000);
      });
    },
    { sseKeepAlive: 100 },
  );
  const reader = new SseReader(await fetch(`${base}/silent`));
  await reader.end(3000);
  // Ideally ~9 in one silent second; allow generous timer slack.
  assert.ok(
    reader.comments.length >= 4,
    `a stream silent for 1 s with sseKeepAlive 100 got ${reader.comments.length} keep-alive comments`,
  );
});

test('without sseKeepAlive (the default) a silent stream gets no comments', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get('/silent', async (ctx) => {
      ctx.setResponseHeader('content-type', 'text/event-stream');
      await ctx.send();
      await sleep(1200);
    });
  });
  const reader = new SseReader(await fetch(`${base}/silent`));
  await reader.end(3000);
  assert.equal(reader.text, '');
});

test('a long or silent stream is not cut by requestTimeout or keepAliveTimeout', async (t) => {
  const { base } = await serve(
    t,
    (server) => {
      server.get('/long', async (ctx) => {
        ctx.setResponseHeader('content-type', 'text/event-stream');
        await ctx.send();
        await sleep(700); // silent for longer than both timeouts
        for (let i = 1; i <= 4; i++) {
          ctx.setResponseBody(sseEvent({ id: i, data: `late ${i}` }));
          await ctx.sendBody();
          await sleep(150);
        }
      });
    },
    { requestTimeout: 200, keepAliveTimeout: 200 },
  );
  const reader = new SseReader(await fetch(`${base}/long`));
  await reader.end(5000);
  assert.equal(reader.error, undefined);
  assert.deepEqual(
    reader.events.map((e) => e.data),
    ['late 1', 'late 2', 'late 3', 'late 4'],
  );
});

// ---- HTTP/1.0, HEAD, shutdown ----------------------------------------------------------------

test('an HTTP/1.0 client gets the stream without chunked coding and the connection closes at the end', async (t) => {
  const { port } = await serve(t, (server) => eventsRoute(server));
  for (const extra of ['', 'Connection: keep-alive\r\n']) {
    const conn = await RawConnection.connect(port);
    await conn.write(`GET /events?n=3&delay=20 HTTP/1.0\r\nHost: 127.0.0.1\r\n${extra}\r\n`);
    assert.ok(
      await conn.waitClosed(3000),
      `the server closes the connection to end the stream (${extra})`,
    );
    const { responses, rest, error } = parseResponses(conn.received, { eof: true });
    assert.equal(error, undefined);
    assert.equal(responses.length, 1);
    const response = responses[0]!;
    assert.equal(response.status, 200);
    assert.equal(response.framing, 'close');
    assert.equal(response.headers['transfer-encoding'], undefined);
    assert.equal(response.headers['content-length'], undefined);
    assert.equal(response.headers['connection']?.toLowerCase(), 'close');
    assert.equal(
      response.text(),
      [1, 2, 3].map(expectedEvent).join(''),
      'raw events, no chunk sizes',
    );
    assert.equal(rest.length, 0);
    conn.destroy();
  }
});

test('HEAD on an event-stream route sends the head only and keeps the connection', async (t) => {
  let handlerEnded = false;
  const { port } = await serve(t, (server) => {
    server.get('/events', async (ctx) => {
      ctx.setResponseHeader('content-type', 'text/event-stream');
      await ctx.send();
      try {
        for (let i = 1; i <= 3; i++) {
          ctx.setResponseBody(sseEvent({ id: i, data: 'x' }));
          await ctx.sendBody();
        }
      } catch {
        // nothing to stream on HEAD
      }
      handlerEnded = true;
    });
    server.get('/plain', (ctx) => {
      ctx.setResponseBody('ok');
    });
  });
  const conn = await RawConnection.connect(port);
  t.after(() => conn.destroy());
  await conn.write(
    `HEAD /events HTTP/1.1\r\nHost: x\r\n\r\nGET /plain HTTP/1.1\r\nHost: x\r\n\r\n`,
  );
  const responses = finalResponses(await conn.readResponses(2, 3000, { isHead: (i) => i === 0 }));
  assert.equal(
    responses.length,
    2,
    `two responses: ${JSON.stringify(conn.received.toString('latin1'))}`,
  );
  assert.equal(responses[0]!.status, 200);
  assert.match(responses[0]!.headers['content-type'] ?? '', /^text\/event-stream/);
  assert.equal(responses[0]!.body.length, 0);
  assert.equal(
    responses[1]!.text(),
    'ok',
    'no stray bytes between the HEAD reply and the next response',
  );
  assert.equal(handlerEnded, true);
});

test('a graceful server close ends open streams: the client sees a clean end, the loop stops', async (t) => {
  let loopError: unknown = null;
  const server = new Server({ host: '127.0.0.1', port: 0 });
  server.get('/forever', async (ctx) => {
    ctx.setResponseHeader('content-type', 'text/event-stream');
    await ctx.send();
    let i = 0;
    try {
      for (;;) {
        ctx.setResponseBody(sseEvent({ id: ++i, data: 'tick' }));
        await ctx.sendBody();
        await sleep(20);
      }
    } catch (error) {
      loopError = error;
    }
  });
  const running = await server.run();
  t.after(() => running.close({ timeout: 500 }));
  const reader = new SseReader(await fetch(`http://127.0.0.1:${running.port}/forever`));
  await reader.next();
  const started = Date.now();
  await running.close();
  await running.closed;
  assert.ok(Date.now() - started < 2000, `close() took ${Date.now() - started} ms`);
  await reader.end(2000);
  assert.equal(reader.error, undefined, 'the stream ended cleanly (0-chunk), not with a reset');
  assert.equal(reader.leftover, '');
  assert.ok(loopError instanceof HyperlaneError, 'the handler loop saw sendBody() reject');
});

test('sendBody() without send() starts the stream with the head', async (t) => {
  const { base } = await serve(t, (server) => {
    server.get('/direct', async (ctx) => {
      ctx.setResponseHeader('content-type', 'text/event-stream; charset=utf-8');
      for (let i = 1; i <= 2; i++) {
        ctx.setResponseBody(sseEvent({ id: i, data: `d${i}` }));
        await ctx.sendBody();
      }
    });
  });
  const response = await fetch(`${base}/direct`);
  assert.equal(response.status, 200);
  const reader = new SseReader(response);
  await reader.end();
  assert.deepEqual(
    reader.events.map((e) => [e.id, e.data]),
    [
      ['1', 'd1'],
      ['2', 'd2'],
    ],
  );
});

test('string chunks are framed by their UTF-8 byte length, ASCII or not', async (t) => {
  const chunks = ['data: plain\n\n', 'data: café ✓\n\n', 'data: 😀\n\n', 'data: end\n\n'];
  const { port } = await serve(t, (server) => {
    server.get('/mixed', async (ctx) => {
      ctx.setResponseHeader('content-type', 'text/event-stream');
      for (const chunk of chunks) await ctx.setResponseBody(chunk).sendBody();
    });
  });
  const conn = await RawConnection.connect(port);
  try {
    await conn.write('GET /mixed HTTP/1.1\r\nHost: x\r\n\r\n');
    const [response] = await conn.readResponses(1, 3000);
    assert.equal(response?.framing, 'chunked');
    assert.equal(response.body.toString('utf8'), chunks.join(''));
    // Each chunk's size line is its byte length in hex, right before its bytes.
    for (const chunk of chunks) {
      const bytes = Buffer.from(chunk, 'utf8');
      const framed = Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes]);
      assert.ok(conn.received.includes(framed), `chunk ${JSON.stringify(chunk)} framed as sent`);
    }
  } finally {
    conn.destroy();
  }
});
