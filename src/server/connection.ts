import type { Socket } from 'node:net';
import { Context } from '../context/context.js';
import type {
  ResponseChannel,
  ServerStats,
  SocketAddress,
  WsMessage,
} from '../context/response-channel.js';
import { HyperlaneError, peerGoneError } from '../error/hyperlane-error.js';
import { DrainWaiters, noop, RESOLVED } from '../util/drain-waiters.js';
import { socketAddress } from '../util/socket-address.js';
import type { ParsedRequest } from '../http/parsed-request.js';
import { HttpParseError, RequestParser } from '../http/request-parser.js';
import { ConnectionHeader, Framing, serializeResponseHead } from '../http/response-head.js';
import { ResponseHeaders } from '../http/response-headers.js';
import { reasonPhrase, statusAllowsBody } from '../http/status.js';
import { ChainRunner } from '../lifecycle/chain-runner.js';
import { resolveRoute } from '../lifecycle/route-resolution.js';
import type { Handler } from '../lifecycle/pipeline.js';
import { SSE_KEEP_ALIVE } from '../sse/sse-event.js';
import { isWebSocketUpgrade } from '../ws/handshake.js';
import { admitUpgrade, completeUpgrade, type WsEngine } from '../ws/upgrade.js';
import type { Engine } from './engine.js';
import { afterPhase, type HeldWrites } from './phase-batch.js';

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const CHUNKED_END = '0\r\n\r\n';
// When linger is off, a closing connection whose queued bytes make no progress for this long is
// destroyed; without a bound a peer that never reads would hold the memory forever.
const DEFAULT_CLOSE_GRACE_MS = 5_000;
// Held responses beyond this many characters are written at once: the socket's own buffer
// then applies backpressure, as for any write.
const HELD_LIMIT = 16 * 1024;

/**
 * One client connection: feeds socket bytes to the parser, runs each request through the
 * pipeline strictly in order (so pipelined responses keep their order), writes responses,
 * and applies keep-alive, backpressure and timeouts.
 */
export class Connection implements ResponseChannel, HeldWrites {
  /** The socket (plain TCP or TLS). */
  readonly socket: Socket;
  /** Milliseconds timestamp of when the current request's first byte arrived; 0 when none. */
  requestStartedAt = 0;
  /**
   * Milliseconds timestamp of the accept or of the last completed exchange, as first seen by
   * the idle sweep: 0 right after an exchange, which the sweep then stamps with its own clock
   * reading, so that no request pays for one (a connection thus idles up to one sweep
   * interval longer than `keepAliveTimeout`, never shorter).
   */
  lastActivity: number;
  /** A request is being handled (its handler may still be running). */
  busy = false;

  private readonly engine: Engine;
  private parser: RequestParser;
  /** Runs each request's chain; made on the first request. */
  private runner: ChainRunner | null = null;
  private current: Context | null = null;
  private peerGone = false;
  private readEnded = false;
  private closing = false;
  private paused = false;
  private drain: DrainWaiters | null = null;
  private remote: SocketAddress | undefined | null = null;
  private local: SocketAddress | undefined | null = null;
  private closeTimer: NodeJS.Timeout | null = null;
  private lastStreamWrite = 0;
  /**
   * Keep-alive responses held until the end of this poll phase (see `phase-batch.ts`), all in
   * one encoding; '' when none. Every other write writes them first, so order is kept.
   */
  private heldText = '';
  private heldEncoding: 'latin1' | 'utf8' = 'latin1';
  /** Registered for the end of this poll phase. */
  private heldUntilPhaseEnd = false;
  /** Bytes still owed by a stream framed by its declared `content-length`; -1 when chunked. */
  private streamRemaining = -1;
  private writtenAtLastCheck = 0;

  /**
   * @param socket - the accepted socket
   * @param engine - the server's compiled routes, pipeline and settings
   */
  constructor(socket: Socket, engine: Engine) {
    this.socket = socket;
    this.engine = engine;
    this.parser = new RequestParser({
      maxHeadSize: engine.config.httpBufferSize,
      maxBodySize: engine.config.bodyLimit,
    });
    this.lastActivity = Date.now();
    // Shared listeners that find the connection through the socket, rather than bound copies
    // of each method per connection: idle connections are counted in thousands.
    (socket as ConnectionSocket)[CONNECTION] = this;
    socket.on('data', onSocketData);
    socket.on('drain', onSocketDrain);
    socket.on('close', onSocketClose);
    socket.on('end', onSocketEnd);
    // Errors (ECONNRESET, EPIPE) are followed by 'close', which does the cleanup.
    socket.on('error', noop);
  }

  // ---- reading -------------------------------------------------------------------------------

  /** @internal */
  onData(chunk: Buffer): void {
    // Once we have half-closed, whatever the peer still sends is discarded.
    if (this.closeTimer !== null) return;
    this.parser.push(chunk);
    if (this.busy) {
      // Pipelined bytes wait until the current response is done; bound how many we hold.
      if (this.parser.bufferedBytes() > this.engine.config.httpBufferSize) this.pause();
      return;
    }
    this.processBuffered();
  }

  /** Parses and handles as many buffered requests as possible, one at a time. */
  private processBuffered(): void {
    while (!this.busy && !this.peerGone && this.closeTimer === null) {
      let request: ParsedRequest | null;
      try {
        request = this.parser.next();
      } catch (error) {
        if (error instanceof HttpParseError) this.rejectRequest(error.status, error.message);
        else throw error;
        return;
      }
      if (request === null) {
        const midRequest = this.parser.isMidRequest();
        if (this.readEnded) {
          // The client has sent all it will; what it left unfinished can never complete.
          if (midRequest) this.rejectRequest(400, 'connection ended in the middle of a request');
          else this.closeGracefully();
          return;
        }
        if (this.parser.needsContinue) {
          this.parser.needsContinue = false;
          this.write(CONTINUE, 'latin1');
        }
        // The request clock starts with the first bytes of a request and stops when it is whole.
        if (!midRequest) this.requestStartedAt = 0;
        else if (this.requestStartedAt === 0) this.requestStartedAt = Date.now();
        return;
      }
      this.requestStartedAt = 0;
      let completed: boolean;
      try {
        completed = this.dispatch(request);
      } catch (error) {
        this.failExchange(error);
        return;
      }
      if (!completed) return;
    }
  }

  /**
   * Runs one request. Returns true when it completed synchronously and the connection can go
   * straight on to the next buffered request.
   */
  private dispatch(request: ParsedRequest): boolean {
    const ctx = new Context(request, this);
    this.current = ctx;
    this.busy = true;
    const engine = this.engine;
    const route = resolveRoute(ctx, engine.router, engine.allowAll);
    if (
      ctx._routePattern !== undefined &&
      request.upgradeHeader !== undefined &&
      isWebSocketUpgrade(request)
    ) {
      this.startUpgrade(ctx, route, engine.ws);
      return false;
    }
    const runner = (this.runner ??= new ChainRunner(
      engine.pipeline,
      this.onAsyncExchangeDone.bind(this),
      this.failExchange.bind(this),
    ));
    return runner.run(ctx, route, true) ? this.completeExchange(ctx) : false;
  }

  /** Runs the handshake checks and `preWsUpgrade` hooks, then upgrades or answers over HTTP. */
  private startUpgrade(ctx: Context, route: Handler, ws: WsEngine): void {
    const proceed = (admitted: boolean): void => {
      if (admitted && !this.peerGone && !this.closing) {
        this.handOver(ctx, route, ws);
        return;
      }
      if (admitted && this.closing) {
        // Admitted, but the server began shutting down meanwhile: refuse rather than upgrade.
        ctx.setResponseStatusCode(503).setResponseBodyJson({
          error: 'Service Unavailable',
          message: 'the server is shutting down',
        });
      }
      // A hook that refused without choosing a status means "forbidden", not "OK".
      if (!ctx._sent && ctx._status === 200) ctx._status = 403;
      try {
        if (!ctx._sent) ctx.sendNow();
      } catch (error) {
        // An onBeforeSend() hook threw: answer with the error response instead.
        void Promise.resolve(this.engine.pipeline.handleError(ctx, error)).then(() =>
          this.onAsyncExchangeDone(),
        );
        return;
      }
      this.onAsyncExchangeDone();
    };
    admitUpgrade(ctx, ws).then(proceed, async (error: unknown) => {
      await this.engine.pipeline.handleError(ctx, error);
      proceed(false);
    });
  }

  /** Gives the socket to the WebSocket session; from here on its framing reads and writes it. */
  private handOver(ctx: Context, route: Handler, ws: WsEngine): void {
    const socket = this.socket;
    socket.off('data', onSocketData);
    socket.off('drain', onSocketDrain);
    socket.off('end', onSocketEnd);
    this.requestStartedAt = 0;
    // Reading resumes (on the next tick) before the framing starts: if the bytes already here
    // make it pause, its pause must be the one that stands.
    if (this.paused) {
      this.paused = false;
      socket.resume();
    }
    const head = this.parser.takeRemainder();
    this.releaseHeld(); // responses to requests before the upgrade go ahead of the 101
    const session = completeUpgrade(ctx, route, ws, socket, head, this.engine);
    // Refused by `ws` itself (it answered and is closing the socket), or the socket is already
    // closing: this connection's close listener still finishes the exchange.
    if (session === null) return;
    // From here on the framing and the session listen to the socket and the server tracks the
    // session: this connection is garbage once the handover returns (idle WebSockets are many).
    socket.off('close', onSocketClose);
    socket.off('error', noop); // the framing has its own error listener now
    (socket as ConnectionSocket)[CONNECTION] = undefined;
    this.current = null;
    // A flush() still waiting from a preWsUpgrade hook would otherwise wait forever: what this
    // connection wrote is in the socket's queue ahead of the 101.
    this.drain?.resolveAll();
    this.engine.adoptWebSocket(this, session);
  }

  /** Writes an SSE comment to an open event stream that has been silent for `idleMs`. */
  keepEventStreamAlive(now: number, idleMs: number): void {
    const ctx = this.current;
    if (ctx === null || !ctx._streaming || !ctx._sent || ctx._streamEnded || this.peerGone) return;
    if (now - this.lastStreamWrite < idleMs || this.streamRemaining >= 0 || ctx._streamClosing) {
      return;
    }
    const type = ctx._headers.get('content-type');
    if (typeof type !== 'string' || !type.startsWith('text/event-stream')) return;
    // An encoded (compressed) stream must carry the comment through its encoder too.
    if (ctx._encoder !== null) ctx._writeEncoded(SSE_KEEP_ALIVE).catch(noop);
    else this.writeChunk(ctx, SSE_KEEP_ALIVE);
  }

  private onAsyncExchangeDone(): void {
    const ctx = this.current;
    if (ctx === null) return;
    let next: boolean;
    try {
      next = this.completeExchange(ctx);
    } catch (error) {
      this.failExchange(error);
      return;
    }
    if (next) this.processBuffered();
  }

  /**
   * Last resort for a throw that escaped the pipeline's own error handling (a transport
   * failure, say): log it, answer 500 if nothing went out yet, and close, rather than let it
   * reach the socket's event handler and take the process down.
   */
  private failExchange(error: unknown): void {
    this.engine.pipeline.logError('request failed outside the pipeline', error);
    const ctx = this.current;
    this.current = null;
    this.busy = false;
    if (ctx !== null && !ctx._sent && !this.peerGone) {
      ctx._sent = true;
      ctx._status = 500; // what onFinish() hooks (an access log) should see
      this.rejectRequest(500, 'Internal Server Error');
    } else this.destroy();
    ctx?._finish();
  }

  /** Ends the exchange: closes an open stream, fires the signal, then reuses or closes. */
  private completeExchange(ctx: Context): boolean {
    if (ctx._streaming && ctx._sent && !ctx._streamEnded) {
      if (ctx._failed) {
        // A stream cut short by an error must not end like a complete one: drop the connection.
        ctx._finish();
        this.current = null;
        this.destroy();
        return false;
      }
      if (ctx._encoder !== null || ctx._isFinishingEncoding()) {
        // The encoder's last bytes come first (a finish already under way, from closed() or a
        // shutdown, is waited for too); completing resumes once they are written.
        ctx._finishEncoding().then(
          () => this.onAsyncExchangeDone(),
          () => this.onAsyncExchangeDone(),
        );
        return false;
      }
      if (ctx._encodingFailed) {
        // The encoded body is incomplete: ending the chunked framing would claim otherwise.
        ctx._finish();
        this.current = null;
        this.destroy();
        return false;
      }
      this.writeStreamEnd(ctx);
    }
    ctx._finish();
    this.current = null;
    this.busy = false;
    this.lastActivity = 0;
    if (this.peerGone) return false;
    if (!ctx._keepAlive || this.closing) {
      if (!ctx._request.keepAlive) this.closeAsAsked();
      else this.closeGracefully();
      return false;
    }
    if (this.parser.bufferedBytes() > 0) this.requestStartedAt = Date.now();
    if (this.socket.writableNeedDrain) {
      // The peer is not reading: hold further requests until it catches up.
      this.pause();
      return false;
    }
    this.resume();
    return true;
  }

  // ---- writing (ResponseChannel) -------------------------------------------------------------

  /** @inheritdoc */
  sendResponse(ctx: Context, headOnly: boolean): boolean {
    if (this.peerGone) return false;
    const request = ctx._request;
    const status = ctx._status;
    const isHead = request.method === 'HEAD';
    const keepAlive = ctx._keepAlive && !this.closing && !wantsClose(ctx);
    ctx._keepAlive = keepAlive;
    let connection = keepAlive
      ? request.isHttp11
        ? ConnectionHeader.Omit
        : ConnectionHeader.KeepAlive
      : ConnectionHeader.Close;
    const body = ctx._body;
    const socket = this.socket;

    if (ctx._streaming) {
      // A stream whose length the handler knows (a file, say) is framed by it, like any body.
      const declared = ctx._declaredContentLength();
      let framing = declared >= 0 ? Framing.Length : Framing.Chunked;
      if (framing === Framing.Chunked && !request.isHttp11) {
        // HTTP/1.0 has no chunked coding: the stream runs until the connection closes.
        framing = Framing.UntilClose;
        ctx._keepAlive = false;
        connection = ConnectionHeader.Close;
      }
      if (!statusAllowsBody(status) || isHead) framing = Framing.None;
      const announced = framing === Framing.Length || (isHead && statusAllowsBody(status));
      const head = serializeResponseHead(
        status,
        ctx._headers,
        framing,
        announced ? declared : -1,
        connection,
      );
      if (framing === Framing.Length && !headOnly) {
        const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
        if (size > declared) throw overLength(size, declared);
      }
      this.streamRemaining = framing === Framing.Length ? declared : -1;
      this.writeHead(ctx, head);
      this.lastStreamWrite = Date.now();
      if (!headOnly && body.length > 0 && framing !== Framing.None) this.writeChunk(ctx, body);
      if (framing === Framing.None) ctx._streamEnded = true;
      return true;
    }

    ctx._applyDefaultContentType();
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    if (isHead || !statusAllowsBody(status)) {
      const announced = isHead && statusAllowsBody(status) ? headContentLength(ctx, length) : -1;
      this.writeHead(
        ctx,
        serializeResponseHead(status, ctx._headers, Framing.None, announced, connection),
      );
      ctx._abortSignal();
      return true;
    }
    const head = serializeResponseHead(status, ctx._headers, Framing.Length, length, connection);
    if (typeof body === 'string' && !ctx._latin1Head) {
      // A body whose UTF-8 length equals its length is ASCII, and so is the head: write it as
      // latin1, a straight byte copy, instead of transcoding it as UTF-8.
      const text = length === 0 ? head : head + body;
      const encoding = length === body.length ? 'latin1' : 'utf8';
      // Every keep-alive response of this poll phase leaves at its end: pipelined ones in one
      // write, and the client woken once per batch. A closing one goes at once, so the
      // socket can be destroyed right after it.
      if (keepAlive) this.hold(text, encoding);
      else this.write(text, encoding);
    } else {
      socket.cork();
      this.writeHead(ctx, head);
      if (length > 0) socket.write(body);
      socket.uncork();
    }
    ctx._abortSignal(); // the exchange is over for the handler, even if it goes on running
    return true;
  }

  /** @inheritdoc */
  sendChunk(ctx: Context, data: string | Uint8Array): Promise<void> {
    if (this.peerGone || ctx._streamEnded) {
      return Promise.reject(peerGoneError());
    }
    if (this.streamRemaining >= 0) {
      const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
      if (size > this.streamRemaining)
        return Promise.reject(overLength(size, this.streamRemaining));
    }
    if (data.length > 0) this.writeChunk(ctx, data);
    return this.flush();
  }

  /** @inheritdoc */
  endStream(ctx: Context): Promise<void> {
    if (!ctx._streamEnded && !this.peerGone) this.writeStreamEnd(ctx);
    ctx._streamEnded = true;
    return RESOLVED;
  }

  /** @inheritdoc */
  flush(): Promise<void> {
    if (this.peerGone) return Promise.reject(peerGoneError());
    this.releaseHeld();
    return this.socket.writableNeedDrain ? (this.drain ??= new DrainWaiters()).wait() : RESOLVED;
  }

  /** @inheritdoc */
  isPeerGone(): boolean {
    return this.peerGone;
  }

  /** @inheritdoc */
  isSecure(): boolean {
    return 'encrypted' in this.socket;
  }

  /** @inheritdoc */
  serverStats(): ServerStats {
    return this.engine.serverStats();
  }

  /** @inheritdoc */
  nextMessage(): Promise<WsMessage | undefined> {
    return Promise.resolve(undefined);
  }

  /** @inheritdoc */
  remoteAddress(): SocketAddress | undefined {
    if (this.remote === null)
      this.remote = socketAddress(
        this.socket.remoteAddress,
        this.socket.remotePort,
        this.socket.remoteFamily,
      );
    return this.remote;
  }

  /** @inheritdoc */
  localAddress(): SocketAddress | undefined {
    if (this.local === null)
      this.local = socketAddress(
        this.socket.localAddress,
        this.socket.localPort,
        this.socket.localFamily,
      );
    return this.local;
  }

  /** Writes `text` after any held responses. */
  private write(text: string, encoding: 'latin1' | 'utf8'): void {
    this.releaseHeld();
    this.socket.write(text, encoding);
  }

  /** Holds a keep-alive response until the end of this poll phase (or until it grows large). */
  private hold(text: string, encoding: 'latin1' | 'utf8'): void {
    // Held text is all in one encoding: text in another writes what is held first.
    if (this.heldText !== '' && encoding !== this.heldEncoding) this.releaseHeld();
    if (this.heldText === '') this.heldEncoding = encoding;
    this.heldText += text;
    if (this.heldText.length >= HELD_LIMIT) this.releaseHeld();
    else if (!this.heldUntilPhaseEnd) {
      this.heldUntilPhaseEnd = true;
      afterPhase(this);
    }
  }

  /** Writes the held responses now. */
  private releaseHeld(): void {
    const text = this.heldText;
    if (text === '') return;
    this.heldText = '';
    if (!this.socket.destroyed) this.socket.write(text, this.heldEncoding);
  }

  /** @internal */
  endOfPhase(): void {
    this.heldUntilPhaseEnd = false;
    this.releaseHeld();
  }

  private writeHead(ctx: Context, head: string): void {
    this.write(head, ctx._latin1Head ? 'latin1' : 'utf8');
  }

  // No held text to write first: the stream's head went out through `write()`, and nothing
  // else is held while the stream is the current exchange.
  private writeChunk(ctx: Context, data: string | Uint8Array): void {
    const socket = this.socket;
    if (this.streamRemaining >= 0) {
      const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
      if (size > this.streamRemaining) {
        // Never reached through sendChunk(), which refuses this; but bytes past the declared
        // length would be read as the next response, so the connection cannot go on.
        this.destroy();
        return;
      }
      this.streamRemaining -= size;
      this.lastStreamWrite = Date.now();
      socket.write(data);
      return;
    }
    if (!ctx._request.isHttp11) {
      this.lastStreamWrite = Date.now();
      socket.write(data);
      return;
    }
    if (ctx._request.method === 'HEAD') return;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (size === 0) return; // a zero-size chunk would end the stream
    this.lastStreamWrite = Date.now();
    if (typeof data === 'string') {
      // One string in one write: cheaper than three corked writes (Node's writev path) for
      // the small chunks streams mostly send, such as SSE events.
      socket.write(`${size.toString(16)}\r\n${data}\r\n`, size === data.length ? 'latin1' : 'utf8');
      return;
    }
    socket.cork();
    socket.write(`${size.toString(16)}\r\n`);
    socket.write(data);
    socket.write('\r\n');
    socket.uncork();
  }

  private writeStreamEnd(ctx: Context): void {
    ctx._streamEnded = true;
    if (this.streamRemaining >= 0) {
      // Ended short of its declared length: only closing the connection tells the client.
      if (this.streamRemaining > 0) ctx._keepAlive = false;
      this.streamRemaining = -1;
      return;
    }
    if (
      !ctx._request.isHttp11 ||
      ctx._request.method === 'HEAD' ||
      !statusAllowsBody(ctx._status)
    ) {
      return;
    }
    this.write(CHUNKED_END, 'latin1');
  }

  // ---- flow control --------------------------------------------------------------------------

  private pause(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private resume(): void {
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /** @internal */
  onDrain(): void {
    this.drain?.resolveAll();
    if (!this.busy && this.paused && !this.peerGone && this.closeTimer === null) {
      this.resume();
      this.processBuffered();
    }
  }

  // ---- closing -------------------------------------------------------------------------------

  /** Answers a request the parser refused, then closes: its framing can no longer be trusted. */
  private rejectRequest(status: number, message: string): void {
    const body = JSON.stringify({ error: reasonPhrase(status), message });
    const headers = new ResponseHeaders().set('content-type', 'application/json; charset=utf-8');
    const head = serializeResponseHead(
      status,
      headers,
      Framing.Length,
      Buffer.byteLength(body),
      ConnectionHeader.Close,
    );
    this.write(head + body, 'utf8');
    this.closeGracefully();
  }

  /** Answers 408 to a request that did not arrive within `requestTimeout`, then closes. */
  timeOutRequest(): void {
    this.requestStartedAt = 0;
    this.rejectRequest(408, `request not received within ${this.engine.config.requestTimeout} ms`);
  }

  /** Called by the server when it begins a graceful close. */
  beginShutdown(): void {
    this.closing = true;
    const ctx = this.current;
    if (ctx === null) {
      // Idle: close now. A request still arriving is let finish (requestTimeout bounds it);
      // its response then goes out with `connection: close`.
      if (!this.busy && this.requestStartedAt === 0) this.closeGracefully();
      return;
    }
    if (ctx._streaming && ctx._sent) {
      // Open streams never end on their own; end them so their handlers see sendBody() reject.
      // An encoded (compressed) stream gets its encoder's last bytes first.
      const ended =
        ctx._encoder === null && !ctx._isFinishingEncoding()
          ? RESOLVED
          : ctx._finishEncoding().catch(noop);
      void ended.then(() => {
        void this.endStream(ctx);
        ctx._finish();
      });
    }
  }

  /**
   * Closes after a request that itself asked for the connection to close (`Connection: close`,
   * or HTTP/1.0 without keep-alive). Such a client sends nothing more (RFC 9112 §9.6), so once
   * the response is all in the kernel's hands there is nothing to wait for: the socket is
   * closed at once (`node:http` does not wait for the client either), sparing a read, a
   * shutdown and a timer per connection. The kernel still delivers the queued bytes, then its
   * FIN. Otherwise (bytes still queued in the process, bytes already received past the
   * request, or TLS, whose layer has its own queue) the close is the graceful one.
   */
  private closeAsAsked(): void {
    const socket = this.socket;
    if (
      socket.writableLength === 0 &&
      this.parser.bufferedBytes() === 0 &&
      !this.peerGone &&
      this.closeTimer === null &&
      !this.isSecure()
    ) {
      socket.destroy();
      return;
    }
    this.closeGracefully();
  }

  /** Half-closes after flushing what was written, and destroys the socket if the peer lingers. */
  closeGracefully(): void {
    if (this.closeTimer !== null || this.peerGone) return;
    this.releaseHeld();
    this.socket.end();
    this.armCloseTimer(this.socket.bytesWritten);
  }

  /**
   * Destroys the socket once the grace period passes with no bytes flushed to the peer: a
   * large response to a slow but live reader still completes, a stalled peer is cut off.
   */
  private armCloseTimer(writtenBefore: number): void {
    const linger = this.engine.config.linger;
    this.closeTimer = setTimeout(
      () => {
        const written = this.socket.bytesWritten;
        if (this.socket.writableLength > 0 && written > writtenBefore) this.armCloseTimer(written);
        else this.socket.destroy();
      },
      linger === false ? DEFAULT_CLOSE_GRACE_MS : linger,
    );
    this.closeTimer.unref();
  }

  /**
   * Whether the connection has sat with nothing to do for `keepAliveTimeout`. Bytes still
   * flowing out to a slow reader count as activity, so a long download is not cut off.
   */
  isIdleSince(now: number, keepAliveTimeout: number): boolean {
    if (this.busy || this.requestStartedAt !== 0) return false;
    const written = this.socket.bytesWritten;
    if (this.socket.writableLength > 0 && written !== this.writtenAtLastCheck) {
      this.writtenAtLastCheck = written;
      this.lastActivity = now;
      return false;
    }
    if (this.lastActivity === 0) {
      this.lastActivity = now;
      return false;
    }
    return now - this.lastActivity >= keepAliveTimeout;
  }

  /**
   * Destroys the socket at once: the idle sweep, a forced shutdown, or an exchange that cannot
   * go on. Responses already complete and held for the end of the phase are written first.
   */
  destroy(): void {
    this.releaseHeld();
    this.socket.destroy();
  }

  /**
   * The peer half-closed. Sockets are half-open so that requests it sent before its FIN still
   * get their responses (as with `printf … | nc`); we close once they are answered.
   */
  /** @internal */
  onEnd(): void {
    this.readEnded = true;
    // A client that stops sending mid-exchange has, for the handler, gone away: tell it.
    if (this.busy) this.current?._abortSignal();
    else this.processBuffered();
  }

  /** @internal */
  onClose(): void {
    this.peerGone = true;
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.drain?.rejectAll(peerGoneError());
    this.current?._finish();
    this.engine.forgetConnection(this);
  }
}

function overLength(size: number, left: number): HyperlaneError {
  return new HyperlaneError(
    'HL_ERR_SERVER_STATE',
    `${size} bytes exceed the ${left} bytes left of the declared content-length`,
  );
}

/**
 * The length a HEAD response announces: the body's, or, when the handler built no body, the
 * Content-Length it set itself (the size the GET would have), if that is a valid number.
 */
function headContentLength(ctx: Context, bodyLength: number): number {
  if (bodyLength > 0) return bodyLength;
  return Math.max(ctx._declaredContentLength(), 0);
}

const CONNECTION = Symbol('hyperlane.connection');
type ConnectionSocket = Socket & { [CONNECTION]?: Connection };

function connectionOf(socket: Socket): Connection {
  return (socket as ConnectionSocket)[CONNECTION]!;
}

function onSocketData(this: Socket, chunk: Buffer): void {
  connectionOf(this).onData(chunk);
}

function onSocketDrain(this: Socket): void {
  connectionOf(this).onDrain();
}

function onSocketEnd(this: Socket): void {
  connectionOf(this).onEnd();
}

function onSocketClose(this: Socket): void {
  connectionOf(this).onClose();
}

function wantsClose(ctx: Context): boolean {
  const value = ctx._headers.get('connection');
  return typeof value === 'string' && value.toLowerCase().includes('close');
}
