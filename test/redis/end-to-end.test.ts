/**
 * Issue 7's end-to-end test: two hyperlane server processes (fixtures/chat-node.ts) on two
 * ports share one redis-server. A WebSocket client on one receives a chat message sent by a
 * client on the other; Redis is killed and restarted mid-test and service resumes; the rate
 * limit (5 per window) holds across both processes together.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { eventually } from '../helpers/eventually.js';
import { RedisServer } from './redis-server.js';

const NODE = fileURLToPath(new URL('./fixtures/chat-node.js', import.meta.url));
const WAIT_MS = 30_000;

interface Node {
  child: ChildProcess;
  port: number;
  base: string;
  /** What the process wrote to stderr, for failure messages. */
  log: () => string;
}

/** Spawns one chat node and waits for its `ready <port>` line. */
async function startNode(t: TestContext, env: Record<string, string>): Promise<Node> {
  const child = spawn(process.execPath, [NODE], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const ok = await eventually(
    () => /ready \d+/.test(stdout) || child.exitCode !== null,
    WAIT_MS,
    20,
  );
  const match = /ready (\d+)/.exec(stdout);
  assert.ok(ok && match !== null, `node did not start:\n${stdout}\n${stderr}`);
  const port = Number(match[1]);
  return { child, port, base: `http://127.0.0.1:${port}`, log: () => stderr };
}

/** A WebSocket chat client that keeps every message it receives. */
class ChatClient {
  readonly received: string[] = [];
  readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer) => this.received.push(data.toString('utf8')));
    ws.on('error', () => {});
  }

  static async open(t: TestContext, node: Node): Promise<ChatClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/chat`);
    const client = new ChatClient(ws);
    t.after(() => ws.terminate());
    await Promise.race([
      once(ws, 'open'),
      once(ws, 'error').then(([error]) => Promise.reject(error as Error)),
    ]);
    return client;
  }

  send(text: string): void {
    this.ws.send(text);
  }

  has(pred: (message: string) => boolean): boolean {
    return this.received.some(pred);
  }
}

async function stats(node: Node): Promise<{
  adapter: { dropped: number; reconnects: number; connected: boolean };
  storeReady: boolean;
}> {
  const res = await fetch(`${node.base}/stats`, { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as Awaited<ReturnType<typeof stats>>;
}

/** `count` GETs of /limited, alternating between the nodes; the statuses in order. */
async function limited(nodes: Node[], count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${nodes[i % nodes.length]!.base}/limited`, {
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    out.push(res.status);
  }
  return out;
}

/**
 * Sends `prefix-<n>` from `from` every 200 ms until `to` receives one of them, since a fresh
 * subscription (a new WebSocket, a resubscribe after an outage) settles asynchronously.
 */
async function deliverEventually(from: ChatClient, to: ChatClient, prefix: string): Promise<void> {
  let n = 0;
  const ok = await eventually(
    () => {
      from.send(`${prefix}-${n++}`);
      return to.has((m) => m.startsWith(`${prefix}-`));
    },
    WAIT_MS,
    200,
  );
  assert.ok(ok, `no ${prefix}-* message arrived; got ${JSON.stringify(to.received)}`);
}

test('two processes share chat and rate limits through Redis, and survive a Redis restart', async (t) => {
  const redis = await RedisServer.start();
  t.after(() => redis.stop());
  const env = { REDIS_URL: redis.url, CHANNEL: 'e2e:chat', PREFIX: `e2e:${process.pid}:` };
  const [a, b] = await Promise.all([startNode(t, env), startNode(t, env)]);
  assert.notEqual(a!.port, b!.port);
  const nodes = [a!, b!];
  const onA = await ChatClient.open(t, a!);
  const onB = await ChatClient.open(t, b!);

  // A message sent on B reaches the client on A, and the other way round.
  await deliverEventually(onB, onA, 'hello-from-b');
  await deliverEventually(onA, onB, 'hello-from-a');
  // In order, once each.
  const burst = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
  for (const message of burst) onB.send(message);
  assert.ok(
    await eventually(
      () => onA.received.filter((m) => m.startsWith('burst-')).length === 20,
      WAIT_MS,
    ),
  );
  assert.deepEqual(
    onA.received.filter((m) => m.startsWith('burst-')),
    burst,
  );
  assert.deepEqual(
    onB.received.filter((m) => m.startsWith('burst-')),
    burst,
    'the sender sees its own messages once',
  );

  // The limit is shared: 5 in the window across both processes, whichever is asked.
  assert.deepEqual(await limited(nodes, 10), [200, 200, 200, 200, 200, 429, 429, 429, 429, 429]);

  // Redis dies: chat keeps working inside each process; what is sent meanwhile is dropped.
  await redis.kill();
  assert.ok(
    await eventually(async () => !(await stats(b!)).adapter.connected, WAIT_MS),
    'node B notices the outage',
  );
  onB.send('during-outage');
  assert.ok(
    await eventually(() => onB.has((m) => m === 'during-outage'), WAIT_MS),
    'local delivery goes on',
  );
  assert.ok(
    await eventually(async () => (await stats(b!)).adapter.dropped >= 1, WAIT_MS),
    'the dropped message is counted',
  );
  // The rate limiter lets requests through rather than failing them.
  assert.deepEqual(await limited(nodes, 2), [200, 200]);

  // Redis comes back: both nodes reconnect and resubscribe, and service resumes.
  await redis.restart();
  for (const node of nodes) {
    assert.ok(
      await eventually(
        async () => {
          const s = await stats(node);
          return s.adapter.connected && s.storeReady;
        },
        WAIT_MS,
        100,
      ),
      `node on ${node.port} reconnects:\n${node.log()}`,
    );
    assert.equal((await stats(node)).adapter.reconnects, 1);
  }
  await deliverEventually(onB, onA, 'after-from-b');
  await deliverEventually(onA, onB, 'after-from-a');
  assert.equal(
    onA.has((m) => m === 'during-outage'),
    false,
    'nothing is replayed',
  );
  // The new Redis starts a new window, shared again.
  assert.deepEqual(await limited(nodes, 8), [200, 200, 200, 200, 200, 429, 429, 429]);
  // Each node reported the outage on stderr rather than crashing.
  for (const node of nodes) assert.match(node.log(), /adapter: .*lost the connection to Redis/);

  // SIGTERM: each node closes its server, adapter and store, and exits 0.
  for (const node of nodes) {
    const exited = once(node.child, 'exit');
    node.child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0, node.log());
  }
});
