import { createHash } from 'node:crypto';
import type { Context } from '../context/context.js';
import { HyperlaneError } from '../error/hyperlane-error.js';
import type { Middleware } from './middleware.js';

/** Options of {@link etag}. */
export interface EtagOptions {
  /**
   * Send weak validators (`W/"…"`): for bodies that are equivalent rather than byte-identical
   * across requests. Default false (strong).
   */
  weak?: boolean;
}

// The hash of an empty body is always the same: no need to compute it.
const EMPTY_TAG = '"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk"';

/**
 * ETags and conditional GET for dynamic responses, as request middleware: just before a
 * complete `200` answer to `GET` or `HEAD` goes out, its body is hashed into an `ETag`; when the
 * request's `If-None-Match` lists that tag (weak comparison, `*` too), the answer becomes a `304`
 * without a body, keeping `ETag`, `Cache-Control`, `Vary` and the other headers. Streams and
 * other statuses are left alone. A route that sets its own `ETag` keeps it, and the
 * `If-None-Match` check still applies to it. WebSocket messages are left alone.
 *
 * ```ts
 * server.requestMiddleware(etag());
 * ```
 * @throws HyperlaneError `HL_ERR_CONFIG` naming the option that is invalid
 */
export function etag(options: EtagOptions = {}): Middleware {
  if (options === null || typeof options !== 'object') {
    throw new HyperlaneError('HL_ERR_CONFIG', 'etag(options): options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (key !== 'weak')
      throw new HyperlaneError('HL_ERR_CONFIG', `etag(): unknown option "${key}"`);
  }
  const weak = options.weak ?? false;
  if (typeof weak !== 'boolean') {
    throw new HyperlaneError('HL_ERR_CONFIG', 'etag(): weak must be a boolean');
  }
  return weak ? weakEtagMiddleware : strongEtagMiddleware;
}

// Module-level functions, one per option value: registering a hook allocates no closure.

// A WebSocket route runs request middleware once per message, and its frames have no head or
// validator: registering a hook there would only pile up one per message.

function strongEtagMiddleware(ctx: Context): void {
  if (ctx.isWebSocket()) return;
  const method = ctx.getRequestMethod();
  if (method === 'GET' || method === 'HEAD') ctx.onBeforeSend(strongEtagHook);
}

function weakEtagMiddleware(ctx: Context): void {
  if (ctx.isWebSocket()) return;
  const method = ctx.getRequestMethod();
  if (method === 'GET' || method === 'HEAD') ctx.onBeforeSend(weakEtagHook);
}

function strongEtagHook(ctx: Context): void {
  applyEtag(ctx, false);
}

function weakEtagHook(ctx: Context): void {
  applyEtag(ctx, true);
}

function applyEtag(ctx: Context, weak: boolean): void {
  if (ctx.getResponseStatusCode() !== 200 || ctx.isStreaming()) return;
  let tag = ctx.getResponseHeader('etag');
  if (tag === undefined) {
    // A HEAD handler may announce a length without building the body: no bytes to hash.
    if (ctx.getRequestMethod() === 'HEAD' && hasDeclaredBody(ctx)) return;
    const hashed = hashBody(ctx);
    tag = weak ? `W/${hashed}` : hashed;
    ctx.setResponseHeader('etag', tag);
  }
  const condition = ctx.getRequestHeader('if-none-match');
  if (condition === undefined || !matchesIfNoneMatch(condition, tag)) return;
  // RFC 9110 §15.4.5: a 304 keeps the validators and caching headers, but describes no body.
  ctx.setResponseStatusCode(304).setResponseBody('');
  ctx.removeResponseHeader('content-type');
  ctx.removeResponseHeader('content-length');
}

function hasDeclaredBody(ctx: Context): boolean {
  if (ctx.getResponseBody().length > 0) return false;
  const declared = ctx.getResponseHeader('content-length');
  return declared !== undefined && declared !== '0';
}

/** `"<length in hex>-<base64 SHA-1, 27 chars>"`, the format of the `etag` npm package. */
function hashBody(ctx: Context): string {
  const body = ctx.getResponseBody();
  if (body.length === 0) return EMPTY_TAG;
  const digest = createHash('sha1').update(body).digest('base64');
  return `"${body.length.toString(16)}-${digest.slice(0, 27)}"`;
}

/**
 * Whether `header` (an `If-None-Match` value) matches `tag` by weak comparison: `*`, or any
 * listed entity-tag whose opaque part equals `tag`'s. Junk between tags is skipped, never
 * matched.
 */
function matchesIfNoneMatch(header: string, tag: string): boolean {
  const opaque = tag.startsWith('W/') ? tag.slice(2) : tag;
  const length = header.length;
  let i = 0;
  while (i < length) {
    const code = header.charCodeAt(i);
    if (code === 0x20 || code === 0x09 || code === 0x2c) {
      i++;
      continue;
    }
    if (code === 0x2a) {
      // `*` alone (surrounded only by list syntax) matches any current representation.
      let j = i + 1;
      while (j < length && (header.charCodeAt(j) === 0x20 || header.charCodeAt(j) === 0x09)) j++;
      if (j === length || header.charCodeAt(j) === 0x2c) return true;
    }
    let start = i;
    if (code === 0x57 && header.charCodeAt(i + 1) === 0x2f) start = i + 2; // W/
    if (header.charCodeAt(start) === 0x22) {
      const close = header.indexOf('"', start + 1);
      if (close === -1) return false; // unterminated: nothing after it can be a tag
      if (close - start + 1 === opaque.length && header.startsWith(opaque, start)) return true;
      i = close + 1;
    } else {
      // Not an entity-tag: skip to the next list element.
      const comma = header.indexOf(',', i);
      if (comma === -1) return false;
      i = comma + 1;
    }
  }
  return false;
}
