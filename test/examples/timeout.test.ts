import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { createTimeoutServer, withTimeout } from '../../examples/timeout.js';
import { HttpError, Server, type Context } from '../../src/index.js';

const run = promisify(execFile);

test('withTimeout refuses a budget that is not a positive number', () => {
  for (const ms of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => withTimeout(ms, () => {}), RangeError, String(ms));
  }
});

test('a handler past its budget gets 408 JSON; in time, it answers normally', async () => {
  const running = await createTimeoutServer({ host: '127.0.0.1', port: 0, budgetMs: 200 }).run();
  const base = `http://127.0.0.1:${running.port}`;
  try {
    const quick = await fetch(`${base}/slow?delay=10`);
    assert.equal(quick.status, 200);
    assert.equal(await quick.text(), 'Request processed successfully');

    const started = Date.now();
    const slow = await fetch(`${base}/slow?delay=5000`);
    assert.equal(slow.status, 408);
    assert.deepEqual(await slow.json(), {
      error: 'Request Timeout',
      message: 'Request took too long to process',
    });
    const took = Date.now() - started;
    assert.ok(took >= 190 && took < 1500, `answered after ${took} ms`);

    const { stdout } = await run('curl', ['-s', '-w', '\n%{http_code}', `${base}/slow?delay=3000`]);
    assert.deepEqual(stdout.split('\n'), [
      '{"error":"Request Timeout","message":"Request took too long to process"}',
      '408',
    ]);

    for (const delay of ['abc', '-5', '60001', '1e3']) {
      const bad = await fetch(`${base}/slow?delay=${delay}`);
      assert.equal(bad.status, 400, delay);
      assert.equal(((await bad.json()) as { code: string }).code, 'INVALID_DELAY');
    }
    assert.equal((await fetch(`${base}/slow`)).status, 200, 'still serving');
  } finally {
    await running.close({ timeout: 2000 });
  }
});

/** Reads `count` Content-Length-framed responses from a keep-alive socket, as raw text each. */
function readResponses(socket: net.Socket, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const responses: string[] = [];
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buffer.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffer.length < end + 4 + length) return;
        responses.push(buffer.subarray(0, end + 4 + length).toString('latin1'));
        buffer = buffer.subarray(end + 4 + length);
        if (responses.length === count) {
          socket.off('data', onData);
          // Anything beyond the expected responses would be a stray late write.
          if (buffer.length > 0) reject(new Error(`unexpected bytes: ${buffer.toString()}`));
          else resolve(responses);
          return;
        }
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

test("the late handler's writes never reach the wire, and its signal has fired", async () => {
  let lateDone!: (report: Record<string, unknown>) => void;
  const late = new Promise<Record<string, unknown>>((resolve) => (lateDone = resolve));
  const lateErrors: unknown[] = [];
  const hookSaw: number[] = [];

  const server = new Server({ host: '127.0.0.1', port: 0 });
  server.errorHook((_ctx, error) => {
    if (error instanceof HttpError) hookSaw.push(error.status);
  });
  // This handler ignores the signal on purpose: it is the worst case the wrapper must contain.
  const stubborn = async (ctx: Context): Promise<void> => {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const signalled = ctx.signal.aborted;
    ctx.setResponseStatusCode(200).setResponseHeader('X-Late', 'yes').setResponseBody('late body');
    const sent = await ctx.send();
    const chunk = await ctx.sendBody().then(
      () => 'written',
      (error: Error) => error.message,
    );
    lateDone({ signalled, sent, chunk });
    throw new Error('late failure');
  };
  server.get(
    '/stubborn',
    withTimeout(50, stubborn, { onLateError: (error) => lateErrors.push(error) }),
  );
  server.get('/next', (ctx) => {
    ctx.setResponseBody('next');
  });
  server.get(
    '/throws',
    withTimeout(
      500,
      () => {
        throw new Error('early failure');
      },
      { onLateError: (error) => lateErrors.push(error) },
    ),
  );

  const running = await server.run();
  const socket = net.connect(running.port, '127.0.0.1');
  try {
    await new Promise((resolve) => socket.once('connect', resolve));
    const first = readResponses(socket, 1);
    socket.write('GET /stubborn HTTP/1.1\r\nHost: t\r\n\r\n');
    const [timedOut] = await first;
    assert.match(timedOut!, /^HTTP\/1\.1 408 /);
    assert.match(timedOut!, /"error":"Request Timeout"/);

    // Let the late handler do all its writing, then use the same connection again.
    assert.deepEqual(await late, {
      signalled: true,
      sent: false,
      chunk: 'the client has gone away',
    });
    const second = readResponses(socket, 1);
    socket.write('GET /next HTTP/1.1\r\nHost: t\r\n\r\n');
    const [next] = await second;
    assert.match(next!, /^HTTP\/1\.1 200 /);
    assert.ok(next!.endsWith('\r\n\r\nnext'));
    assert.doesNotMatch(timedOut! + next!, /late|x-late/i);

    assert.equal(lateErrors.length, 1);
    assert.equal((lateErrors[0] as Error).message, 'late failure');
    assert.deepEqual(hookSaw, [408], 'error hooks see the timeout');

    // A throw within the budget is an ordinary 500, not a timeout, and not a "late" error.
    const failed = await fetch(`http://127.0.0.1:${running.port}/throws`);
    assert.equal(failed.status, 500);
    assert.equal(lateErrors.length, 1);
  } finally {
    socket.destroy();
    await running.close({ timeout: 2000 });
  }
});
