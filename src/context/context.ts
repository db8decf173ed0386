import { HttpError } from '../error/http-error.js';
import { HyperlaneError, peerGoneError } from '../error/hyperlane-error.js';
import type { ParsedRequest } from '../http/parsed-request.js';
import {
  NO_RESPONSE_HEADERS,
  ResponseHeaders,
  type ReadonlyResponseHeaders,
} from '../http/response-headers.js';
import { parseCookieHeader, type CookieBuilder } from './cookie.js';
import type { ResponseChannel, ServerStats, SocketAddress, WsMessage } from './response-channel.js';
import { parseRequestForm, type RequestForm, type RequestFormOptions } from './request-form.js';
import type { InferSchemaOutput, StandardSchemaV1 } from './standard-schema.js';
import { TOKEN } from '../util/token.js';
import { noop, RESOLVED } from '../util/drain-waiters.js';

// No CR, LF or NUL: a header value that could end the line would let a caller forge headers.
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const ASCII_HEADER_VALUE = /^[\t\x20-\x7e]*$/;
const EMPTY_PARAMS: Readonly<Record<string, string>> = Object.freeze({});
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
const DECLARED_LENGTH = /^\d{1,15}$/;
// application/json or any application/<x>+json, parameters allowed.
const JSON_MEDIA_TYPE = /^\s*application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** A response body: text (sent as UTF-8) or bytes. */
export type ResponseBody = string | Uint8Array;

/** Options of `ctx.onBeforeSend()`. */
export interface BeforeSendOptions {
  /**
   * Run after every hook registered without it: for hooks that must see the final body, such
   * as compression (a conditional 304 or a body rewrite by another hook comes first).
   */
  last?: boolean;
}

/** A function `onBeforeSend()` / `onFinish()` run with the Context. */
export type ContextHook = (ctx: Context) => void;

/**
 * Re-encodes the chunks of a streamed response on their way out (compression, say). Set with
 * `ctx.setResponseEncoder()`, usually from an `onBeforeSend()` hook.
 */
export interface ResponseEncoder {
  /** Encodes one chunk; the bytes it resolves to are written at once, so each must be flushed. */
  encode(chunk: Buffer): Promise<Buffer>;
  /** Ends the encoding; resolves to the last bytes of the stream. */
  finish(): Promise<Buffer>;
}

// Bits of Context.flags.
const SENT = 1 << 0;
const STREAMING = 1 << 1;
const STREAM_ENDED = 1 << 2;
const FAILED = 1 << 3;
const DONE = 1 << 4;
const LATIN1HEAD = 1 << 5;
const ABORTED = 1 << 6;
const CLOSED = 1 << 7;
const KEEP_ALIVE = 1 << 8;
const WEB_SOCKET = 1 << 9;
const SIGNAL_DUE = 1 << 10;
const STREAM_CLOSING = 1 << 11;
const ENCODING_SETTLED = 1 << 12;
const ENCODING_FAILED = 1 << 13;
const BINARY_MESSAGE = 1 << 14;

/**
 * The parts of a Context that most exchanges never touch (caches of parsed request parts,
 * the signal, response hooks, a stream encoder), kept apart so every Context stays small.
 */
class ContextExtra {
  queryParams: URLSearchParams | null = null;
  headerRecord: Record<string, string> | null = null;
  cookies: Record<string, string> | null = null;
  abortController: AbortController | null = null;
  beforeSendHooks: ContextHook[] | null = null;
  lastBeforeSendHooks: ContextHook[] | null = null;
  finishHooks: ContextHook[] | null = null;
  /** Encoder of a streamed response's chunks, if one was set. */
  encoder: ResponseEncoder | null = null;
  /** Chunks pass the encoder one at a time, in order: each waits for the one before. */
  encoderTail: Promise<void> | null = null;
  encoderFinishing: Promise<void> | null = null;
}

/**
 * One Context per HTTP request (or per WebSocket connection): the request as received, the
 * response being built, attributes shared by middleware, and the flags that steer the
 * lifecycle. Getters are synchronous; setters return the Context so calls chain.
 */
export class Context {
  /** @internal The parsed request. */
  readonly _request: ParsedRequest;
  /** @internal Where the response goes (replaced when the connection becomes a WebSocket). */
  _channel: ResponseChannel;
  /** @internal Route params of the matched pattern. */
  _params: Readonly<Record<string, string>> = EMPTY_PARAMS;
  /** @internal The matched route pattern, if any. */
  _routePattern: string | undefined = undefined;
  /** @internal Response status. */
  _status = 200;
  /**
   * @internal Response headers by lower-case name. Read-only here: writes go through
   * `_writableHeaders()`, since a Context with none shares one empty set (most WebSockets'
   * never get one).
   */
  _headers: ReadonlyResponseHeaders = NO_RESPONSE_HEADERS;
  /** @internal Response body. */
  _body: ResponseBody = '';
  /** @internal Index of the chain step to run next once a suspended step settles; -1 if none. */
  _resumeAt = -1;
  /** The boolean states below, one bit each (a Context lives as long as a WebSocket). */
  private flags = 0;

  /** @internal The head (and, unless streaming, the body) has been written. */
  get _sent(): boolean {
    return (this.flags & SENT) !== 0;
  }
  set _sent(on: boolean) {
    this.flags = on ? this.flags | SENT : this.flags & ~SENT;
  }

  /** @internal The response is a stream that stays open after `send()`. */
  get _streaming(): boolean {
    return (this.flags & STREAMING) !== 0;
  }
  set _streaming(on: boolean) {
    this.flags = on ? this.flags | STREAMING : this.flags & ~STREAMING;
  }

  /** @internal The stream has been ended. */
  get _streamEnded(): boolean {
    return (this.flags & STREAM_ENDED) !== 0;
  }
  set _streamEnded(on: boolean) {
    this.flags = on ? this.flags | STREAM_ENDED : this.flags & ~STREAM_ENDED;
  }

  /** @internal An error was thrown after the response (or stream) had started. */
  get _failed(): boolean {
    return (this.flags & FAILED) !== 0;
  }
  set _failed(on: boolean) {
    this.flags = on ? this.flags | FAILED : this.flags & ~FAILED;
  }

  /** @internal The exchange is over: nothing more can be written. */
  get _done(): boolean {
    return (this.flags & DONE) !== 0;
  }
  set _done(on: boolean) {
    this.flags = on ? this.flags | DONE : this.flags & ~DONE;
  }

  /** @internal A response header holds bytes above 0x7f, so the head must be written as latin1. */
  get _latin1Head(): boolean {
    return (this.flags & LATIN1HEAD) !== 0;
  }
  set _latin1Head(on: boolean) {
    this.flags = on ? this.flags | LATIN1HEAD : this.flags & ~LATIN1HEAD;
  }

  /** @internal `aborted()` or `closed()` was called: skip the rest of the chain. */
  get _aborted(): boolean {
    return (this.flags & ABORTED) !== 0;
  }
  set _aborted(on: boolean) {
    this.flags = on ? this.flags | ABORTED : this.flags & ~ABORTED;
  }

  /** @internal `closed()` was called: close the connection after the response. */
  get _closed(): boolean {
    return (this.flags & CLOSED) !== 0;
  }
  set _closed(on: boolean) {
    this.flags = on ? this.flags | CLOSED : this.flags & ~CLOSED;
  }

  /** @internal Whether the connection may be reused after this exchange. */
  get _keepAlive(): boolean {
    return (this.flags & KEEP_ALIVE) !== 0;
  }
  set _keepAlive(on: boolean) {
    this.flags = on ? this.flags | KEEP_ALIVE : this.flags & ~KEEP_ALIVE;
  }

  /** @internal This Context belongs to a WebSocket connection. */
  get _webSocket(): boolean {
    return (this.flags & WEB_SOCKET) !== 0;
  }
  set _webSocket(on: boolean) {
    this.flags = on ? this.flags | WEB_SOCKET : this.flags & ~WEB_SOCKET;
  }

  /** The signal must fire as soon as it is created: the client left or the exchange ended. */
  private get _signalDue(): boolean {
    return (this.flags & SIGNAL_DUE) !== 0;
  }
  private set _signalDue(on: boolean) {
    this.flags = on ? this.flags | SIGNAL_DUE : this.flags & ~SIGNAL_DUE;
  }

  /** @internal The stream's encoder is finishing: no chunk may follow. */
  get _streamClosing(): boolean {
    return (this.flags & STREAM_CLOSING) !== 0;
  }
  set _streamClosing(on: boolean) {
    this.flags = on ? this.flags | STREAM_CLOSING : this.flags & ~STREAM_CLOSING;
  }

  /** @internal The encoder's finish has settled. */
  get _encodingSettled(): boolean {
    return (this.flags & ENCODING_SETTLED) !== 0;
  }
  set _encodingSettled(on: boolean) {
    this.flags = on ? this.flags | ENCODING_SETTLED : this.flags & ~ENCODING_SETTLED;
  }

  /** @internal The encoder failed to finish: the stream cannot end as a complete one. */
  get _encodingFailed(): boolean {
    return (this.flags & ENCODING_FAILED) !== 0;
  }
  set _encodingFailed(on: boolean) {
    this.flags = on ? this.flags | ENCODING_FAILED : this.flags & ~ENCODING_FAILED;
  }

  /** @internal The current WebSocket message is binary. */
  get _binaryMessage(): boolean {
    return (this.flags & BINARY_MESSAGE) !== 0;
  }
  set _binaryMessage(on: boolean) {
    this.flags = on ? this.flags | BINARY_MESSAGE : this.flags & ~BINARY_MESSAGE;
  }
  private attributes: Map<unknown, unknown> | null = null;
  /** What few Contexts use, made on first need: every idle WebSocket keeps its Context. */
  private extra: ContextExtra | null = null;

  /**
   * @internal Contexts are made by the server.
   * @param request - the parsed request
   * @param channel - where the response is written
   */
  constructor(request: ParsedRequest, channel: ResponseChannel) {
    this._request = request;
    this._channel = channel;
    if (request.keepAlive) this.flags = KEEP_ALIVE;
  }

  // ---- request -------------------------------------------------------------------------------

  /** The request method, e.g. `GET`. */
  getRequestMethod(): string {
    return this._request.method;
  }

  /** The path as sent: percent-encoded, without the query. */
  getRequestPath(): string {
    return this._request.path;
  }

  /** The raw request target, query included. */
  getRequestUrl(): string {
    return this._request.target;
  }

  /** `HTTP/1.1` or `HTTP/1.0`. */
  getRequestVersion(): string {
    return this._request.version;
  }

  /** The `Host` header, or an empty string. */
  getRequestHost(): string {
    return this._request.host ?? '';
  }

  /** Decoded query parameters; a repeated key gives its first value. */
  getRequestQueries(): Record<string, string> {
    const result: Record<string, string> = {};
    for (const [key, value] of this.searchParams()) {
      if (!Object.hasOwn(result, key)) result[key] = value;
    }
    return result;
  }

  /** The first value of query parameter `name`, or `undefined`. */
  getRequestQuery(name: string): string | undefined {
    return this.searchParams().get(name) ?? undefined;
  }

  /** Every value of query parameter `name`, in order. */
  getRequestQueryValues(name: string): string[] {
    return this.searchParams().getAll(name);
  }

  /** Request headers by lower-case name; repeated headers are joined with `, ` (`cookie` with `; `). */
  getRequestHeaders(): Record<string, string> {
    const extra = this.more();
    if (extra.headerRecord === null) {
      // No prototype: a header named "constructor" must not meet Object.prototype's.
      const record: Record<string, string> = Object.create(null) as Record<string, string>;
      const headers = this._request.headers;
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i]!;
        const previous = record[name];
        record[name] =
          previous === undefined
            ? headers[i + 1]!
            : `${previous}${name === 'cookie' ? '; ' : ', '}${headers[i + 1]!}`;
      }
      extra.headerRecord = record;
    }
    return { ...extra.headerRecord };
  }

  /** Request header `name` (case-insensitive), repeated values joined; `undefined` if absent. */
  getRequestHeader(name: string): string | undefined {
    const request = this._request;
    const lower = name.toLowerCase();
    const first = request.findHeader(lower);
    if (first === -1) return undefined;
    if (request.findHeader(lower, first + 1) === -1) return request.headers[first];
    return this.getRequestHeaderValues(lower).join(lower === 'cookie' ? '; ' : ', ');
  }

  /** Every value of request header `name`, in arrival order. */
  getRequestHeaderValues(name: string): string[] {
    const lower = name.toLowerCase();
    const headers = this._request.headers;
    const values: string[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i] === lower) values.push(headers[i + 1]!);
    }
    return values;
  }

  /** Whether request header `name` is present. */
  hasRequestHeader(name: string): boolean {
    return this._request.findHeader(name.toLowerCase()) !== -1;
  }

  /** The request body as bytes (on a WebSocket: the current message). */
  getRequestBody(): Buffer {
    return this._request.body;
  }

  /** The request body decoded as UTF-8. */
  getRequestBodyString(): string {
    return this._request.body.toString('utf8');
  }

  /**
   * The request body parsed as JSON.
   * @throws HttpError 400 when the body is not valid JSON
   */
  getRequestBodyJson<T = unknown>(): T {
    try {
      return JSON.parse(this._request.body.toString('utf8')) as T;
    } catch (error) {
      throw new HttpError(400, 'request body is not valid JSON', { cause: error });
    }
  }

  /**
   * The JSON body validated by a Standard Schema validator (zod, valibot, arktype…).
   * @throws HttpError 400 for invalid JSON, 422 listing the issues when validation fails
   */
  async parseRequestBody<S extends StandardSchemaV1>(schema: S): Promise<InferSchemaOutput<S>> {
    const type = this.getRequestHeader('content-type');
    if (type !== undefined && !JSON_MEDIA_TYPE.test(type)) {
      throw new HttpError(
        415,
        `expected a JSON body (application/json), got ${type.slice(0, 80)}`,
        {
          code: 'UNSUPPORTED_MEDIA_TYPE',
        },
      );
    }
    const value = this.getRequestBodyJson();
    const result = await schema['~standard'].validate(value);
    if (result.issues !== undefined) {
      const details = result.issues.map((issue) => {
        const path = (issue.path ?? [])
          .map((part) => String(typeof part === 'object' ? part.key : part))
          .join('.');
        return path === '' ? issue.message : `${path}: ${issue.message}`;
      });
      throw new HttpError(422, `request body is invalid: ${details.join('; ')}`, {
        code: 'VALIDATION_FAILED',
      });
    }
    return result.value as InferSchemaOutput<S>;
  }

  /**
   * Parses a `application/x-www-form-urlencoded` or `multipart/form-data` body into fields and
   * files. Wrong content type → `HttpError` 415, malformed → 400, over a limit → 413.
   */
  getRequestForm(options: RequestFormOptions = {}): Promise<RequestForm> {
    return parseRequestForm(this._request.body, this.getRequestHeader('content-type'), options);
  }

  /** Request cookies by name (first occurrence wins). */
  getRequestCookies(): Record<string, string> {
    return { ...this.cookieJar() };
  }

  /** Request cookie `name`, or `undefined`. */
  getRequestCookie(name: string): string | undefined {
    return this.cookieJar()[name];
  }

  /**
   * Replaces the request cookies that `getRequestCookie(s)` report: for middleware that
   * verifies or decrypts cookies before handlers read them.
   */
  setRequestCookies(cookies: Record<string, string>): this {
    this.more().cookies = Object.assign(Object.create(null) as Record<string, string>, cookies);
    return this;
  }

  /** The protocol named in a request's `Upgrade` header (lower case), e.g. `websocket`, or `''`. */
  getRequestUpgradeType(): string {
    return this._request.upgradeHeader?.toLowerCase() ?? '';
  }

  /** Route params of the matched pattern, percent-decoded. */
  getRouteParams(): Record<string, string> {
    return { ...this._params };
  }

  /** Route param `name`, or `undefined`. */
  getRouteParam(name: string): string | undefined {
    return this._params[name];
  }

  /** The pattern of the matched route (as registered), or `undefined` when none matched. */
  getRoutePattern(): string | undefined {
    return this._routePattern;
  }

  /** The peer's socket address. */
  getSocketAddr(): SocketAddress | undefined {
    return this._channel.remoteAddress();
  }

  /** `"ip:port"` of the peer (`"[::1]:port"` for IPv6), or `"0.0.0.0:0"` when unknown. */
  getSocketAddrOrDefaultString(): string {
    const address = this._channel.remoteAddress();
    if (address === undefined) return '0.0.0.0:0';
    return address.family === 'IPv6'
      ? `[${address.address}]:${address.port}`
      : `${address.address}:${address.port}`;
  }

  /** The peer's IP address, or `undefined`. */
  getSocketHost(): string | undefined {
    return this._channel.remoteAddress()?.address;
  }

  /** The peer's port, or `undefined`. */
  getSocketPort(): number | undefined {
    return this._channel.remoteAddress()?.port;
  }

  /** Whether the request came over TLS (HTTPS or WSS). */
  isSecure(): boolean {
    return this._channel.isSecure();
  }

  /** Live connection counts of the server this request arrived at (zeros under `inject()`). */
  getServerStats(): ServerStats {
    return this._channel.serverStats();
  }

  /**
   * Fires when the client goes away or the exchange is over (response sent, stream or
   * WebSocket closed), so abandoned work can stop. Created on first use.
   */
  get signal(): AbortSignal {
    const extra = this.more();
    if (extra.abortController === null) {
      extra.abortController = new AbortController();
      if (this._signalDue || this._channel.isPeerGone()) extra.abortController.abort();
    }
    return extra.abortController.signal;
  }

  // ---- response ------------------------------------------------------------------------------

  /** Sets the response status code (100–599). */
  setResponseStatusCode(code: number): this {
    // 1xx are interim answers, never the final one a handler gives (the server sends 100 and 101).
    if (!Number.isInteger(code) || code < 200 || code > 599) {
      throw new HyperlaneError(
        'HL_ERR_HTTP',
        `status code must be an integer from 200 to 599, got ${code}`,
      );
    }
    this._status = code;
    return this;
  }

  /** The response status code. */
  getResponseStatusCode(): number {
    return this._status;
  }

  /** Sets response header `name`, replacing any value it had. */
  setResponseHeader(name: string, value: string | number): this {
    this._writableHeaders().set(checkHeaderName(name), this.checkValue(name, String(value)));
    return this;
  }

  /** Appends another value for response header `name`. */
  addResponseHeader(name: string, value: string | number): this {
    const lower = checkHeaderName(name);
    const text = this.checkValue(name, String(value));
    const headers = this._writableHeaders();
    const previous = headers.get(lower);
    if (previous === undefined) headers.set(lower, text);
    else if (typeof previous === 'string') headers.set(lower, [previous, text]);
    else previous.push(text);
    return this;
  }

  /** Removes response header `name`. */
  removeResponseHeader(name: string): this {
    if (this._headers !== NO_RESPONSE_HEADERS) this._writableHeaders().delete(name.toLowerCase());
    return this;
  }

  /** Response header `name` (several values joined with `, `), or `undefined`. */
  getResponseHeader(name: string): string | undefined {
    const value = this._headers.get(name.toLowerCase());
    return typeof value === 'string' || value === undefined ? value : value.join(', ');
  }

  /** Every value of response header `name`. */
  getResponseHeaderValues(name: string): string[] {
    const value = this._headers.get(name.toLowerCase());
    if (value === undefined) return [];
    return typeof value === 'string' ? [value] : [...value];
  }

  /** Response headers by lower-case name, several values joined with `, `. */
  getResponseHeaders(): Record<string, string> {
    const headers = this._headers;
    const result: Record<string, string> = {};
    for (let i = 0; i < headers.size; i++) {
      const value = headers.valueAt(i);
      result[headers.nameAt(i)] = typeof value === 'string' ? value : value.join(', ');
    }
    return result;
  }

  /** Appends a `Set-Cookie` header (a built string or a {@link CookieBuilder}). */
  setResponseCookie(cookie: string | CookieBuilder): this {
    return this.addResponseHeader(
      'set-cookie',
      typeof cookie === 'string' ? cookie : cookie.build(),
    );
  }

  /** Sets the response body (a string is sent as UTF-8). */
  setResponseBody(body: ResponseBody): this {
    if (typeof body !== 'string' && !(body instanceof Uint8Array)) {
      throw new HyperlaneError(
        'HL_ERR_HTTP',
        `response body must be a string or a Uint8Array, got ${body === null ? 'null' : typeof body}; use setResponseBodyJson for values`,
      );
    }
    this._body = body;
    return this;
  }

  /** Sets the body to `JSON.stringify(value)` and the content type to JSON. */
  setResponseBodyJson(value: unknown): this {
    this._body = JSON.stringify(value) ?? 'null';
    this._writableHeaders().set('content-type', JSON_CONTENT_TYPE);
    return this;
  }

  /** The response body as bytes. */
  getResponseBody(): Buffer {
    const body = this._body;
    if (typeof body === 'string') return Buffer.from(body, 'utf8');
    return Buffer.isBuffer(body)
      ? body
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  }

  /** The response body as text. */
  getResponseBodyString(): string {
    const body = this._body;
    return typeof body === 'string'
      ? body
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  }

  /** Marks the response as a stream: it stays open after `send()` and `sendBody()` adds chunks. */
  setResponseStream(): this {
    this._streaming = true;
    return this;
  }

  /** Whether the response is (or will be) streamed. */
  isStreaming(): boolean {
    if (this._streaming) return true;
    const type = this._headers.get('content-type');
    return typeof type === 'string' && type.startsWith('text/event-stream');
  }

  /**
   * Writes status, headers and body. On a stream the response stays open; on a WebSocket this
   * sends the body as a message.
   * @returns false when a response already went out (or the peer is gone)
   */
  async send(): Promise<boolean> {
    if (this._webSocket) {
      await this.sendBody();
      return true;
    }
    return this.sendNow();
  }

  /** @internal Synchronous send, used by the lifecycle's auto-send. */
  sendNow(): boolean {
    if (this._sent || this._channel.isPeerGone()) return false;
    if (this.hasBeforeSendHooks() && !this._webSocket) {
      this.runBeforeSendHooks();
      if (this._sent) return false; // a hook sent it
    }
    if (this.isStreaming()) this._streaming = true;
    this._sent = true;
    try {
      if (this._streaming && this._encoder !== null) {
        if (!this._channel.sendResponse(this, true)) return false;
        if (this._body.length > 0) this._writeEncoded(this._body).catch(noop);
        return true;
      }
      return this._channel.sendResponse(this, false);
    } catch (error) {
      // The transport refused before writing a byte (a body longer than its declared
      // content-length): nothing went out, so the error response still can.
      this._sent = false;
      this._streaming = false;
      throw error;
    }
  }

  /**
   * Sends the current body as the next chunk of a stream (starting the stream if nothing was
   * sent yet), or as one WebSocket message. Waits while the peer is slow to read.
   * A large `Uint8Array` body is handed to the socket as it is, not copied (as with any Node
   * stream): give each send its own bytes rather than changing a buffer already sent.
   * @throws HyperlaneError `HL_ERR_PEER_GONE` once the client has gone
   */
  sendBody(): Promise<void> {
    // Not an async function: it returns the channel's promise itself, so an awaited send costs
    // no extra promise and no extra turns of the microtask queue (one per WebSocket message).
    if (this._webSocket) return this._channel.sendChunk(this, this._body);
    if (this._channel.isPeerGone() || this._streamEnded || this._done || this._streamClosing) {
      return Promise.reject(peerGoneError());
    }
    if (!this._sent && this.hasBeforeSendHooks()) {
      this._streaming = true; // so the hooks see the stream this response is about to become
      try {
        this.runBeforeSendHooks();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (!this._sent) {
      this._streaming = true;
      this._sent = true;
      if (!this._channel.sendResponse(this, true)) {
        return Promise.reject(peerGoneError());
      }
    } else if (!this._streaming) {
      return Promise.reject(
        new HyperlaneError(
          'HL_ERR_SERVER_STATE',
          'sendBody() after a complete response; call setResponseStream() before send()',
        ),
      );
    }
    if (this._encoder !== null) return this._writeEncoded(this._body);
    return this._channel.sendChunk(this, this._body);
  }

  /** Resolves once everything written so far has been handed to the OS. */
  flush(): Promise<void> {
    return this._channel.flush();
  }

  /**
   * Stops the chain and closes: ends a stream, closes a WebSocket (`code` 1000 by default), or
   * closes the connection after the response (which still goes out if nothing was sent).
   */
  async closed(code?: number, reason?: string): Promise<void> {
    this._aborted = true;
    this._closed = true;
    this._keepAlive = false;
    if (this._webSocket || (this._sent && this._streaming)) {
      if (this._encoder !== null) await this._finishEncoding();
      await this._channel.endStream(this, code, reason);
    }
  }

  /** Stops the rest of the middleware/route chain for this request. */
  aborted(): void {
    this._aborted = true;
  }

  /** Whether `aborted()` or `closed()` was called. */
  isAborted(): boolean {
    return this._aborted;
  }

  /** Whether `closed()` was called. */
  isClosed(): boolean {
    return this._closed;
  }

  /** Whether this Context belongs to a WebSocket connection. */
  isWebSocket(): boolean {
    return this._webSocket;
  }

  /** Whether the response (or its head, for a stream) went out. */
  isSent(): boolean {
    return this._sent;
  }

  /** `'text'` or `'binary'`: the type of the current WebSocket message. */
  getWsMessageType(): 'text' | 'binary' {
    return this._binaryMessage ? 'binary' : 'text';
  }

  /**
   * The connection's incoming WebSocket messages, for routes whose per-message hook is disabled
   * (`server.disableWsHook(path)`). Each one also becomes `getRequestBody()`. Ends when the
   * connection closes; on plain HTTP it yields nothing.
   */
  async *wsMessages(): AsyncGenerator<WsMessage, void, undefined> {
    for (;;) {
      const message = await this._channel.nextMessage();
      if (message === undefined) return;
      yield message;
    }
  }

  // ---- response hooks ------------------------------------------------------------------------

  /**
   * Runs `hook` once, synchronously, just before the response head is written (for a whole
   * response and for the start of a stream), in registration order. Setters still apply there,
   * so a hook can add headers or replace the body. Not used on WebSocket messages.
   */
  onBeforeSend(hook: ContextHook, options?: BeforeSendOptions): this {
    if (this._webSocket) return this; // messages have no head: nothing would ever run it
    const extra = this.more();
    if (options?.last === true) (extra.lastBeforeSendHooks ??= []).push(hook);
    else (extra.beforeSendHooks ??= []).push(hook);
    // One list is checked on the hot path; the late ones are appended when it runs.
    extra.beforeSendHooks ??= [];
    return this;
  }

  /**
   * Runs `hook` once when the exchange is over: the response written, the stream or WebSocket
   * closed, or the client gone. A hook that throws is reported on stderr and the others still
   * run. Runs at once if the exchange is already over.
   */
  onFinish(hook: ContextHook): this {
    if (this._done) runHook(hook, this);
    else (this.more().finishHooks ??= []).push(hook);
    return this;
  }

  /**
   * Passes every chunk of a streamed response through `encoder` (null removes it). Set it
   * before the stream starts, e.g. from an `onBeforeSend()` hook; the caller also sets the
   * matching `Content-Encoding`.
   */
  setResponseEncoder(encoder: ResponseEncoder | null): this {
    if (encoder !== null || this.extra !== null) this.more().encoder = encoder;
    return this;
  }

  // ---- attributes ----------------------------------------------------------------------------

  /** Stores a value under `key` for later middleware and handlers. */
  setAttribute(key: unknown, value: unknown): this {
    (this.attributes ??= new Map()).set(key, value);
    return this;
  }

  /** The value stored under `key`, or `undefined`. */
  getAttribute<T = unknown>(key: unknown): T | undefined {
    return this.attributes?.get(key) as T | undefined;
  }

  /** Removes the value stored under `key`. */
  removeAttribute(key: unknown): this {
    this.attributes?.delete(key);
    return this;
  }

  /** Removes every attribute. */
  clearAttributes(): this {
    this.attributes?.clear();
    return this;
  }

  // ---- internals used by the lifecycle and the transports -------------------------------------

  /**
   * @internal Gives a non-empty body without a content type the default one: UTF-8 text for a
   * string, octet-stream for bytes. Every transport calls it before writing the head.
   */
  _applyDefaultContentType(): void {
    const body = this._body;
    if (body.length > 0 && !this._headers.has('content-type')) {
      this._writableHeaders().set(
        'content-type',
        typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream',
      );
    }
  }

  /**
   * @internal Ends the exchange: runs `onFinish()` hooks (once) and fires `signal` (if anyone
   * asked for it). Called when the response is complete, the stream or socket closed, or the
   * peer left.
   */
  _finish(): void {
    if (!this._done) {
      this._done = true;
      const extra = this.extra;
      const hooks = extra === null ? null : extra.finishHooks;
      if (hooks !== null) {
        extra!.finishHooks = null;
        for (let i = 0; i < hooks.length; i++) runHook(hooks[i]!, this);
      }
    }
    this._abortSignal();
  }

  /** @internal Writes one stream chunk through the encoder, after the chunks before it. */
  _writeEncoded(body: ResponseBody): Promise<void> {
    const extra = this.extra!;
    const encoder = extra.encoder!;
    const chunk = toBuffer(body);
    const written = (extra.encoderTail ?? RESOLVED)
      .then(() => encoder.encode(chunk))
      .then((encoded) => this._channel.sendChunk(this, encoded));
    extra.encoderTail = written.catch(noop);
    return written;
  }

  /**
   * @internal Flushes the encoder's last bytes once the chunks before them are written, and
   * removes it; the transport then ends the stream as usual.
   */
  _finishEncoding(): Promise<void> {
    const extra = this.extra;
    if (extra === null) return RESOLVED;
    if (extra.encoderFinishing !== null) return extra.encoderFinishing;
    const encoder = extra.encoder;
    if (encoder === null) return RESOLVED;
    extra.encoder = null;
    // From here a chunk could only land after the encoder's last bytes, unencoded: refuse it.
    this._streamClosing = true;
    extra.encoderFinishing = (extra.encoderTail ?? RESOLVED)
      .then(() => encoder.finish())
      .then((last) => {
        if (last.length > 0 && !this._streamEnded && !this._channel.isPeerGone()) {
          return this._channel.sendChunk(this, last);
        }
        return undefined;
      })
      .then(
        () => {
          this._encodingSettled = true;
        },
        (error: unknown) => {
          this._encodingSettled = true;
          this._encodingFailed = true;
          throw error;
        },
      );
    return extra.encoderFinishing;
  }

  /** @internal The encoder's finish has started and not settled: the stream must wait for it. */
  _isFinishingEncoding(): boolean {
    const extra = this.extra;
    return extra !== null && extra.encoderFinishing !== null && !this._encodingSettled;
  }

  /** @internal Encoder of a streamed response's chunks, if one was set. */
  get _encoder(): ResponseEncoder | null {
    const extra = this.extra;
    return extra === null ? null : extra.encoder;
  }

  private hasBeforeSendHooks(): boolean {
    const extra = this.extra;
    return extra !== null && extra.beforeSendHooks !== null;
  }

  private more(): ContextExtra {
    return (this.extra ??= new ContextExtra());
  }

  private runBeforeSendHooks(): void {
    const extra = this.extra!;
    const hooks = extra.beforeSendHooks!;
    const last = extra.lastBeforeSendHooks;
    // Once: a hook that sends, or a 500 after a throw, skips them.
    extra.beforeSendHooks = null;
    extra.lastBeforeSendHooks = null;
    for (let i = 0; i < hooks.length; i++) hooks[i]!(this);
    if (last !== null) for (let i = 0; i < last.length; i++) last[i]!(this);
  }

  /** @internal The response headers for writing: this Context's own set, made on first use. */
  _writableHeaders(): ResponseHeaders {
    let headers = this._headers;
    if (headers === NO_RESPONSE_HEADERS) this._headers = headers = new ResponseHeaders();
    return headers as ResponseHeaders;
  }

  /** @internal Drops every response header (an error response starts afresh). */
  _clearHeaders(): void {
    this._headers = NO_RESPONSE_HEADERS;
  }

  /**
   * @internal The `content-length` the handler set itself (a stream of known length, a HEAD
   * reply standing for a body), or -1 if it set none or nonsense.
   */
  _declaredContentLength(): number {
    const declared = this._headers.get('content-length');
    return typeof declared === 'string' && DECLARED_LENGTH.test(declared) ? Number(declared) : -1;
  }

  /** @internal Fires `signal` without ending the exchange (response sent, or the client left). */
  _abortSignal(): void {
    this._signalDue = true;
    const controller = this.extra === null ? null : this.extra.abortController;
    if (controller !== null && !controller.signal.aborted) controller.abort();
  }

  private checkValue(name: string, value: string): string {
    if (ASCII_HEADER_VALUE.test(value)) return value;
    checkHeaderValue(name, value);
    this._latin1Head = true;
    return value;
  }

  private searchParams(): URLSearchParams {
    return (this.more().queryParams ??= new URLSearchParams(this._request.query));
  }

  private cookieJar(): Record<string, string> {
    const extra = this.more();
    if (extra.cookies === null) {
      const jar: Record<string, string> = Object.create(null) as Record<string, string>;
      const headers = this._request.headers;
      for (let i = 0; i < headers.length; i += 2) {
        if (headers[i] === 'cookie') parseCookieHeader(headers[i + 1]!, jar);
      }
      extra.cookies = jar;
    }
    return extra.cookies;
  }
}

function runHook(hook: ContextHook, ctx: Context): void {
  try {
    hook(ctx);
  } catch (error) {
    console.error('[hyperlane-ts] an onFinish() hook threw:', error);
  }
}

function toBuffer(body: ResponseBody): Buffer {
  if (typeof body === 'string') return Buffer.from(body);
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

// Names already validated, by their spelling in the code, mapped to one lower-case copy: a
// handler's `setResponseHeader('Content-Type', …)` then costs a lookup, not a regex and a new
// string (whose hash the header Map would compute again). Bounded: names made per request
// (rare) stop being remembered once it is full.
const checkedNames = new Map<string, string>();
const CHECKED_NAMES_MAX = 1024;

function checkHeaderName(name: string): string {
  const known = checkedNames.get(name);
  if (known !== undefined) return known;
  if (!TOKEN.test(name)) {
    throw new HyperlaneError('HL_ERR_HEADER_INVALID', `invalid response header name "${name}"`);
  }
  const lower = name.toLowerCase();
  if (checkedNames.size < CHECKED_NAMES_MAX) checkedNames.set(name, lower);
  return lower;
}

function checkHeaderValue(name: string, value: string): void {
  if (!HEADER_VALUE.test(value)) {
    throw new HyperlaneError(
      'HL_ERR_HEADER_INVALID',
      `response header "${name}" has a control character (CR, LF, NUL…) or a character above U+00FF in its value`,
    );
  }
}
