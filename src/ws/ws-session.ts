import type { Socket } from 'node:net';
import type { Context } from '../context/context.js';
import type {
  ResponseChannel,
  ServerStats,
  SocketAddress,
  WsMessage,
} from '../context/response-channel.js';
import { HyperlaneError, peerGoneError } from '../error/hyperlane-error.js';
import { DrainWaiters, noop, RESOLVED } from '../util/drain-waiters.js';
import { socketAddress } from '../util/socket-address.js';
import { ChainRunner } from '../lifecycle/chain-runner.js';
import type { Handler, Pipeline } from '../lifecycle/pipeline.js';
import { EMPTY_BODY } from '../http/parsed-request.js';
import {
  CLOSE_ABNORMAL,
  CLOSE_GOING_AWAY,
  CLOSE_INTERNAL_ERROR,
  CLOSE_NORMAL,
  isSendableCloseCode,
} from './frame.js';
import type { WsTransport, WsTransportEvents } from './transport.js';

/** Runs once when a WebSocket connection ends, with the close code and reason. */
export type WsClosedHook = (ctx: Context, code: number, reason: string) => unknown;

/** What every session of a server shares: hooks, pipeline and limits. */
export interface WsSessionSettings {
  /** The compiled middleware chain (run per message). */
  readonly pipeline: Pipeline;
  /** `onWsConnected` hooks. */
  readonly connectedHooks: readonly Handler[];
  /** `onWsClosed` hooks. */
  readonly closedHooks: readonly WsClosedHook[];
  /** Unprocessed incoming bytes past which reading pauses (`wsBufferSize`). */
  readonly readBufferSize: number;
  /** Outgoing bytes buffered past which `sendBody()` waits for the socket to drain. */
  readonly writeHighWater: number;
  /** Reports errors thrown by hooks. */
  readonly logError: (message: string, error: unknown) => void;
}

/** What a session needs from its server once it has left the HTTP connection behind. */
export interface WsHost {
  /** Live connection counts. */
  serverStats(): ServerStats;
  /** Called once when the session's socket has closed. */
  forgetWebSocket(session: WsSession): void;
}

// Bits of WsSession.flags.
const HANDLER_MODE = 1 << 0;
const READY = 1 << 1;
const PROCESSING = 1 << 2;
const ENDED = 1 << 3;
const CORKED = 1 << 4;
const PEER_CLOSING = 1 << 5;

const SESSION = Symbol('hyperlane.wsSession');
type SessionEmitter = { [SESSION]?: WsSession };

function onSocketDrain(this: Socket): void {
  (this as SessionEmitter)[SESSION]!.onDrain();
}

/**
 * What a waiting message counts against `wsBufferSize`: its bytes plus what holding it costs,
 * so a flood of empty messages fills the queue too.
 */
const QUEUED_MESSAGE_OVERHEAD = 128;

function queuedCost(message: QueuedMessage): number {
  return message.data.length + QUEUED_MESSAGE_OVERHEAD;
}

/**
 * `data` itself, or a copy when it is a small slice of a much larger read buffer: a waiting
 * message should not keep a whole read alive.
 */
function ownBytes(data: Buffer): Buffer {
  return data.length * 2 < data.buffer.byteLength ? Buffer.from(data) : data;
}

class QueuedMessage implements WsMessage {
  readonly type: 'text' | 'binary';
  readonly data: Buffer;

  constructor(data: Buffer, isBinary: boolean) {
    this.data = data;
    this.type = isBinary ? 'binary' : 'text';
  }

  text(): string {
    return this.data.toString('utf8');
  }
}

/**
 * One WebSocket connection and its one Context. Messages are handled strictly one at a time
 * (request middleware → route → response middleware each), in arrival order; reading pauses
 * while too many unprocessed bytes wait. With the route's hook disabled, the handler runs once
 * and pulls messages itself through `ctx.wsMessages()`.
 */
function uncork(session: WsSession): void {
  session.uncork();
}

export class WsSession implements ResponseChannel, WsTransportEvents {
  private readonly ctx: Context;
  private readonly route: Handler;
  private readonly settings: WsSessionSettings;
  private readonly socket: Socket;
  private readonly host: WsHost;
  /** The peer's address, kept once asked for: it stays readable after the socket is gone. */
  private remote: SocketAddress | undefined | null = null;
  private transport: WsTransport | null = null;
  /** Messages waiting their turn; made when one first has to wait, dropped once drained. */
  private queue: QueuedMessage[] | null = null;
  private queuedBytes = 0;
  private waitingForMessage: ((message: QueuedMessage | undefined) => void) | null = null;
  private drain: DrainWaiters | null = null;
  /** Runs each message's chain; made on the first message. */
  private runner: ChainRunner | null = null;
  /** Bytes received by the previous heartbeat; -1 before the first. */
  private bytesReadAtPing = -1;
  /** The boolean states below, one bit each (idle sessions are counted in thousands). */
  private flags = 0;
  /** @internal The code we closed with, or a protocol error forced: reported when the peer's is missing. */
  localCloseCode = 0;

  /**
   * @param ctx - the Context of the upgrade request; it lives as long as the connection
   * @param route - the matched route handler
   * @param handlerMode - run the handler once (the route's WebSocket hook is disabled)
   * @param settings - shared hooks, pipeline and limits
   * @param socket - the upgraded socket, whose HTTP listeners are already removed
   * @param host - the server, told when the socket closes
   */
  constructor(
    ctx: Context,
    route: Handler,
    handlerMode: boolean,
    settings: WsSessionSettings,
    socket: Socket,
    host: WsHost,
  ) {
    this.ctx = ctx;
    this.route = route;
    this.handlerMode = handlerMode;
    this.settings = settings;
    this.socket = socket;
    this.host = host;
    ctx._request.compact(); // the upgrade request lives as long as the connection
  }

  /** The route's hook is disabled: the handler runs once and reads messages itself. */
  private get handlerMode(): boolean {
    return (this.flags & HANDLER_MODE) !== 0;
  }
  private set handlerMode(on: boolean) {
    this.flags = on ? this.flags | HANDLER_MODE : this.flags & ~HANDLER_MODE;
  }

  /** The `onWsConnected` hooks are done: messages may run. */
  private get ready(): boolean {
    return (this.flags & READY) !== 0;
  }
  private set ready(on: boolean) {
    this.flags = on ? this.flags | READY : this.flags & ~READY;
  }

  /** A message's chain is suspended: later messages wait. */
  private get processing(): boolean {
    return (this.flags & PROCESSING) !== 0;
  }
  private set processing(on: boolean) {
    this.flags = on ? this.flags | PROCESSING : this.flags & ~PROCESSING;
  }

  /** The WebSocket has closed. */
  private get ended(): boolean {
    return (this.flags & ENDED) !== 0;
  }
  private set ended(on: boolean) {
    this.flags = on ? this.flags | ENDED : this.flags & ~ENDED;
  }

  /** The socket is corked while replies batch (see `sendChunk()` and `uncorkIfIdle()`). */
  private get corked(): boolean {
    return (this.flags & CORKED) !== 0;
  }
  private set corked(on: boolean) {
    this.flags = on ? this.flags | CORKED : this.flags & ~CORKED;
  }

  /** The peer's close frame waits for the replies to earlier messages (`onPeerClosing()`). */
  private get peerClosing(): boolean {
    return (this.flags & PEER_CLOSING) !== 0;
  }
  private set peerClosing(on: boolean) {
    this.flags = on ? this.flags | PEER_CLOSING : this.flags & ~PEER_CLOSING;
  }

  /** Takes over once the handshake is complete and `transport` frames the socket. */
  attach(transport: WsTransport): void {
    this.transport = transport;
    const ctx = this.ctx;
    ctx._channel = this;
    ctx._webSocket = true;
    ctx._sent = true;
    ctx._keepAlive = false;
    void this.start();
  }

  /**
   * Sends a ping, or terminates a peer from which nothing (not even the pong to the previous
   * ping) arrived since the last heartbeat. Counting received bytes rather than listening for
   * pongs spares every connection a listener, and any traffic shows the peer is alive.
   */
  heartbeat(): void {
    const transport = this.transport;
    // A peer whose close waits for our replies sends nothing more; the grace bounds the wait.
    if (transport === null || !transport.isOpen() || this.peerClosing) return;
    const bytesRead = this.socket.bytesRead;
    // While we are not reading (messages wait for a slow handler), silence is ours, not the peer's.
    if (bytesRead === this.bytesReadAtPing && !transport.isReadingPaused()) {
      transport.terminate();
      return;
    }
    this.bytesReadAtPing = bytesRead;
    transport.ping();
  }

  /** Graceful server close: tell the peer we are going away (1001). */
  shutdown(): void {
    // A peer already closing gets its own close answered rather than our 1001.
    if (this.peerClosing) this.transport?.answerClose();
    else this.close(CLOSE_GOING_AWAY, 'server shutting down');
  }

  /** Drops the connection at once (a close that outlasted its deadline). */
  destroy(): void {
    this.socket.destroy();
  }

  private close(code: number, reason: string): void {
    const transport = this.transport;
    if (transport === null || !transport.isOpen()) return;
    if (this.localCloseCode === 0) this.localCloseCode = code;
    transport.close(code, reason);
  }

  // ---- ResponseChannel -----------------------------------------------------------------------

  /** @inheritdoc */
  sendResponse(ctx: Context): boolean {
    if (this.isPeerGone()) return false;
    this.sendChunk(ctx, ctx._body).catch(noop);
    return true;
  }

  /** @inheritdoc */
  sendChunk(_ctx: Context, data: string | Uint8Array): Promise<void> {
    const transport = this.transport;
    if (transport === null || !transport.isOpen()) {
      return Promise.reject(peerGoneError('the WebSocket is closed'));
    }
    if (
      transport.bufferedAmount() > this.settings.writeHighWater &&
      this.socket.writableNeedDrain
    ) {
      // The peer reads slowly: hold this message until the socket drains, then send it.
      return this.waitForDrain().then(() => this.sendChunk(_ctx, data));
    }
    if (!this.corked) {
      // The replies to a burst of messages that arrived in one read leave in one write: the
      // socket stays corked until the session has no message left to run (`uncorkIfIdle()`),
      // or, for a handler still waiting on other work, until this turn's I/O is done.
      this.corked = true;
      this.socket.cork();
      setImmediate(uncork, this);
    }
    transport.send(data);
    return RESOLVED;
  }

  /** @internal Ends the batching `sendChunk()` started, if it has not ended yet. */
  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  /** Writes what the messages run so far have sent, once none is left running or waiting. */
  private uncorkIfIdle(): void {
    if (this.processing || this.queue !== null) return;
    if (this.corked) this.uncork();
    this.answerCloseIfDone();
  }

  /** Answers a deferred close once no reply is left to send (none running, queued or held). */
  private answerCloseIfDone(): void {
    if (!this.peerClosing || this.processing || this.queue !== null) return;
    if (this.drain !== null && this.drain.pending) return; // replies wait for the socket to drain
    this.transport?.answerClose();
  }

  /** @inheritdoc */
  endStream(_ctx: Context, code?: number, reason?: string): Promise<void> {
    const closeCode = code ?? CLOSE_NORMAL;
    const closeReason = reason ?? '';
    if (!isSendableCloseCode(closeCode)) {
      return Promise.reject(
        new HyperlaneError(
          'HL_ERR_WS_INVALID',
          `${closeCode} is not a close code an endpoint may send (RFC 6455 §7.4)`,
        ),
      );
    }
    if (Buffer.byteLength(closeReason) > 123) {
      return Promise.reject(
        new HyperlaneError('HL_ERR_WS_INVALID', 'a close reason must fit in 123 bytes'),
      );
    }
    this.close(closeCode, closeReason);
    return RESOLVED;
  }

  /** @inheritdoc */
  flush(): Promise<void> {
    return this.socket.writableNeedDrain ? this.waitForDrain() : RESOLVED;
  }

  /** @inheritdoc */
  isPeerGone(): boolean {
    return this.transport === null || !this.transport.isOpen();
  }

  /** @inheritdoc */
  remoteAddress(): SocketAddress | undefined {
    if (this.remote === null) {
      const { remoteAddress: address, remotePort: port, remoteFamily: family } = this.socket;
      this.remote = socketAddress(address, port, family);
    }
    return this.remote;
  }

  /** @inheritdoc */
  isSecure(): boolean {
    return 'encrypted' in this.socket;
  }

  /** @inheritdoc */
  serverStats(): ServerStats {
    return this.host.serverStats();
  }

  /** @inheritdoc */
  localAddress(): SocketAddress | undefined {
    const { localAddress: address, localPort: port, localFamily: family } = this.socket;
    return socketAddress(address, port, family);
  }

  /** @inheritdoc */
  nextMessage(): Promise<WsMessage | undefined> {
    const queued = this.dequeue();
    if (queued !== undefined) {
      this.consumed(queued);
      return Promise.resolve(queued);
    }
    if (this.ended) return Promise.resolve(undefined);
    if (this.waitingForMessage !== null) {
      // Two readers would race for each message; the first would wait forever. Refuse the second.
      return Promise.reject(
        new HyperlaneError(
          'HL_ERR_SERVER_STATE',
          'ctx.wsMessages() is already being read on this connection',
        ),
      );
    }
    return new Promise((resolve) => {
      this.waitingForMessage = resolve;
    });
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  private async start(): Promise<void> {
    const ctx = this.ctx;
    const settings = this.settings;
    for (const hook of settings.connectedHooks) {
      try {
        await hook(ctx);
      } catch (error) {
        await settings.pipeline.handleError(ctx, error);
        this.close(CLOSE_INTERNAL_ERROR, 'onWsConnected failed');
        return;
      }
      if (ctx._aborted) {
        this.close(CLOSE_NORMAL, '');
        return;
      }
    }
    this.ready = true;
    if (this.handlerMode) {
      const pending = settings.pipeline.run(ctx, this.route, false);
      if (pending !== undefined) await pending;
      // A handler that threw (its error went to errorHook) ends the connection as a failure.
      if (ctx._failed) this.close(CLOSE_INTERNAL_ERROR, 'handler failed');
      else this.close(CLOSE_NORMAL, '');
      return;
    }
    this.processQueue();
  }

  /** @inheritdoc */
  onMessage(data: Buffer, isBinary: boolean): void {
    if (this.ready && !this.processing && !this.handlerMode && this.queue === null) {
      // Nothing waiting ahead of it: run this message now, queueing only if its chain suspends.
      this.runMessage(data, isBinary);
      this.uncorkIfIdle();
      return;
    }
    const message = new QueuedMessage(ownBytes(data), isBinary);
    const waiting = this.waitingForMessage;
    if (waiting !== null) {
      this.waitingForMessage = null;
      this.present(message.data, message.type === 'binary');
      waiting(message);
      return;
    }
    (this.queue ??= []).push(message);
    this.queuedBytes += queuedCost(message);
    const transport = this.transport!;
    if (this.queuedBytes > this.settings.readBufferSize && !transport.isReadingPaused()) {
      transport.pauseReading();
    }
    if (this.ready && !this.processing && !this.handlerMode) this.processQueue();
  }

  /** The next waiting message, if any; an emptied queue is let go (idle sockets are many). */
  private dequeue(): QueuedMessage | undefined {
    const queue = this.queue;
    if (queue === null) return undefined;
    const message = queue.shift();
    if (queue.length === 0) this.queue = null;
    return message;
  }

  private consumed(message: QueuedMessage): void {
    this.queuedBytes -= queuedCost(message);
    this.present(message.data, message.type === 'binary');
    const transport = this.transport;
    if (
      transport !== null &&
      transport.isReadingPaused() &&
      this.queuedBytes <= this.settings.readBufferSize
    ) {
      transport.resumeReading();
    }
  }

  private runMessage(data: Buffer, isBinary: boolean): void {
    this.present(data, isBinary);
    this.runCurrentMessage();
  }

  /** Makes `data` the message the Context holds (`getRequestBody()`, `getWsMessageType()`). */
  private present(data: Buffer, isBinary: boolean): void {
    const ctx = this.ctx;
    ctx._request.body = data;
    ctx._binaryMessage = isBinary;
  }

  /** Runs the chain for the message now in the Context; marks the session busy if it suspends. */
  private runCurrentMessage(): void {
    const ctx = this.ctx;
    ctx._aborted = false;
    const runner = (this.runner ??= new ChainRunner(
      this.settings.pipeline,
      this.onMessageDone.bind(this),
      this.onRunnerFailure.bind(this),
    ));
    if (runner.run(ctx, this.route, false)) this.releaseMessage();
    else this.processing = true;
  }

  /**
   * The message's chain is over: the Context lets go of its bytes, which may be a slice of a
   * whole read buffer (an idle connection would otherwise keep its last read alive).
   */
  private releaseMessage(): void {
    this.ctx._request.body = EMPTY_BODY;
  }

  private onRunnerFailure(error: unknown): void {
    this.settings.logError('WebSocket message handling failed', error);
    this.onMessageDone();
  }

  private onMessageDone(): void {
    this.processing = false;
    this.releaseMessage();
    this.processQueue();
  }

  /** Runs queued messages in order until one suspends (its completion resumes the queue). */
  private processQueue(): void {
    let message: QueuedMessage | undefined;
    while (!this.processing && !this.ended && (message = this.dequeue()) !== undefined) {
      this.consumed(message);
      this.runCurrentMessage();
    }
    this.uncorkIfIdle();
  }

  /** @inheritdoc */
  onPeerClosing(): boolean {
    // A handler that reads messages itself is told by the end of its messages instead.
    if (this.handlerMode || (!this.processing && this.queue === null)) return true;
    this.peerClosing = true;
    return false;
  }

  /** @inheritdoc */
  onProtocolError(code: number): void {
    // A close frame we sent first is what went on the wire.
    if (this.localCloseCode === 0) this.localCloseCode = code;
  }

  /** @inheritdoc */
  onTransportClosed(code: number, reason: string): void {
    void this.onClose(code, reason);
  }

  private async onClose(receivedCode: number, reason: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.host.forgetWebSocket(this);
    // 1006 means no close frame arrived; the code we sent (or a protocol error forced) says more.
    const code =
      receivedCode === CLOSE_ABNORMAL && this.localCloseCode !== 0
        ? this.localCloseCode
        : receivedCode;
    const waiting = this.waitingForMessage;
    if (waiting !== null) {
      this.waitingForMessage = null;
      waiting(undefined);
    }
    this.drain?.rejectAll(peerGoneError('the WebSocket is closed'));
    const ctx = this.ctx;
    ctx._finish();
    for (const hook of this.settings.closedHooks) {
      try {
        await hook(ctx, code, reason);
      } catch (error) {
        this.settings.logError('onWsClosed hook threw', error);
      }
    }
  }

  private waitForDrain(): Promise<void> {
    let drain = this.drain;
    if (drain === null) {
      // Listened for from the first wait on: most sockets never fill, and a second listener
      // per event costs every idle connection an array.
      this.drain = drain = new DrainWaiters();
      (this.socket as SessionEmitter)[SESSION] = this;
      this.socket.on('drain', onSocketDrain);
    }
    return drain.wait();
  }

  /** @internal */
  onDrain(): void {
    const drain = this.drain;
    if (drain === null) return;
    drain.resolveAll();
    // The released replies are written in the microtasks just queued; a deferred close is
    // answered after them.
    if (this.peerClosing) queueMicrotask(() => this.answerCloseIfDone());
  }
}
