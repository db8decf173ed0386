import type { Context } from '../context/context.js';
import { HttpError } from '../error/http-error.js';
import { HyperlaneError } from '../error/hyperlane-error.js';
import { reasonPhrase } from '../http/status.js';

/** A middleware or route handler: may be synchronous or return a promise. */
export type Handler = (ctx: Context) => unknown;

/** Sees every error thrown in middleware, routes and hooks. */
export type ErrorHook = (ctx: Context, error: unknown) => unknown;

/** Where errors that nobody else reports are written. */
export type ErrorLogger = (message: string, error: unknown) => void;

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/**
 * Runs request middleware → route handler → response middleware for one Context, checking
 * the abort flag after every step, and routes every throw to the error hooks.
 *
 * Steps run synchronously for as long as they return no promise, so a fully synchronous
 * chain completes without allocating a single promise; `run()` then returns `undefined`.
 */
export class Pipeline {
  private readonly requestMiddleware: readonly Handler[];
  private readonly responseMiddleware: readonly Handler[];
  private readonly errorHooks: readonly ErrorHook[];
  /** Reports errors nobody else handles. */
  readonly logError: ErrorLogger;

  /**
   * @param requestMiddleware - run before the route, in order
   * @param responseMiddleware - run after the route, in order
   * @param errorHooks - run in order for any throw
   * @param logError - reports errors no hook handled and errors thrown by hooks
   */
  constructor(
    requestMiddleware: readonly Handler[],
    responseMiddleware: readonly Handler[],
    errorHooks: readonly ErrorHook[],
    logError: ErrorLogger,
  ) {
    this.requestMiddleware = requestMiddleware;
    this.responseMiddleware = responseMiddleware;
    this.errorHooks = errorHooks;
    this.logError = logError;
  }

  /**
   * Runs the chain for `ctx` with `route` in the middle.
   * @param autoSend - send the response as it stands if nothing was sent (HTTP; not WebSocket messages)
   * @returns undefined when the chain completed synchronously, else a promise that never rejects
   */
  run(ctx: Context, route: Handler, autoSend: boolean): Promise<void> | undefined {
    const pending = this.step(ctx, route, autoSend, 0);
    return pending === undefined ? undefined : this.drive(ctx, route, autoSend, pending);
  }

  /**
   * The resumable core of `run()`, for callers that drive it themselves without an async
   * function per request (the HTTP connection). Runs steps from `start` until one suspends.
   * @returns undefined when the chain is done (response auto-sent if `autoSend`). Otherwise a
   *   promise: when `ctx._resumeAt >= 0` it is the suspended step's own result, which may
   *   reject; the caller must then call `step(ctx, route, autoSend, ctx._resumeAt)` once it
   *   fulfils (after resetting `_resumeAt` to -1) or `handleError(ctx, error)` if it rejects.
   *   When `ctx._resumeAt < 0` it is error handling under way, which never rejects.
   */
  step(
    ctx: Context,
    route: Handler,
    autoSend: boolean,
    start: number,
  ): PromiseLike<unknown> | undefined {
    const before = this.requestMiddleware;
    const after = this.responseMiddleware;
    const routeIndex = before.length;
    const total = routeIndex + 1 + after.length;
    for (let index = start; index < total; index++) {
      if (ctx._aborted) break;
      const step =
        index < routeIndex
          ? before[index]!
          : index === routeIndex
            ? route
            : after[index - routeIndex - 1]!;
      let result: unknown;
      try {
        result = step(ctx);
      } catch (error) {
        return this.handleError(ctx, error);
      }
      if (isPromiseLike(result)) {
        ctx._resumeAt = index + 1;
        return result;
      }
    }
    if (autoSend && !ctx._sent) {
      try {
        ctx.sendNow();
      } catch (error) {
        // An onBeforeSend() hook threw: nothing went out yet, so the error response can.
        return this.handleError(ctx, error);
      }
    }
    return undefined;
  }

  /** Awaits suspended steps one after another until the chain is done; never rejects. */
  private async drive(
    ctx: Context,
    route: Handler,
    autoSend: boolean,
    first: PromiseLike<unknown>,
  ): Promise<void> {
    let pending: PromiseLike<unknown> | undefined = first;
    while (pending !== undefined) {
      const resumeAt = ctx._resumeAt;
      if (resumeAt < 0) {
        await pending; // error hooks under way
        return;
      }
      ctx._resumeAt = -1;
      try {
        await pending;
      } catch (error) {
        await this.handleError(ctx, error);
        return;
      }
      pending = this.step(ctx, route, autoSend, resumeAt);
    }
  }

  /**
   * Runs the error hooks for `error` and, unless a response already went out, sends the error
   * response. Also used by the server for errors outside the chain (WebSocket hooks).
   */
  handleError(ctx: Context, error: unknown): Promise<void> | undefined {
    ctx._aborted = true;
    const hooks = this.errorHooks;
    if (hooks.length === 0) {
      if (isWorthLogging(error)) this.logError('unhandled error in a request handler', error);
      this.sendError(ctx, error);
      return undefined;
    }
    return this.runErrorHooks(ctx, error, 0);
  }

  private async runErrorHooks(ctx: Context, error: unknown, start: number): Promise<void> {
    const hooks = this.errorHooks;
    for (let index = start; index < hooks.length; index++) {
      try {
        const result = hooks[index]!(ctx, error);
        if (isPromiseLike(result)) await result;
      } catch (hookError) {
        this.logError('errorHook threw', hookError);
      }
    }
    this.sendError(ctx, error);
  }

  /** Sends the error response; if even that fails, a bare 500 so the client is never left hanging. */
  private sendError(ctx: Context, error: unknown): void {
    try {
      sendErrorResponse(ctx, error);
    } catch (sendError) {
      this.logError('could not send the error response', sendError);
      if (ctx._sent) return;
      ctx._clearHeaders();
      ctx._streaming = false;
      ctx._status = 500;
      ctx._body = '{"error":"Internal Server Error","message":"Internal Server Error"}';
      ctx._writableHeaders().set('content-type', 'application/json; charset=utf-8');
      ctx.sendNow();
    }
  }
}

/** Client errors (4xx) and a client that went away are normal traffic, not worth a log line. */
function isWorthLogging(error: unknown): boolean {
  if (error instanceof HttpError) return error.status >= 500;
  return !(error instanceof HyperlaneError && error.code === 'HL_ERR_PEER_GONE');
}

/**
 * Sends `{ error, message, code? }` with the error's status, unless a response already went
 * out. A plain (non-HttpError) throw says only "Internal Server Error": internals never leak.
 */
export function sendErrorResponse(ctx: Context, error: unknown): void {
  if (ctx._sent) {
    ctx._failed = true;
    return;
  }
  const isHttpError = error instanceof HttpError;
  const status = isHttpError ? error.status : 500;
  const reason = reasonPhrase(status);
  const body: { error: string; message: string; code?: string } = {
    error: reason,
    message: isHttpError ? error.message : reason,
  };
  if (isHttpError && error.code !== undefined) body.code = error.code;
  ctx._streaming = false;
  // Whatever described the abandoned body no longer applies to the error body.
  ctx.removeResponseHeader('content-length');
  ctx.removeResponseHeader('content-encoding');
  ctx.removeResponseHeader('etag');
  if (isHttpError && error.headers !== undefined) {
    for (const name of Object.keys(error.headers))
      ctx.setResponseHeader(name, error.headers[name]!);
  }
  ctx.setResponseStatusCode(status).setResponseBodyJson(body);
  ctx.sendNow();
}
