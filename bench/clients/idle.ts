/**
 * Idle clients for the memory scenarios, run in their own process: opens `count` connections
 * (`http`: keep-alive sockets that each made one `GET /` and then stay idle; `ws`: WebSocket
 * connections), prints `open`, and waits until stdin closes. It then prints a JSON line
 * `{ closedEarly }`: connections the server closed meanwhile, which would make the
 * measurement wrong.
 * Usage: `node .build/bench/clients/idle.js <http|ws> <port> <count>`.
 * @packageDocumentation
 */
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';

const [kind, portText, countText] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
let closedEarly = 0;
let done = false;

function onEarlyClose(): void {
  if (!done) closedEarly++;
}

/** A keep-alive socket that has made one request and read its whole response. */
function openHttp(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('latin1');
    socket.once('connect', () => socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
    socket.on('data', function onData(chunk: string) {
      received += chunk;
      // The plaintext answer is small; its body ends the response.
      if (!received.endsWith('Hello World')) return;
      socket.off('data', onData);
      socket.once('close', onEarlyClose);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

function openWs(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    socket.once('open', () => {
      socket.once('close', onEarlyClose);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

const open: () => Promise<Socket | WebSocket> = kind === 'ws' ? openWs : openHttp;
const connections: (Socket | WebSocket)[] = [];
// Batches of 100, so the accept queue never overflows.
for (let i = 0; i < count; i += 100) {
  connections.push(...(await Promise.all(Array.from({ length: Math.min(100, count - i) }, open))));
}
process.stdout.write('open\n');
process.stdin.resume();
process.stdin.on('end', () => {
  done = true;
  process.stdout.write(`${JSON.stringify({ closedEarly })}\n`);
  for (const c of connections) {
    if (c instanceof WebSocket) c.terminate();
    else c.destroy();
  }
  process.exit(0);
});
