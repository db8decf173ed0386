import { randomUUID } from 'node:crypto';
import type { Context } from '../context/context.js';
import { HyperlaneError } from '../error/hyperlane-error.js';
import { TOKEN } from '../util/token.js';
import type { Middleware } from './middleware.js';

/** Options of {@link requestId}. */
export interface RequestIdOptions {
  /** Request and response header carrying the id; default `x-request-id`. */
  header?: string;
  /**
   * Makes a new id when the request brings none (or an unusable one); default
   * `crypto.randomUUID()`. It must return 1–128 visible ASCII characters.
   */
  generator?: (ctx: Context) => string;
}

// 1–128 visible ASCII characters: anything else could smuggle spaces, commas or control bytes
// into logs and into the response header.
const VALID_ID = /^[\x21-\x7e]{1,128}$/;
const REQUEST_ID = Symbol('hyperlane.requestId');
const KNOWN_OPTIONS = new Set(['header', 'generator']);

interface CompiledRequestId {
  header: string;
  generator: ((ctx: Context) => string) | null;
  /** Where this instance keeps a WebSocket connection's id between messages. */
  connectionKey: symbol;
}

/**
 * Gives every request an id as request middleware: the incoming `X-Request-ID` if it is 1–128
 * visible ASCII characters, otherwise a fresh UUID. The id is set on the response header
 * (`ctx.getResponseHeader('x-request-id')`) and readable with {@link getRequestId}. A WebSocket
 * connection keeps one id for all its messages.
 *
 * ```ts
 * server.requestMiddleware(requestId());
 * ```
 * @throws HyperlaneError `HL_ERR_CONFIG` naming the option that is invalid
 */
export function requestId(options: RequestIdOptions = {}): Middleware {
  const compiled = compileRequestId(options);
  return function requestIdMiddleware(ctx: Context): void {
    assignRequestId(ctx, compiled);
  };
}

/** The id {@link requestId} gave this request, or `undefined` if it did not run. */
export function getRequestId(ctx: Context): string | undefined {
  return ctx.getAttribute<string>(REQUEST_ID);
}

function assignRequestId(ctx: Context, options: CompiledRequestId): void {
  // On a WebSocket route this runs once per message: the connection keeps the id this
  // instance gave it first (each instance its own, in case two use different headers).
  const webSocket = ctx.isWebSocket();
  if (webSocket) {
    const kept = ctx.getAttribute<string>(options.connectionKey);
    if (kept !== undefined) {
      ctx.setResponseHeader(options.header, kept);
      ctx.setAttribute(REQUEST_ID, kept);
      return;
    }
  }
  const incoming = ctx.getRequestHeader(options.header);
  let id: string;
  if (incoming !== undefined && VALID_ID.test(incoming)) {
    id = incoming;
  } else if (options.generator === null) {
    id = randomUUID();
  } else {
    id = options.generator(ctx);
    if (typeof id !== 'string' || !VALID_ID.test(id)) {
      throw new HyperlaneError(
        'HL_ERR_CONFIG',
        `requestId(): generator must return 1-128 visible ASCII characters, got ${typeof id === 'string' ? JSON.stringify(id.slice(0, 140)) : typeof id}`,
      );
    }
  }
  ctx.setResponseHeader(options.header, id);
  ctx.setAttribute(REQUEST_ID, id);
  if (webSocket) ctx.setAttribute(options.connectionKey, id);
}

function compileRequestId(options: RequestIdOptions): CompiledRequestId {
  if (options === null || typeof options !== 'object') {
    throw new HyperlaneError('HL_ERR_CONFIG', 'requestId(options): options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new HyperlaneError('HL_ERR_CONFIG', `requestId(): unknown option "${key}"`);
    }
  }
  const header = options.header ?? 'x-request-id';
  if (typeof header !== 'string' || !TOKEN.test(header)) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `requestId(): header must be a header name, got ${JSON.stringify(header)}`,
    );
  }
  const generator = options.generator ?? null;
  if (generator !== null && typeof generator !== 'function') {
    throw new HyperlaneError('HL_ERR_CONFIG', 'requestId(): generator must be a function');
  }
  return {
    header: header.toLowerCase(),
    generator,
    connectionKey: Symbol('hyperlane.requestId.connection'),
  };
}
