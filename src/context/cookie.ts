import { HyperlaneError } from '../error/hyperlane-error.js';
import { TOKEN } from '../util/token.js';

// RFC 6265 §4.1.1 cookie-octet, optionally inside double quotes.
const COOKIE_VALUE =
  /^(?:"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"|[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*)$/;
const ATTRIBUTE_VALUE = /^[\x20-\x3a\x3c-\x7e]*$/;

/** `SameSite` attribute values. */
export type SameSite = 'Strict' | 'Lax' | 'None';

/**
 * Builds a `Set-Cookie` value. Values outside RFC 6265's cookie-octet set are percent-encoded,
 * so any string round-trips through `getRequestCookie`.
 *
 * @example new CookieBuilder('sid', token).httpOnly().secure().sameSite('Lax').path('/').build()
 */
export class CookieBuilder {
  private readonly parts: string[];

  /**
   * @param name - cookie name (an RFC 9110 token)
   * @param value - cookie value; encoded when it has characters a cookie cannot carry
   */
  constructor(name: string, value: string) {
    if (!TOKEN.test(name)) {
      throw new HyperlaneError('HL_ERR_HEADER_INVALID', `invalid cookie name "${name}"`);
    }
    const encoded = COOKIE_VALUE.test(value) ? value : encodeURIComponent(value);
    this.parts = [`${name}=${encoded}`];
  }

  /** Adds `HttpOnly`: scripts in the page cannot read the cookie. */
  httpOnly(): this {
    this.parts.push('HttpOnly');
    return this;
  }

  /** Adds `Secure`: sent over HTTPS only. */
  secure(): this {
    this.parts.push('Secure');
    return this;
  }

  /** Adds `SameSite=<value>`. */
  sameSite(value: SameSite): this {
    return this.attribute('SameSite', value);
  }

  /** Adds `Path=<path>`. */
  path(path: string): this {
    return this.attribute('Path', path);
  }

  /** Adds `Domain=<domain>`. */
  domain(domain: string): this {
    return this.attribute('Domain', domain);
  }

  /** Adds `Max-Age=<seconds>` (whole seconds; 0 or less deletes the cookie). */
  maxAge(seconds: number): this {
    return this.attribute('Max-Age', String(Math.floor(seconds)));
  }

  /** Adds `Expires=<HTTP date>`. */
  expires(date: Date): this {
    return this.attribute('Expires', date.toUTCString());
  }

  /** Adds `Partitioned` (CHIPS). */
  partitioned(): this {
    this.parts.push('Partitioned');
    return this;
  }

  /** The `Set-Cookie` header value. */
  build(): string {
    return this.parts.join('; ');
  }

  /** Same as {@link CookieBuilder.build}. */
  toString(): string {
    return this.build();
  }

  private attribute(name: string, value: string): this {
    if (!ATTRIBUTE_VALUE.test(value)) {
      throw new HyperlaneError('HL_ERR_HEADER_INVALID', `invalid cookie ${name} "${value}"`);
    }
    this.parts.push(`${name}=${value}`);
    return this;
  }
}

/**
 * Parses a `Cookie` request header into name → value; the first occurrence of a name wins
 * (browsers send the most specific cookie first). Percent-encoded values are decoded.
 */
export function parseCookieHeader(header: string, into: Record<string, string>): void {
  let start = 0;
  const length = header.length;
  while (start < length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end) {
      const name = header.slice(start, eq).trim();
      if (name.length > 0 && into[name] === undefined) {
        let value = header.slice(eq + 1, end).trim();
        if (
          value.length > 1 &&
          value.charCodeAt(0) === 34 &&
          value.charCodeAt(value.length - 1) === 34
        ) {
          value = value.slice(1, -1);
        }
        into[name] = value.includes('%') ? safeDecode(value) : value;
      }
    }
    start = end + 1;
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
