/**
 * RFC 6455 spoken by hand over `node:net`, for tests that need bytes a WebSocket library would
 * never send (unmasked frames, bad lengths, invalid UTF-8, split writes) or that check the
 * server's frames byte for byte.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { WebSocket, type ClientOptions } from 'ws';
import type { ServerConfig } from '../../src/index.js';
import { RawConnection, assertServing } from './raw-client.js';

/** One way the server frames WebSockets, for tests that run over both. */
export interface TransportMode {
  /** Shown in the test name. */
  name: string;
  /** What the server config needs for this framing. */
  config: Partial<ServerConfig>;
}

/**
 * Our own framing (the default), and the `ws` library's, which frames every connection once
 * `wsCompression` is configured (a client that offers no permessage-deflate gets none).
 */
export const TRANSPORT_MODES: readonly TransportMode[] = [
  { name: 'own framing', config: {} },
  { name: 'ws framing (wsCompression)', config: { wsCompression: {} } },
];

/** Opens a `ws` client; rejects on an error or a non-101 answer within 3 s. */
export async function openWs(
  url: string,
  protocols: string[] = [],
  options: ClientOptions = {},
): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, options);
  await once(ws, 'open', { signal: AbortSignal.timeout(3000) });
  return ws;
}

/**
 * The server still answers HTTP on `/`, and a fresh WebSocket to `url` (an echo route)
 * echoes.
 */
export async function assertWsAlive(port: number, url: string): Promise<void> {
  await assertServing(port, '/');
  const ws = await openWs(url, [], { perMessageDeflate: false });
  const reply = once(ws, 'message', { signal: AbortSignal.timeout(5000) });
  ws.send('still alive?');
  const [data] = (await reply) as [Buffer];
  assert.equal(data.toString(), 'still alive?', 'a fresh WebSocket echoes');
  const closed = once(ws, 'close', { signal: AbortSignal.timeout(3000) });
  ws.close();
  await closed;
}

/** The GUID RFC 6455 §1.3 hashes with the client's key to make Sec-WebSocket-Accept. */
export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** One frame as decoded from the wire (payload already unmasked). */
export interface Frame {
  fin: boolean;
  /** RSV1..RSV3 as a 3-bit number (RSV1 is 0x4). */
  rsv: number;
  opcode: number;
  masked: boolean;
  /** The 7-bit length field as sent: the length itself, or 126 / 127 for 16 / 64 bits. */
  lengthCode: number;
  payload: Buffer;
}

/** Continuation frame opcode. */
export const OP_CONT = 0x0;
/** Text frame opcode. */
export const OP_TEXT = 0x1;
/** Binary frame opcode. */
export const OP_BINARY = 0x2;
/** Close frame opcode. */
export const OP_CLOSE = 0x8;
/** Ping frame opcode. */
export const OP_PING = 0x9;
/** Pong frame opcode. */
export const OP_PONG = 0xa;

/**
 * One frame as a client would send it: masked with a random key unless `mask: false`, the
 * length in the shortest encoding, FIN set unless `fin: false`, `rsv` in bits 4–6.
 */
export function encodeFrame(
  opcode: number,
  payload: Buffer | string,
  options: { fin?: boolean; mask?: boolean; rsv?: number } = {},
): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const fin = options.fin ?? true;
  const mask = options.mask ?? true;
  const rsv = options.rsv ?? 0;
  const first = (fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | (opcode & 0x0f);
  let header: Buffer;
  if (data.length < 126) {
    header = Buffer.from([first, (mask ? 0x80 : 0) | data.length]);
  } else if (data.length < 65536) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = (mask ? 0x80 : 0) | 126;
    header.writeUInt16BE(data.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = (mask ? 0x80 : 0) | 127;
    header.writeBigUInt64BE(BigInt(data.length), 2);
  }
  if (!mask) return Buffer.concat([header, data]);
  const key = randomBytes(4);
  const masked = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) masked[i] = data[i]! ^ key[i % 4]!;
  return Buffer.concat([header, key, masked]);
}

/** The complete frames at the start of `buf`; an incomplete last frame is left out. */
export function parseFrames(buf: Buffer): Frame[] {
  const frames: Frame[] = [];
  let pos = 0;
  while (pos + 2 <= buf.length) {
    const b0 = buf[pos]!;
    const b1 = buf[pos + 1]!;
    const lengthCode = b1 & 0x7f;
    let length = lengthCode;
    let offset = pos + 2;
    if (length === 126) {
      if (offset + 2 > buf.length) break;
      length = buf.readUInt16BE(offset);
      offset += 2;
    } else if (length === 127) {
      if (offset + 8 > buf.length) break;
      length = Number(buf.readBigUInt64BE(offset));
      offset += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key: Buffer | null = null;
    if (masked) {
      if (offset + 4 > buf.length) break;
      key = buf.subarray(offset, offset + 4);
      offset += 4;
    }
    if (offset + length > buf.length) break;
    const payload: Buffer = Buffer.from(buf.subarray(offset, offset + length));
    if (key !== null)
      for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ key[i % 4]!;
    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 0x7,
      opcode: b0 & 0x0f,
      masked,
      lengthCode,
      payload,
    });
    pos = offset + length;
  }
  return frames;
}

/** The status code a close frame carries, or 1005 when its payload has none. */
export function closeCodeOf(frame: Frame): number {
  return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
}

/** The reason a close frame carries (UTF-8 after the code), '' when there is none. */
export function closeReasonOf(frame: Frame): string {
  return frame.payload.length > 2 ? frame.payload.subarray(2).toString('utf8') : '';
}

/** A raw handshake's outcome and the connection it was made on. */
export interface RawWs {
  conn: RawConnection;
  /** The handshake response's status (101 on success). */
  status: number;
  /** Response headers, lower-case names, repeated ones joined with ", ". */
  headers: Record<string, string>;
  /** The Sec-WebSocket-Key that was sent. */
  key: string;
  /** Frames the server sent after the handshake response. */
  frames(): Frame[];
  /** Waits for a frame matching `pred`; fails the test if none comes in time. */
  waitFrame(pred: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  /** Writes bytes (one or more frames, or any part of one) in a single write. */
  send(frame: Buffer): Promise<void>;
}

/**
 * Connects over `net` and sends a handshake: the standard headers, with `overrides` replacing
 * them (a value of null removes the header; a differently-cased name adds a second line).
 * Resolves once the response head arrived.
 */
export async function rawUpgrade(
  port: number,
  path: string,
  overrides: Record<string, string | null> = {},
  requestLine?: string,
): Promise<RawWs> {
  const key = randomBytes(16).toString('base64');
  const headers: Record<string, string | null> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': '13',
    ...overrides,
  };
  let text = `${requestLine ?? `GET ${path} HTTP/1.1`}\r\n`;
  for (const [name, value] of Object.entries(headers))
    if (value !== null) text += `${name}: ${value}\r\n`;
  text += '\r\n';
  const conn = await RawConnection.connect(port);
  await conn.write(text);
  const gotHead = await conn.waitUntil(() => conn.received.indexOf('\r\n\r\n') !== -1, 3000);
  assert.ok(
    gotHead,
    `a response head to the handshake; got ${JSON.stringify(conn.received.toString('latin1'))}`,
  );
  const headEnd = conn.received.indexOf('\r\n\r\n') + 4;
  const head = conn.received.subarray(0, headEnd).toString('latin1');
  const [statusLine, ...lines] = head.trimEnd().split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
  const parsed: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    parsed[name] = parsed[name] === undefined ? value : `${parsed[name]}, ${value}`;
  }
  const frames = (): Frame[] =>
    status === 101 ? parseFrames(conn.received.subarray(headEnd)) : [];
  return {
    conn,
    status,
    headers: parsed,
    key,
    frames,
    async waitFrame(pred, timeoutMs = 3000) {
      const ok = await conn.waitUntil(() => frames().some(pred), timeoutMs);
      const frame = frames().find(pred);
      assert.ok(
        ok && frame !== undefined,
        `expected frame; got ${JSON.stringify(frames().map((f) => [f.opcode, f.payload.toString('latin1')]))}`,
      );
      return frame;
    },
    send: (frame) => conn.write(frame),
  };
}

/** The Sec-WebSocket-Accept value a server must answer `key` with. */
export function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
}
