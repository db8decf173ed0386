/**
 * SSE fan-out server for the SSE scenario: `GET /events` streams every event the server
 * broadcasts, `rate` times a second, to every connected client. Each event carries its send
 * time, so clients measure the lag. Targets: `hyperlane` (a `Broadcast` hub and one
 * `sendBody()` per event, as the README shows), `node-http` and `fastify` (a set of open
 * responses, each written per event).
 * Usage: `node .build/bench/sse/server.js [port] <hyperlane|node-http|fastify> <rate>`.
 * @packageDocumentation
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  Broadcast,
  CONTENT_TYPE,
  Server,
  sseEvent,
  TEXT_EVENT_STREAM,
  type Context,
} from '../../src/index.js';
import { announceReady, BENCH_HOST, portFromArgs } from '../servers/cli.js';

const target = process.argv[3];
const rate = Number(process.argv[4] ?? 50);
const STREAM_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

let seq = 0;
/** The next event: its id, and its wall-clock send time in ms (comparable across processes). */
function nextEvent(): string {
  seq++;
  return sseEvent({
    id: seq,
    data: `{"seq":${seq},"t":${performance.timeOrigin + performance.now()}}`,
  });
}

// ---- hyperlane ---------------------------------------------------------------------------

const hub = new Broadcast<string>();

async function events(ctx: Context): Promise<void> {
  const subscription = hub.subscribe();
  ctx
    .setResponseHeader(CONTENT_TYPE, TEXT_EVENT_STREAM)
    .setResponseHeader('Cache-Control', 'no-cache');
  await ctx.send();
  for await (const event of subscription) {
    try {
      await ctx.setResponseBody(event).sendBody();
    } catch {
      break; // the client went away; leaving the loop ends the subscription
    }
  }
}

async function startHyperlane(): Promise<number> {
  const server = new Server({ host: BENCH_HOST, port: portFromArgs() });
  server.get('/events', events);
  setInterval(() => hub.send(nextEvent()), 1000 / rate);
  return (await server.run()).port;
}

// ---- node:http and Fastify: a set of open responses ---------------------------------------

const clients = new Set<ServerResponse>();

function openStream(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, STREAM_HEADERS);
  res.flushHeaders();
  clients.add(res);
  req.once('close', () => clients.delete(res));
}

function broadcast(): void {
  const event = nextEvent();
  for (const res of clients) res.write(event);
}

function startNodeHttp(): Promise<number> {
  const server = createServer((req, res) => {
    if (req.url === '/events') openStream(req, res);
    else res.writeHead(404).end();
  });
  setInterval(broadcast, 1000 / rate);
  return new Promise((resolve) => {
    server.listen(portFromArgs(), BENCH_HOST, () =>
      resolve((server.address() as AddressInfo).port),
    );
  });
}

// Fastify's documented way to stream by hand: hijack the reply and write to the raw response.
function fastifyEvents(request: FastifyRequest, reply: FastifyReply): void {
  reply.hijack();
  openStream(request.raw, reply.raw);
}

async function startFastify(): Promise<number> {
  const app = Fastify({ logger: false });
  app.get('/events', fastifyEvents);
  setInterval(broadcast, 1000 / rate);
  await app.listen({ host: BENCH_HOST, port: portFromArgs() });
  return (app.server.address() as AddressInfo).port;
}

const starters: Record<string, () => Promise<number>> = {
  hyperlane: startHyperlane,
  'node-http': startNodeHttp,
  fastify: startFastify,
};
const startTarget = starters[target ?? ''];
if (startTarget === undefined) {
  throw new Error(
    `unknown target ${JSON.stringify(target)}: expected hyperlane, node-http or fastify`,
  );
}
announceReady(await startTarget());
