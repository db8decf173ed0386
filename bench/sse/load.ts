/**
 * SSE clients for the SSE scenario, run in their own process: opens `clients` EventSource-like
 * streams (`GET /events`, `Accept: text/event-stream`), prints `start` once all are open, then
 * for `seconds` counts the events delivered and the lag of each (receive time minus the send
 * time in its data). Prints a JSON line `{ events, seconds, lagP50, lagP99, errors }`.
 * Usage: `node .build/bench/sse/load.js <port> <clients> <seconds>`.
 * @packageDocumentation
 */
import { Agent, get, type IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';

const [portText, clientsText, secondsText] = process.argv.slice(2);
const port = Number(portText);
const clients = Number(clientsText ?? 1000);
const seconds = Number(secondsText ?? 5);
const agent = new Agent({ keepAlive: false, maxSockets: Infinity });

let measuring = false;
let events = 0;
let errors = 0;
const lags: number[] = [];
const T_FIELD = '"t":';

/** Counts each complete event (a block ending in a blank line) and records its lag. */
function onStream(response: IncomingMessage): void {
  let buffered = '';
  response.setEncoding('utf8');
  response.on('data', (chunk: string) => {
    buffered += chunk;
    let end = buffered.indexOf('\n\n');
    if (end === -1) return;
    const now = performance.timeOrigin + performance.now();
    let start = 0;
    while (end !== -1) {
      if (measuring) {
        const at = buffered.indexOf(T_FIELD, start);
        events++;
        if (at !== -1 && at < end)
          lags.push(now - parseFloat(buffered.slice(at + T_FIELD.length, end)));
      }
      start = end + 2;
      end = buffered.indexOf('\n\n', start);
    }
    buffered = buffered.slice(start);
  });
  response.on('error', () => errors++);
}

function open(): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = get(
      { host: '127.0.0.1', port, path: '/events', agent, headers: { accept: 'text/event-stream' } },
      (response) => {
        if (response.statusCode !== 200) {
          reject(new Error(`GET /events: status ${response.statusCode}`));
          return;
        }
        onStream(response);
        resolve();
      },
    );
    request.once('error', reject);
  });
}

// Batches of 100, so the accept queue never overflows.
for (let i = 0; i < clients; i += 100) {
  await Promise.all(Array.from({ length: Math.min(100, clients - i) }, open));
}
// Let the first events reach every client before counting, so all streams are flowing.
await new Promise((resolve) => setTimeout(resolve, 300));
measuring = true;
process.stdout.write('start\n');
const started = performance.now();
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
measuring = false;
const elapsed = (performance.now() - started) / 1000;
lags.sort((a, b) => a - b);
const percentile = (p: number): number =>
  lags[Math.min(lags.length - 1, Math.floor(lags.length * p))] ?? NaN;
process.stdout.write(
  `${JSON.stringify({ events, seconds: elapsed, lagP50: percentile(0.5), lagP99: percentile(0.99), errors })}\n`,
);
process.exit(0);
