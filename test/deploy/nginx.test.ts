/**
 * The deployment guide's nginx config (deploy/nginx.conf, docs/deploy.md; issue 7), run for real:
 * two hyperlane-ts instances in this process, the template rendered into a temp dir with a free
 * listen port, Debian's nginx started on it as a child, and HTTP, SSE and WebSocket traffic sent
 * through it with real clients (node:http, `ws`, raw `net`).
 *
 * Skipped only when there is no nginx binary; `.ci/run` installs one.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { sseEvent, type Context, type Server } from '../../src/index.js';
import { eventually } from '../helpers/eventually.js';
import { serve } from '../helpers/serve.js';

const TEMPLATE = fileURLToPath(new URL('../../../deploy/nginx.conf', import.meta.url));

/** Generous: CI machines may be slow and busy with other test files. */
const STEP_TIMEOUT_MS = 10_000;
/** How long an SSE route holds its stream open after its last event unless the test releases it. */
const HOLD_FALLBACK_MS = 20_000;

// ---- the nginx binary ------------------------------------------------------------------------

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Debian installs nginx in /usr/sbin, which is not on every user's PATH. */
async function findNginx(): Promise<string | undefined> {
  const candidates = ['/usr/sbin/nginx'];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '') candidates.push(join(dir, 'nginx'));
  }
  for (const candidate of candidates) if (await isExecutable(candidate)) return candidate;
  return undefined;
}

// ---- the upstream instances ------------------------------------------------------------------

/** An SSE stream as the server sees it, by the `id` query parameter the test chose. */
interface StreamState {
  /** Events written so far. */
  sent: number;
  /** The handler returned (the stream ended) or the client went away. */
  ended: boolean;
  /** Why it ended: 'released', 'fallback', 'client gone'. */
  reason: string;
  release: () => void;
  released: Promise<void>;
}

const streams = new Map<string, StreamState>();

function streamState(id: string): StreamState {
  let state = streams.get(id);
  if (state === undefined) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    state = { sent: 0, ended: false, reason: '', release, released };
    streams.set(id, state);
  }
  return state;
}

/** WebSocket closes seen by the instances, in order. */
const wsClosed: { instance: string; code: number }[] = [];

/**
 * Three events 100 ms apart, then the stream stays open until the test releases it: an event
 * the client reads before the release went through nginx unbuffered.
 */
function threeTicks(instance: string, accelNoBuffering: boolean) {
  return async (ctx: Context): Promise<void> => {
    const state = streamState(ctx.getRequestQuery('id') ?? 'none');
    ctx
      .setResponseHeader('Content-Type', 'text/event-stream')
      .setResponseHeader('Cache-Control', 'no-cache');
    if (accelNoBuffering) ctx.setResponseHeader('X-Accel-Buffering', 'no');
    await ctx.send();
    for (let i = 1; i <= 3; i++) {
      if (i > 1) await sleep(100);
      ctx.setResponseBody(
        sseEvent({ id: i, event: 'tick', data: JSON.stringify({ instance, i }) }),
      );
      await ctx.sendBody();
      state.sent = i;
    }
    const fallback = sleep(HOLD_FALLBACK_MS, 'fallback' as const, { ref: false });
    state.reason = await Promise.race([state.released.then(() => 'released' as const), fallback]);
    state.ended = true;
  };
}

/** Ticks every 100 ms until the client is gone: sendBody() rejects or ctx.signal fires. */
async function endlessTicks(ctx: Context): Promise<void> {
  const state = streamState(ctx.getRequestQuery('id') ?? 'none');
  ctx.setResponseHeader('Content-Type', 'text/event-stream');
  await ctx.send();
  try {
    while (!ctx.signal.aborted) {
      ctx.setResponseBody(sseEvent({ data: String(++state.sent) }));
      await ctx.sendBody();
      await sleep(100);
    }
  } catch {
    // sendBody() rejects once the peer is gone: that is the end this route waits for.
  }
  state.reason = 'client gone';
  state.ended = true;
}

function setupInstance(server: Server, instance: string): void {
  server.get('/whoami', (ctx) => {
    ctx.setResponseBodyJson({
      instance,
      // nginx's side of the upstream connection: the same port again means a reused connection.
      peerPort: ctx.getSocketPort() ?? null,
      host: ctx.getRequestHeader('host') ?? null,
      connection: ctx.getRequestHeader('connection') ?? null,
      forwardedFor: ctx.getRequestHeader('x-forwarded-for') ?? null,
      forwardedProto: ctx.getRequestHeader('x-forwarded-proto') ?? null,
      forwardedHost: ctx.getRequestHeader('x-forwarded-host') ?? null,
      realIp: ctx.getRequestHeader('x-real-ip') ?? null,
    });
  });
  server.post('/upload', (ctx) => {
    const body = ctx.getRequestBody();
    ctx.setResponseBodyJson({ instance, bytes: body.length, sum: checksum(body) });
  });
  server.get('/big', (ctx) => {
    ctx.setResponseHeader('Content-Type', 'application/octet-stream').setResponseBody(BIG_BODY);
  });
  server.get('/events/ticks', threeTicks(instance, false));
  server.get('/ticks', threeTicks(instance, true));
  server.get('/events/endless', endlessTicks);
  server.onWsConnected(async (ctx) => {
    ctx.setResponseBody(`hello:${instance}`);
    await ctx.sendBody();
  });
  server.onWsClosed((_ctx, code) => {
    wsClosed.push({ instance, code });
  });
  const echo = async (ctx: Context): Promise<void> => {
    ctx.setResponseBody(
      ctx.getWsMessageType() === 'binary' ? ctx.getRequestBody() : ctx.getRequestBodyString(),
    );
    await ctx.sendBody();
  };
  server.get('/ws/echo', echo);
  server.get('/echo', echo);
}

/** 2 MiB: more than nginx's proxy buffers hold, so a slow reader's answer spills to its temp files. */
const BIG_BODY = randomBytes(2 * 1024 * 1024);

function checksum(bytes: Uint8Array): string {
  let sum = 0;
  for (const byte of bytes) sum = (sum * 31 + byte) >>> 0;
  return sum.toString(16);
}

// ---- nginx ------------------------------------------------------------------------------------

/** Fills every `${NAME}` placeholder; a placeholder without a value, or a value without a placeholder, is a test bug. */
function render(template: string, values: Record<string, string>): string {
  const used = new Set<string>();
  const rendered = template.replace(/\$\{([A-Za-z0-9_]+)\}/g, (whole, name: string) => {
    const value = values[name];
    assert.ok(value !== undefined, `the test has no value for ${whole} in deploy/nginx.conf`);
    used.add(name);
    return value;
  });
  assert.deepEqual([...used].sort(), Object.keys(values).sort(), 'every placeholder is filled');
  return rendered;
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

interface RunningNginx {
  child: ChildProcess;
  port: number;
  exited: Promise<void>;
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

async function startNginx(
  binary: string,
  dir: string,
  upstreams: [number, number],
): Promise<RunningNginx> {
  const template = await readFile(TEMPLATE, 'utf8');
  const errorLogPath = join(dir, 'error.log');
  const errorLog = () => readFile(errorLogPath, 'utf8').catch(() => '');
  let lastFailure = '';
  // The free port may be taken between the probe and nginx's bind: try a few.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const config = render(template, {
      NGINX_LISTEN: `127.0.0.1:${port}`,
      NGINX_SERVER_NAME: 'localhost',
      NGINX_LOG_DIR: dir,
      NGINX_TEMP_DIR: dir,
      HYPERLANE_UPSTREAM_1: `127.0.0.1:${upstreams[0]}`,
      HYPERLANE_UPSTREAM_2: `127.0.0.1:${upstreams[1]}`,
    });
    await writeFile(join(dir, 'nginx.conf'), config);
    const args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', errorLogPath];
    args.push('-g', `daemon off; pid ${join(dir, 'nginx.pid')};`);
    // Its own process group, so the SIGKILL fallback reaches the workers too.
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // A binary that cannot be started emits 'error' and maybe never 'exit'.
    let spawnFailed = false;
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (error) => {
        spawnFailed = true;
        output += String(error);
        resolve();
      });
    });
    const isRunning = () => !spawnFailed && child.exitCode === null && child.signalCode === null;
    const killGroup = async (): Promise<void> => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
    };
    const up = await eventually(async () => !isRunning() || canConnect(port), STEP_TIMEOUT_MS, 50);
    if (up && isRunning()) {
      const stop = async (): Promise<void> => {
        if (!isRunning()) return;
        child.kill('SIGQUIT'); // graceful: finish what is in flight, then exit
        let timer: NodeJS.Timeout | undefined;
        const quit = await Promise.race([
          exited.then(() => true),
          new Promise<boolean>((resolve) => (timer = setTimeout(resolve, 5000, false))),
        ]);
        clearTimeout(timer);
        if (!quit) await killGroup();
      };
      return { child, port, exited, errorLog, stop };
    }
    if (isRunning()) await killGroup();
    lastFailure = `${output}\n${await errorLog()}`;
    if (!/in use/i.test(lastFailure)) break;
  }
  throw new Error(`nginx did not start:\n${lastFailure}`);
}

// ---- clients ----------------------------------------------------------------------------------

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The request went out on a connection an earlier request had used. */
  reused: boolean;
  /** Our side of the connection to nginx. */
  localPort: number | undefined;
}

function request(
  port: number,
  path: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: Buffer;
    agent?: http.Agent | false;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            reused: req.reusedSocket,
            localPort: res.socket?.localPort,
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(STEP_TIMEOUT_MS, () => req.destroy(new Error(`${path}: no answer in time`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

interface Whoami {
  instance: string;
  peerPort: number | null;
  host: string | null;
  connection: string | null;
  forwardedFor: string | null;
  forwardedProto: string | null;
  forwardedHost: string | null;
  realIp: string | null;
}

async function whoami(
  port: number,
  options: Parameters<typeof request>[2] = {},
): Promise<Whoami & { reply: Reply }> {
  const reply = await request(port, '/whoami', options);
  assert.equal(reply.status, 200, `GET /whoami: ${reply.body.toString()}`);
  return { ...(JSON.parse(reply.body.toString()) as Whoami), reply };
}

/** An event stream read over node:http, event by event. */
class EventStream {
  readonly events: { id: string; data: string }[] = [];
  headers: http.IncomingHttpHeaders = {};
  done = false;
  private buffer = '';
  private readonly req: http.ClientRequest;

  constructor(port: number, path: string) {
    this.req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      this.headers = res.headers;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        this.buffer += chunk;
        let end: number;
        while ((end = this.buffer.indexOf('\n\n')) !== -1) {
          const block = this.buffer.slice(0, end);
          this.buffer = this.buffer.slice(end + 2);
          let id = '';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) this.events.push({ id, data: data.join('\n') });
        }
      });
      res.on('end', () => (this.done = true));
      res.on('error', () => (this.done = true));
    });
    this.req.on('error', () => (this.done = true));
  }

  /** Resolves once `count` events arrived; fails if the stream ends or time runs out first. */
  async waitFor(count: number): Promise<void> {
    const ok = await eventually(() => this.events.length >= count || this.done, STEP_TIMEOUT_MS, 5);
    assert.ok(
      ok && this.events.length >= count,
      `${count} event(s) through nginx (got ${this.events.length}, ended=${this.done})`,
    );
  }

  async waitEnd(): Promise<void> {
    assert.ok(await eventually(() => this.done, STEP_TIMEOUT_MS, 5), 'the stream ended');
  }

  /** The client goes away mid-stream. */
  abort(): void {
    this.req.destroy();
  }
}

/** A `ws` client that queues what it receives. */
class WsClient {
  readonly messages: { data: Buffer; isBinary: boolean }[] = [];
  closeCode: number | undefined;
  private taken = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => this.messages.push({ data, isBinary }));
    ws.on('close', (code: number) => (this.closeCode = code));
    ws.on('error', () => {});
  }

  static open(url: string): Promise<WsClient> {
    const ws = new WebSocket(url);
    const client = new WsClient(ws);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`${url}: no handshake in time`));
      }, STEP_TIMEOUT_MS);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve(client);
      });
      ws.once('unexpected-response', (_req, res: http.IncomingMessage) => {
        clearTimeout(timer);
        ws.terminate();
        reject(new Error(`${url}: handshake answered ${res.statusCode}`));
      });
      ws.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  async next(): Promise<{ data: Buffer; isBinary: boolean }> {
    const ok = await eventually(() => this.messages.length > this.taken, STEP_TIMEOUT_MS, 5);
    const message = this.messages[this.taken];
    assert.ok(ok && message !== undefined, 'a WebSocket message through nginx');
    this.taken++;
    return message;
  }

  send(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) =>
      this.ws.send(data, (error) => (error ? reject(error) : resolve())),
    );
  }

  async close(): Promise<number | undefined> {
    this.ws.close(1000, 'bye');
    assert.ok(await eventually(() => this.closeCode !== undefined, STEP_TIMEOUT_MS), 'closed');
    return this.closeCode;
  }
}

/** Sends raw bytes and returns everything nginx answered before closing (or a pause). */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.once('connect', () => socket.write(bytes, 'latin1'));
    socket.once('end', () => resolve(text));
    socket.once('error', (error) => (text === '' ? reject(error) : resolve(text)));
    socket.setTimeout(STEP_TIMEOUT_MS, () => {
      socket.destroy();
      resolve(text);
    });
  });
}

// ---- the test ---------------------------------------------------------------------------------

const nginxBinary = await findNginx();

test('deploy/nginx.conf in front of two instances: HTTP, SSE, WebSocket', async (t) => {
  // .ci/run installs Debian's nginx: without it this test cannot prove the config, so it fails.
  assert.ok(
    nginxBinary,
    'no nginx binary (looked in /usr/sbin and on PATH): apt-get install nginx',
  );
  const a = await serve(t, (server) => setupInstance(server, 'a'));
  const b = await serve(t, (server) => setupInstance(server, 'b'));

  const dir = await mkdtemp(join(tmpdir(), 'hl-nginx-'));
  // As root, nginx runs its workers as an unprivileged user (nobody), which must reach the temp
  // paths below this directory; mkdtemp made it private to root.
  if (process.getuid?.() === 0) await chmod(dir, 0o755);
  const started: RunningNginx[] = [];
  t.after(async () => {
    for (const running of started) await running.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const nginx = await startNginx(nginxBinary, dir, [a.port, b.port]);
  started.push(nginx);
  const port = nginx.port;
  const direct = { a: a.port, b: b.port };

  await t.test('plain HTTP reaches both instances, round robin', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) seen.push((await whoami(port)).instance);
    const count = (name: string) => seen.filter((instance) => instance === name).length;
    assert.ok(count('a') >= 2 && count('b') >= 2, `both instances answer: ${seen.join(' ')}`);
  });

  await t.test('forwarded headers: Host, X-Forwarded-For/Proto/Host, X-Real-IP', async () => {
    const me = await whoami(port, { headers: { Host: 'App.Example.test:8443' } });
    assert.equal(me.host, 'app.example.test', "the client's Host, as nginx's $host (no port)");
    assert.equal(me.forwardedHost, 'app.example.test');
    assert.equal(me.forwardedFor, '127.0.0.1');
    assert.equal(me.realIp, '127.0.0.1');
    assert.equal(me.forwardedProto, 'http');
    assert.equal(me.connection, null, 'no Connection header upstream: keep-alive is the default');
    // A client cannot replace the chain, only prepend to it: the last entry is nginx's peer.
    const spoofed = await whoami(port, {
      headers: {
        'X-Forwarded-For': '203.0.113.9',
        'X-Real-IP': '203.0.113.9',
        'X-Forwarded-Proto': 'https',
      },
    });
    assert.equal(spoofed.forwardedFor, '203.0.113.9, 127.0.0.1');
    // The headers nginx sets replace what the client sent: these are safe to trust.
    assert.equal(spoofed.realIp, '127.0.0.1');
    assert.equal(spoofed.forwardedProto, 'http');
  });

  await t.test('keep-alive: client to nginx, and nginx to each instance', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const answers: (Whoami & { reply: Reply })[] = [];
      for (let i = 0; i < 8; i++) answers.push(await whoami(port, { agent }));
      const clientPorts = new Set(answers.map((answer) => answer.reply.localPort));
      assert.equal(clientPorts.size, 1, 'all eight requests went over one client connection');
      assert.ok(answers.slice(1).every((answer) => answer.reply.reused));
      for (const instance of ['a', 'b']) {
        const mine = answers.filter((answer) => answer.instance === instance);
        const upstreamPorts = new Set(mine.map((answer) => answer.peerPort));
        assert.ok(mine.length >= 2, `instance ${instance} answered at least twice`);
        assert.ok(
          upstreamPorts.size < mine.length,
          `nginx reused a connection to ${instance}: ${mine.length} requests on ports ${[...upstreamPorts].join(', ')}`,
        );
      }
    } finally {
      agent.destroy();
    }
  });

  await t.test('bodies larger than nginx buffers, both ways', async () => {
    const upload = randomBytes(300 * 1024); // above client_body_buffer_size: a temp file
    const reply = await request(port, '/upload', {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: upload,
    });
    assert.equal(reply.status, 200, reply.body.toString());
    const answer = JSON.parse(reply.body.toString()) as { bytes: number; sum: string };
    assert.deepEqual(
      { bytes: answer.bytes, sum: answer.sum },
      {
        bytes: upload.length,
        sum: checksum(upload),
      },
    );
    const big = await request(port, '/big');
    assert.equal(big.status, 200);
    assert.equal(big.body.length, BIG_BODY.length);
    assert.ok(big.body.equals(BIG_BODY), 'the 2 MB answer arrives intact');
    // client_max_body_size: refused by nginx before it reaches an instance.
    const tooBig = await request(port, '/upload', {
      method: 'POST',
      body: Buffer.alloc(1024 * 1024 + 1),
    });
    assert.equal(tooBig.status, 413);
  });

  for (const [path, how] of [
    ['/events/ticks', 'in /events/ (proxy_buffering off)'],
    ['/ticks', 'elsewhere, with X-Accel-Buffering: no'],
  ] as const) {
    await t.test(`SSE events arrive one by one ${how}`, async () => {
      const id = `${path}-${randomBytes(4).toString('hex')}`;
      const stream = new EventStream(port, `${path}?id=${encodeURIComponent(id)}`);
      try {
        for (let i = 1; i <= 3; i++) {
          await stream.waitFor(i);
          const state = streams.get(id);
          assert.ok(state !== undefined, 'the request reached an instance');
          assert.equal(state.ended, false, `event ${i} arrived while the server held the stream`);
          assert.equal(stream.events[i - 1]!.id, String(i));
        }
        assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
        assert.equal(stream.headers['x-accel-buffering'], undefined, 'nginx keeps X-Accel-*');
        streams.get(id)!.release();
        await stream.waitEnd();
        assert.equal(streams.get(id)!.reason, 'released');
        assert.equal(stream.events.length, 3);
      } finally {
        stream.abort();
        streams.get(id)?.release();
      }
    });
  }

  await t.test('a client leaving mid-stream ends the stream upstream too', async () => {
    const id = `endless-${randomBytes(4).toString('hex')}`;
    const stream = new EventStream(port, `/events/endless?id=${id}`);
    await stream.waitFor(2);
    stream.abort();
    assert.ok(
      await eventually(() => streams.get(id)?.ended === true, STEP_TIMEOUT_MS),
      'the instance saw the client go (sendBody rejected or ctx.signal fired)',
    );
    assert.equal((await whoami(port)).reply.status, 200, 'still serving');
  });

  for (const path of ['/ws/echo', '/echo']) {
    await t.test(`WebSocket echo through nginx at ${path}`, async () => {
      const instances = new Set<string>();
      for (let round = 0; round < 2; round++) {
        const client = await WsClient.open(`ws://127.0.0.1:${port}${path}`);
        const hello = await client.next();
        assert.match(hello.data.toString(), /^hello:[ab]$/);
        instances.add(hello.data.toString().slice(6));

        await client.send('ping through nginx');
        const text = await client.next();
        assert.deepEqual(
          { text: text.data.toString(), isBinary: text.isBinary },
          {
            text: 'ping through nginx',
            isBinary: false,
          },
        );
        const bytes = randomBytes(200 * 1024);
        await client.send(bytes);
        const binary = await client.next();
        assert.equal(binary.isBinary, true);
        assert.ok(binary.data.equals(bytes), 'a 200 KiB binary message comes back intact');

        const closesBefore = wsClosed.length;
        assert.equal(await client.close(), 1000);
        assert.ok(
          await eventually(() => wsClosed.length > closesBefore, STEP_TIMEOUT_MS),
          'the instance saw the close',
        );
        assert.equal(wsClosed.at(-1)!.code, 1000, 'the close code passed through nginx');
      }
      assert.equal(instances.size, 2, 'the two connections went to both instances');
    });
  }

  await t.test('hostile input is refused by nginx; everything still serves', async () => {
    const garbage = await rawExchange(port, 'GARBAGE\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400 /);
    const smuggle = await rawExchange(
      port,
      'POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n' +
        'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n',
    );
    assert.match(smuggle, /^HTTP\/1\.1 400 /, 'Content-Length with Transfer-Encoding');
    const hugeHeader = await rawExchange(
      port,
      `GET /whoami HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'x'.repeat(64 * 1024)}\r\n\r\n`,
    );
    assert.match(hugeHeader, /^HTTP\/1\.1 (400|431|494) /);
    // A WebSocket client that vanishes without a close frame.
    const closesBefore = wsClosed.length;
    const client = await WsClient.open(`ws://127.0.0.1:${port}/ws/echo`);
    await client.next();
    client.ws.terminate();
    assert.ok(
      await eventually(() => wsClosed.length > closesBefore, STEP_TIMEOUT_MS),
      'the instance noticed the vanished client (nginx closed the upstream side)',
    );
  });

  await t.test('liveness afterwards: through nginx and directly', async () => {
    assert.equal(nginx.child.exitCode, null, 'nginx is still running');
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await whoami(port)).instance);
    assert.deepEqual([...seen].sort(), ['a', 'b']);
    for (const [name, directPort] of Object.entries(direct)) {
      assert.equal((await whoami(directPort)).instance, name);
    }
    const errors = (await nginx.errorLog())
      .split('\n')
      .filter((line) => /\[(emerg|alert|crit)\]/.test(line))
      // worker_rlimit_nofile above an unprivileged user's hard limit: the machine's, not ours.
      .filter((line) => !line.includes('setrlimit'));
    assert.deepEqual(errors, [], 'no serious errors in nginx error.log');
  });
});
