/**
 * Target `node-http` of the cluster scenario: the plaintext and JSON routes on plain
 * `node:http` in one `node:cluster` worker per core, the way Node's cluster documentation shows
 * it. The primary prints the ready line once every worker listens.
 * Usage: `node .build/bench/servers/node-http-cluster.js [port]`.
 * @packageDocumentation
 */
import cluster from 'node:cluster';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { availableParallelism } from 'node:os';
import { HELLO_BODY, JSON_MESSAGE } from '../app.js';
import { announceReady, BENCH_HOST, portFromArgs, workerCount } from './cli.js';

const PLAIN_HEADERS = {
  'Content-Type': 'text/plain',
  'Content-Length': String(Buffer.byteLength(HELLO_BODY)),
};

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === '/') {
    res.writeHead(200, PLAIN_HEADERS);
    res.end(HELLO_BODY);
  } else if (req.url === '/json') {
    const body = JSON.stringify({ message: JSON_MESSAGE });
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
    });
    res.end(body);
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': '9' });
    res.end('Not Found');
  }
}

if (cluster.isPrimary) {
  const count = workerCount() === 'auto' ? availableParallelism() : (workerCount() as number);
  let listening = 0;
  cluster.on('listening', (_worker, address) => {
    if (++listening === count) announceReady(address.port);
  });
  // A worker that dies takes the benchmark down with it: a partial cluster would measure less.
  cluster.on('exit', () => process.exit(1));
  for (let i = 0; i < count; i++) cluster.fork();
  process.on('SIGTERM', () => {
    cluster.removeAllListeners('exit');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  });
} else {
  // Workers listening on the same port (0 included) share one handle held by the primary.
  createServer(handle).listen(portFromArgs(), BENCH_HOST);
}
