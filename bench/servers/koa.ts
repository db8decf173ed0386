/**
 * Target `koa`: the benchmark app on Koa 3 with `@koa/router`, as their READMEs show it
 * (`router.routes()` then `router.allowedMethods()`). No body parser or helmet is a dependency
 * here, so the POST route reads its JSON body by hand and the middleware app writes the
 * security headers, CORS and request id with small hand-written middleware.
 * Usage: `node .build/bench/servers/koa.js [port] [basic|middleware]`.
 * @packageDocumentation
 */
import Router from '@koa/router';
import Koa, { type Context, type Next } from 'koa';
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
  SECURITY_HEADERS,
  type RouteKind,
} from '../app.js';
import { announceReady, BENCH_HOST, portFromArgs } from './cli.js';

const MAX_BODY = 1024 * 1024;

function plaintext(ctx: Context): void {
  ctx.type = 'text/plain';
  ctx.body = HELLO_BODY;
}

function json(ctx: Context): void {
  ctx.body = { message: JSON_MESSAGE };
}

function user(ctx: Context): void {
  ctx.body = { id: (ctx.params as Record<string, string>).id };
}

async function echo(ctx: Context): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    ctx.assert(size <= MAX_BODY, 413);
    chunks.push(chunk);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
  } catch {
    ctx.throw(400, 'invalid JSON');
  }
  ctx.body = value;
}

function filler(ctx: Context): void {
  ctx.type = 'text/plain';
  ctx.body = FILLER_BODY;
}

const HANDLERS: Record<RouteKind, (ctx: Context) => void | Promise<void>> = {
  plaintext,
  json,
  user,
  echo,
  filler,
};

// The three middleware, by hand (helmet's default headers, CORS for one origin, a request id).
async function securityHeaders(ctx: Context, next: Next): Promise<void> {
  ctx.set(SECURITY_HEADERS);
  await next();
}

async function corsForOrigin(ctx: Context, next: Next): Promise<void> {
  if (ctx.get('origin') === BENCH_ORIGIN) {
    ctx.set('access-control-allow-origin', BENCH_ORIGIN);
    ctx.vary('Origin');
  }
  await next();
}

async function requestId(ctx: Context, next: Next): Promise<void> {
  const incoming = ctx.get('x-request-id');
  ctx.set('x-request-id', incoming === '' ? randomUUID() : incoming);
  await next();
}

/**
 * Koa logs every error by default; a client that hangs up while its pipelined answers are
 * still being written (the end of every load run) is not one, and other errors still print.
 */
function onError(error: Error & { code?: string }): void {
  if (error.code === 'EPIPE' || error.code === 'ECONNRESET') return;
  console.error(error);
}

const app = new Koa();
app.on('error', onError);
const router = new Router();
if (appFromArgs() === 'middleware') {
  app.use(securityHeaders);
  app.use(corsForOrigin);
  app.use(requestId);
  router.get(MIDDLEWARE_PATH, json);
}
for (const route of BENCH_ROUTES) {
  if (route.method === 'POST') router.post(route.path, HANDLERS[route.kind]);
  else router.get(route.path, HANDLERS[route.kind]);
}
app.use(router.routes());
app.use(router.allowedMethods());

const server = app.listen(portFromArgs(), BENCH_HOST, () => {
  announceReady((server.address() as AddressInfo).port);
});
const keepAlive = keepAliveFromEnv();
if (keepAlive !== undefined) server.keepAliveTimeout = keepAlive;
