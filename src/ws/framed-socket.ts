import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import {
  CLOSE_ABNORMAL,
  CLOSE_INVALID_PAYLOAD,
  CLOSE_NO_STATUS,
  CLOSE_POLICY_VIOLATION,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_TOO_BIG,
  MAX_CONTROL_PAYLOAD,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  closePayload,
  encodeFrame,
  frameHeaderLength,
  isSendableCloseCode,
  unmask,
  writeFrameHeader,
} from './frame.js';
import type { WsTransport, WsTransportEvents } from './transport.js';

/** How long a closing handshake may wait for the peer before the socket is destroyed. */
const CLOSE_TIMEOUT_MS = 30_000;
/**
 * How long the answer to a peer's close frame may wait for replies to the messages that came
 * before it (RFC 6455 §5.5.1 lets an endpoint finish what it is sending first).
 */
const CLOSE_ANSWER_GRACE_MS = 1_000;
/** Payloads up to this size are copied next to their header so a message is one write. */
const COPY_PAYLOAD_LIMIT = 16 * 1024;
const PING_FRAME = encodeFrame(OP_PING, Buffer.alloc(0));
/**
 * Most frames one message may span. Empty continuation frames add nothing to the message's
 * size, so without a count a peer could make us hold fragments without end (`ws` closes at
 * the same count with 1008).
 */
const MAX_FRAGMENTS = 16_384;

// Bits of FramedSocket.flags.
const CLOSE_SENT = 1 << 0;
const CLOSE_RECEIVED = 1 << 1;
/** A close frame arrived or the peer broke the protocol: further input is discarded. */
const IGNORE_INPUT = 1 << 2;
const READING_PAUSED = 1 << 3;
const SOCKET_CLOSED = 1 << 4;

const FRAMED = Symbol('hyperlane.framedSocket');
type FramedEmitter = Socket & { [FRAMED]?: FramedSocket };

function framedOf(socket: Socket): FramedSocket {
  return (socket as FramedEmitter)[FRAMED]!;
}

function onSocketData(this: Socket, chunk: Buffer): void {
  framedOf(this).onData(chunk);
}

function onSocketClose(this: Socket): void {
  framedOf(this).onSocketClosed();
}

function onSocketError(this: Socket): void {
  // The 'close' that follows reports the end; a write after the peer left lands here too.
  this.destroy();
}

function destroySocket(socket: Socket): void {
  socket.destroy();
}

function answerClose(framed: FramedSocket): void {
  framed.answerClose();
}

/** Input that ends inside a frame: kept until the frame's last byte arrives. */
class PartialFrame {
  readonly chunks: Buffer[];
  bytes: number;

  /**
   * @param needed - bytes (from the frame's start) before parsing can go on: the header's
   *   length while it is incomplete, then the whole frame's
   */
  constructor(
    first: Buffer,
    public readonly needed: number,
  ) {
    this.chunks = [first];
    this.bytes = first.length;
  }
}

/** The fragments of a message whose final frame has not arrived. */
class FragmentedMessage {
  readonly fragments: Buffer[];
  bytes: number;

  constructor(
    public readonly binary: boolean,
    first: Buffer,
  ) {
    this.fragments = [first];
    this.bytes = first.length;
  }
}

/**
 * RFC 6455 framing over one upgraded socket, server side: reads masked client frames
 * (joining fragments, answering pings, checking every rule of §5 and the UTF-8 of text),
 * writes unmasked frames, and runs the closing handshake. Idle, it holds nine fields and
 * three socket listeners: an open connection is counted in thousands.
 */
export class FramedSocket implements WsTransport {
  private readonly socket: Socket;
  private readonly events: WsTransportEvents;
  private readonly maxPayload: number;
  private flags = 0;
  /** The peer's close code (0 until its close frame arrives) and reason. */
  private receivedCode = 0;
  private receivedReason = '';
  private partial: PartialFrame | null = null;
  private message: FragmentedMessage | null = null;
  private closeTimer: NodeJS.Timeout | null = null;

  /**
   * @param socket - the upgraded socket; the 101 is already written and no other listener
   *   reads it
   * @param events - told of messages, protocol errors and the end
   * @param maxPayload - largest message accepted (all fragments); larger closes with 1009
   */
  constructor(socket: Socket, events: WsTransportEvents, maxPayload: number) {
    this.socket = socket;
    this.events = events;
    this.maxPayload = maxPayload;
  }

  /** Starts reading, first the bytes that came after the upgrade request. */
  start(head: Buffer): void {
    const socket = this.socket as FramedEmitter;
    socket[FRAMED] = this;
    // The peer's FIN ends the connection: our side ends too (read when the FIN arrives), with
    // no 'end' listener of our own beside the socket's.
    socket.allowHalfOpen = false;
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    if (head.length > 0) this.onData(head);
    socket.on('data', onSocketData);
  }

  // ---- WsTransport ---------------------------------------------------------------------------

  /** @inheritdoc */
  isOpen(): boolean {
    return (this.flags & (CLOSE_SENT | SOCKET_CLOSED)) === 0 && this.socket.writable;
  }

  /** @inheritdoc */
  bufferedAmount(): number {
    return this.socket.writableLength;
  }

  /** @inheritdoc */
  send(data: string | Uint8Array): void {
    const opcode = typeof data === 'string' ? OP_TEXT : OP_BINARY;
    if (typeof data === 'string' || data.byteLength <= COPY_PAYLOAD_LIMIT) {
      this.socket.write(encodeFrame(opcode, data));
      return;
    }
    // A large payload is written as is after its header (the socket gathers both in one writev
    // when corked) rather than copied.
    const header = Buffer.allocUnsafe(frameHeaderLength(data.byteLength));
    writeFrameHeader(header, opcode, data.byteLength);
    this.socket.write(header);
    this.socket.write(data);
  }

  /** @inheritdoc */
  ping(): void {
    this.socket.write(PING_FRAME);
  }

  /** @inheritdoc */
  close(code: number, reason: string): void {
    if ((this.flags & (CLOSE_SENT | SOCKET_CLOSED)) !== 0) return;
    this.flags |= CLOSE_SENT;
    const socket = this.socket;
    if (socket.writable) socket.write(encodeFrame(OP_CLOSE, closePayload(code, reason)));
    // Both close frames exchanged: the handshake is over and the TCP connection may end.
    if ((this.flags & CLOSE_RECEIVED) !== 0) socket.end();
    if (this.closeTimer !== null) clearTimeout(this.closeTimer); // a pending answer's grace
    this.closeTimer = setTimeout(destroySocket, CLOSE_TIMEOUT_MS, socket);
    this.closeTimer.unref();
  }

  /** @inheritdoc */
  terminate(): void {
    this.socket.destroy();
  }

  /** @inheritdoc Echoes the peer's close code and reason, then ends the connection. */
  answerClose(): void {
    if ((this.flags & (CLOSE_RECEIVED | CLOSE_SENT)) !== CLOSE_RECEIVED) return;
    if (this.closeTimer !== null) {
      clearTimeout(this.closeTimer);
      this.closeTimer = null;
    }
    this.close(this.receivedCode, this.receivedReason);
  }

  /** @inheritdoc */
  pauseReading(): void {
    this.flags |= READING_PAUSED;
    this.socket.pause();
  }

  /** @inheritdoc */
  resumeReading(): void {
    this.flags &= ~READING_PAUSED;
    this.socket.resume();
  }

  /** @inheritdoc */
  isReadingPaused(): boolean {
    return (this.flags & READING_PAUSED) !== 0;
  }

  // ---- input ---------------------------------------------------------------------------------

  /** @internal */
  onData(chunk: Buffer): void {
    if ((this.flags & IGNORE_INPUT) !== 0) return;
    let input = chunk;
    const partial = this.partial;
    if (partial !== null) {
      partial.chunks.push(chunk);
      partial.bytes += chunk.length;
      // Joined only once the frame (or header) is complete: one copy, however many reads it took.
      if (partial.bytes < partial.needed) return;
      this.partial = null;
      input = Buffer.concat(partial.chunks, partial.bytes);
    }
    // Replies that handlers send synchronously for the messages of this read go out together.
    const socket = this.socket;
    socket.cork();
    try {
      this.parse(input);
    } finally {
      socket.uncork();
    }
  }

  /** Handles every complete frame in `input`; keeps an incomplete last one for later. */
  private parse(input: Buffer): void {
    const end = input.length;
    let offset = 0;
    while (offset < end) {
      if ((this.flags & IGNORE_INPUT) !== 0) return;
      const available = end - offset;
      if (available < 2) {
        this.keep(input, offset, 2);
        return;
      }
      const first = input[offset]!;
      const second = input[offset + 1]!;
      const lengthCode = second & 0x7f;
      const headerLength = lengthCode < 126 ? 2 : lengthCode === 126 ? 4 : 10;
      if (available < headerLength) {
        this.keep(input, offset, headerLength);
        return;
      }
      const opcode = first & 0x0f;
      const final = (first & 0x80) !== 0;
      let length = lengthCode;
      if (lengthCode === 126) length = input.readUInt16BE(offset + 2);
      else if (lengthCode === 127) {
        const high = input.readUInt32BE(offset + 2);
        // Beyond 2^53 - 1 the length cannot be represented, let alone accepted.
        if (high > 0x1fffff) return this.fail(CLOSE_TOO_BIG);
        length = high * 0x100000000 + input.readUInt32BE(offset + 6);
      }
      const problem = this.checkFrame(first, second, opcode, final, length);
      if (problem !== 0) return this.fail(problem);
      const frameLength = headerLength + 4 + length;
      if (available < frameLength) {
        this.keep(input, offset, frameLength);
        return;
      }
      const keyAt = offset + headerLength;
      const payloadAt = keyAt + 4;
      offset += frameLength;
      unmask(input, keyAt, payloadAt, offset);
      this.onFrame(opcode, final, input.subarray(payloadAt, offset));
    }
  }

  /**
   * Keeps the incomplete frame at `offset` (copied, so one stalled frame does not pin a whole
   * read buffer) until `needed` bytes of it are here.
   */
  private keep(input: Buffer, offset: number, needed: number): void {
    this.partial = new PartialFrame(Buffer.from(input.subarray(offset)), needed);
  }

  /**
   * Checks a frame's header against §5.2–§5.5 and the message limit.
   * @returns 0 if acceptable, else the close code to fail with
   */
  private checkFrame(
    first: number,
    second: number,
    opcode: number,
    final: boolean,
    length: number,
  ): number {
    // No extension is negotiated on this transport, so every reserved bit must be clear.
    if ((first & 0x70) !== 0) return CLOSE_PROTOCOL_ERROR;
    // A client must mask every frame it sends (§5.1).
    if ((second & 0x80) === 0) return CLOSE_PROTOCOL_ERROR;
    if (opcode >= OP_CLOSE) {
      if (opcode > OP_PONG) return CLOSE_PROTOCOL_ERROR;
      // Control frames are short, so their length always fits the 7-bit field (§5.2 asks for
      // the shortest encoding), and never fragmented (§5.5).
      if (!final || (second & 0x7f) > MAX_CONTROL_PAYLOAD) return CLOSE_PROTOCOL_ERROR;
      return 0;
    }
    if (opcode > OP_BINARY) return CLOSE_PROTOCOL_ERROR;
    const message = this.message;
    if (opcode === OP_CONTINUATION) {
      if (message === null) return CLOSE_PROTOCOL_ERROR; // nothing to continue
    } else if (message !== null) {
      return CLOSE_PROTOCOL_ERROR; // a new message before the last one's final fragment
    }
    if (message !== null && message.fragments.length >= MAX_FRAGMENTS)
      return CLOSE_POLICY_VIOLATION;
    const soFar = message === null ? 0 : message.bytes;
    return soFar + length > this.maxPayload ? CLOSE_TOO_BIG : 0;
  }

  private onFrame(opcode: number, final: boolean, payload: Buffer): void {
    switch (opcode) {
      case OP_TEXT:
      case OP_BINARY:
        if (final) this.deliver(payload, opcode === OP_BINARY);
        else this.message = new FragmentedMessage(opcode === OP_BINARY, payload);
        return;
      case OP_CONTINUATION: {
        const message = this.message!;
        message.fragments.push(payload);
        message.bytes += payload.length;
        if (!final) return;
        this.message = null;
        this.deliver(Buffer.concat(message.fragments, message.bytes), message.binary);
        return;
      }
      case OP_PING:
        // A peer that sends pings but does not read would fill our write buffer with pongs:
        // while the socket waits to drain, pings go unanswered (answering only the latest
        // ping is allowed, §5.5.3).
        if (this.isOpen() && !this.socket.writableNeedDrain) {
          this.socket.write(encodeFrame(OP_PONG, payload));
        }
        return;
      case OP_CLOSE:
        this.onCloseFrame(payload);
        return;
      default:
        return; // a pong: the heartbeat counts received bytes, not pongs
    }
  }

  private deliver(data: Buffer, binary: boolean): void {
    if (!binary && !isUtf8(data)) {
      this.fail(CLOSE_INVALID_PAYLOAD);
      return;
    }
    this.events.onMessage(data, binary);
  }

  private onCloseFrame(payload: Buffer): void {
    let code = CLOSE_NO_STATUS;
    let reason = '';
    if (payload.length > 0) {
      if (payload.length === 1) return this.fail(CLOSE_PROTOCOL_ERROR);
      code = payload.readUInt16BE(0);
      if (!isSendableCloseCode(code)) return this.fail(CLOSE_PROTOCOL_ERROR);
      const reasonBytes = payload.subarray(2);
      if (!isUtf8(reasonBytes)) return this.fail(CLOSE_INVALID_PAYLOAD);
      reason = reasonBytes.toString('utf8');
    }
    this.flags |= CLOSE_RECEIVED | IGNORE_INPUT;
    this.receivedCode = code;
    this.receivedReason = reason;
    this.message = null;
    if ((this.flags & CLOSE_SENT) !== 0) {
      this.socket.end(); // ours went first: the handshake is over
    } else if (this.events.onPeerClosing()) {
      this.answerClose();
    } else {
      // Replies to earlier messages are still under way: they go first, for a short while.
      this.closeTimer = setTimeout(answerClose, CLOSE_ANSWER_GRACE_MS, this);
      this.closeTimer.unref();
    }
    // Input is discarded from now on; reading on lets the peer's FIN close the socket.
    if ((this.flags & READING_PAUSED) !== 0) this.resumeReading();
  }

  /**
   * Fails the connection (§7.1.7): sends a close frame with `code`, ends our side of the TCP
   * connection and discards whatever else arrives. Reading goes on until the peer's FIN (or the
   * close timeout): closing with unread input would reset the connection, and the peer might
   * lose the close frame.
   */
  private fail(code: number): void {
    this.flags |= IGNORE_INPUT;
    this.partial = null;
    this.message = null;
    this.events.onProtocolError(code);
    this.close(code, '');
    this.socket.end();
    if ((this.flags & READING_PAUSED) !== 0) this.resumeReading();
  }

  /** @internal */
  onSocketClosed(): void {
    if ((this.flags & SOCKET_CLOSED) !== 0) return;
    this.flags |= SOCKET_CLOSED | IGNORE_INPUT;
    this.partial = null;
    this.message = null;
    if (this.closeTimer !== null) {
      clearTimeout(this.closeTimer);
      this.closeTimer = null;
    }
    const code = this.receivedCode === 0 ? CLOSE_ABNORMAL : this.receivedCode;
    this.events.onTransportClosed(code, this.receivedReason);
  }
}
