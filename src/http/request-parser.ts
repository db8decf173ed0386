import { COMMON_HEADER_NAMES } from './common-headers.js';
import { ParsedRequest } from './parsed-request.js';
import { TOKEN } from '../util/token.js';

/** A request the parser refuses; `status` is what the client is told before the connection closes. */
export class HttpParseError extends Error {
  /** The HTTP status to answer with (400, 413, 414, 431, 501, 505…). */
  readonly status: number;

  /**
   * @param status - the status code to send
   * @param message - which rule the request broke
   */
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HttpParseError';
    this.status = status;
  }
}

/** The bounds a parser enforces; every one of them is something a peer could otherwise grow. */
export interface ParserLimits {
  /** Largest head (request line, headers, final blank line) accepted, in bytes. */
  readonly maxHeadSize: number;
  /** Largest body accepted, in bytes (Content-Length or chunked total). */
  readonly maxBodySize: number;
}

// RFC 9110 §5.5 field-value: HTAB, SP, VCHAR, obs-text. Anything else (NUL, bare CR, CTLs) is refused.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// Printable ASCII only; spaces and controls in a target are a framing attack, not a path.
const TARGET = /^[\x21-\x7e]+$/;
const VERSION = /^HTTP\/(\d)\.(\d)$/;
// Header names clients commonly send, in the spellings they use (lower case for HTTP/2-minded
// clients, title case for browsers, curl and load generators), mapped to the lower-case name.
const KNOWN_HEADER_NAMES = new Map<string, string>();
for (const lower of COMMON_HEADER_NAMES) {
  const titled = lower.replace(
    /(^|-)([a-z])/g,
    (_match, dash: string, letter: string) => dash + letter.toUpperCase(),
  );
  KNOWN_HEADER_NAMES.set(lower, lower).set(titled, lower);
}
// Spellings that title case does not produce.
KNOWN_HEADER_NAMES.set('Sec-WebSocket-Key', 'sec-websocket-key')
  .set('Sec-WebSocket-Version', 'sec-websocket-version')
  .set('Sec-WebSocket-Extensions', 'sec-websocket-extensions')
  .set('Sec-WebSocket-Protocol', 'sec-websocket-protocol')
  .set('Last-Event-ID', 'last-event-id')
  .set('X-Request-ID', 'x-request-id');
// The same spellings found by a name's length and first letter, then compared in place: a
// header line's name is recognised without cutting it out as a string and hashing it.
const MAX_KNOWN_NAME = 32;
const KNOWN_BY_SHAPE: ([spelling: string, lower: string][] | undefined)[] = [];
for (const [spelling, lower] of KNOWN_HEADER_NAMES) {
  if (spelling.length > MAX_KNOWN_NAME) continue;
  const shape = nameShape(spelling.length, spelling.charCodeAt(0));
  (KNOWN_BY_SHAPE[shape] ??= []).push([spelling, lower]);
}

function nameShape(length: number, firstChar: number): number {
  return (length << 7) | (firstChar & 127);
}

/** The lower-case form of a header line's name when it is a known spelling (`colon` its end). */
function knownHeaderName(line: string, colon: number): string | undefined {
  if (colon > MAX_KNOWN_NAME) return undefined;
  const candidates = KNOWN_BY_SHAPE[nameShape(colon, line.charCodeAt(0))];
  if (candidates === undefined) return undefined;
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i]!;
    const spelling = candidate[0];
    let at = 1;
    while (at < colon && line.charCodeAt(at) === spelling.charCodeAt(at)) at++;
    if (at === colon) return candidate[1];
  }
  return undefined;
}

// RFC 3986 host (reg-name, IPv4, or a bracketed IP literal) with an optional port; may be empty.
const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.vV]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(?::\d*)?$/;
// Any number of leading zeros (RFC 9110 §8.6, RFC 9112 §7.1), then at most 15 decimal or 16
// hex digits (a size that large is refused by the body limit long before it could matter).
const CONTENT_LENGTH_VALUE = /^0*\d{1,15}$/;
const CHUNK_SIZE = /^0*[0-9A-Fa-f]{1,16}$/;
// RFC 9112 §7.1.1 chunk extensions, with the bad whitespace (BWS) the grammar allows.
const CHUNK_EXTENSIONS =
  /^(?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*=[ \t]*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*"))?)*$/;
// A chunk-size line with extensions longer than this is an attack, not a chunk.
const MAX_CHUNK_LINE = 4096;

const EMPTY = Buffer.alloc(0);

// Buffer's own latin1 slicer: what toString('latin1', a, b) calls after checking its arguments,
// which the parser has already bounded. One line of every request goes through it.
type LatinSliceable = Buffer & { latin1Slice(start: number, end: number): string };
const LF = 10;
const CR = 13;

const enum State {
  RequestLine,
  HeaderLine,
  FixedBody,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailer,
}

/**
 * Incremental HTTP/1.1 request parser (RFC 9112), strict about framing so that no two parsers
 * can disagree on where one request ends and the next begins (request smuggling, §11.2).
 *
 * Feed bytes with `push()`, then call `next()` until it returns `null` (more bytes needed).
 * Any byte split gives the same result. A refused request throws `HttpParseError`; the caller
 * answers with its status and closes, since the framing of what follows can no longer be trusted.
 */
export class RequestParser {
  /** True once after a head asked for `Expect: 100-continue` and a body is still to come. */
  needsContinue = false;

  private buffer: Buffer = EMPTY;
  private offset = 0;
  private state: State = State.RequestLine;
  private request: ParsedRequest | null = null;
  private headBytes = 0;
  /**
   * The head bytes as text, made with one native call for all the lines it holds (every line
   * of a small request, of a pipelined batch) rather than one search and one copy per line:
   * `buffer` from `headTextStart` on, at most as far as a head may still reach.
   */
  private headText = '';
  private headTextStart = 0;
  private headTextOf: Buffer = EMPTY;
  private remaining = 0;
  /** The body so far when it arrived in one piece (a view of the socket's chunk, no copy). */
  private bodyFirst: Buffer | null = null;
  /** The body so far once it arrived in pieces, copied into one buffer that grows by doubling. */
  private bodyBuffer: Buffer | null = null;
  private bodySize = 0;
  private readonly limits: ParserLimits;

  /** @param limits - the head and body bounds to enforce */
  constructor(limits: ParserLimits) {
    this.limits = limits;
  }

  /** Appends bytes received from the peer. */
  push(chunk: Buffer): void {
    if (this.offset >= this.buffer.length) {
      this.buffer = chunk;
    } else {
      this.buffer = Buffer.concat([this.buffer.subarray(this.offset), chunk]);
    }
    this.offset = 0;
  }

  /** Bytes received but not yet consumed by a complete request. */
  bufferedBytes(): number {
    return this.buffer.length - this.offset;
  }

  /** Whether a request has started arriving but is not yet complete. */
  isMidRequest(): boolean {
    return this.state !== State.RequestLine || this.headBytes > 0 || this.bufferedBytes() > 0;
  }

  /** Takes what is left unparsed (for a protocol switch such as WebSocket). */
  takeRemainder(): Buffer {
    const rest = this.buffer.subarray(this.offset);
    this.release();
    return rest;
  }

  /** Lets go of the buffered bytes and the text made of them. */
  private release(): void {
    this.buffer = EMPTY;
    this.offset = 0;
    this.headText = '';
    this.headTextOf = EMPTY;
  }

  /**
   * Parses the next complete request from the buffered bytes.
   * @returns the request, or `null` when more bytes are needed
   * @throws HttpParseError when the bytes break a rule
   */
  next(): ParsedRequest | null {
    const request = this.parseNext();
    // Everything received is consumed: let the last chunk go rather than hold it while the
    // connection idles (each read is its own allocation).
    if (request === null && this.offset >= this.buffer.length) this.release();
    return request;
  }

  private parseNext(): ParsedRequest | null {
    for (;;) {
      switch (this.state) {
        case State.RequestLine:
        case State.HeaderLine:
        case State.Trailer: {
          const line = this.readHeadLine();
          if (line === null) return null;
          if (this.state === State.RequestLine) this.onRequestLine(line);
          else if (this.state === State.HeaderLine) {
            if (line.length === 0) {
              const done = this.onHeadEnd();
              if (done !== null) return done;
            } else this.onHeaderLine(line);
          } else if (line.length === 0) return this.finish();
          else this.onTrailerLine(line);
          break;
        }
        case State.FixedBody:
          if (!this.readFixedBody()) return null;
          return this.finish();
        case State.ChunkSize:
          if (!this.readChunkSize()) return null;
          break;
        case State.ChunkData:
          if (!this.readChunkData()) return null;
          break;
        case State.ChunkDataEnd:
          if (!this.readChunkDataEnd()) return null;
          break;
      }
    }
  }

  /** One CRLF-terminated line of the head or trailers, without its CRLF; null until complete. */
  private readHeadLine(): string | null {
    const buffer = this.buffer;
    const start = this.offset;
    let text = this.headText;
    let at = start - this.headTextStart;
    if (this.headTextOf !== buffer || at < 0 || at >= text.length) {
      text = this.makeHeadText(start);
      at = 0;
    }
    let lf = text.indexOf('\n', at);
    if (lf === -1 && at > 0 && this.isHeadTextCut()) {
      // Made for an earlier head, which the limit allowed to reach less far: make it anew.
      text = this.makeHeadText(start);
      at = 0;
      lf = text.indexOf('\n');
    }
    const inRequestLine = this.state === State.RequestLine;
    if (lf === -1) {
      // Cut short by the limit, or over it with what is buffered: the line is too long.
      if (
        this.isHeadTextCut() ||
        this.headBytes + buffer.length - start > this.limits.maxHeadSize
      ) {
        throw this.headTooLarge(inRequestLine);
      }
      return null;
    }
    const lineBytes = lf + 1 - at;
    if (this.headBytes + lineBytes > this.limits.maxHeadSize)
      throw this.headTooLarge(inRequestLine);
    if (lf === at || text.charCodeAt(lf - 1) !== CR) {
      throw new HttpParseError(400, 'line ends in a bare LF; HTTP/1.1 lines end in CRLF');
    }
    this.offset = start + lineBytes;
    this.headBytes += lineBytes;
    return text.slice(at, lf - 1);
  }

  /** Whether `headText` stops short of the buffered bytes (the head limit cut it). */
  private isHeadTextCut(): boolean {
    return this.headTextStart + this.headText.length < this.buffer.length;
  }

  /** Makes `headText` from `start` on, as far as a line of this head may still reach. */
  private makeHeadText(start: number): string {
    const buffer = this.buffer;
    const end = Math.min(buffer.length, start + this.limits.maxHeadSize - this.headBytes + 1);
    this.headTextStart = start;
    this.headTextOf = buffer;
    return (this.headText = (buffer as LatinSliceable).latin1Slice(start, end));
  }

  private headTooLarge(inRequestLine: boolean): HttpParseError {
    if (inRequestLine) {
      return new HttpParseError(414, `request line longer than ${this.limits.maxHeadSize} bytes`);
    }
    const what = this.state === State.Trailer ? 'trailers' : 'request head';
    return new HttpParseError(431, `${what} larger than ${this.limits.maxHeadSize} bytes`);
  }

  private onRequestLine(line: string): void {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
    if (line.length === 0) return;
    const firstSpace = line.indexOf(' ');
    const secondSpace = firstSpace === -1 ? -1 : line.indexOf(' ', firstSpace + 1);
    if (secondSpace === -1 || line.indexOf(' ', secondSpace + 1) !== -1) {
      throw new HttpParseError(400, 'request line is not "method SP target SP version"');
    }
    // GET and HTTP/1.1 are recognised in place: no string cut out for either, most of the time.
    const method = firstSpace === 3 && line.startsWith('GET') ? 'GET' : line.slice(0, firstSpace);
    const target = line.slice(firstSpace + 1, secondSpace);
    if (method !== 'GET' && !isCommonMethod(method) && !TOKEN.test(method)) {
      throw new HttpParseError(400, 'method is not a token');
    }
    if (!isTargetText(target)) throw new HttpParseError(400, 'request target has invalid bytes');
    const http11 =
      line.length - secondSpace === 9 && line.endsWith('HTTP/1.1')
        ? true
        : isHttp11(line.slice(secondSpace + 1));
    const request = new ParsedRequest(method, target, http11);
    this.resolveTargetForm(request, target);
    this.request = request;
    this.state = State.HeaderLine;
  }

  /** Splits the target into path and query per its form (RFC 9112 §3.2). */
  private resolveTargetForm(request: ParsedRequest, target: string): void {
    // RFC 9110 §9.3.6: a tunnel is not something this server offers, whatever the target form.
    if (request.method === 'CONNECT') throw new HttpParseError(501, 'CONNECT is not supported');
    let pathStart = 0;
    const first = target.charCodeAt(0);
    if (first !== 47 /* '/' */) {
      if (target === '*') {
        if (request.method !== 'OPTIONS') {
          throw new HttpParseError(400, 'asterisk-form target is only for OPTIONS');
        }
        request.path = '*';
        return;
      }
      const schemeEnd = target.indexOf('://');
      const scheme = schemeEnd === -1 ? '' : target.slice(0, schemeEnd).toLowerCase();
      if (scheme !== 'http' && scheme !== 'https') {
        throw new HttpParseError(400, 'request target is neither origin-form nor absolute-form');
      }
      const authorityStart = schemeEnd + 3;
      const slash = target.indexOf('/', authorityStart);
      const question = target.indexOf('?', authorityStart);
      const hash = target.indexOf('#', authorityStart);
      const targetEnd = hash === -1 ? target.length : hash;
      const authorityEnd = Math.min(
        slash === -1 ? targetEnd : slash,
        question === -1 ? targetEnd : question,
        targetEnd,
      );
      const authority = target.slice(authorityStart, authorityEnd);
      // Userinfo (`user@host`) and anything else that is not host[:port] is refused, as a
      // Host header would be (RFC 9110 §4.2.4, RFC 9112 §3.2.2).
      // An empty host is invalid too (RFC 9110 §4.2.1), with or without a port.
      if (authority.length === 0 || authority.charCodeAt(0) === 58 || !HOST_VALUE.test(authority)) {
        throw new HttpParseError(400, `invalid authority "${authority}" in the request target`);
      }
      request.absoluteAuthority = authority;
      if (authorityEnd === targetEnd || authorityEnd === question) {
        request.path = '/';
        request.query =
          question === -1 || question > targetEnd ? '' : target.slice(question + 1, targetEnd);
        return;
      }
      pathStart = slash;
    }
    const hash = target.indexOf('#', pathStart);
    const end = hash === -1 ? target.length : hash;
    const question = target.indexOf('?', pathStart);
    if (question === -1 || question > end) {
      request.path =
        pathStart === 0 && end === target.length ? target : target.slice(pathStart, end);
    } else {
      request.path = target.slice(pathStart, question);
      request.query = target.slice(question + 1, end);
    }
  }

  private onHeaderLine(line: string): void {
    const request = this.request as ParsedRequest;
    const first = line.charCodeAt(0);
    if (first === 32 || first === 9) {
      throw new HttpParseError(400, 'obsolete line folding is not accepted (RFC 9112 §5.2)');
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HttpParseError(400, 'header line has no field name');
    // A common name (as clients spell it) is a valid token: one lookup gives its shared
    // lower-case form, instead of a regex and a new string per header per request.
    let lowerName = knownHeaderName(line, colon);
    if (lowerName === undefined) {
      const name = line.slice(0, colon);
      if (!TOKEN.test(name)) {
        throw new HttpParseError(
          400,
          `invalid header name "${name}" (whitespace before the colon?)`,
        );
      }
      lowerName = name.toLowerCase();
    }
    const value = trimOws(line, colon + 1);
    // Host has a stricter check of its own below, which refuses whatever this one would.
    if (lowerName !== 'host' && !FIELD_VALUE.test(value)) {
      throw new HttpParseError(
        400,
        `header "${line.slice(0, colon)}" has invalid bytes in its value`,
      );
    }
    request.addHeader(lowerName, value);
    switch (lowerName) {
      case 'host':
        if (request.host !== undefined) throw new HttpParseError(400, 'more than one Host header');
        // RFC 9112 §3.2: a Host that is not a valid authority MUST be refused.
        if (!HOST_VALUE.test(value)) throw new HttpParseError(400, `invalid Host "${value}"`);
        request.host = value;
        break;
      case 'content-length':
        if (request.contentLength !== -1) {
          throw new HttpParseError(400, 'more than one Content-Length header');
        }
        if (!CONTENT_LENGTH_VALUE.test(value)) {
          throw new HttpParseError(400, `Content-Length "${value}" is not a decimal number`);
        }
        request.contentLength = Number(value);
        break;
      case 'transfer-encoding':
        request.transferEncoding =
          request.transferEncoding === undefined ? value : `${request.transferEncoding}, ${value}`;
        break;
      case 'connection':
        applyConnectionTokens(request, value);
        break;
      case 'expect':
        // RFC 9110 §10.1.1: an HTTP/1.0 request's expectation is ignored.
        if (!request.isHttp11) break;
        if (value.toLowerCase() !== '100-continue') {
          throw new HttpParseError(417, `unsupported expectation "${value}"`);
        }
        request.expectContinue = true;
        break;
      case 'upgrade':
        request.upgradeHeader = value;
        break;
    }
  }

  private onTrailerLine(line: string): void {
    const first = line.charCodeAt(0);
    const colon = line.indexOf(':');
    if (first === 32 || first === 9 || colon <= 0 || !TOKEN.test(line.slice(0, colon))) {
      throw new HttpParseError(400, 'malformed trailer field');
    }
    if (!FIELD_VALUE.test(trimOws(line, colon + 1))) {
      throw new HttpParseError(400, 'trailer field has invalid bytes in its value');
    }
  }

  /** Decides the framing of the body once the head is complete; returns a body-less request. */
  private onHeadEnd(): ParsedRequest | null {
    const request = this.request as ParsedRequest;
    if (request.isHttp11 && request.host === undefined) {
      throw new HttpParseError(400, 'HTTP/1.1 request without a Host header');
    }
    // RFC 9112 §3.2.2: an absolute-form target's authority replaces the Host header.
    if (request.absoluteAuthority !== undefined) request.host = request.absoluteAuthority;
    // RFC 9112 §9.3: close always wins; HTTP/1.0 stays open only when it asked to.
    request.keepAlive =
      !request.connectionClose && (request.isHttp11 || request.connectionKeepAlive);
    if (request.transferEncoding !== undefined) {
      this.checkTransferEncoding(request);
      this.resetBody();
      this.state = State.ChunkSize;
      this.needsContinue = request.expectContinue;
      return null;
    }
    if (request.contentLength > 0) {
      if (request.contentLength > this.limits.maxBodySize) {
        throw new HttpParseError(
          413,
          `Content-Length ${request.contentLength} is over the body limit of ${this.limits.maxBodySize} bytes`,
        );
      }
      this.remaining = request.contentLength;
      this.resetBody();
      this.state = State.FixedBody;
      this.needsContinue = request.expectContinue;
      return null;
    }
    return this.finish();
  }

  /** RFC 9112 §6.1–6.3: only a final `chunked` frames a request; anything else is refused. */
  private checkTransferEncoding(request: ParsedRequest): void {
    if (!request.isHttp11) {
      throw new HttpParseError(400, 'Transfer-Encoding in an HTTP/1.0 request');
    }
    if (request.contentLength !== -1) {
      throw new HttpParseError(400, 'both Content-Length and Transfer-Encoding');
    }
    const codings = request.transferEncoding!.split(',');
    let count = 0;
    let last = '';
    for (const raw of codings) {
      // Only SP and HTAB are whitespace here: String#trim would also strip bytes such as 0xA0,
      // turning "chunked\xa0" into "chunked" where other parsers see an unknown coding.
      const coding = trimOws(raw, 0).toLowerCase();
      if (coding.length === 0) continue;
      if (!TOKEN.test(coding))
        throw new HttpParseError(400, `malformed transfer coding "${coding}"`);
      if (last === 'chunked') throw new HttpParseError(400, 'chunked is not the final coding');
      last = coding;
      count++;
    }
    if (last !== 'chunked') throw new HttpParseError(400, 'final transfer coding is not chunked');
    if (count > 1) throw new HttpParseError(501, 'transfer codings other than chunked');
  }

  private readFixedBody(): boolean {
    const available = this.buffer.length - this.offset;
    if (available === 0) return false;
    const take = available < this.remaining ? available : this.remaining;
    this.appendBody(this.buffer.subarray(this.offset, this.offset + take));
    this.offset += take;
    this.remaining -= take;
    return this.remaining === 0;
  }

  private readChunkSize(): boolean {
    const buffer = this.buffer;
    const start = this.offset;
    const lf = buffer.indexOf(LF, start);
    if (lf === -1) {
      if (buffer.length - start > MAX_CHUNK_LINE) {
        throw new HttpParseError(400, 'chunk size line too long');
      }
      return false;
    }
    if (lf === start || buffer[lf - 1] !== CR) {
      throw new HttpParseError(400, 'chunk size line ends in a bare LF');
    }
    if (lf - start > MAX_CHUNK_LINE) throw new HttpParseError(400, 'chunk size line too long');
    const line = (buffer as LatinSliceable).latin1Slice(start, lf - 1);
    this.offset = lf + 1;
    const semicolon = line.indexOf(';');
    let sizeText = semicolon === -1 ? line : line.slice(0, semicolon);
    if (semicolon !== -1) {
      sizeText = sizeText.replace(/[ \t]+$/, '');
      if (!CHUNK_EXTENSIONS.test(line.slice(sizeText.length))) {
        throw new HttpParseError(400, 'malformed chunk extension');
      }
    }
    if (!CHUNK_SIZE.test(sizeText)) throw new HttpParseError(400, `bad chunk size "${sizeText}"`);
    const size = parseInt(sizeText, 16);
    if (size === 0) {
      // The trailer section gets its own head-size budget: the head's is spent on the head.
      this.headBytes = 0;
      this.state = State.Trailer;
      return true;
    }
    if (this.bodySize + size > this.limits.maxBodySize) {
      throw new HttpParseError(
        413,
        `chunked body over the body limit of ${this.limits.maxBodySize} bytes`,
      );
    }
    this.remaining = size;
    this.state = State.ChunkData;
    return true;
  }

  private readChunkData(): boolean {
    if (!this.readFixedBody()) return false;
    this.state = State.ChunkDataEnd;
    return true;
  }

  private readChunkDataEnd(): boolean {
    const available = this.buffer.length - this.offset;
    if (available === 0) return false;
    if (this.buffer[this.offset] !== CR)
      throw new HttpParseError(400, 'chunk data not followed by CRLF');
    if (available === 1) return false;
    if (this.buffer[this.offset + 1] !== LF) {
      throw new HttpParseError(400, 'chunk data not followed by CRLF');
    }
    this.offset += 2;
    this.state = State.ChunkSize;
    return true;
  }

  private resetBody(): void {
    this.bodyFirst = null;
    this.bodyBuffer = null;
    this.bodySize = 0;
  }

  /**
   * Adds body bytes. Copying every piece into one buffer keeps a body sent as many tiny chunks
   * from costing an object per chunk; a body that arrives whole is never copied.
   */
  private appendBody(part: Buffer): void {
    const size = this.bodySize + part.length;
    if (this.bodySize === 0 && this.bodyBuffer === null) {
      this.bodyFirst = part;
      this.bodySize = size;
      return;
    }
    let target = this.bodyBuffer;
    if (target === null || target.length < size) {
      const known = this.request?.contentLength ?? -1;
      const wanted = known > 0 ? known : Math.max(size, (target?.length ?? 0) * 2, 4096);
      const grown = Buffer.allocUnsafe(Math.min(wanted, this.limits.maxBodySize));
      if (target !== null) target.copy(grown, 0, 0, this.bodySize);
      else if (this.bodyFirst !== null) this.bodyFirst.copy(grown, 0);
      this.bodyFirst = null;
      target = grown;
      this.bodyBuffer = grown;
    }
    part.copy(target, this.bodySize);
    this.bodySize = size;
  }

  /** Completes the current request and resets for the next one on the connection. */
  private finish(): ParsedRequest {
    const request = this.request as ParsedRequest;
    if (this.bodyBuffer !== null) request.body = this.bodyBuffer.subarray(0, this.bodySize);
    else if (this.bodyFirst !== null) request.body = this.bodyFirst;
    this.resetBody();
    this.request = null;
    this.headBytes = 0;
    this.needsContinue = false;
    this.state = State.RequestLine;
    return request;
  }
}

function isCommonMethod(method: string): boolean {
  switch (method) {
    case 'GET':
    case 'POST':
    case 'PUT':
    case 'DELETE':
    case 'PATCH':
    case 'HEAD':
    case 'OPTIONS':
      return true;
    default:
      return false;
  }
}

/** Whether a request target is printable ASCII only (no spaces, no controls), and not empty. */
function isTargetText(target: string): boolean {
  // Short targets, the most common, are checked faster by a loop than by a regex call.
  if (target.length > 32) return TARGET.test(target);
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return target.length > 0;
}

/** True for HTTP/1.1, false for HTTP/1.0; throws 505 for other well-formed versions, else 400. */
function isHttp11(versionText: string): boolean {
  if (versionText === 'HTTP/1.1') return true;
  if (versionText === 'HTTP/1.0') return false;
  if (VERSION.test(versionText)) {
    throw new HttpParseError(505, `HTTP version ${versionText} is not supported`);
  }
  throw new HttpParseError(400, `malformed HTTP version "${versionText}"`);
}

/** The value after `start` with optional whitespace (SP / HTAB) trimmed from both ends. */
function trimOws(line: string, start: number): string {
  let end = line.length;
  while (start < end) {
    const c = line.charCodeAt(start);
    if (c !== 32 && c !== 9) break;
    start++;
  }
  while (end > start) {
    const c = line.charCodeAt(end - 1);
    if (c !== 32 && c !== 9) break;
    end--;
  }
  return line.slice(start, end);
}

function applyConnectionTokens(request: ParsedRequest, value: string): void {
  const lower = value.toLowerCase();
  // Fast path for the common single-token values.
  if (lower === 'keep-alive') request.connectionKeepAlive = true;
  else if (lower === 'close') request.connectionClose = true;
  else if (lower === 'upgrade') request.connectionUpgrade = true;
  else {
    for (const raw of lower.split(',')) {
      const token = trimOws(raw, 0);
      if (token === 'close') request.connectionClose = true;
      else if (token === 'keep-alive') request.connectionKeepAlive = true;
      else if (token === 'upgrade') request.connectionUpgrade = true;
    }
  }
}
