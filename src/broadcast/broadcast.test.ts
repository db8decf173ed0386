import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { HyperlaneError } from '../error/hyperlane-error.js';
import { MemoryBus, type BroadcastAdapter } from './adapter.js';
import { Broadcast } from './broadcast.js';
import type { Subscription } from './subscription.js';

// A real collector makes the memory tests measure retention rather than garbage not yet collected.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Lets every queued microtask (readers, bus deliveries) run. */
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Reads a subscription to its end. */
async function drain<T>(sub: Subscription<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const msg of sub) out.push(msg);
  return out;
}

/** Everything buffered right now. */
function takeAll<T>(sub: Subscription<T>): T[] {
  const out: T[] = [];
  for (let msg = sub.tryRecv(); msg !== undefined; msg = sub.tryRecv()) out.push(msg);
  return out;
}

/**
 * Reads a subscription of 0, 1, 2, … to its end, checking order as it goes (keeping the messages
 * would make 1,000 subscribers' assertions cost more than the broadcast under test).
 */
async function countInOrder(sub: Subscription<number>): Promise<number> {
  let expected = 0;
  for await (const msg of sub) {
    if (msg !== expected) throw new Error(`expected ${expected}, got ${msg}`);
    expected++;
  }
  return expected;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function isCode(code: string): (err: unknown) => boolean {
  return (err) => err instanceof HyperlaneError && err.code === code;
}

test('send with no subscribers returns 0', () => {
  const hub = new Broadcast<number>();
  assert.equal(hub.send(1), 0);
  assert.equal(hub.receiverCount(), 0);
});

test('send returns the local receiver count and recv yields messages in order', async () => {
  const hub = new Broadcast<string>();
  const a = hub.subscribe();
  const b = hub.subscribe();
  assert.equal(hub.receiverCount(), 2);
  assert.equal(hub.send('x'), 2);
  assert.equal(hub.send('y'), 2);
  assert.equal(await a.recv(), 'x');
  assert.equal(await a.recv(), 'y');
  assert.equal(await b.recv(), 'x');
  assert.equal(b.tryRecv(), 'y');
  assert.equal(b.tryRecv(), undefined);
  assert.equal(a.lagged, 0);
});

test('a subscription sees only messages sent after it subscribed', async () => {
  const hub = new Broadcast<number>();
  const early = hub.subscribe();
  hub.send(1);
  const late = hub.subscribe();
  hub.send(2);
  assert.equal(await early.recv(), 1);
  assert.equal(await early.recv(), 2);
  assert.equal(await late.recv(), 2);
  assert.equal(late.buffered, 0);
});

test('a pending recv() is resolved by the next send()', async () => {
  const hub = new Broadcast<number>();
  const sub = hub.subscribe();
  const pending = sub.recv();
  hub.send(42);
  assert.equal(await pending, 42);
  assert.equal(sub.buffered, 0);
});

// node:test's async context tracking makes each promise ~10x dearer than in production, so these
// sizes stay modest; the delivery path is the same at any size.
test('1,000 subscribers each get every message in order (burst up to capacity)', async () => {
  const capacity = 256;
  const hub = new Broadcast<number>({ capacity });
  const subs = Array.from({ length: 1000 }, () => hub.subscribe());
  const reads = subs.map((sub) => countInOrder(sub));
  for (let i = 0; i < capacity; i++) assert.equal(hub.send(i), 1000);
  await tick();
  await hub.close();
  assert.deepEqual(await Promise.all(reads), Array<number>(1000).fill(capacity));
  for (const sub of subs) assert.equal(sub.lagged, 0);
});

test('1,000 subscribers each get all of 2,000 messages in order (paced sender)', async () => {
  const hub = new Broadcast<number>({ capacity: 64 });
  const subs = Array.from({ length: 1000 }, () => hub.subscribe());
  const reads = subs.map((sub) => countInOrder(sub));
  for (let i = 0; i < 2000; i++) {
    hub.send(i);
    if (i % 50 === 49) await tick();
  }
  await tick();
  await hub.close();
  assert.deepEqual(await Promise.all(reads), Array<number>(1000).fill(2000));
  for (const sub of subs) assert.equal(sub.lagged, 0);
});

test('a stalled subscriber stays within capacity while the others keep up', async () => {
  const capacity = 1024;
  const total = 100_000;
  const hub = new Broadcast<string>({ capacity });
  const stalled = hub.subscribe();
  // Readers check order without keeping messages, so only the hub can hold memory.
  const readers = Array.from({ length: 10 }, async () => {
    const sub = hub.subscribe();
    let expected = 0;
    for await (const msg of sub) {
      assert.equal(Number.parseInt(msg, 10), expected);
      expected++;
    }
    return { count: expected, lagged: sub.lagged };
  });

  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < total; i++) {
    // ~1 KB each: 100 MB if the stalled subscriber's backlog were unbounded.
    hub.send(String(i).padEnd(1000, '.'));
    if (i % 256 === 255) {
      await tick();
      assert.ok(stalled.buffered <= capacity);
    }
  }
  await tick();
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  assert.ok(grown < 16 * 1024 * 1024, `heap grew by ${grown} bytes`);

  assert.equal(stalled.buffered, capacity);
  assert.equal(stalled.lagged, total - capacity);
  const newest: number[] = [];
  for (let msg = stalled.tryRecv(); msg !== undefined; msg = stalled.tryRecv()) {
    newest.push(Number.parseInt(msg, 10));
  }
  assert.deepEqual(newest, range(total - capacity, total));
  assert.equal(stalled.lagged, total - capacity);

  await hub.close();
  for (const result of await Promise.all(readers)) {
    assert.deepEqual(result, { count: total, lagged: 0 });
  }
});

test('a receiver that falls behind loses the oldest messages and is told how many', async () => {
  const hub = new Broadcast<number>({ capacity: 4 });
  const sub = hub.subscribe();
  for (let i = 0; i < 10; i++) hub.send(i);
  assert.equal(sub.lagged, 6);
  assert.equal(sub.buffered, 4);
  assert.equal(await sub.recv(), 6);
  hub.send(10);
  hub.send(11);
  // The ring now holds 8..11: 7, never read, was pushed out.
  assert.equal(sub.lagged, 7);
  assert.equal(await sub.recv(), 8);
  assert.equal(sub.lagged, 7);
  assert.deepEqual(
    [sub.tryRecv(), sub.tryRecv(), sub.tryRecv(), sub.tryRecv()],
    [9, 10, 11, undefined],
  );
});

test('recv() after close resolves undefined; a pending recv() resolves undefined on close', async () => {
  const hub = new Broadcast<number>();
  const sub = hub.subscribe();
  const pending = sub.recv();
  sub.close();
  assert.equal(await pending, undefined);
  assert.equal(await sub.recv(), undefined);
  assert.equal(sub.tryRecv(), undefined);
  assert.equal(sub.isClosed, true);
  sub.close(); // idempotent
  assert.equal(hub.receiverCount(), 0);
  assert.equal(hub.send(1), 0);
});

test('closing a subscription drops its backlog; the others keep theirs', async () => {
  const hub = new Broadcast<number>();
  const a = hub.subscribe();
  const b = hub.subscribe();
  hub.send(1);
  hub.send(2);
  a.close();
  assert.equal(a.buffered, 0);
  assert.equal(await a.recv(), undefined);
  assert.equal(await b.recv(), 1);
  assert.equal(await b.recv(), 2);
});

test('for await ends when the subscription closes', async () => {
  const hub = new Broadcast<number>();
  const sub = hub.subscribe();
  const reading = drain(sub);
  hub.send(1);
  hub.send(2);
  await tick();
  sub.close();
  assert.deepEqual(await reading, [1, 2]);
});

test('broadcast close() ends every subscription and pending recv()', async () => {
  const hub = new Broadcast<number>();
  const subs = Array.from({ length: 5 }, () => hub.subscribe());
  const readings = subs.map((sub) => drain(sub));
  const idle = hub.subscribe();
  const pending = idle.recv();
  hub.send(7);
  await tick();
  const closing = hub.close();
  assert.equal(hub.close(), closing, 'close() is idempotent');
  await closing;
  assert.equal(await pending, 7);
  assert.equal(await idle.recv(), undefined);
  for (const got of await Promise.all(readings)) assert.deepEqual(got, [7]);
  assert.equal(hub.receiverCount(), 0);
  assert.equal(hub.isClosed, true);
  assert.equal(hub.send(8), 0, 'send after close reaches nobody');
  const late = hub.subscribe();
  assert.equal(late.isClosed, true, 'subscribe after close gives an ended subscription');
  assert.deepEqual(await drain(late), []);
});

test('leaving a for-await loop early unsubscribes', async () => {
  const hub = new Broadcast<number>();
  const sub = hub.subscribe();
  hub.send(1);
  hub.send(2);
  for await (const msg of sub) {
    assert.equal(msg, 1);
    break;
  }
  assert.equal(sub.isClosed, true);
  assert.equal(hub.receiverCount(), 0);
});

test('Symbol.asyncDispose closes the subscription', async () => {
  const hub = new Broadcast<number>();
  const sub = hub.subscribe();
  await sub[Symbol.asyncDispose]();
  assert.equal(hub.receiverCount(), 0);
});

test('a second concurrent recv() rejects with HL_ERR_SERVER_STATE', async () => {
  const hub = new Broadcast<number>();
  const sub = hub.subscribe();
  const first = sub.recv();
  await assert.rejects(sub.recv(), isCode('HL_ERR_SERVER_STATE'));
  hub.send(1);
  assert.equal(await first, 1);
});

test('invalid options throw HL_ERR_CONFIG naming the value', () => {
  for (const capacity of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => new Broadcast({ capacity }), isCode('HL_ERR_CONFIG'));
  }
  assert.throws(() => new Broadcast({ channel: '' }), isCode('HL_ERR_CONFIG'));
  assert.equal(new Broadcast().capacity, 1024);
});

test('a message is released once every receiver has read it, or left', async () => {
  const hub = new Broadcast<object>();
  const a = hub.subscribe();
  const b = hub.subscribe();
  let refs: WeakRef<object>[] = [];
  const send = (): void => {
    const msg = { big: 'x'.repeat(100) };
    refs.push(new WeakRef(msg));
    hub.send(msg);
  };
  send();
  send();
  await a.recv();
  await a.recv();
  await b.recv();
  await b.recv();
  await tick();
  gc();
  assert.deepEqual(
    refs.map((r) => r.deref()),
    [undefined, undefined],
    'read by all → released',
  );

  refs = [];
  send();
  a.close();
  await b.recv();
  await tick();
  gc();
  assert.equal(refs[0]!.deref(), undefined, 'read by the one left → released');
});

test('works again after every receiver has left', async () => {
  const hub = new Broadcast<number>({ capacity: 3 });
  let sub = hub.subscribe();
  for (let i = 0; i < 5; i++) hub.send(i);
  sub.close();
  sub = hub.subscribe();
  for (let i = 0; i < 5; i++) hub.send(i);
  assert.deepEqual(
    [sub.tryRecv(), sub.tryRecv(), sub.tryRecv(), sub.tryRecv()],
    [2, 3, 4, undefined],
  );
  assert.equal(sub.lagged, 2);
});

// --- adapter -----------------------------------------------------------------------------------

test('adapter: two broadcasts on one bus deliver to each other exactly once, in order', async () => {
  const bus = new MemoryBus();
  const one = new Broadcast<{ n: number; from: string }>({ adapter: bus.adapter() });
  const two = new Broadcast<{ n: number; from: string }>({ adapter: bus.adapter() });
  assert.notEqual(one.origin, two.origin);
  const subOne = one.subscribe();
  const subTwo = two.subscribe();
  for (let n = 0; n < 100; n++) {
    assert.equal(one.send({ n, from: 'one' }), 1);
    assert.equal(two.send({ n, from: 'two' }), 1);
  }
  await tick();
  // close() drops what is still buffered, so read first.
  const received = [takeAll(subOne), takeAll(subTwo)];
  await Promise.all([one.close(), two.close()]);
  for (const got of received) {
    assert.equal(got.length, 200, 'each message once, including its own');
    for (const from of ['one', 'two']) {
      assert.deepEqual(
        got.filter((m) => m.from === from).map((m) => m.n),
        range(0, 100),
        `order of ${from}`,
      );
    }
  }
});

test('adapter: local delivery is immediate, remote arrives asynchronously', async () => {
  const bus = new MemoryBus();
  const one = new Broadcast<string>({ adapter: bus.adapter() });
  const two = new Broadcast<string>({ adapter: bus.adapter() });
  const local = one.subscribe();
  const remote = two.subscribe();
  one.send('hi');
  assert.equal(local.tryRecv(), 'hi');
  assert.equal(remote.tryRecv(), undefined);
  await tick();
  assert.equal(remote.tryRecv(), 'hi');
  await Promise.all([one.close(), two.close()]);
});

test('adapter: a custom channel isolates broadcasts; close() releases the adapter', async () => {
  const bus = new MemoryBus();
  const a = new Broadcast<number>({ adapter: bus.adapter(), channel: 'room' });
  const b = new Broadcast<number>({ adapter: bus.adapter(), channel: 'room' });
  const other = new Broadcast<number>({ adapter: bus.adapter() });
  assert.equal(bus.subscriberCount('room'), 2);
  assert.equal(bus.subscriberCount('hyperlane:broadcast'), 1);
  const sub = b.subscribe();
  const otherSub = other.subscribe();
  a.send(1);
  await tick();
  assert.equal(sub.tryRecv(), 1);
  assert.equal(otherSub.tryRecv(), undefined);
  await a.close();
  await b.close();
  await other.close();
  assert.deepEqual(bus.channels(), []);
});

test('adapter: a throwing publish never makes send() throw; local delivery goes on', async () => {
  const errors: unknown[] = [];
  const broken: BroadcastAdapter = {
    publish() {
      throw new Error('connection lost');
    },
    subscribe() {},
    unsubscribe() {},
    close: () => Promise.resolve(),
  };
  const hub = new Broadcast<number>({
    adapter: broken,
    onAdapterError: (error, channel) => errors.push([(error as Error).message, channel]),
  });
  const sub = hub.subscribe();
  assert.equal(hub.send(1), 1);
  assert.equal(hub.send(2), 1);
  assert.deepEqual([sub.tryRecv(), sub.tryRecv()], [1, 2]);
  assert.deepEqual(errors, [
    ['connection lost', 'hyperlane:broadcast'],
    ['connection lost', 'hyperlane:broadcast'],
  ]);
  await hub.close();
});

test('adapter: without onAdapterError a failure warns once', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(w);
  };
  // Node's own listener would print the warning into the test output; park it meanwhile.
  const printers = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', onWarning);
  try {
    const hub = new Broadcast<number>({
      adapter: {
        publish() {
          throw new Error('down');
        },
        subscribe() {
          throw new Error('down');
        },
        unsubscribe() {},
        close: () => Promise.resolve(),
      },
    });
    hub.send(1);
    hub.send(2);
    await tick();
    assert.equal(warnings.filter((w) => w.message.includes('down')).length, 1);
    await hub.close();
  } finally {
    process.off('warning', onWarning);
    for (const printer of printers) process.on('warning', printer);
  }
});

test('adapter: a message JSON cannot carry is delivered locally and reported', async () => {
  const bus = new MemoryBus();
  const errors: unknown[] = [];
  const hub = new Broadcast<unknown>({
    adapter: bus.adapter(),
    onAdapterError: (error) => errors.push(error),
  });
  const sub = hub.subscribe();
  assert.equal(hub.send(10n), 1);
  assert.equal(sub.tryRecv(), 10n);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof TypeError);
  await hub.close();
});

test('adapter: malformed payloads are reported and dropped', async () => {
  const bus = new MemoryBus();
  const errors: unknown[] = [];
  const hub = new Broadcast<number>({
    adapter: bus.adapter(),
    onAdapterError: (error) => errors.push(error),
  });
  const sub = hub.subscribe();
  const raw = bus.adapter();
  raw.publish('hyperlane:broadcast', 'not json');
  raw.publish('hyperlane:broadcast', '{"m":1}');
  raw.publish('hyperlane:broadcast', '{"o":"elsewhere","m":3}');
  await tick();
  assert.equal(errors.length, 2);
  assert.equal(sub.tryRecv(), 3);
  assert.equal(sub.tryRecv(), undefined);
  await Promise.all([hub.close(), raw.close()]);
});

test('adapter: close() waits for the adapter and reports its failure', async () => {
  let closed = 0;
  const hub = new Broadcast<number>({
    adapter: {
      publish() {},
      subscribe() {},
      unsubscribe() {},
      close: async () => {
        closed++;
        throw new Error('close failed');
      },
    },
  });
  await assert.rejects(hub.close(), /close failed/);
  await assert.rejects(hub.close(), /close failed/);
  assert.equal(closed, 1);
});

test('adapter: the adapter origin label prefixes the broadcast origin', async () => {
  const bus = new MemoryBus();
  const hub = new Broadcast<number>({ adapter: bus.adapter({ origin: 'host-1:42' }) });
  assert.match(hub.origin ?? '', /^host-1:42:[0-9a-f-]{36}$/);
  assert.equal(new Broadcast<number>().origin, undefined);
  await hub.close();
});
