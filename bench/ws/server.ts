/**
 * WebSocket echo server for the WebSocket benchmark: `hyperlane` (a route that echoes each
 * message through the Context) or `ws` (a bare `ws` WebSocketServer on node:http, the
 * baseline). Started with an IPC channel, it reports its memory (see `servers/cli.ts`), so the
 * runner can measure memory per connection.
 * Usage: `node .build/bench/ws/server.js [port] <hyperlane|ws>` (started by the runner).
 * @packageDocumentation
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { Server, type Context } from '../../src/index.js';
import { announceReady, BENCH_HOST, portFromArgs } from '../servers/cli.js';

const target = process.argv[3];

/** Echoes each message with its own type (a string body goes out as text), as `ws` does. */
async function echo(ctx: Context): Promise<void> {
  const text = ctx.getWsMessageType() === 'text';
  await ctx.setResponseBody(text ? ctx.getRequestBodyString() : ctx.getRequestBody()).sendBody();
}

async function startHyperlane(): Promise<number> {
  // Heartbeat off in both targets: the baseline has none, and pings would skew the numbers.
  const server = new Server({ host: BENCH_HOST, port: portFromArgs(), wsHeartbeat: false });
  server.get('/', echo);
  return (await server.run()).port;
}

function startWs(): Promise<number> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, clientTracking: false });
  wss.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data as Buffer, { binary: isBinary }));
  });
  return new Promise((resolve) => {
    http.listen(portFromArgs(), BENCH_HOST, () => {
      const address = http.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

if (target === 'hyperlane') announceReady(await startHyperlane());
else if (target === 'ws') announceReady(await startWs());
else throw new Error(`unknown target ${JSON.stringify(target)}: expected hyperlane or ws`);
