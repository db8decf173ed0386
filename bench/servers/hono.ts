/**
 * Target `hono`: the benchmark app on Hono, served on Node by `@hono/node-server` (v2), as
 * Hono's Node.js guide shows it. The middleware app uses Hono's own `secureHeaders`, `cors` and
 * `requestId`, configured to send the same headers as the other targets (helmet's
 * Content-Security-Policy, no HSTS).
 * Usage: `node .build/bench/servers/hono.js [port] [basic|middleware]`.
 * @packageDocumentation
 */
import { serve } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import type { Server } from 'node:http';
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

function plaintext(c: Context): Response {
  return c.text(HELLO_BODY);
}

function json(c: Context): Response {
  return c.json({ message: JSON_MESSAGE });
}

function user(c: Context): Response {
  return c.json({ id: c.req.param('id') });
}

async function echo(c: Context): Promise<Response> {
  return c.json(await c.req.json<unknown>());
}

function filler(c: Context): Response {
  return c.text(FILLER_BODY);
}

const HANDLERS: Record<RouteKind, (c: Context) => Response | Promise<Response>> = {
  plaintext,
  json,
  user,
  echo,
  filler,
};

const app = new Hono();
if (appFromArgs() === 'middleware') {
  app.use(
    secureHeaders({
      strictTransportSecurity: false,
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        fontSrc: ["'self'", 'https:', 'data:'],
        formAction: ["'self'"],
        frameAncestors: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'", 'https:', "'unsafe-inline'"],
        upgradeInsecureRequests: [],
      },
    }),
    cors({ origin: BENCH_ORIGIN }),
    requestId(),
  );
  app.get(MIDDLEWARE_PATH, json);
}
for (const route of BENCH_ROUTES) {
  app.on(route.method, route.path, HANDLERS[route.kind]);
}

const server = serve({ fetch: app.fetch, hostname: BENCH_HOST, port: portFromArgs() }, (info) =>
  announceReady(info.port),
);
const keepAlive = keepAliveFromEnv();
if (keepAlive !== undefined) (server as Server).keepAliveTimeout = keepAlive;
