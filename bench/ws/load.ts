/**
 * WebSocket echo load generator, run in its own process: `clients` connections, each keeping
 * `window` messages in flight (it sends one for every echo received). After `warmup` seconds of
 * uncounted echoes it prints `start`, counts for `seconds`, and prints a JSON line
 * `{ messages, seconds, errors }`.
 *
 * It speaks RFC 6455 over raw `node:net` sockets, the way wrk speaks HTTP: the handshake is
 * checked once per connection (status 101 and the `Sec-WebSocket-Accept` the key implies), and
 * after it every message is one masked text frame built at startup. A full client library
 * (`ws`) spends more CPU per message than either server under test, so with it the generator,
 * not the server, set the rate. Every echoed frame is still checked, header and payload, and
 * any other byte counts as an error (which fails the cell).
 * Usage: `node .build/bench/ws/load.js <port> <clients> <seconds> <window> [warmup]`.
 * @packageDocumentation
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

const [portText, clientsText, secondsText, windowText, warmupText] = process.argv.slice(2);
const port = Number(portText);
const clients = Number(clientsText ?? 100);
const seconds = Number(secondsText ?? 5);
const window = Number(windowText ?? 8);
const warmup = Number(warmupText ?? 0);
const PAYLOAD = Buffer.from('{"type":"chat","text":"hello, websocket benchmark"}');

const FIN_TEXT = 0x81;
const MASKED = 0x80;
const HEAD_END = Buffer.from('\r\n\r\n');
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** One client frame: FIN + text, masked with a key drawn once (servers cannot tell). */
function maskedFrame(payload: Buffer): Buffer {
  if (payload.length > 125) throw new Error('the benchmark payload must fit a 7-bit length');
  const mask = randomBytes(4);
  const frame = Buffer.alloc(6 + payload.length);
  frame[0] = FIN_TEXT;
  frame[1] = MASKED | payload.length;
  mask.copy(frame, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i]! ^ mask[i & 3]!;
  return frame;
}

const FRAME = maskedFrame(PAYLOAD);
// The server's echo: unmasked, so its bytes are known in advance too.
const ECHO = Buffer.concat([Buffer.from([FIN_TEXT, PAYLOAD.length]), PAYLOAD]);

let received = 0;
let errors = 0;
let running = true;

/** One connection after its handshake: counts whole echoes, answers each with a frame. */
class EchoClient {
  /** Bytes of an echo split across reads, kept until the rest arrives. */
  private partial = 0;

  constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  private onData(chunk: Buffer): void {
    let offset = 0;
    let echoes = 0;
    if (this.partial > 0) {
      const rest = Math.min(ECHO.length - this.partial, chunk.length);
      if (chunk.compare(ECHO, this.partial, this.partial + rest, 0, rest) !== 0) return this.fail();
      this.partial += rest;
      offset = rest;
      if (this.partial < ECHO.length) return;
      this.partial = 0;
      echoes++;
    }
    while (offset + ECHO.length <= chunk.length) {
      if (chunk.compare(ECHO, 0, ECHO.length, offset, offset + ECHO.length) !== 0) {
        return this.fail();
      }
      offset += ECHO.length;
      echoes++;
    }
    const tail = chunk.length - offset;
    if (tail > 0) {
      if (chunk.compare(ECHO, 0, tail, offset, chunk.length) !== 0) return this.fail();
      this.partial = tail;
    }
    received += echoes;
    if (running && echoes > 0) this.send(echoes);
  }

  send(frames: number): void {
    // One write per message, as a browser sends them: the server sees each as its own segment
    // rather than a batch it could answer with one write.
    for (let i = 0; i < frames; i++) this.socket.write(FRAME);
  }

  private fail(): void {
    errors++;
    this.socket.destroy();
  }
}

/** The value of header `name` (lower case) among a response's header lines. */
function headerValue(lines: readonly string[], name: string): string | undefined {
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name) {
      return line.slice(colon + 1).trim();
    }
  }
  return undefined;
}

/** Opens a connection and completes the handshake, checking the server's accept key. */
function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const accept = createHash('sha1')
      .update(key + WS_GUID)
      .digest('base64');
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let head = Buffer.alloc(0);
    socket.once('connect', () => {
      socket.write(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on('data', function onHead(chunk: Buffer) {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf(HEAD_END);
      if (end === -1) return;
      socket.off('data', onHead);
      const [status = '', ...fields] = head.subarray(0, end).toString('latin1').split('\r\n');
      if (
        !status.startsWith('HTTP/1.1 101 ') ||
        headerValue(fields, 'sec-websocket-accept') !== accept
      ) {
        socket.destroy();
        reject(new Error(`handshake refused: ${status}`));
        return;
      }
      // The server sends nothing before the first echo, so no frame bytes follow the head.
      if (head.length > end + HEAD_END.length) {
        socket.destroy();
        reject(new Error('unexpected bytes after the handshake'));
        return;
      }
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

const sockets: Socket[] = [];
// Open in batches so the accept queue is never the bottleneck being measured.
for (let i = 0; i < clients; i += 100) {
  const batch = await Promise.all(Array.from({ length: Math.min(100, clients - i) }, open));
  sockets.push(...batch);
}
for (const socket of sockets) {
  socket.on('error', () => errors++);
  new EchoClient(socket).send(window);
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
for (const socket of sockets) socket.destroy();
process.exit(0);
