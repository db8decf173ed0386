import { COMMON_HEADER_NAMES } from './common-headers.js';

/** The header fields of a request that has none yet; shared, so never written to. */
const NO_FIELDS: string[] = [];

/** The body of a request that has none; shared, never written to. */
export const EMPTY_BODY = Buffer.alloc(0);

// Bits of ParsedRequest.flags.
const HTTP11 = 1 << 0;
const CONNECTION_CLOSE = 1 << 1;
const CONNECTION_KEEP_ALIVE = 1 << 2;
const CONNECTION_UPGRADE = 1 << 3;
const EXPECT_CONTINUE = 1 << 4;
const KEEP_ALIVE = 1 << 5;

// V8 keeps a slice of 13 or more characters as a view of its parent string; a copy through a
// Buffer is a string of its own, so the parent (a whole header line) need not stay alive.
const SLICE_MIN_LENGTH = 13;
function ownString(value: string): string {
  return value.length < SLICE_MIN_LENGTH ? value : Buffer.from(value, 'latin1').toString('latin1');
}

// Names and values that recur in upgrade requests: a long-lived request shares these copies
// instead of holding its own (a few hundred bytes per WebSocket, counted in thousands).
const COMMON_STRINGS = new Map(
  [
    ...COMMON_HEADER_NAMES,
    'GET',
    '/',
    'Upgrade',
    'websocket',
    'keep-alive, Upgrade',
    'no-cache',
    'gzip, deflate',
    'gzip, deflate, br',
    'gzip, deflate, br, zstd',
    '13',
    'permessage-deflate; client_max_window_bits',
  ].map((text) => [text, text]),
);

/** A string of its own for `value`: a shared copy when it is a common one. */
function keptString(value: string): string {
  return COMMON_STRINGS.get(value) ?? ownString(value);
}

/**
 * One request as the parser read it. Fields are all set in the constructor so that every
 * instance shares one shape; header names are lower-case, in arrival order.
 */
export class ParsedRequest {
  /** The method token as sent (case-sensitive, RFC 9110 §9.1). */
  method: string;
  /** The raw request target. */
  target: string;
  /** The path of the target, still percent-encoded, without query or fragment. */
  path = '';
  /** The raw query string without its `?` (empty if none). */
  query = '';
  /**
   * Header fields in arrival order, as pairs in one array: a lower-case name at each even
   * index, its value (latin1, trimmed) right after. One array rather than two parallel ones:
   * an allocation less per request, and less to keep for a WebSocket's lifetime.
   */
  headers: string[] = NO_FIELDS;
  /** The Host header value (or an absolute-form target's authority), if any. */
  host: string | undefined = undefined;
  /** The authority of an absolute-form target (`http://authority/path`), if that form was used. */
  absoluteAuthority: string | undefined = undefined;
  /** Content-Length, or -1 when absent. */
  contentLength = -1;
  /** The combined Transfer-Encoding value, if any. */
  transferEncoding: string | undefined = undefined;
  /** The Upgrade header value, if any. */
  upgradeHeader: string | undefined = undefined;
  /** The body (empty when none); on a WebSocket, the message being handled. */
  body: Buffer = EMPTY_BODY;
  /** The boolean facts below, one bit each (a WebSocket keeps its upgrade request). */
  private flags = KEEP_ALIVE;

  /**
   * @param method - the method token
   * @param target - the raw request target
   * @param isHttp11 - HTTP/1.1 rather than HTTP/1.0
   */
  constructor(method: string, target: string, isHttp11: boolean) {
    this.method = method;
    this.target = target;
    if (isHttp11) this.flags |= HTTP11;
  }

  /** Whether the request is HTTP/1.1 (otherwise HTTP/1.0). */
  get isHttp11(): boolean {
    return (this.flags & HTTP11) !== 0;
  }

  /** `Connection: close` was sent. */
  get connectionClose(): boolean {
    return (this.flags & CONNECTION_CLOSE) !== 0;
  }
  set connectionClose(on: boolean) {
    this.flags = on ? this.flags | CONNECTION_CLOSE : this.flags & ~CONNECTION_CLOSE;
  }

  /** `Connection: keep-alive` was sent. */
  get connectionKeepAlive(): boolean {
    return (this.flags & CONNECTION_KEEP_ALIVE) !== 0;
  }
  set connectionKeepAlive(on: boolean) {
    this.flags = on ? this.flags | CONNECTION_KEEP_ALIVE : this.flags & ~CONNECTION_KEEP_ALIVE;
  }

  /** `Connection: upgrade` was sent. */
  get connectionUpgrade(): boolean {
    return (this.flags & CONNECTION_UPGRADE) !== 0;
  }
  set connectionUpgrade(on: boolean) {
    this.flags = on ? this.flags | CONNECTION_UPGRADE : this.flags & ~CONNECTION_UPGRADE;
  }

  /** `Expect: 100-continue` was sent. */
  get expectContinue(): boolean {
    return (this.flags & EXPECT_CONTINUE) !== 0;
  }
  set expectContinue(on: boolean) {
    this.flags = on ? this.flags | EXPECT_CONTINUE : this.flags & ~EXPECT_CONTINUE;
  }

  /** Whether the connection may carry another request after this one. */
  get keepAlive(): boolean {
    return (this.flags & KEEP_ALIVE) !== 0;
  }
  set keepAlive(on: boolean) {
    this.flags = on ? this.flags | KEEP_ALIVE : this.flags & ~KEEP_ALIVE;
  }

  /**
   * Trims this request to what it needs to live long, as a WebSocket's upgrade request does
   * for the whole connection: header arrays sized exactly, and strings copied out of the
   * header lines they were sliced from, so those lines can be collected.
   */
  compact(): void {
    this.headers = this.headers.map(keptString);
    this.method = keptString(this.method);
    this.target = keptString(this.target);
    this.path = this.path === this.target ? this.target : keptString(this.path);
    this.query = keptString(this.query);
    const host = this.host;
    if (host !== undefined) {
      // Usually the Host header's own value: share that copy rather than make a second one.
      const shared = this.firstHeader('host');
      this.host = shared === host ? shared : ownString(host);
    }
    if (this.upgradeHeader !== undefined) this.upgradeHeader = keptString(this.upgradeHeader);
    this.absoluteAuthority = undefined;
    this.transferEncoding = undefined;
  }

  /** Appends one header field (`name` already lower-case). */
  addHeader(name: string, value: string): void {
    // Made to the size of the first field: most requests carry few, and an array grown by a
    // first push reserves room for many.
    if (this.headers === NO_FIELDS) this.headers = [name, value];
    else this.headers.push(name, value);
  }

  /**
   * Index in `headers` of the value of the first field named `name` (lower-case) at or after
   * field index `from` (an even index), or -1.
   */
  findHeader(name: string, from = 0): number {
    const headers = this.headers;
    for (let i = from; i < headers.length; i += 2) if (headers[i] === name) return i + 1;
    return -1;
  }

  /** The value of the first field named `name` (lower-case), or undefined. */
  firstHeader(name: string): string | undefined {
    const index = this.findHeader(name);
    return index === -1 ? undefined : this.headers[index];
  }

  /** `HTTP/1.1` or `HTTP/1.0`. */
  get version(): string {
    return this.isHttp11 ? 'HTTP/1.1' : 'HTTP/1.0';
  }
}
