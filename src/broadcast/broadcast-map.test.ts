import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HyperlaneError } from '../error/hyperlane-error.js';
import { MemoryBus } from './adapter.js';
import { BroadcastMap } from './broadcast-map.js';
import type { Subscription } from './subscription.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function takeAll<T>(sub: Subscription<T>): T[] {
  const out: T[] = [];
  for (let msg = sub.tryRecv(); msg !== undefined; msg = sub.tryRecv()) out.push(msg);
  return out;
}

test('messages reach only the receivers of their key', async () => {
  const map = new BroadcastMap<string>();
  const a1 = map.subscribe('a');
  const a2 = map.subscribe('a');
  const b = map.subscribe('b');
  assert.equal(map.send('a', 'for a'), 2);
  assert.equal(map.send('b', 'for b'), 1);
  assert.equal(map.send('c', 'for nobody'), 0);
  assert.equal(map.receiverCount('a'), 2);
  assert.equal(map.receiverCount('c'), 0);
  assert.equal(await a1.recv(), 'for a');
  assert.equal(await a2.recv(), 'for a');
  assert.equal(await b.recv(), 'for b');
  assert.deepEqual([a1.tryRecv(), b.tryRecv()], [undefined, undefined]);
  assert.deepEqual(map.keys().sort(), ['a', 'b']);
});

test('a key is removed when its last subscription closes', () => {
  const map = new BroadcastMap<number>();
  const one = map.subscribe('room');
  const two = map.subscribe('room');
  one.close();
  assert.equal(map.has('room'), true);
  assert.equal(map.receiverCount('room'), 1);
  two.close();
  assert.equal(map.has('room'), false);
  assert.deepEqual(map.keys(), []);
  assert.equal(map.send('room', 1), 0);
});

test('key churn leaves nothing behind', () => {
  const bus = new MemoryBus();
  const map = new BroadcastMap<number>({ adapter: bus.adapter() });
  for (let i = 0; i < 10_000; i++) {
    const sub = map.subscribe(`user-${i}`);
    map.send(`user-${i}`, i);
    sub.close();
  }
  assert.deepEqual(map.keys(), []);
  assert.deepEqual(bus.channels(), []);
});

test('a key re-created after removal starts fresh', async () => {
  const map = new BroadcastMap<number>({ capacity: 2 });
  const old = map.subscribe('k');
  map.send('k', 1);
  old.close();
  const fresh = map.subscribe('k');
  map.send('k', 2);
  assert.deepEqual(takeAll(fresh), [2]);
  old.close(); // closing a stale subscription again must not drop the new key
  assert.equal(map.has('k'), true);
});

test('each key has its own capacity and lag count', () => {
  const map = new BroadcastMap<number>({ capacity: 3 });
  const busy = map.subscribe('busy');
  const quiet = map.subscribe('quiet');
  for (let i = 0; i < 10; i++) map.send('busy', i);
  map.send('quiet', 100);
  assert.equal(busy.lagged, 7);
  assert.deepEqual(takeAll(busy), [7, 8, 9]);
  assert.equal(quiet.lagged, 0);
  assert.deepEqual(takeAll(quiet), [100]);
});

test('close() ends every subscription of every key', async () => {
  const map = new BroadcastMap<number>();
  const subs = [map.subscribe('a'), map.subscribe('b'), map.subscribe('b')];
  const pending = subs.map((sub) => sub.recv());
  const loop = (async () => {
    const got: number[] = [];
    for await (const msg of map.subscribe('c')) got.push(msg);
    return got;
  })();
  await map.close();
  assert.deepEqual(await Promise.all(pending), [undefined, undefined, undefined]);
  assert.deepEqual(await loop, []);
  assert.deepEqual(map.keys(), []);
  assert.equal(map.send('a', 1), 0);
  assert.equal(map.subscribe('a').isClosed, true);
  assert.equal(map.has('a'), false);
});

test('invalid capacity throws HL_ERR_CONFIG', () => {
  assert.throws(
    () => new BroadcastMap({ capacity: 0 }),
    (err: unknown) => err instanceof HyperlaneError && err.code === 'HL_ERR_CONFIG',
  );
});

// --- adapter -----------------------------------------------------------------------------------

test('adapter: a key channel is <channel>:<key>, held while the key has local receivers', async () => {
  const bus = new MemoryBus();
  const map = new BroadcastMap<number>({ adapter: bus.adapter(), channel: 'chat' });
  assert.deepEqual(bus.channels(), []);
  const one = map.subscribe('lobby');
  assert.deepEqual(bus.channels(), ['chat:lobby']);
  const two = map.subscribe('lobby');
  assert.equal(bus.subscriberCount('chat:lobby'), 1, 'one adapter subscription per key');
  one.close();
  assert.equal(bus.subscriberCount('chat:lobby'), 1);
  two.close();
  assert.equal(bus.subscriberCount('chat:lobby'), 0, 'unsubscribed with the last receiver');
  map.subscribe('x');
  map.subscribe('y');
  assert.deepEqual(bus.channels().sort(), ['chat:x', 'chat:y']);
  await map.close();
  assert.deepEqual(bus.channels(), [], 'close() releases the adapter');
});

test('adapter: two maps on one bus deliver per key, exactly once, in order', async () => {
  const bus = new MemoryBus();
  const here = new BroadcastMap<string>({ adapter: bus.adapter() });
  const there = new BroadcastMap<string>({ adapter: bus.adapter() });
  const hereA = here.subscribe('a');
  const thereA = there.subscribe('a');
  const thereB = there.subscribe('b');
  for (let i = 0; i < 50; i++) {
    here.send('a', `here-${i}`);
    there.send('a', `there-${i}`);
  }
  here.send('b', 'b from here'); // no local receiver of b here, but one there
  here.send('z', 'nobody anywhere');
  await tick();
  const expectA = (got: string[]): void => {
    assert.equal(got.length, 100);
    for (const who of ['here', 'there']) {
      assert.deepEqual(
        got.filter((m) => m.startsWith(who + '-')),
        Array.from({ length: 50 }, (_, i) => `${who}-${i}`),
      );
    }
  };
  expectA(takeAll(hereA));
  expectA(takeAll(thereA));
  assert.deepEqual(takeAll(thereB), ['b from here']);
  await Promise.all([here.close(), there.close()]);
});

test('adapter: remote messages for a key left meanwhile are not delivered', async () => {
  const bus = new MemoryBus();
  const sender = new BroadcastMap<number>({ adapter: bus.adapter() });
  const receiver = new BroadcastMap<number>({ adapter: bus.adapter() });
  const sub = receiver.subscribe('k');
  sender.send('k', 1);
  sub.close();
  const again = receiver.subscribe('k');
  await tick();
  // Sent before `again` subscribed on the bus, and its old subscription is gone.
  assert.equal(again.tryRecv(), undefined);
  await Promise.all([sender.close(), receiver.close()]);
});

test('adapter: a throwing adapter never makes subscribe() or send() throw', async () => {
  const errors: string[] = [];
  const fail = (): never => {
    throw new Error('down');
  };
  const map = new BroadcastMap<number>({
    adapter: { publish: fail, subscribe: fail, unsubscribe: fail, close: () => Promise.resolve() },
    onAdapterError: (_error, channel) => errors.push(channel),
  });
  const sub = map.subscribe('k');
  assert.equal(map.send('k', 1), 1);
  assert.equal(sub.tryRecv(), 1);
  sub.close();
  assert.deepEqual(errors, [
    'hyperlane:broadcast:k',
    'hyperlane:broadcast:k',
    'hyperlane:broadcast:k',
  ]);
  await map.close();
});
