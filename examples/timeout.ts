/**
 * The seed's timeout wrapper: a handler that runs past its budget is answered with 408
 * `{ error: "Request Timeout", message }`. The late handler may still be running; once the 408
 * is out, whatever it writes changes nothing on the wire, and `ctx.signal` has fired so it can
 * stop early. Run: `node .build/examples/timeout.js`, then
 * `curl localhost:60006/slow?delay=5000` (budget 1 s).
 */
import { HttpError, Server, type Context, type Handler } from '../src/index.js';
import { checkPrefix, joinPath, type MountOptions } from './mount.js';

/** Options for {@link withTimeout}. */
export interface TimeoutOptions {
  /** The `message` of the 408 body. */
  message?: string;
  /**
   * Called when the handler fails after the 408 went out (nobody else can see that failure).
   * Default: `console.error`.
   */
  onLateError?: (error: unknown, ctx: Context) => void;
}

const TIMED_OUT = Symbol('timed out');

/**
 * Wraps `handler` so it gets `ms` milliseconds: past that the client gets 408 JSON
 * `{ error: "Request Timeout", message }` (through the error hooks, as an `HttpError`). A
 * handler that finishes or throws in time behaves exactly as unwrapped.
 */
export function withTimeout(ms: number, handler: Handler, options: TimeoutOptions = {}): Handler {
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new RangeError(`timeout must be a positive number of milliseconds, got ${ms}`);
  }
  const message = options.message ?? 'Request took too long to process';
  const onLateError =
    options.onLateError ??
    ((error: unknown, ctx: Context) =>
      console.error(`handler for ${ctx.getRequestPath()} failed after timing out:`, error));

  return async (ctx) => {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(resolve, ms, TIMED_OUT);
    });
    // Promise.resolve().then(): a handler that throws synchronously becomes a rejection too.
    const work = Promise.resolve().then(() => handler(ctx));
    try {
      const outcome = await Promise.race([work, expired]);
      if (outcome !== TIMED_OUT) return;
    } finally {
      clearTimeout(timer);
    }
    // The handler keeps running: JavaScript cannot cancel it. Its later failure must not become
    // an unhandled rejection, and its later writes are inert because the 408 is sent first.
    work.catch((error: unknown) => onLateError(error, ctx));
    // Thrown rather than sent here, so error hooks (logging, metrics) see the timeout; if a
    // stream had already started, the framework drops the connection instead of faking an end.
    throw new HttpError(408, message);
  };
}

function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    function onAbort(): void {
      clearTimeout(timer);
      resolve(false);
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Longest `delay` `/slow` accepts, in ms. */
export const MAX_DELAY_MS = 60_000;

/**
 * The seed's `actual_request_handler`, made slow on request: waits `?delay=` ms (default 0),
 * giving up as soon as the exchange is over (the 408 went out or the client left).
 */
export async function slowHandler(ctx: Context): Promise<void> {
  const text = ctx.getRequestQuery('delay') ?? '0';
  const ms = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(ms <= MAX_DELAY_MS)) {
    throw new HttpError(400, `delay must be an integer from 0 to ${MAX_DELAY_MS}, got "${text}"`, {
      code: 'INVALID_DELAY',
    });
  }
  if (!(await delay(ms, ctx.signal))) return; // nobody is waiting for the answer any more
  ctx.setResponseStatusCode(200).setResponseBody('Request processed successfully');
}

/** Options for {@link mountTimeout}. */
export interface TimeoutMountOptions extends MountOptions {
  /** The handler's budget, in ms. Default 1000. */
  budgetMs?: number;
}

/** Builds the server: `GET /slow?delay=ms` under a `budgetMs` budget (default 1 s). */
export function createTimeoutServer(
  options: { host?: string; port?: number } & TimeoutMountOptions = {},
): Server {
  const server = new Server({ host: options.host ?? '0.0.0.0', port: options.port ?? 60006 });
  return mountTimeout(server, options);
}

/** Mounts `GET {prefix}/slow?delay=ms` under its budget; it adds no middleware or hooks. */
export function mountTimeout(server: Server, options: TimeoutMountOptions = {}): Server {
  const path = joinPath(checkPrefix(options.prefix), '/slow');
  server.get(path, withTimeout(options.budgetMs ?? 1000, slowHandler));
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const running = await createTimeoutServer({ port: Number(process.env.PORT ?? 60006) }).run();
  console.log(`timeout demo on http://${running.host}:${running.port}/slow?delay=1500`);
}
