/**
 * The benchmark suite's answer check (`bench/lib/verify.ts`), which stands between a fast wrong
 * answer and a published ratio: it passes the real benchmark app, and refuses each kind of
 * wrong answer with a message that names it.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type RequestListener } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { BENCH_CASES, HELLO_BODY, JSON_MESSAGE, type BenchCase } from '../../bench/app.js';
import { verifyCase } from '../../bench/lib/verify.js';
import { addBenchRoutes } from '../../bench/servers/hyperlane-app.js';
import { serve } from '../helpers/serve.js';

function benchCase(name: string): BenchCase {
  const found = BENCH_CASES.find((c) => c.name === name);
  assert.ok(found, `no bench case ${name}`);
  return found;
}

/** A `node:http` server answering with `listener`, on a free loopback port, closed after `t`. */
async function httpTarget(t: TestContext, listener: RequestListener): Promise<number> {
  const server = createHttpServer(listener);
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

test('every case of the basic app passes on hyperlane-ts', async (t) => {
  const { port } = await serve(t, addBenchRoutes);
  const cases = BENCH_CASES.filter((c) => c.app === 'basic');
  assert.ok(cases.length >= 8, 'plaintext, json, param, post, pipelining, close and fillers');
  for (const c of cases) await verifyCase(port, c);
});

test('a wrong body, media type or status is refused, naming what is wrong', async (t) => {
  const port = await httpTarget(t, (request, response) => {
    if (request.url === '/') {
      response.setHeader('content-type', 'text/plain');
      response.end('Hello world'); // one letter off
    } else if (request.url === '/json') {
      response.setHeader('content-type', 'text/html'); // right body, wrong type
      response.end(JSON.stringify({ message: JSON_MESSAGE }));
    } else {
      response.statusCode = 404;
      response.setHeader('content-type', 'text/plain');
      response.end(HELLO_BODY);
    }
  });
  await assert.rejects(verifyCase(port, benchCase('plaintext')), /body "Hello world" is not/);
  await assert.rejects(
    verifyCase(port, benchCase('json')),
    /content-type "text\/html", expected application\/json/,
  );
  await assert.rejects(verifyCase(port, benchCase('param')), /status 404, expected 200/);
});

test('a JSON body with another value is refused, even when it parses', async (t) => {
  const port = await httpTarget(t, (_request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ message: `${JSON_MESSAGE} ` }));
  });
  await assert.rejects(verifyCase(port, benchCase('json')), /is not the expected one/);
});

test('missing middleware headers are refused by name', async (t) => {
  const port = await httpTarget(t, (_request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ message: JSON_MESSAGE }));
  });
  await assert.rejects(
    verifyCase(port, benchCase('middleware')),
    /no access-control-allow-origin header.*no x-request-id header/,
  );
});

test('a server that answers only the first request of a connection is refused', async (t) => {
  const port = await httpTarget(t, (_request, response) => {
    response.setHeader('content-type', 'text/plain');
    response.setHeader('connection', 'close');
    response.end(HELLO_BODY);
  });
  // Two keep-alive requests, then sixteen pipelined ones: one answer each time.
  await assert.rejects(verifyCase(port, benchCase('plaintext')), /1 responses, expected 2/);
  await assert.rejects(verifyCase(port, benchCase('pipelining')), /1 responses, expected 16/);
});

test('Connection: close answered right but left open is refused', async (t) => {
  const answer =
    `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n` +
    `Content-Length: ${HELLO_BODY.length}\r\n\r\n${HELLO_BODY}`;
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('data', () => socket.write(answer)); // ...and never closes
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  await assert.rejects(
    verifyCase(port, benchCase('close')),
    /kept the connection open after Connection: close/,
  );
});

test('a response that never ends is refused after the wait, not hung on', async (t) => {
  const port = await httpTarget(t, (_request, response) => {
    response.setHeader('content-type', 'text/plain');
    response.setHeader('content-length', '100'); // promises more than it sends
    response.write(HELLO_BODY);
  });
  await assert.rejects(verifyCase(port, benchCase('plaintext')), /no complete answer within 5 s/);
});
