/**
 * Pipeline micro-benchmark: the framework's own JavaScript per request, with the network
 * taken away. Real `Connection`s, parser, router, Context and pipeline run the bench app's
 * handlers (`servers/hyperlane-app.ts`); each socket is an event emitter whose writes only count bytes. 500 connections
 * get one request each per turn of the event loop, as under load. What is left out (the
 * kernel, Node's stream machinery) is the same for every server, so this isolates what an
 * optimisation of ours changes, with far less noise than a load test on a shared machine.
 * Usage: `node .build/bench/micro/pipeline.js [plaintext|json|param]`.
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Server } from '../../src/index.js';
import { Connection } from '../../src/server/connection.js';
import type { Engine } from '../../src/server/engine.js';
import { BENCH_USER_ID, USERS_PREFIX } from '../app.js';
import { addBenchRoutes } from '../servers/hyperlane-app.js';
import { runTimed } from './timing.js';

const TARGETS = { plaintext: '/', json: '/json', param: USERS_PREFIX + BENCH_USER_ID } as const;
const kind = (process.argv[2] ?? 'plaintext') as keyof typeof TARGETS;
if (!(kind in TARGETS)) {
  throw new Error(`unknown case ${JSON.stringify(kind)}: expected plaintext, json or param`);
}

const server = new Server();
addBenchRoutes(server);
// The compiled engine, as `run()` would hand it to connections; the bookkeeping is inert.
const compiled = (server as unknown as { compile(): Engine }).compile();
const engine: Engine = {
  ...compiled,
  forgetConnection() {},
  adoptWebSocket() {},
  serverStats: () => compiled.serverStats(),
};

let bytesOut = 0;
/** The part of a socket a connection uses, writing nowhere. */
class SinkSocket extends EventEmitter {
  writableNeedDrain = false;
  writableLength = 0;
  bytesWritten = 0;
  write(data: string | Uint8Array): boolean {
    bytesOut += data.length;
    return true;
  }
  cork(): void {}
  uncork(): void {}
  end(): void {}
  destroy(): void {}
  pause(): void {}
  resume(): void {}
}

const sockets = Array.from({ length: 500 }, () => {
  const socket = new SinkSocket();
  new Connection(socket as unknown as Socket, engine);
  return socket;
});
const request = Buffer.from(`GET ${TARGETS[kind]} HTTP/1.1\r\nHost: 127.0.0.1:18090\r\n\r\n`);

async function serve(count: number): Promise<void> {
  for (let done = 0; done < count; done += sockets.length) {
    // A fresh chunk per read, as a socket delivers.
    for (const socket of sockets) socket.emit('data', Buffer.from(request));
    await nextTurn();
  }
}

await runTimed(`pipeline, ${kind}`, 200_000, serve);
if (bytesOut === 0) throw new Error('no response was written');
