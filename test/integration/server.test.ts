/**
 * Server (API.md "Server"): config from plain data and fluent setters, port 0, run() twice,
 * tls(), maxConnections, graceful close(), keepAliveTimeout and requestTimeout.
 *
 * Every test starts real servers on 127.0.0.1:0 and closes them.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import https from 'node:https';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Server, type RunningServer, type ServerConfig } from '../../src/index.js';
import { RawConnection, finalResponses } from '../helpers/raw-client.js';
import { selfSignedCert } from '../helpers/tls-cert.js';

const execFileAsync = promisify(execFile);

// ---- helpers -------------------------------------------------------------------------------

async function runServer(t: TestContext, server: Server): Promise<RunningServer> {
  const running = await server.run();
  t.after(() => running.close({ timeout: 200 }));
  return running;
}

function addRoutes(server: Server): Server {
  server.get('/', (ctx) => {
    ctx.setResponseBody('hello');
  });
  server.post('/echo', (ctx) => {
    ctx.setResponseBody(ctx.getRequestBody());
  });
  return server;
}

async function fetchText(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000), ...init });
  return { status: res.status, text: await res.text() };
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Resolves with the connect error code, or 'connected' if the connection was accepted. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

async function getOn(conn: RawConnection, path: string, n: number): Promise<void> {
  await conn.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  await conn.readResponses(n, 3000);
}

function responsesOf(conn: RawConnection): ReturnType<typeof finalResponses> {
  return finalResponses(conn.parse().responses);
}

// ---- configuration --------------------------------------------------------------------------

test('defaults are the documented ones', () => {
  const config = new Server().getConfig();
  assert.deepEqual(
    {
      host: config.host,
      port: config.port,
      nodelay: config.nodelay,
      linger: config.linger,
      httpBufferSize: config.httpBufferSize,
      wsBufferSize: config.wsBufferSize,
      bodyLimit: config.bodyLimit,
      wsMessageLimit: config.wsMessageLimit,
      requestTimeout: config.requestTimeout,
      keepAliveTimeout: config.keepAliveTimeout,
      maxConnections: config.maxConnections,
    },
    {
      host: '0.0.0.0',
      port: 60000,
      nodelay: true,
      linger: false,
      httpBufferSize: 16 * 1024,
      wsBufferSize: 4 * 1024,
      bodyLimit: 1024 * 1024,
      wsMessageLimit: 1024 * 1024,
      requestTimeout: 30_000,
      keepAliveTimeout: 5_000,
      maxConnections: 10_000,
    },
  );
});

test('config from plain data (JSON) takes effect', async (t) => {
  const json =
    '{"host":"127.0.0.1","port":0,"nodelay":false,"linger":100,"httpBufferSize":1024,' +
    '"wsBufferSize":2048,"bodyLimit":16,"wsMessageLimit":100,"requestTimeout":5000,' +
    '"keepAliveTimeout":4000,"maxConnections":50}';
  const plain = JSON.parse(json) as Partial<ServerConfig>;
  const server = addRoutes(new Server(plain));
  const config = server.getConfig();
  for (const [key, value] of Object.entries(plain)) {
    assert.deepEqual(config[key as keyof ServerConfig], value, key);
  }
  const running = await runServer(t, server);
  assert.equal(running.host, '127.0.0.1');
  const base = `http://127.0.0.1:${running.port}`;
  assert.equal((await fetchText(`${base}/`)).text, 'hello');
  assert.equal(
    (await fetchText(`${base}/echo`, { method: 'POST', body: 'x'.repeat(16) })).status,
    200,
  );
  assert.equal(
    (await fetchText(`${base}/echo`, { method: 'POST', body: 'x'.repeat(17) })).status,
    413,
    'bodyLimit from config',
  );
  const big = await fetchText(`${base}/`, { headers: { 'x-big': 'y'.repeat(2000) } });
  assert.equal(big.status, 431, 'httpBufferSize from config');
  assert.equal((await fetchText(`${base}/`)).text, 'hello', 'still serving');
});

test('an unknown config key or a wrong type throws at construction, naming the key', () => {
  const naming = (key: string) => (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.ok(error.message.includes(key), `"${error.message}" names ${key}`);
    return true;
  };
  assert.throws(() => new Server({ prot: 80 } as unknown as Partial<ServerConfig>), naming('prot'));
  assert.throws(
    () => new Server({ host: '127.0.0.1', bodylimit: 5 } as unknown as Partial<ServerConfig>),
    naming('bodylimit'),
  );
  const wrong: Array<[keyof ServerConfig, unknown]> = [
    ['host', 5],
    ['port', '8080'],
    ['port', 70000],
    ['port', -1],
    ['nodelay', 'yes'],
    ['linger', 'long'],
    ['httpBufferSize', -1],
    ['wsBufferSize', 1.5],
    ['bodyLimit', '1mb'],
    ['wsMessageLimit', null],
    ['requestTimeout', true],
    ['keepAliveTimeout', {}],
    ['maxConnections', 'many'],
    ['tls', 'pem'],
    ['tls', { key: 1, cert: 2 }],
  ];
  for (const [key, value] of wrong) {
    assert.throws(
      () => new Server({ [key]: value } as unknown as Partial<ServerConfig>),
      naming(key),
      `${key}: ${JSON.stringify(value)}`,
    );
  }
});

test('fluent setters chain, take effect, and reject wrong values naming the key', async (t) => {
  const server = new Server();
  const same = server
    .host('127.0.0.1')
    .port(0)
    .disableNodelay()
    .enableNodelay()
    .enableLinger(250)
    .disableLinger()
    .enableLinger(300)
    .httpBufferSize(1024)
    .wsBufferSize(2048)
    .bodyLimit(8)
    .wsMessageLimit(4096)
    .requestTimeout(4000)
    .keepAliveTimeout(3000)
    .maxConnections(20);
  assert.equal(same, server);
  const config = server.getConfig();
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.port, 0);
  assert.equal(config.nodelay, true);
  assert.equal(config.linger, 300);
  assert.equal(config.httpBufferSize, 1024);
  assert.equal(config.wsBufferSize, 2048);
  assert.equal(config.bodyLimit, 8);
  assert.equal(config.wsMessageLimit, 4096);
  assert.equal(config.requestTimeout, 4000);
  assert.equal(config.keepAliveTimeout, 3000);
  assert.equal(config.maxConnections, 20);
  assert.equal(server.disableNodelay().getConfig().nodelay, false);
  assert.equal(server.disableLinger().getConfig().linger, false);

  assert.throws(() => server.port(-5), /port/);
  assert.throws(() => server.bodyLimit('big' as unknown as number), /bodyLimit/);
  assert.throws(() => server.requestTimeout(0), /requestTimeout/);

  addRoutes(server);
  const running = await runServer(t, server);
  const base = `http://127.0.0.1:${running.port}`;
  assert.equal(
    (await fetchText(`${base}/echo`, { method: 'POST', body: '12345678' })).text,
    '12345678',
  );
  assert.equal(
    (await fetchText(`${base}/echo`, { method: 'POST', body: '123456789' })).status,
    413,
  );
});

test('port 0 picks a free port; running.port and running.host tell which', async (t) => {
  const a = await runServer(t, addRoutes(new Server({ host: '127.0.0.1', port: 0 })));
  const b = await runServer(t, addRoutes(new Server().host('127.0.0.1').port(0)));
  assert.ok(a.port > 0 && a.port !== 60000);
  assert.ok(b.port > 0);
  assert.notEqual(a.port, b.port);
  assert.equal(a.host, '127.0.0.1');
  assert.equal((await fetchText(`http://127.0.0.1:${a.port}/`)).text, 'hello');
  assert.equal((await fetchText(`http://127.0.0.1:${b.port}/`)).text, 'hello');

  // A port in use: run() rejects instead of hanging.
  await assert.rejects(new Server({ host: '127.0.0.1', port: a.port }).run());
});

test('run() twice throws (sequentially and concurrently)', async (t) => {
  const server = addRoutes(new Server({ host: '127.0.0.1', port: 0 }));
  const running = await runServer(t, server);
  await assert.rejects(server.run(), /run\(\)|running/);
  assert.equal(
    (await fetchText(`http://127.0.0.1:${running.port}/`)).text,
    'hello',
    'first still serves',
  );

  const other = addRoutes(new Server({ host: '127.0.0.1', port: 0 }));
  const first = other.run();
  const second = other.run();
  await assert.rejects(second, /run\(\)|running/);
  const otherRunning = await first;
  t.after(() => otherRunning.close({ timeout: 200 }));
  assert.equal((await fetchText(`http://127.0.0.1:${otherRunning.port}/`)).text, 'hello');
});

// ---- TLS ------------------------------------------------------------------------------------

test('tls(): serves HTTPS with a certificate generated at test time', async (t) => {
  const { key, cert } = await selfSignedCert(t);

  const fluent = new Server({ host: '127.0.0.1', port: 0 }).tls({ key, cert });
  fluent.get('/secure', (ctx) => {
    ctx.setResponseBody(
      `secure ${ctx.getRequestVersion()} ${ctx.getSocketHost()} tls=${ctx.isSecure()}`,
    );
  });
  fluent.post('/echo', (ctx) => {
    ctx.setResponseBody(ctx.getRequestBody());
  });
  const running = await runServer(t, fluent);

  const agent = new https.Agent({ rejectUnauthorized: false, keepAlive: true });
  t.after(() => agent.destroy());
  const httpsRequest = (path: string, method = 'GET', body?: string) =>
    new Promise<{ status: number; body: string; cipher: string }>((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: running.port, path, method, agent, timeout: 5000 },
        (res) => {
          const socket = res.socket as TLSSocket;
          const cipher = socket.getCipher().name;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString(),
              cipher,
            });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const res = await httpsRequest('/secure');
  assert.equal(res.status, 200);
  assert.equal(res.body, 'secure HTTP/1.1 127.0.0.1 tls=true');
  assert.ok(res.cipher.length > 0, 'a TLS cipher was negotiated');
  // Keep-alive over TLS, with a body.
  const echo = await httpsRequest('/echo', 'POST', 'über tls');
  assert.equal(echo.body, 'über tls');

  const viaCurl = await execFileAsync('curl', [
    '-s',
    '-k',
    '--max-time',
    '5',
    `https://127.0.0.1:${running.port}/secure`,
  ]);
  assert.equal(viaCurl.stdout, 'secure HTTP/1.1 127.0.0.1 tls=true');

  // Plain HTTP to the TLS port is not served.
  await assert.rejects(
    fetch(`http://127.0.0.1:${running.port}/secure`, { signal: AbortSignal.timeout(3000) }),
  );
  assert.equal((await httpsRequest('/secure')).status, 200, 'still serving after a bad handshake');

  // The same from plain data.
  const fromConfig = new Server({
    host: '127.0.0.1',
    port: 0,
    tls: { key, cert: cert.toString() },
  });
  fromConfig.get('/', (ctx) => {
    ctx.setResponseBody('config tls');
  });
  const running2 = await runServer(t, fromConfig);
  const viaCurl2 = await execFileAsync('curl', [
    '-s',
    '-k',
    '--max-time',
    '5',
    `https://127.0.0.1:${running2.port}/`,
  ]);
  assert.equal(viaCurl2.stdout, 'config tls');
});

// ---- maxConnections -------------------------------------------------------------------------

test('maxConnections: 2 → a 3rd connection is closed at once; the first two are still served', async (t) => {
  const running = await runServer(
    t,
    addRoutes(new Server({ host: '127.0.0.1', port: 0, maxConnections: 2 })),
  );
  const first = await RawConnection.connect(running.port);
  const second = await RawConnection.connect(running.port);
  t.after(() => {
    first.destroy();
    second.destroy();
  });
  await getOn(first, '/', 1);
  await getOn(second, '/', 1);
  assert.equal(responsesOf(first)[0]?.text(), 'hello');
  assert.equal(responsesOf(second)[0]?.text(), 'hello');

  const third = await RawConnection.connect(running.port);
  await third.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(await third.waitClosed(2000), true, 'the third connection is closed');
  assert.equal(third.receivedLength, 0, 'and gets no response');
  third.destroy();

  await getOn(first, '/', 2);
  await getOn(second, '/', 2);
  assert.equal(responsesOf(first).length, 2);
  assert.equal(responsesOf(second).length, 2);
  assert.equal(first.closed || second.closed, false);

  // Once one goes, a new connection fits again.
  first.destroy();
  await sleep(100);
  const fourth = await RawConnection.connect(running.port);
  await getOn(fourth, '/', 1);
  assert.equal(responsesOf(fourth)[0]?.text(), 'hello');
  fourth.destroy();
});

// ---- graceful close -------------------------------------------------------------------------

test('close(): stops accepting, finishes in-flight requests, closes idle keep-alive sockets', async (t) => {
  const gate = deferred();
  const started = deferred();
  const server = addRoutes(new Server({ host: '127.0.0.1', port: 0 }));
  server.get('/slow', async (ctx) => {
    started.resolve();
    await gate.promise;
    ctx.setResponseBody('slow done');
  });
  const running = await server.run();
  const port = running.port;
  let closedResolved = false;
  void running.closed.then(() => {
    closedResolved = true;
  });

  const idle = await RawConnection.connect(port);
  const busy = await RawConnection.connect(port);
  t.after(() => {
    gate.resolve();
    idle.destroy();
    busy.destroy();
  });
  await getOn(idle, '/', 1);
  assert.equal(responsesOf(idle)[0]?.text(), 'hello');
  await busy.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
  await started.promise;

  let closeResolved = false;
  const closing = running.close({ timeout: 5000 }).then(() => {
    closeResolved = true;
  });

  assert.equal(await idle.waitClosed(1000), true, 'the idle keep-alive socket is closed');
  assert.equal(await tryConnect(port), 'ECONNREFUSED', 'new connections are refused');
  await sleep(100);
  assert.equal(busy.closed, false, 'the in-flight request is not cut off');
  assert.equal(closeResolved, false, 'close() waits for in-flight work');
  assert.equal(closedResolved, false);

  gate.resolve();
  const [res] = finalResponses(await busy.readResponses(1, 3000));
  assert.equal(res?.status, 200);
  assert.equal(res?.text(), 'slow done');
  assert.equal(res?.headers['connection'], 'close', 'the last response says the connection closes');
  assert.equal(await busy.waitClosed(2000), true);
  await closing;
  assert.equal(closeResolved, true);
  await running.closed;
  assert.equal(closedResolved, true);
  assert.equal(await running.close(), undefined, 'close() again resolves');
});

test('close({ timeout }): sockets still busy after the deadline are destroyed; closed resolves', async (t) => {
  const started = deferred();
  const signalFired = deferred<boolean>();
  const server = new Server({ host: '127.0.0.1', port: 0 });
  server.get('/stuck', async (ctx) => {
    started.resolve();
    // Never answers on its own: it waits for the signal (fires when the socket is destroyed).
    const fired = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 8000);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    signalFired.resolve(fired);
  });
  const running = await server.run();
  const conn = await RawConnection.connect(running.port);
  t.after(() => conn.destroy());
  await conn.write('GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n');
  await started.promise;

  const t0 = Date.now();
  await running.close({ timeout: 300 });
  const elapsed = Date.now() - t0;
  assert.ok(elapsed >= 250, `waited for the deadline (${elapsed} ms)`);
  assert.ok(elapsed < 3000, `did not wait much longer (${elapsed} ms)`);
  assert.equal(await conn.waitClosed(1000), true, 'the stuck socket was destroyed');
  assert.equal(conn.receivedLength, 0);
  await running.closed;
  assert.equal(await signalFired.promise, true, 'the handler saw ctx.signal fire');
});

test('close() with no connections resolves promptly', async () => {
  const running = await addRoutes(new Server({ host: '127.0.0.1', port: 0 })).run();
  assert.equal((await fetchText(`http://127.0.0.1:${running.port}/`)).text, 'hello');
  const t0 = Date.now();
  await running.close();
  await running.closed;
  assert.ok(Date.now() - t0 < 2000, 'no lingering on the 10 s default deadline');
  assert.equal(await tryConnect(running.port), 'ECONNREFUSED');
});

// ---- timeouts -------------------------------------------------------------------------------

test('keepAliveTimeout closes idle keep-alive sockets, not active ones', async (t) => {
  const running = await runServer(
    t,
    addRoutes(new Server({ host: '127.0.0.1', port: 0, keepAliveTimeout: 300 })),
  );
  const idle = await RawConnection.connect(running.port);
  t.after(() => idle.destroy());
  await getOn(idle, '/', 1);
  const answeredAt = Date.now();
  assert.equal(responsesOf(idle)[0]?.text(), 'hello');
  assert.equal(await idle.waitClosed(3000), true, 'the idle socket is closed');
  const idleFor = (idle.closedAt ?? 0) - answeredAt;
  assert.ok(idleFor >= 200, `not closed before the timeout (${idleFor} ms)`);
  assert.ok(idleFor < 2000, `closed soon after the timeout (${idleFor} ms)`);

  // A connection used every 100 ms outlives the 300 ms idle timeout.
  const active = await RawConnection.connect(running.port);
  t.after(() => active.destroy());
  for (let i = 1; i <= 8; i++) {
    await getOn(active, '/', i);
    assert.equal(active.closed, false, `still open at request ${i}`);
    await sleep(100);
  }
  assert.equal(responsesOf(active).length, 8);
  assert.equal(await active.waitClosed(3000), true, 'and closes once idle');
});

test('requestTimeout: a head or body that does not arrive in time → 408 and close', async (t) => {
  const server = addRoutes(new Server({ host: '127.0.0.1', port: 0, requestTimeout: 300 }));
  server.get('/slow-handler', async (ctx) => {
    await sleep(600);
    ctx.setResponseBody('handler may take longer');
  });
  const running = await runServer(t, server);
  const port = running.port;

  const cases = [
    ['partial head', 'GET / HTTP/1.1\r\nHost: x\r\n'],
    ['partial body', 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc'],
  ] as const;
  await Promise.all(
    cases.map(async ([label, bytes]) => {
      const conn = await RawConnection.connect(port);
      try {
        const t0 = Date.now();
        await conn.write(bytes);
        assert.equal(await conn.waitClosed(3000), true, `${label}: closed`);
        const elapsed = Date.now() - t0;
        const [res] = responsesOf(conn);
        assert.equal(res?.status, 408, `${label}: 408`);
        assert.equal(res?.headers['connection'], 'close', label);
        assert.ok(elapsed >= 250 && elapsed < 2500, `${label}: after the timeout (${elapsed} ms)`);
      } finally {
        conn.destroy();
      }
    }),
  );

  // A slow handler is not a slow request: the timeout covers receiving only.
  const slow = await fetchText(`http://127.0.0.1:${port}/slow-handler`);
  assert.equal(slow.status, 200);
  assert.equal(slow.text, 'handler may take longer');
  assert.equal((await fetchText(`http://127.0.0.1:${port}/`)).text, 'hello', 'still serving');
});
