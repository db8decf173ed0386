/**
 * The benchmark app's handlers and routes on hyperlane-ts, written the way the README shows
 * them (async handlers, the fluent Context setters). Shared by the `hyperlane` targets and the
 * pipeline micro-benchmark, so all of them measure the same handlers.
 * @packageDocumentation
 */
import type { Context, Server } from '../../src/index.js';
import { BENCH_ROUTES, FILLER_BODY, HELLO_BODY, JSON_MESSAGE, type RouteKind } from '../app.js';

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

/** The handler of each kind of benchmark route. */
export const HANDLERS: Readonly<Record<RouteKind, (ctx: Context) => Promise<void>>> = {
  plaintext,
  json,
  user,
  echo,
  filler,
};

/** Registers the 50 routes of the basic app on `server`, in their order. */
export function addBenchRoutes(server: Server): void {
  for (const route of BENCH_ROUTES) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    if (route.method === 'POST') server.post(path, HANDLERS[route.kind]);
    else server.get(path, HANDLERS[route.kind]);
  }
}
