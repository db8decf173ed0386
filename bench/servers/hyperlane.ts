/**
 * Target `hyperlane`: the benchmark app on hyperlane-ts, written the way the README shows it
 * (async handlers, the fluent Context setters), with the default configuration apart from the
 * bind address.
 * Usage: `node .build/bench/servers/hyperlane.js [port] [basic|middleware]`.
 * @packageDocumentation
 */
import { Server, cors, requestId, securityHeaders, type Context } from '../../src/index.js';
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

// Module-level handlers: the only per-request work is what the framework itself does.
async function plaintext(ctx: Context): Promise<void> {
  ctx.setResponseHeader('Content-Type', 'text/plain').setResponseBody(HELLO_BODY);
}

async function json(ctx: Context): Promise<void> {
  ctx.setResponseBodyJson({ message: JSON_MESSAGE });
}

async function user(ctx: Context): Promise<void> {
  ctx.setResponseBodyJson({ id: ctx.getRouteParam('id') });
}

async function echo(ctx: Context): Promise<void> {
  ctx.setResponseBodyJson(ctx.getRequestBodyJson());
}

async function filler(ctx: Context): Promise<void> {
  ctx.setResponseHeader('Content-Type', 'text/plain').setResponseBody(FILLER_BODY);
}

const HANDLERS: Record<RouteKind, (ctx: Context) => Promise<void>> = {
  plaintext,
  json,
  user,
  echo,
  filler,
};

const keepAlive = keepAliveFromEnv();
const server = new Server({
  host: BENCH_HOST,
  port: portFromArgs(),
  ...(keepAlive === undefined ? {} : { keepAliveTimeout: keepAlive }),
});
if (appFromArgs() === 'middleware') {
  // The batteries run for every request, registered as a user would.
  server.requestMiddleware(securityHeaders());
  server.requestMiddleware(cors({ origins: [BENCH_ORIGIN] }));
  server.requestMiddleware(requestId());
  server.get(MIDDLEWARE_PATH, json);
}
for (const route of BENCH_ROUTES) {
  const path = route.path.replace(/:(\w+)/g, '{$1}');
  if (route.method === 'POST') server.post(path, HANDLERS[route.kind]);
  else server.get(path, HANDLERS[route.kind]);
}

const running = await server.run();
announceReady(running.port);
