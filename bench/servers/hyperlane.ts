/**
 * Target `hyperlane`: the benchmark app on hyperlane-ts, written the way the README shows it
 * (async handlers, the fluent Context setters), with the default configuration apart from the
 * bind address.
 * Usage: `node .build/bench/servers/hyperlane.js [port]`.
 * @packageDocumentation
 */
import { Server, cors, requestId, securityHeaders, type Context } from '../../src/index.js';
import { appFromArgs, BENCH_ORIGIN, HELLO_BODY, JSON_MESSAGE, MIDDLEWARE_PATH } from '../app.js';
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

const server = new Server({ host: BENCH_HOST, port: portFromArgs() });
if (appFromArgs() === 'middleware') {
  // The batteries run for every request, registered as a user would.
  server.requestMiddleware(securityHeaders());
  server.requestMiddleware(cors({ origins: [BENCH_ORIGIN] }));
  server.requestMiddleware(requestId());
  server.get(MIDDLEWARE_PATH, json);
}
server.get('/', plaintext);
server.get('/json', json);
server.get('/users/{id}', user);

const running = await server.run();
announceReady(running.port);
