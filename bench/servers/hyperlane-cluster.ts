/**
 * Target `hyperlane` of the cluster scenario: the plaintext and JSON routes on hyperlane-ts with
 * `server.workers('auto')` (one worker process per core sharing the port), as API.md's
 * "Beyond one process" shows it. This script runs in the primary and again in every worker.
 * Usage: `node .build/bench/servers/hyperlane-cluster.js [port]`.
 * @packageDocumentation
 */
import cluster from 'node:cluster';
import { Server, type Context } from '../../src/index.js';
import { HELLO_BODY, JSON_MESSAGE } from '../app.js';
import { announceReady, BENCH_HOST, portFromArgs, workerCount } from './cli.js';

async function plaintext(ctx: Context): Promise<void> {
  ctx.setResponseHeader('Content-Type', 'text/plain').setResponseBody(HELLO_BODY);
}

async function json(ctx: Context): Promise<void> {
  ctx.setResponseBodyJson({ message: JSON_MESSAGE });
}

const server = new Server({ host: BENCH_HOST, port: portFromArgs() });
if (typeof (server as { workers?: unknown }).workers !== 'function') {
  // The runner reports this line as the reason the scenario was skipped.
  process.stdout.write('skip this build of hyperlane-ts has no server.workers()\n');
  process.exit(0);
}
server.get('/', plaintext);
server.get('/json', json);
server.workers(workerCount());

const running = await server.run();
// In the primary, run() resolves once every worker listens; only then is the cluster ready.
if (cluster.isPrimary) announceReady(running.port);
