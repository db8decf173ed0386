/**
 * Target `hyperlane`: the benchmark app on hyperlane-ts, written the way the README shows it
 * (async handlers, the fluent Context setters), with the default configuration apart from the
 * bind address.
 * Usage: `node .build/bench/servers/hyperlane.js [port]`.
 * @packageDocumentation
 */
import { Server, type Context } from '../../src/index.js';
import { HELLO_BODY, JSON_MESSAGE } from '../app.js';
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
server.get('/', plaintext);
server.get('/json', json);
server.get('/users/{id}', user);

const running = await server.run();
announceReady(running.port);
