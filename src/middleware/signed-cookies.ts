import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Context } from '../context/context.js';
import { HyperlaneError } from '../error/hyperlane-error.js';
import type { Middleware } from './middleware.js';

/** A signing secret: text (UTF-8) or bytes. */
export type CookieSecret = string | Uint8Array;

/** Length of a base64url HMAC-SHA256 without padding. */
const SIGNATURE_LENGTH = 43;
/** Below this many bytes a secret can be guessed offline from one signed cookie. */
const WEAK_SECRET_BYTES = 32;
/** Where a request keeps its limiter's secrets, for the module-level send hook. */
const SECRETS = Symbol('hyperlane.signedCookies.secrets');

/**
 * Signs cookie `name`'s `value` with HMAC-SHA256 under `secret`: `<value>.<base64url signature>`.
 * The signature covers `name=value`, so a signed value is only valid under the name it was
 * signed for: a client cannot replay the value of one cookie (one it can influence, say a
 * language preference) as another (say `role`).
 */
export function signCookieValue(name: string, value: string, secret: CookieSecret): string {
  return `${value}.${signature(checkName(name, 'signCookieValue'), value, toKey(secret, 'secret'))}`;
}

/**
 * The value inside `signed` if any of `secrets` signed it for cookie `name` (each compared in
 * constant time), else `undefined`. Lets old secrets keep verifying while a new one signs.
 */
export function unsignCookieValue(
  name: string,
  signed: string,
  secrets: CookieSecret | readonly CookieSecret[],
): string | undefined {
  return unsign(checkName(name, 'unsignCookieValue'), signed, toKeys(secrets, 'unsignCookieValue'));
}

/**
 * Request middleware for tamper-proof cookies. Incoming cookies must read
 * `<value>.<base64url HMAC-SHA256 of name=value>`; a cookie that no secret verifies for its own
 * name is dropped, so
 * `getRequestCookie(s)` report only verified values, without their signature. Every `Set-Cookie`
 * on the response (from `setResponseCookie()` or a header, set before or after this middleware)
 * is signed with the first secret just before the head goes out. Pass several secrets to rotate:
 * new cookies are signed with the first, and cookies signed with any of them still verify.
 * Register with `server.requestMiddleware(signedCookies(process.env.COOKIE_SECRET!))`.
 * Secrets shorter than 32 bytes get a process warning.
 *
 * @throws HyperlaneError `HL_ERR_CONFIG` when there is no secret or one is empty
 */
export function signedCookies(secrets: CookieSecret | readonly CookieSecret[]): Middleware {
  const keys = toKeys(secrets, 'signedCookies');
  if (keys.some((key) => key.length < WEAK_SECRET_BYTES)) {
    process.emitWarning(
      `signedCookies: a secret shorter than ${WEAK_SECRET_BYTES} bytes is easy to guess; use 32 random bytes or more`,
      { code: 'HL_WEAK_COOKIE_SECRET' },
    );
  }
  return function signedCookiesMiddleware(ctx: Context): void {
    // A WebSocket Context sees this once per message; its cookies were verified at the first.
    if (ctx.getAttribute(SECRETS) !== undefined) return;
    ctx.setAttribute(SECRETS, keys);
    ctx.setRequestCookies(verifiedCookies(ctx.getRequestHeaderValues('cookie'), keys));
    if (!ctx.isWebSocket()) ctx.onBeforeSend(signResponseCookies);
  };
}

/** Parses raw `Cookie` headers like the Context does, keeping only values a secret signed. */
function verifiedCookies(headers: string[], keys: readonly Buffer[]): Record<string, string> {
  const jar = Object.create(null) as Record<string, string>;
  for (const header of headers) {
    let start = 0;
    const length = header.length;
    while (start < length) {
      let end = header.indexOf(';', start);
      if (end === -1) end = length;
      const eq = header.indexOf('=', start);
      if (eq !== -1 && eq < end) {
        const name = header.slice(start, eq).trim();
        if (name.length > 0 && jar[name] === undefined) {
          let raw = header.slice(eq + 1, end).trim();
          if (raw.length > 1 && raw.charCodeAt(0) === 34 && raw.charCodeAt(raw.length - 1) === 34) {
            raw = raw.slice(1, -1);
          }
          // The signature covers the value as it travels (still percent-encoded), so verify
          // first and decode after, as getRequestCookie would.
          const value = unsign(name, raw, keys);
          if (value !== undefined) jar[name] = value.includes('%') ? safeDecode(value) : value;
        }
      }
      start = end + 1;
    }
  }
  return jar;
}

/** The `onBeforeSend` hook: signs the value of every `Set-Cookie` with the first secret. */
function signResponseCookies(ctx: Context): void {
  const keys = ctx.getAttribute<readonly Buffer[]>(SECRETS);
  const cookies = ctx.getResponseHeaderValues('set-cookie');
  if (keys === undefined || cookies.length === 0) return;
  const key = keys[0]!;
  ctx.removeResponseHeader('set-cookie');
  for (const cookie of cookies) ctx.addResponseHeader('set-cookie', signSetCookie(cookie, key));
}

/** Signs the value in `name=value; attributes`; a line without `=` is left as it is. */
function signSetCookie(cookie: string, key: Buffer): string {
  let end = cookie.indexOf(';');
  if (end === -1) end = cookie.length;
  const eq = cookie.indexOf('=');
  if (eq === -1 || eq > end) return cookie;
  const name = cookie.slice(0, eq).trim();
  const value = cookie.slice(eq + 1, end).trim();
  const rest = cookie.slice(end);
  if (value.length > 1 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) {
    const inner = value.slice(1, -1);
    return `${name}="${inner}.${signature(name, inner, key)}"${rest}`;
  }
  return `${name}=${value}.${signature(name, value, key)}${rest}`;
}

function unsign(name: string, signed: string, keys: readonly Buffer[]): string | undefined {
  const dot = signed.lastIndexOf('.');
  if (dot === -1 || signed.length - dot - 1 !== SIGNATURE_LENGTH) return undefined;
  const value = signed.slice(0, dot);
  // Compared as the ASCII text of the signatures: equal lengths by construction, and no
  // lenient base64 decoding that would let several spellings of one signature pass.
  const given = Buffer.from(signed.slice(dot + 1), 'latin1');
  for (const key of keys) {
    const expected = Buffer.from(signature(name, value, key), 'latin1');
    if (expected.length === given.length && timingSafeEqual(expected, given)) return value;
  }
  return undefined;
}

/** HMAC-SHA256 of `name=value`: binding the name stops one cookie's value passing as another's. */
function signature(name: string, value: string, key: Buffer): string {
  return createHmac('sha256', key).update(`${name}=${value}`, 'utf8').digest('base64url');
}

/** Cookie names never hold `=` (it ends the name), so `name=value` splits one way only. */
function checkName(name: unknown, owner: string): string {
  if (typeof name !== 'string' || name === '' || name.includes('=')) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `${owner}: name must be a non-empty cookie name without '=', got ${typeof name === 'string' ? JSON.stringify(name) : typeof name}`,
    );
  }
  return name;
}

function toKeys(secrets: CookieSecret | readonly CookieSecret[], owner: string): Buffer[] {
  const list = Array.isArray(secrets) ? (secrets as readonly CookieSecret[]) : [secrets];
  if (list.length === 0) {
    throw new HyperlaneError('HL_ERR_CONFIG', `${owner}: secrets must hold at least one secret`);
  }
  return list.map((secret, index) => toKey(secret, `secrets[${index}]`, owner));
}

function toKey(secret: unknown, label: string, owner = 'signCookieValue'): Buffer {
  if (typeof secret === 'string') {
    if (secret.length > 0) return Buffer.from(secret, 'utf8');
  } else if (secret instanceof Uint8Array) {
    if (secret.length > 0) return Buffer.from(secret);
  } else {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `${owner}: ${label} must be a string or a Uint8Array, got ${secret === null ? 'null' : typeof secret}`,
    );
  }
  throw new HyperlaneError('HL_ERR_CONFIG', `${owner}: ${label} must not be empty`);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
