import type { Context } from '../context/context.js';
import { HttpError } from '../error/http-error.js';
import { HyperlaneError } from '../error/hyperlane-error.js';
import { reasonPhrase } from '../http/status.js';
import type { Middleware } from './middleware.js';

/** A route handler (or middleware) that `timeout()` can wrap. */
export type TimedHandler = (ctx: Context) => unknown;

/** Options for {@link timeout}. */
export interface TimeoutOptions {
  /** Status sent when the budget runs out: 408 (default) or 503. */
  status?: 408 | 503;
  /** The `message` of the JSON body. Default: `'Request took too long to process'`. */
  message?: string;
  /**
   * Called when the handler fails after the timeout response went out; that error can no longer
   * reach `errorHook`. Default: `console.error`, except for client errors (`HttpError` 4xx) and
   * the `HL_ERR_PEER_GONE` a late write gets, which are expected there.
   */
  onLateError?: (error: unknown, ctx: Context) => void;
}

const TIMED_OUT = Symbol('timed out');
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
const MAX_TIMER_MS = 2_147_483_647;

/** What a wrapped handler needs per request, compiled once by the factory. */
class TimeoutConfig {
  readonly ms: number;
  readonly handler: TimedHandler;
  readonly status: number;
  readonly message: string;
  /** The response body, serialized once. */
  readonly body: string;
  readonly onLateError: (error: unknown, ctx: Context) => void;

  constructor(ms: number, handler: TimedHandler, options: TimeoutOptions) {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0 || ms > MAX_TIMER_MS) {
      throw configError(
        `ms must be a number of milliseconds above 0 and at most ${MAX_TIMER_MS}, got ${String(ms)}`,
      );
    }
    if (typeof handler !== 'function') {
      throw configError(`handler must be a function (ctx) => unknown, got ${typeof handler}`);
    }
    if (typeof options !== 'object' || options === null) {
      throw configError(`options must be an object, got ${String(options)}`);
    }
    const {
      status = 408,
      message = 'Request took too long to process',
      onLateError = logLateError,
    } = options;
    if (status !== 408 && status !== 503) {
      throw configError(`status must be 408 or 503, got ${String(status)}`);
    }
    if (typeof message !== 'string') {
      throw configError(`message must be a string, got ${typeof message}`);
    }
    if (typeof onLateError !== 'function') {
      throw configError(`onLateError must be a function, got ${typeof onLateError}`);
    }
    this.ms = ms;
    this.handler = handler;
    this.status = status;
    this.message = message;
    this.body = JSON.stringify({ error: reasonPhrase(status), message });
    this.onLateError = onLateError;
  }
}

/**
 * Wraps `handler` so it gets `ms` milliseconds to start its response. Past that the client gets
 * `status` (408 by default, or 503) with JSON `{ error, message }` at once; the handler cannot
 * be cancelled, but `ctx.signal` fires so it can stop, and whatever it writes afterwards changes
 * nothing on the wire. The timeout answer drops what the handler had begun to set (`Set-Cookie`,
 * `Location`, `ETag`, `Last-Modified`, `Content-Disposition`) and keeps headers set by middleware
 * before it. `errorHook` then sees an `HttpError` with that status (the response has
 * already gone out); an error the handler throws later goes to `onLateError`. A handler that
 * answers, throws or starts a stream in time behaves exactly as unwrapped, and the timer is
 * cleared as soon as it settles. Use: `server.get('/report', timeout(5000, handler))`.
 *
 * @throws HyperlaneError `HL_ERR_CONFIG` naming the option that is wrong
 */
export function timeout(
  ms: number,
  handler: TimedHandler,
  options: TimeoutOptions = {},
): Middleware {
  const config = new TimeoutConfig(ms, handler, options);
  return function timeoutMiddleware(ctx: Context): void | Promise<void> {
    // A handler that returns synchronously has finished: no timer, no promise.
    const result = config.handler(ctx);
    if (isPromiseLike(result)) return runTimed(config, ctx, Promise.resolve(result));
  };
}

async function runTimed(
  config: TimeoutConfig,
  ctx: Context,
  work: Promise<unknown>,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(resolve, config.ms, TIMED_OUT);
  });
  try {
    if ((await Promise.race([work, expired])) !== TIMED_OUT) return;
  } finally {
    clearTimeout(timer);
  }
  if (ctx.isSent()) {
    // The response (or the head of a stream) went out in time: the budget is met.
    await work;
    return;
  }
  // JavaScript cannot cancel the handler: its later failure must not become an unhandled
  // rejection, and it must not reach the error path a second time.
  work.then(undefined, (error: unknown) => reportLate(config, error, ctx));
  if (!ctx.isStreaming()) {
    // Sent here rather than by the error path: the answer goes out now, before any async error
    // hook, so the late handler cannot slip its own response in between. What the stalled
    // handler had set describes an answer it never finished: a session cookie or a redirect
    // must not ride on the error, nor validators or a file name. Headers set by middleware
    // before it (CORS, security headers, request id) stay.
    ctx
      .removeResponseHeader('set-cookie')
      .removeResponseHeader('location')
      .removeResponseHeader('etag')
      .removeResponseHeader('last-modified')
      .removeResponseHeader('content-disposition')
      .removeResponseHeader('content-length')
      .removeResponseHeader('content-encoding')
      .setResponseStatusCode(config.status)
      .setResponseHeader('content-type', JSON_CONTENT_TYPE)
      .setResponseBody(config.body);
    await ctx.send();
  }
  // Thrown so error hooks (logging, metrics) see the timeout; when the handler had marked the
  // response as a stream, the error path also sends the JSON answer as a plain response.
  throw new HttpError(config.status, config.message);
}

function reportLate(config: TimeoutConfig, error: unknown, ctx: Context): void {
  try {
    config.onLateError(error, ctx);
  } catch (hookError) {
    console.error('[hyperlane-ts] timeout: onLateError threw:', hookError);
  }
}

function logLateError(error: unknown, ctx: Context): void {
  if (error instanceof HttpError && error.status < 500) return;
  if (error instanceof HyperlaneError && error.code === 'HL_ERR_PEER_GONE') return;
  console.error(
    `[hyperlane-ts] timeout: the handler for ${ctx.getRequestMethod()} ${ctx.getRequestPath()} failed after its timeout:`,
    error,
  );
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

function configError(message: string): HyperlaneError {
  return new HyperlaneError('HL_ERR_CONFIG', `timeout: ${message}`);
}
