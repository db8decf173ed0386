/**
 * The seed's middleware chain: request logging (method, path, client address, user agent and
 * how long the request took), security headers on every response, and CORS for an allow-list
 * of origins only. Run: `node .build/examples/middleware.js`, then
 * `curl -i -H "Origin: http://localhost:3000" localhost:60004/api/data`.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpError, Server, type Context, type ErrorHook, type Handler } from '../src/index.js';
import { checkPrefix, joinPath, type MountOptions } from './mount.js';

/** Where log lines go: `console.log` by default, an array in tests. */
export type LogSink = (line: string) => void;

/** The three pieces of request logging; register all three (see {@link createMiddlewareServer}). */
export interface LoggingMiddleware {
  /** Request middleware: logs the start and notes the time. */
  request: Handler;
  /** Response middleware: logs the status and duration. */
  response: Handler;
  /** Error hook: a throw skips response middleware, so failures are logged here. */
  error: ErrorHook;
}

// A symbol, not a response header as in the seed: the start time is ours, not the client's.
const STARTED_AT = Symbol('request start');

function elapsedMs(ctx: Context): string {
  const started = ctx.getAttribute<number>(STARTED_AT);
  return started === undefined ? '?' : (performance.now() - started).toFixed(2);
}

/**
 * Request logging: `Request started: GET /path from 127.0.0.1:5000 (curl/8.5.0)`, then
 * `Request completed: GET /path 200 in 1.23 ms` (or `Request failed: … 500 in … ms (reason)`).
 */
export function createLoggingMiddleware(sink: LogSink = console.log): LoggingMiddleware {
  return {
    request(ctx) {
      ctx.setAttribute(STARTED_AT, performance.now());
      const userAgent = ctx.getRequestHeader('user-agent') ?? '-';
      sink(
        `Request started: ${ctx.getRequestMethod()} ${ctx.getRequestPath()} from ` +
          `${ctx.getSocketAddrOrDefaultString()} (${userAgent})`,
      );
    },
    response(ctx) {
      sink(
        `Request completed: ${ctx.getRequestMethod()} ${ctx.getRequestPath()} ` +
          `${ctx.getResponseStatusCode()} in ${elapsedMs(ctx)} ms`,
      );
    },
    error(ctx, error) {
      // An error hook registered earlier may have answered already, with a status of its own.
      const status = ctx.isSent()
        ? ctx.getResponseStatusCode()
        : error instanceof HttpError
          ? error.status
          : 500;
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      sink(
        `Request failed: ${ctx.getRequestMethod()} ${ctx.getRequestPath()} ` +
          `${status} in ${elapsedMs(ctx)} ms (${reason})`,
      );
    },
  };
}

/** The headers {@link securityMiddleware} sets on every response. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // The seed's "1; mode=block" turned on a filter that itself leaked data; browsers dropped it
  // and OWASP now advises switching it off.
  'X-XSS-Protection': '0',
  'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
  'Content-Security-Policy': "default-src 'self'",
});

/**
 * Request middleware that sets {@link SECURITY_HEADERS}. Set before the route runs, so 404s and
 * error responses carry them too.
 */
export function securityMiddleware(ctx: Context): void {
  for (const name in SECURITY_HEADERS) ctx.setResponseHeader(name, SECURITY_HEADERS[name]!);
}

/** CORS settings. */
export interface CorsOptions {
  /** Exact origins allowed (scheme://host[:port]); no wildcard. */
  origins: readonly string[];
  /** Methods a preflight allows. */
  methods?: readonly string[];
  /** Request headers a preflight allows. */
  headers?: readonly string[];
  /** Seconds a browser may cache a preflight answer. */
  maxAge?: number;
}

/** The seed's allow-list. */
export const DEFAULT_ALLOWED_ORIGINS: readonly string[] = Object.freeze([
  'http://localhost:3000',
  'https://myapp.com',
  'https://api.myapp.com',
]);

/** Whether `origin` is on the list: an exact match, so `https://myapp.com.evil.net` is not. */
export function isAllowedOrigin(origin: string, allowed: readonly string[]): boolean {
  return allowed.includes(origin);
}

/** The CORS pieces: `middleware` for every request, `preflight` as the OPTIONS route. */
export interface Cors {
  /** Request middleware: `Access-Control-Allow-Origin` for listed origins, nothing for others. */
  middleware: Handler;
  /**
   * OPTIONS route handler: 204 with Allow-Methods/Headers/Max-Age for a listed origin's
   * preflight, 403 for any other origin's. Mount it with `server.options(path, …)` per resource.
   */
  preflight: Handler;
}

/**
 * CORS for an allow-list of origins. The preflight is a route rather than middleware that
 * aborts the chain, so response middleware (logging) still sees it.
 */
export function createCors(options: CorsOptions): Cors {
  const origins = [...options.origins];
  const methods = (options.methods ?? ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS']).join(', ');
  const headers = (options.headers ?? ['Content-Type', 'Authorization']).join(', ');
  const maxAge = String(options.maxAge ?? 86_400);
  return {
    middleware(ctx) {
      // The answer depends on Origin, so a shared cache must not hand one origin's to another.
      ctx.addResponseHeader('Vary', 'Origin');
      const origin = ctx.getRequestHeader('origin');
      if (origin !== undefined && isAllowedOrigin(origin, origins)) {
        ctx.setResponseHeader('Access-Control-Allow-Origin', origin);
      }
    },
    preflight(ctx) {
      const origin = ctx.getRequestHeader('origin');
      const isPreflight =
        origin !== undefined && ctx.hasRequestHeader('access-control-request-method');
      if (!isPreflight) {
        // A plain OPTIONS: say what the API speaks.
        ctx.setResponseStatusCode(204).setResponseHeader('Allow', methods);
        return;
      }
      if (!isAllowedOrigin(origin, origins)) {
        // No CORS headers: the browser blocks the real request. The body helps whoever debugs it.
        ctx.setResponseStatusCode(403).setResponseBodyJson({
          error: 'Forbidden',
          message: `origin ${origin} is not allowed`,
        });
        return;
      }
      // Methods, headers and max-age belong on the preflight only; the real response needs just
      // Allow-Origin (set by the middleware).
      ctx
        .setResponseStatusCode(204)
        .setResponseHeader('Access-Control-Allow-Methods', methods)
        .setResponseHeader('Access-Control-Allow-Headers', headers)
        .setResponseHeader('Access-Control-Max-Age', maxAge);
    },
  };
}

/** Options for {@link mountMiddleware}. */
export interface MiddlewareMountOptions extends MountOptions {
  /** CORS allow-list; default {@link DEFAULT_ALLOWED_ORIGINS}. */
  origins?: readonly string[];
  /** Where log lines go; default `console.log`. */
  log?: LogSink;
  /** Register the request logging (default true); server-wide, so once per server. */
  logging?: boolean;
  /** Register {@link securityMiddleware} (default true); server-wide, so once per server. */
  securityHeaders?: boolean;
  /**
   * Register the CORS middleware and the OPTIONS preflight routes (default true). Turn it off
   * where another program already answers CORS for the whole server.
   */
  cors?: boolean;
}

/** Options for {@link createMiddlewareServer}. */
export interface MiddlewareServerOptions extends MiddlewareMountOptions {
  host?: string;
  port?: number;
}

/**
 * A small API behind the whole chain: `GET /api/data`, `POST /api/data` (echoes JSON),
 * `GET /api/slow` (takes 50 ms), `GET /api/fail` (throws); OPTIONS on each is the CORS preflight.
 */
export function createMiddlewareServer(options: MiddlewareServerOptions = {}): Server {
  const server = new Server({ host: options.host ?? '0.0.0.0', port: options.port ?? 60004 });
  return mountMiddleware(server, options);
}

/**
 * Mounts the chain and its API (see {@link createMiddlewareServer}) on `server`: logging,
 * security headers and CORS act on every request to the server; the routes live under `prefix`.
 */
export function mountMiddleware(server: Server, options: MiddlewareMountOptions = {}): Server {
  const prefix = checkPrefix(options.prefix);
  const at = (path: string): string => joinPath(prefix, path);

  // Logging first, so its clock covers the other middleware too.
  if (options.logging ?? true) {
    const logging = createLoggingMiddleware(options.log);
    server.requestMiddleware(logging.request);
    server.responseMiddleware(logging.response);
    server.errorHook(logging.error);
  }
  if (options.securityHeaders ?? true) server.requestMiddleware(securityMiddleware);
  if (options.cors ?? true) {
    const cors = createCors({ origins: options.origins ?? DEFAULT_ALLOWED_ORIGINS });
    server.requestMiddleware(cors.middleware);
    // One OPTIONS route per resource rather than a catch-all: a catch-all would make every
    // unknown path "exist" and turn its 404 into a 405.
    for (const path of ['/api/data', '/api/slow', '/api/fail']) {
      server.options(at(path), cors.preflight);
    }
  }

  server.get(at('/api/data'), (ctx) => {
    ctx.setResponseBodyJson({ message: 'Hello from hyperlane-ts', timestamp: Date.now() });
  });
  server.post(at('/api/data'), (ctx) => {
    ctx.setResponseBodyJson({ received: ctx.getRequestBodyJson() });
  });
  server.get(at('/api/slow'), async (ctx) => {
    await sleep(50);
    ctx.setResponseBodyJson({ sleptMs: 50 });
  });
  server.get(at('/api/fail'), () => {
    throw new Error('simulated failure');
  });
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const running = await createMiddlewareServer({ port: Number(process.env.PORT ?? 60004) }).run();
  console.log(`middleware demo on http://${running.host}:${running.port}/api/data`);
}
