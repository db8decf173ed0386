/**
 * `redisAdapter` (hyperlane-ts/redis) against a real redis-server this file starts on a free
 * port: pub/sub between broadcasts as separate processes would use it, order per sender, no
 * second delivery of a process's own messages, the exact Redis channels (PUBSUB CHANNELS) and
 * how BroadcastMap keys come and go, the wire format, and outages (killed and frozen Redis):
 * send() never throws, local delivery goes on, drops are counted, the adapter reconnects.
 */
import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { Broadcast, BroadcastMap, HyperlaneError, type Subscription } from '../../src/index.js';
import {
  redisAdapter,
  type RedisAdapter,
  type RedisAdapterOptions,
} from '../../src/redis/index.js';
import { eventually } from '../helpers/eventually.js';
import { RedisServer, freePort } from './redis-server.js';

// Generous: a slow 2-core CI machine, and reconnects wait out a backoff.
const WAIT_MS = 20_000;

let redis: RedisServer;

before(async () => {
  redis = await RedisServer.start();
});

after(async () => {
  await redis.stop();
});

/** An adapter on `server` with a fast backoff, closed after the test; errors are collected. */
function adapterFor(
  t: TestContext,
  server: RedisServer,
  options: RedisAdapterOptions = {},
): { adapter: RedisAdapter; errors: Error[] } {
  const errors: Error[] = [];
  const adapter = redisAdapter({
    url: server.url,
    reconnect: { minDelayMs: 50, maxDelayMs: 300 },
    onError: (error) => errors.push(error),
    ...options,
  });
  t.after(() => adapter.close());
  return { adapter, errors };
}

/** Everything a subscription has buffered now, without waiting. */
function drain<T>(sub: Subscription<T>, into: T[]): T[] {
  for (let message = sub.tryRecv(); message !== undefined; message = sub.tryRecv()) {
    into.push(message);
  }
  return into;
}

/** Waits until `sub` has yielded `count` messages in all; returns them. */
async function receive<T>(sub: Subscription<T>, count: number, into: T[] = []): Promise<T[]> {
  const ok = await eventually(() => drain(sub, into).length >= count, WAIT_MS);
  assert.ok(ok, `expected ${count} messages, got ${into.length}: ${JSON.stringify(into)}`);
  return into;
}

/** Waits until Redis reports `count` subscribers of `channel`. */
async function subscribers(channel: string, count: number): Promise<void> {
  const ok = await eventually(async () => {
    const reply = (await redis.command('PUBSUB', 'NUMSUB', channel)) as [string, number];
    return Number(reply[1]) === count;
  }, WAIT_MS);
  assert.ok(ok, `expected ${count} subscribers of ${channel}`);
}

test('a message sent by one broadcast reaches another on the same channel, once', async (t) => {
  const a = new Broadcast<{ text: string }>({
    adapter: adapterFor(t, redis).adapter,
    channel: 't1',
  });
  const b = new Broadcast<{ text: string }>({
    adapter: adapterFor(t, redis).adapter,
    channel: 't1',
  });
  t.after(() => Promise.all([a.close(), b.close()]));
  await subscribers('t1', 2);
  const atA = a.subscribe();
  const atB = b.subscribe();

  assert.equal(a.send({ text: 'hello' }), 1, 'send() counts local receivers');
  // Local delivery is synchronous; the remote one arrives through Redis.
  assert.deepEqual(atA.tryRecv(), { text: 'hello' });
  assert.deepEqual(await receive(atB, 1), [{ text: 'hello' }]);

  b.send({ text: 'back' });
  assert.deepEqual(await receive(atA, 1), [{ text: 'back' }]);
  // Neither side gets anything else: its own message came back from Redis and was dropped.
  const marker = a.subscribe();
  b.send({ text: 'marker' });
  await receive(marker, 1);
  assert.deepEqual(drain(atA, []), [{ text: 'marker' }]);
  assert.deepEqual(drain(atB, []), [{ text: 'back' }, { text: 'marker' }]);
});

test('1,000 messages from each of two senders arrive in order per sender', async (t) => {
  const senders = [1, 2].map(
    () => new Broadcast<[number, number]>({ adapter: adapterFor(t, redis).adapter, channel: 't2' }),
  );
  const receiver = new Broadcast<[number, number]>({
    adapter: adapterFor(t, redis).adapter,
    channel: 't2',
    capacity: 4096,
  });
  t.after(() => Promise.all([...senders, receiver].map((b) => b.close())));
  await subscribers('t2', 3);
  const sub = receiver.subscribe();

  for (let i = 0; i < 1000; i++) {
    senders[0]!.send([0, i]);
    senders[1]!.send([1, i]);
  }
  const got = await receive(sub, 2000);
  assert.equal(got.length, 2000);
  assert.equal(sub.lagged, 0);
  for (const sender of [0, 1]) {
    const seq = got.filter(([from]) => from === sender).map(([, i]) => i);
    assert.deepEqual(
      seq,
      Array.from({ length: 1000 }, (_, i) => i),
      `sender ${sender} out of order`,
    );
  }
});

test("a process's own messages are delivered to its receivers exactly once", async (t) => {
  const a = new Broadcast<string>({ adapter: adapterFor(t, redis).adapter, channel: 't3' });
  const b = new Broadcast<string>({ adapter: adapterFor(t, redis).adapter, channel: 't3' });
  t.after(() => Promise.all([a.close(), b.close()]));
  await subscribers('t3', 2);
  const atA = a.subscribe();
  const atB = b.subscribe();
  for (let i = 0; i < 50; i++) a.send(`a${i}`);
  // Once b has them all, Redis has pushed the echoes to a; b's marker comes after them.
  await receive(atB, 50);
  b.send('end');
  // Any echo of a's messages would have come before b's marker, which came after them all.
  const atAll = await receive(atA, 51);
  assert.deepEqual(atAll, [...Array.from({ length: 50 }, (_, i) => `a${i}`), 'end']);
});

test('two broadcasts in one process share traffic through Redis (distinct origins)', async (t) => {
  const { adapter } = adapterFor(t, redis);
  const a = new Broadcast<string>({ adapter, channel: 't4' });
  const b = new Broadcast<string>({ adapter: adapterFor(t, redis).adapter, channel: 't4' });
  t.after(() => Promise.all([a.close(), b.close()]));
  assert.notEqual(a.origin, b.origin);
  assert.ok(a.origin?.startsWith(`${adapter.origin}:`), a.origin);
  await subscribers('t4', 2);
  const atB = b.subscribe();
  a.send('x');
  assert.deepEqual(await receive(atB, 1), ['x']);
});

test('channel is the exact Redis channel; the adapter channel and prefix map it', async (t) => {
  const plain = new Broadcast<string>({ adapter: adapterFor(t, redis).adapter, channel: 'exact' });
  const named = new Broadcast<string>({
    adapter: adapterFor(t, redis, { channel: 'from-adapter' }).adapter,
  });
  const both = new Broadcast<string>({
    adapter: adapterFor(t, redis, { channel: 'ignored' }).adapter,
    channel: 'own-wins',
  });
  const prefixed = new Broadcast<string>({
    adapter: adapterFor(t, redis, { prefix: 'app1:' }).adapter,
    channel: 'p',
  });
  const defaulted = new Broadcast<string>({ adapter: adapterFor(t, redis).adapter });
  const mapAdapter = adapterFor(t, redis, { channel: 'rooms' }).adapter;
  const map = new BroadcastMap<string>({ adapter: mapAdapter });
  t.after(() => Promise.all([plain, named, both, prefixed, defaulted, map].map((b) => b.close())));
  const room = map.subscribe('lobby');
  t.after(() => room.close());
  for (const channel of [
    'exact',
    'from-adapter',
    'own-wins',
    'app1:p',
    'hyperlane:broadcast',
    'rooms:lobby',
  ]) {
    await subscribers(channel, 1);
  }
  assert.deepEqual(await redis.channels('ignored*'), []);

  // A raw Redis client sees the envelope {"o": origin, "m": message} on the exact channel.
  const raw = new Redis(redis.url);
  t.after(() => raw.quit());
  const seen: [string, string][] = [];
  raw.on('message', (channel: string, payload: string) => seen.push([channel, payload]));
  await raw.subscribe('rooms:lobby', 'exact');
  map.send('lobby', 'hi room');
  plain.send('hi exact');
  assert.ok(await eventually(() => seen.length === 2, WAIT_MS));
  const byChannel = new Map(seen);
  const envelope = JSON.parse(byChannel.get('rooms:lobby')!) as { o: string; m: unknown };
  assert.equal(envelope.m, 'hi room');
  assert.ok(envelope.o.startsWith(`${mapAdapter.origin}:`), envelope.o);
  assert.deepEqual(JSON.parse(byChannel.get('exact')!), { o: plain.origin, m: 'hi exact' });
});

test('a BroadcastMap key is subscribed in Redis while it has local receivers', async (t) => {
  const map = new BroadcastMap<string>({
    adapter: adapterFor(t, redis).adapter,
    channel: 'keys',
  });
  const other = new BroadcastMap<string>({
    adapter: adapterFor(t, redis).adapter,
    channel: 'keys',
  });
  t.after(() => Promise.all([map.close(), other.close()]));
  assert.deepEqual(await redis.channels('keys:*'), []);

  const first = map.subscribe('a');
  const second = map.subscribe('a');
  const b = map.subscribe('b');
  await subscribers('keys:a', 1);
  await subscribers('keys:b', 1);
  assert.deepEqual(await redis.channels('keys:*'), ['keys:a', 'keys:b']);

  // A message to a key this process does not listen to is still published for others.
  assert.equal(other.send('a', 'to a'), 0);
  assert.deepEqual(await receive(first, 1), ['to a']);
  assert.deepEqual(await receive(second, 1), ['to a']);
  assert.deepEqual(drain(b, []), []);

  first.close();
  // One receiver of 'a' is left: still subscribed.
  other.send('a', 'still');
  assert.deepEqual(await receive(second, 1), ['still']);
  assert.deepEqual(await redis.channels('keys:*'), ['keys:a', 'keys:b']);

  second.close();
  await subscribers('keys:a', 0);
  assert.deepEqual(await redis.channels('keys:*'), ['keys:b']);
  b.close();
  await subscribers('keys:b', 0);
  assert.deepEqual(map.keys(), []);

  // Keys that come back subscribe again.
  const again = map.subscribe('a');
  await subscribers('keys:a', 1);
  other.send('a', 'again');
  assert.deepEqual(await receive(again, 1), ['again']);
});

test('payloads that are not envelopes are reported, not delivered', async (t) => {
  const problems: string[] = [];
  const hub = new Broadcast<string>({
    adapter: adapterFor(t, redis).adapter,
    channel: 't7',
    onAdapterError: (error, channel) => problems.push(`${channel}: ${String(error)}`),
  });
  t.after(() => hub.close());
  await subscribers('t7', 1);
  const sub = hub.subscribe();
  await redis.command('PUBLISH', 't7', 'not json');
  await redis.command('PUBLISH', 't7', '{"no":"envelope"}');
  await redis.command('PUBLISH', 't7', '{"o":"someone-else","m":"fine"}');
  assert.deepEqual(await receive(sub, 1), ['fine']);
  assert.equal(problems.length, 2, problems.join('\n'));
  assert.ok(problems.every((p) => p.startsWith('t7: ')));
});

test('close() releases both connections and rejects ready()', async (t) => {
  const connections = async (): Promise<number> => {
    const list = (await redis.command('CLIENT', 'LIST')) as string;
    return list.split('\n').filter((line) => /name=hyperlane-broadcast-(pub|sub)\b/.test(line))
      .length;
  };
  const before = await connections();
  const { adapter } = adapterFor(t, redis);
  const hub = new Broadcast<string>({ adapter, channel: 't8' });
  await adapter.ready();
  assert.equal(await connections(), before + 2);
  assert.deepEqual(adapter.stats(), { dropped: 0, reconnects: 0, connected: true });
  await hub.close();
  assert.ok(await eventually(async () => (await connections()) === before, WAIT_MS));
  assert.equal(adapter.stats().connected, false);
  await assert.rejects(adapter.ready(), HyperlaneError);
  // Closed: publish and subscribe are quiet no-ops.
  adapter.publish('t8', '{}');
  adapter.subscribe('t8', () => {});
  assert.equal(hub.send('after close'), 0);
  await adapter.close();
});

test('bad options throw HL_ERR_CONFIG naming the option', () => {
  const cases: [RedisAdapterOptions, RegExp][] = [
    [{ url: 'http://localhost' }, /url/],
    [{ url: 42 as unknown as string }, /url/],
    [{ url: redis.url, channel: '' }, /channel/],
    [{ url: redis.url, prefix: 1 as unknown as string }, /prefix/],
    [{ url: redis.url, maxPending: 0 }, /maxPending/],
    [{ url: redis.url, commandTimeoutMs: -1 }, /commandTimeoutMs/],
    [{ url: redis.url, reconnect: { minDelayMs: 500, maxDelayMs: 100 } }, /reconnect/],
    [{ url: redis.url, onError: 'log' as unknown as () => void }, /onError/],
  ];
  for (const [options, name] of cases) {
    assert.throws(
      () => redisAdapter(options),
      (error: unknown) =>
        error instanceof HyperlaneError &&
        error.code === 'HL_ERR_CONFIG' &&
        name.test(error.message),
      JSON.stringify(options),
    );
  }
});

test('Redis killed: send() goes on locally, drops are counted, the adapter reconnects', async (t) => {
  const own = await RedisServer.start();
  t.after(() => own.stop());
  const a = adapterFor(t, own);
  const b = adapterFor(t, own);
  const hubA = new Broadcast<string>({ adapter: a.adapter, channel: 'outage' });
  const hubB = new Broadcast<string>({ adapter: b.adapter, channel: 'outage' });
  t.after(() => Promise.all([hubA.close(), hubB.close()]));
  await Promise.all([a.adapter.ready(), b.adapter.ready()]);
  const atA = hubA.subscribe();
  const atB = hubB.subscribe();
  hubA.send('before');
  assert.deepEqual(await receive(atB, 1), ['before']);
  assert.deepEqual(drain(atA, []), ['before']);

  await own.kill();
  assert.ok(await eventually(() => !a.adapter.stats().connected, WAIT_MS), 'sees the outage');
  for (let i = 0; i < 10; i++) {
    assert.equal(hubA.send(`during${i}`), 1, 'local delivery goes on');
  }
  assert.deepEqual(
    drain(atA, []),
    Array.from({ length: 10 }, (_, i) => `during${i}`),
  );
  assert.ok(
    await eventually(() => a.adapter.stats().dropped >= 10, WAIT_MS),
    JSON.stringify(a.adapter.stats()),
  );
  assert.equal(a.adapter.stats().reconnects, 0);
  // Reported once (not per retry), naming the situation, never thrown.
  assert.equal(a.errors.length, 1, a.errors.map((e) => e.message).join('\n'));
  assert.match(a.errors[0]!.message, /lost the connection to Redis/);

  await own.restart();
  await Promise.all([a.adapter.ready(), b.adapter.ready()]);
  assert.deepEqual(a.adapter.stats().reconnects, 1);
  assert.equal(a.adapter.stats().connected, true);
  // Resubscribed: traffic flows both ways again; nothing sent during the outage shows up.
  hubA.send('after');
  hubB.send('reply');
  assert.deepEqual((await receive(atB, 2)).sort(), ['after', 'reply']);
  assert.deepEqual((await receive(atA, 2)).sort(), ['after', 'reply']);
  assert.equal(a.errors.length, 1, a.errors.map((e) => e.message).join('\n'));
});

test('Redis down at start: reported, local delivery works, connects when Redis comes', async (t) => {
  const own = RedisServer.on(await freePort());
  t.after(() => own.stop());
  const a = adapterFor(t, own);
  const hub = new Broadcast<string>({ adapter: a.adapter, channel: 'late' });
  t.after(() => hub.close());
  const local = hub.subscribe();
  assert.ok(await eventually(() => a.errors.length > 0, WAIT_MS));
  assert.match(a.errors[0]!.message, /cannot connect to Redis/);
  assert.equal(hub.send('alone'), 1);
  assert.deepEqual(drain(local, []), ['alone']);
  assert.equal(a.adapter.stats().connected, false);

  await own.restart();
  await a.adapter.ready();
  assert.equal(a.adapter.stats().reconnects, 0, 'a first connection is no reconnect');
  assert.equal(a.errors.length, 1, a.errors.map((e) => e.message).join('\n'));
  const b = adapterFor(t, own);
  const other = new Broadcast<string>({ adapter: b.adapter, channel: 'late' });
  t.after(() => other.close());
  await b.adapter.ready();
  other.send('hello late');
  assert.deepEqual(await receive(local, 1), ['hello late']);
});

test('a frozen Redis: publishes in flight are bounded by maxPending, then it recovers', async (t) => {
  const own = await RedisServer.start();
  t.after(() => own.stop());
  const a = adapterFor(t, own, { maxPending: 20, commandTimeoutMs: 300 });
  const b = adapterFor(t, own);
  const hubA = new Broadcast<number>({ adapter: a.adapter, channel: 'frozen' });
  const hubB = new Broadcast<number>({ adapter: b.adapter, channel: 'frozen' });
  t.after(() => Promise.all([hubA.close(), hubB.close()]));
  await Promise.all([a.adapter.ready(), b.adapter.ready()]);
  const local = hubA.subscribe();

  own.freeze();
  for (let i = 0; i < 500; i++) hubA.send(i);
  // Beyond the 20 awaiting an answer, messages are dropped at once rather than queued.
  assert.ok(a.adapter.stats().dropped >= 480, JSON.stringify(a.adapter.stats()));
  assert.equal(drain(local, []).length, 500, 'local delivery goes on');
  // The 20 time out and the silent connection is dropped: an outage, reported once.
  assert.ok(await eventually(() => a.adapter.stats().dropped === 500, WAIT_MS));
  assert.ok(await eventually(() => a.errors.length > 0, WAIT_MS));
  assert.match(a.errors[0]!.message, /lost the connection to Redis/);

  own.thaw();
  await a.adapter.ready();
  const atB = hubB.subscribe();
  // b's subscription may have been reset too; wait until a message gets through.
  let n = 1000;
  assert.ok(
    await eventually(
      () => {
        hubA.send(n++);
        return drain(atB, []).length > 0;
      },
      WAIT_MS,
      100,
    ),
  );
});
