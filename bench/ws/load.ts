/**
 * WebSocket echo load generator, run in its own process: `clients` connections, each keeping
 * `window` messages in flight (it sends one for every echo received). After `warmup` seconds of
 * uncounted echoes it prints `start`, counts for `seconds`, and prints a JSON line
 * `{ messages, seconds, errors }`.
 * Usage: `node .build/bench/ws/load.js <port> <clients> <seconds> <window> [warmup]`.
 * @packageDocumentation
 */
import WebSocket from 'ws';

const [portText, clientsText, secondsText, windowText, warmupText] = process.argv.slice(2);
const port = Number(portText);
const clients = Number(clientsText ?? 100);
const seconds = Number(secondsText ?? 5);
const window = Number(windowText ?? 8);
const warmup = Number(warmupText ?? 0);
const PAYLOAD = Buffer.from('{"type":"chat","text":"hello, websocket benchmark"}');

function open(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

const sockets: WebSocket[] = [];
// Open in batches so the accept queue is never the bottleneck being measured.
for (let i = 0; i < clients; i += 100) {
  const batch = await Promise.all(Array.from({ length: Math.min(100, clients - i) }, open));
  sockets.push(...batch);
}

let received = 0;
let errors = 0;
let running = true;
for (const socket of sockets) {
  socket.on('message', () => {
    received++;
    if (running) socket.send(PAYLOAD, { binary: false });
  });
  socket.on('error', () => errors++);
  for (let i = 0; i < window; i++) socket.send(PAYLOAD, { binary: false });
}
if (warmup > 0) await new Promise((resolve) => setTimeout(resolve, warmup * 1000));
received = 0;
process.stdout.write('start\n');
const started = process.hrtime.bigint();
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
running = false;
const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
const messages = received;
process.stdout.write(`${JSON.stringify({ messages, seconds: elapsed, errors })}\n`);
for (const socket of sockets) socket.terminate();
process.exit(0);
