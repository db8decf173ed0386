/**
 * RFC 6455 §5 framing for the server side: what the opcodes are, which close codes are
 * legal, and how an outgoing (unmasked) frame is laid out.
 */

/** A continuation of a fragmented message. */
export const OP_CONTINUATION = 0x0;
/** A text message (or its first fragment). */
export const OP_TEXT = 0x1;
/** A binary message (or its first fragment). */
export const OP_BINARY = 0x2;
/** Starts or answers the closing handshake. */
export const OP_CLOSE = 0x8;
/** Asks the peer for a pong. */
export const OP_PING = 0x9;
/** Answers a ping (or is sent unasked as a heartbeat). */
export const OP_PONG = 0xa;

/** Close codes of RFC 6455 §7.4.1 that this server sends. */
export const CLOSE_NORMAL = 1000;
/** The endpoint is going away (server shutdown). */
export const CLOSE_GOING_AWAY = 1001;
/** The peer broke the protocol. */
export const CLOSE_PROTOCOL_ERROR = 1002;
/** The close frame carried no code. */
export const CLOSE_NO_STATUS = 1005;
/** The connection ended without a close frame. */
export const CLOSE_ABNORMAL = 1006;
/** A text message or close reason was not valid UTF-8. */
export const CLOSE_INVALID_PAYLOAD = 1007;
/** A message broke the server's policy (`ws`: too many fragments buffered). */
export const CLOSE_POLICY_VIOLATION = 1008;
/** A message was larger than the server accepts. */
export const CLOSE_TOO_BIG = 1009;
/** The server failed while handling the connection. */
export const CLOSE_INTERNAL_ERROR = 1011;

/** Largest payload of a control frame (§5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/**
 * Codes an endpoint may put in a close frame, and so the only ones it may receive:
 * 1000–1014 except 1004–1006, and 3000–4999 (§7.4).
 */
export function isSendableCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}

/** Bytes of the frame header that carries a payload of `length` bytes (server frames: no mask). */
export function frameHeaderLength(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

/**
 * Writes a final frame's header at the start of `target`.
 * @returns the header's length, where the payload starts
 */
export function writeFrameHeader(target: Buffer, opcode: number, length: number): number {
  target[0] = 0x80 | opcode;
  if (length < 126) {
    target[1] = length;
    return 2;
  }
  if (length < 0x10000) {
    target[1] = 126;
    target.writeUInt16BE(length, 2);
    return 4;
  }
  target[1] = 127;
  // Payloads are bounded far below 2^53, so the high word is an exact division.
  target.writeUInt32BE(Math.floor(length / 0x100000000), 2);
  target.writeUInt32BE(length >>> 0, 6);
  return 10;
}

/** One whole frame (header and payload in one buffer), ready for a single write. */
export function encodeFrame(opcode: number, payload: string | Uint8Array): Buffer {
  if (typeof payload === 'string') {
    const length = Buffer.byteLength(payload);
    const frame = Buffer.allocUnsafe(frameHeaderLength(length) + length);
    frame.write(payload, writeFrameHeader(frame, opcode, length), 'utf8');
    return frame;
  }
  const length = payload.byteLength;
  const frame = Buffer.allocUnsafe(frameHeaderLength(length) + length);
  frame.set(payload, writeFrameHeader(frame, opcode, length));
  return frame;
}

/** The payload of a close frame: the code, then the UTF-8 reason; empty for "no status". */
export function closePayload(code: number, reason: string): Buffer {
  if (code === CLOSE_NO_STATUS) return Buffer.alloc(0);
  const payload = Buffer.allocUnsafe(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2, 'utf8');
  return payload;
}

/**
 * Reverses the client's masking in place (§5.3): each payload byte XORed with the key byte at
 * its position modulo 4. The key is the four bytes at `keyAt`; the payload is [start, end).
 */
export function unmask(buffer: Buffer, keyAt: number, start: number, end: number): void {
  const k0 = buffer[keyAt]!;
  const k1 = buffer[keyAt + 1]!;
  const k2 = buffer[keyAt + 2]!;
  const k3 = buffer[keyAt + 3]!;
  let i = start;
  for (const last = end - 3; i < last; i += 4) {
    buffer[i] = buffer[i]! ^ k0;
    buffer[i + 1] = buffer[i + 1]! ^ k1;
    buffer[i + 2] = buffer[i + 2]! ^ k2;
    buffer[i + 3] = buffer[i + 3]! ^ k3;
  }
  for (; i < end; i++) buffer[i] = buffer[i]! ^ buffer[keyAt + ((i - start) & 3)]!;
}
