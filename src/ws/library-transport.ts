import type { WebSocket } from 'ws';
import {
  CLOSE_INVALID_PAYLOAD,
  CLOSE_POLICY_VIOLATION,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_TOO_BIG,
} from './frame.js';
import type { WsTransport, WsTransportEvents } from './transport.js';

const OPEN = 1;
const EVENTS = Symbol('hyperlane.wsEvents');
// Shared send options, never mutated: one object per message would be garbage.
const TEXT = { binary: false } as const;
const BINARY = { binary: true } as const;
type EventsEmitter = WebSocket & { [EVENTS]?: WsTransportEvents };

function eventsOf(webSocket: WebSocket): WsTransportEvents {
  return (webSocket as EventsEmitter)[EVENTS]!;
}

function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function onMessage(this: WebSocket, data: Buffer | ArrayBuffer | Buffer[], binary: boolean): void {
  eventsOf(this).onMessage(toBuffer(data), binary);
}

function onClose(this: WebSocket, code: number, reason: Buffer): void {
  eventsOf(this).onTransportClosed(code, reason.toString('utf8'));
}

function onError(this: WebSocket, error: Error & { code?: string }): void {
  const code = closeCodeForError(error.code);
  if (code !== 0) eventsOf(this).onProtocolError(code);
}

/** The close code `ws` sends for one of its receive errors (RFC 6455 §7.4.1). */
function closeCodeForError(code: string | undefined): number {
  if (code === undefined || !code.startsWith('WS_ERR_')) return 0; // a socket error, not a protocol one
  switch (code) {
    case 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH':
    case 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH':
      return CLOSE_TOO_BIG;
    case 'WS_ERR_INVALID_UTF8':
      return CLOSE_INVALID_PAYLOAD;
    case 'WS_ERR_TOO_MANY_BUFFERED_PARTS':
      return CLOSE_POLICY_VIOLATION;
    default:
      return CLOSE_PROTOCOL_ERROR;
  }
}

/**
 * A connection framed by the `ws` library: used where permessage-deflate is enabled, since
 * compression is the one part of the protocol our own framing leaves to it.
 */
export class LibraryTransport implements WsTransport {
  private readonly webSocket: WebSocket;

  constructor(webSocket: WebSocket, events: WsTransportEvents) {
    this.webSocket = webSocket;
    (webSocket as EventsEmitter)[EVENTS] = events;
    webSocket.on('message', onMessage);
    webSocket.on('close', onClose);
    webSocket.on('error', onError);
  }

  /** @inheritdoc */
  isOpen(): boolean {
    return this.webSocket.readyState === OPEN;
  }

  /** @inheritdoc */
  bufferedAmount(): number {
    return this.webSocket.bufferedAmount;
  }

  /** @inheritdoc */
  send(data: string | Uint8Array): void {
    this.webSocket.send(data, typeof data === 'string' ? TEXT : BINARY);
  }

  /** @inheritdoc */
  ping(): void {
    this.webSocket.ping();
  }

  /** @inheritdoc */
  close(code: number, reason: string): void {
    if (this.webSocket.readyState === OPEN) this.webSocket.close(code, reason);
  }

  /** @inheritdoc */
  terminate(): void {
    this.webSocket.terminate();
  }

  /** @inheritdoc */
  pauseReading(): void {
    this.webSocket.pause();
  }

  /** @inheritdoc */
  resumeReading(): void {
    this.webSocket.resume();
  }

  /** @inheritdoc */
  isReadingPaused(): boolean {
    return this.webSocket.isPaused;
  }

  /** @inheritdoc `ws` answers close frames at once by itself: nothing is deferred. */
  answerClose(): void {}
}
