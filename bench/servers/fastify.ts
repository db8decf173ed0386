/**
 * Target `fastify`: the benchmark app on Fastify with its logger off (Fastify's own benchmark
 * setting). No response schemas: every target serializes JSON with plain `JSON.stringify`, so
 * the comparison is of the HTTP engines, not of serializers.
 * Usage: `node .build/bench/servers/fastify.js [port] [basic|middleware]`.
 * @packageDocumentation
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  appFromArgs,
  BENCH_ORIGIN,
  BENCH_ROUTES,
  FILLER_BODY,
  HELLO_BODY,
  JSON_MESSAGE,
  keepAliveFromEnv,
  MIDDLEWARE_PATH,
  type RouteKind,
} from '../app.js';
import { announceReady, BENCH_HOST, portFromArgs } from './cli.js';

// Handlers are module-level functions and send synchronously: Fastify's fastest documented
// style (no promise per request), so Fastify is measured at its best.
function plaintext(_request: FastifyRequest, reply: FastifyReply): void {
  reply.header('content-type', 'text/plain').send(HELLO_BODY);
}

function json(_request: FastifyRequest, reply: FastifyReply): void {
  reply.send({ message: JSON_MESSAGE });
}

function user(request: FastifyRequest, reply: FastifyReply): void {
  reply.send({ id: (request.params as { id: string }).id });
}

// Fastify's built-in content-type parser has already parsed the JSON body.
function echo(request: FastifyRequest, reply: FastifyReply): void {
  reply.send(request.body);
}

function filler(_request: FastifyRequest, reply: FastifyReply): void {
  reply.header('content-type', 'text/plain').send(FILLER_BODY);
}

const HANDLERS: Record<RouteKind, (request: FastifyRequest, reply: FastifyReply) => void> = {
  plaintext,
  json,
  user,
  echo,
  filler,
};

function echoRequestId(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  reply.header('x-request-id', request.id);
  done();
}

const middlewareApp = appFromArgs() === 'middleware';
const keepAlive = keepAliveFromEnv();
// The middleware app uses Fastify's own plugins: helmet, cors, and its built-in request id
// (read from x-request-id when sent, else a UUID), echoed on the response by a hook. The basic
// app keeps Fastify's defaults.
const app = Fastify({
  logger: false,
  ...(middlewareApp ? { requestIdHeader: 'x-request-id', genReqId: () => randomUUID() } : {}),
  ...(keepAlive === undefined ? {} : { keepAliveTimeout: keepAlive }),
});
if (middlewareApp) {
  await app.register(fastifyHelmet);
  await app.register(fastifyCors, { origin: [BENCH_ORIGIN] });
  app.addHook('onRequest', echoRequestId);
  app.get(MIDDLEWARE_PATH, json);
}
for (const route of BENCH_ROUTES) {
  app.route({ method: route.method, url: route.path, handler: HANDLERS[route.kind] });
}

await app.listen({ host: BENCH_HOST, port: portFromArgs() });
announceReady((app.server.address() as AddressInfo).port);
