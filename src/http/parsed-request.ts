const EMPTY_BODY = Buffer.alloc(0);

/**
 * One request as the parser read it. Fields are all set in the constructor so that every
 * instance shares one shape; header names are lower-case, in arrival order.
 */
export class ParsedRequest {
  /** The method token as sent (case-sensitive, RFC 9110 §9.1). */
  readonly method: string;
  /** The raw request target. */
  readonly target: string;
  /** Whether the request is HTTP/1.1 (otherwise HTTP/1.0). */
  readonly isHttp11: boolean;
  /** The path of the target, still percent-encoded, without query or fragment. */
  path = '';
  /** The raw query string without its `?` (empty if none). */
  query = '';
  /** Lower-case header names, in order; parallel to `headerValues`. */
  readonly headerNames: string[] = [];
  /** Header values (latin1, trimmed), parallel to `headerNames`. */
  readonly headerValues: string[] = [];
  /** The Host header value (or an absolute-form target's authority), if any. */
  host: string | undefined = undefined;
  /** The authority of an absolute-form target (`http://authority/path`), if that form was used. */
  absoluteAuthority: string | undefined = undefined;
  /** Content-Length, or -1 when absent. */
  contentLength = -1;
  /** The combined Transfer-Encoding value, if any. */
  transferEncoding: string | undefined = undefined;
  /** `Connection: close` was sent. */
  connectionClose = false;
  /** `Connection: keep-alive` was sent. */
  connectionKeepAlive = false;
  /** `Connection: upgrade` was sent. */
  connectionUpgrade = false;
  /** The Upgrade header value, if any. */
  upgradeHeader: string | undefined = undefined;
  /** `Expect: 100-continue` was sent. */
  expectContinue = false;
  /** Whether the connection may carry another request after this one. */
  keepAlive = true;
  /** The body (empty when none). */
  body: Buffer = EMPTY_BODY;

  /**
   * @param method - the method token
   * @param target - the raw request target
   * @param isHttp11 - HTTP/1.1 rather than HTTP/1.0
   */
  constructor(method: string, target: string, isHttp11: boolean) {
    this.method = method;
    this.target = target;
    this.isHttp11 = isHttp11;
  }

  /** `HTTP/1.1` or `HTTP/1.0`. */
  get version(): string {
    return this.isHttp11 ? 'HTTP/1.1' : 'HTTP/1.0';
  }
}
