/**
 * What a WebSocket session needs from whatever frames its socket: our own framing
 * (`FramedSocket`) for plain connections, the `ws` library where permessage-deflate is on.
 */
export interface WsTransport {
  /** Messages may still be sent: no close frame sent or received, the socket writable. */
  isOpen(): boolean;
  /** Bytes handed to the socket and not yet written to the kernel. */
  bufferedAmount(): number;
  /** Sends one message: text for a string, binary for bytes. */
  send(data: string | Uint8Array): void;
  /** Sends an empty ping (the heartbeat). */
  ping(): void;
  /** Starts the closing handshake with `code` and `reason`; later calls do nothing. */
  close(code: number, reason: string): void;
  /** Drops the connection without a closing handshake. */
  terminate(): void;
  /** Stops reading the socket (too many messages wait). */
  pauseReading(): void;
  /** Reads the socket again. */
  resumeReading(): void;
  /** Whether reading is paused. */
  isReadingPaused(): boolean;
  /** Answers a close frame whose answer `onPeerClosing()` deferred; later calls do nothing. */
  answerClose(): void;
}

/** Where a transport delivers what happens on its connection. */
export interface WsTransportEvents {
  /** One whole message (fragments joined; text already checked to be UTF-8). */
  onMessage(data: Buffer, isBinary: boolean): void;
  /**
   * A close frame arrived. Return true to have it answered at once, false to answer it later
   * with `answerClose()` (replies to messages that came before it are still under way); the
   * transport answers by itself after a short grace all the same.
   */
  onPeerClosing(): boolean;
  /** The peer broke the protocol; the transport is closing with `code` (1002, 1007, 1009). */
  onProtocolError(code: number): void;
  /**
   * The socket has closed. `code` is the peer's close code, 1005 for a close frame without
   * one, 1006 when no close frame arrived.
   */
  onTransportClosed(code: number, reason: string): void;
}
