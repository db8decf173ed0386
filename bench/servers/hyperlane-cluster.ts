/**
 * Target `hyperlane` of the cluster scenario: the plaintext and JSON routes on hyperlane-ts with
 * `server.workers('auto')` (one worker process per core sharing the port), as API.md's
 * "Beyond one process" shows it. This script runs in the primary and again in every worker.
 * Usage: `node .build/bench/servers/hyperlane-cluster.js [port]`.
 * @packageDocumentation
 */
import cluster from 'node:cluster';
import { Server } from '../../src/index.js';
import { announceReady, BENCH_HOST, portFromArgs, workerCount } from './cli.js';
import { HANDLERS } from './hyperlane-app.js';

const server = new Server({ host: BENCH_HOST, port: portFromArgs() });
if (typeof (server as { workers?: unknown }).workers !== 'function') {
  // The runner reports this line as the reason the scenario was skipped.
  process.stdout.write('skip this build of hyperlane-ts has no server.workers()\n');
  process.exit(0);
}
server.get('/', HANDLERS.plaintext);
server.get('/json', HANDLERS.json);
server.workers(workerCount());

const running = await server.run();
// In the primary, run() resolves once every worker listens; only then is the cluster ready.
if (cluster.isPrimary) announceReady(running.port);
