/**
 * Error handling: typed application errors, one mapping from error to HTTP answer, retries with
 * exponential backoff for the errors worth retrying, and a server `errorHook` that logs every
 * error, reports server faults to a monitoring sink and sends the mapped JSON. Routes throw;
 * nothing in them builds an error response by hand.
 * Run: `node .build/examples/error-handling.js`, then GET http://localhost:60010/flaky.
 */
import { HttpError, Server, type Context } from '../src/index.js';
import { checkPrefix, createRouteScope, joinPath, type MountOptions } from './mount.js';

/** Stable codes of the application errors, as sent in the `code` field. */
export type ApplicationErrorCode =
  'DB_ERROR' | 'AUTH_ERROR' | 'VALIDATION_ERROR' | 'RATE_LIMIT' | 'INTERNAL_ERROR';

/**
 * Base of the typed application errors. `message` is for logs and monitoring; what the client
 * is told comes from {@link mapErrorToResponse}, so a server fault never leaks its details.
 */
export abstract class ApplicationError extends Error {
  /** Stable code sent to the client. */
  abstract readonly code: ApplicationErrorCode;
  /** HTTP status the error maps to. */
  abstract readonly status: number;
  /** Whether trying again may succeed (a transient fault rather than a bad request). */
  abstract readonly retryable: boolean;
}

/** A database operation failed (connection lost, timeout). Retryable; answered 500. */
export class DatabaseError extends ApplicationError {
  readonly code = 'DB_ERROR';
  readonly status = 500;
  readonly retryable = true;
  /** @param detail - what failed; logged and reported, never sent to the client */
  constructor(detail: string) {
    super(`Database connection failed: ${detail}`);
    this.name = 'DatabaseError';
  }
}

/** Credentials missing or wrong. Not retryable; answered 401 with `message` as given. */
export class AuthenticationError extends ApplicationError {
  readonly code = 'AUTH_ERROR';
  readonly status = 401;
  readonly retryable = false;
  /** @param reason - sent to the client, so it must not say which part was wrong beyond that */
  constructor(reason: string) {
    super(reason);
    this.name = 'AuthenticationError';
  }
}

/** Input failed validation. Not retryable; answered 400 naming `field`. */
export class ValidationError extends ApplicationError {
  readonly code = 'VALIDATION_ERROR';
  readonly status = 400;
  readonly retryable = false;
  /** The request field that was wrong. */
  readonly field: string;
  /** @param field - the offending field; `reason` - why, sent to the client */
  constructor(field: string, reason?: string) {
    super(`Validation failed for field: ${field}${reason === undefined ? '' : ` (${reason})`}`);
    this.name = 'ValidationError';
    this.field = field;
  }
}

/** The client sent too many requests. Not retryable (by us); answered 429 with `Retry-After`. */
export class RateLimitError extends ApplicationError {
  readonly code = 'RATE_LIMIT';
  readonly status = 429;
  readonly retryable = false;
  /** Seconds until the client may try again. */
  readonly retryAfterSeconds: number;
  /** @param retryAfterSeconds - sent as `Retry-After` */
  constructor(retryAfterSeconds: number) {
    super('Rate limit exceeded');
    this.name = 'RateLimitError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A bug or broken invariant. Retryable (it may be transient); answered 500, details hidden. */
export class InternalError extends ApplicationError {
  readonly code = 'INTERNAL_ERROR';
  readonly status = 500;
  readonly retryable = true;
  /** @param detail - for logs and monitoring only */
  constructor(detail = 'Internal server error') {
    super(detail);
    this.name = 'InternalError';
  }
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: string;
  message: string;
  code: ApplicationErrorCode;
}

/** An error mapped to its HTTP answer. */
export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
}

/**
 * Maps any thrown value to the answer the client gets, as in the article. Anything that is not
 * an {@link ApplicationError} is an unexpected fault: 500 `INTERNAL_ERROR` with a fixed message.
 */
export function mapErrorToResponse(error: unknown): ErrorResponse {
  if (error instanceof DatabaseError) {
    return answer(500, 'Internal Server Error', 'Database operation failed', error.code);
  }
  if (error instanceof AuthenticationError) {
    return answer(401, 'Unauthorized', error.message, error.code);
  }
  if (error instanceof ValidationError) {
    return answer(400, 'Bad Request', `Validation failed for field: ${error.field}`, error.code);
  }
  if (error instanceof RateLimitError) {
    const response = answer(429, 'Too Many Requests', 'Rate limit exceeded', error.code);
    response.headers['Retry-After'] = String(error.retryAfterSeconds);
    return response;
  }
  return answer(500, 'Internal Server Error', 'An unexpected error occurred', 'INTERNAL_ERROR');
}

function answer(
  status: number,
  error: string,
  message: string,
  code: ApplicationErrorCode,
): ErrorResponse {
  return { status, body: { error, message, code }, headers: {} };
}

/** Whether trying again may help: database and internal faults only, as in the article. */
export function isRetryableError(error: unknown): boolean {
  return error instanceof ApplicationError && error.retryable;
}

/** Options of {@link processWithRetry}. */
export interface RetryOptions {
  /** Delay before the first retry; each later one doubles it. Default 100 ms. */
  baseDelayMs?: number;
  /** Ceiling on any one delay. Default 5,000 ms. */
  maxDelayMs?: number;
  /** Stops retrying (rethrowing the last error) once aborted, e.g. `ctx.signal`. */
  signal?: AbortSignal;
  /** Called before each retry: attempt number that failed (1-based), its error, the wait. */
  onRetry?: (attempt: number, error: unknown, delayMs: number) => void;
}

function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs `fn`, and when it throws a retryable error ({@link isRetryableError}) runs it again after
 * `baseDelayMs`, then twice that, and so on, up to `maxRetries` retries (so at most
 * `maxRetries + 1` attempts; the article's loop counted attempts instead). A non-retryable error,
 * or the last retryable one, is rethrown as is.
 * @returns what `fn` returned, and how many attempts it took
 */
export async function processWithRetry<T>(
  fn: (attempt: number) => Promise<T> | T,
  maxRetries: number,
  options: RetryOptions = {},
): Promise<{ value: T; attempts: number }> {
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    throw new RangeError(`maxRetries must be an integer >= 0, got ${maxRetries}`);
  }
  const baseDelayMs = options.baseDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 5000;
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await fn(attempt), attempts: attempt };
    } catch (error) {
      if (attempt > maxRetries || !isRetryableError(error) || options.signal?.aborted === true) {
        throw error;
      }
      const delayMs = Math.min(baseDelayMs * 2 ** (attempt - 1), maxDelayMs);
      options.onRetry?.(attempt, error, delayMs);
      await wait(delayMs, options.signal);
    }
  }
}

/** What the monitoring sink receives for every server fault (status >= 500). */
export interface ErrorReport {
  code: string;
  status: number;
  /** The internal message: the detail the client was not told. */
  message: string;
  name: string;
  method: string;
  path: string;
  timestamp: number;
}

/** Where errors are logged. Default: `console`. */
export interface ErrorLogger {
  warn(message: string): void;
  error(message: string): void;
}

/** Options of {@link mountErrorHandling}. */
export interface ErrorHandlingMountOptions extends MountOptions {
  /** Receives a report for each server fault; a sink that throws is logged, never fatal. */
  monitoring?: (report: ErrorReport) => void | Promise<void>;
  logger?: ErrorLogger;
  /** Random source of the flaky operation, in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Chance that one attempt of the flaky operation fails. Default 0.1, as in the article. */
  failureRate?: number;
  /** Retries of the flaky operation. Default 3. */
  maxRetries?: number;
  /** Backoff base of the flaky operation. Default 100 ms. */
  baseDelayMs?: number;
  /** Bearer token `/protected` accepts. Default `'secret-token'`. */
  token?: string;
  /** Requests per client per window on `/limited`. Default 5. */
  rateLimit?: number;
  /** Rate limit window. Default 60,000 ms. */
  rateWindowMs?: number;
}

/** Options of {@link createErrorHandlingServer}. */
export interface ErrorHandlingOptions extends ErrorHandlingMountOptions {
  host?: string;
  port?: number;
}

/** The article's `attempt_request_processing`: fails with a database error `failureRate` of the time. */
export function attemptRequestProcessing(
  random: () => number,
  failureRate: number,
): { status: string; data: string } {
  if (random() < failureRate) throw new DatabaseError('Connection timeout');
  return { status: 'success', data: 'processed' };
}

function validateSignup(value: unknown): { email: string; age: number } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError('body', 'expected a JSON object');
  }
  const { email, age } = value as Record<string, unknown>;
  if (typeof email !== 'string' || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
    throw new ValidationError('email', 'expected an email address');
  }
  if (typeof age !== 'number' || !Number.isInteger(age) || age < 13 || age > 150) {
    throw new ValidationError('age', 'expected an integer from 13 to 150');
  }
  return { email, age };
}

/**
 * Builds the server. Routes: `GET /errors/database`, `/errors/internal`, `/errors/unexpected`
 * (a plain TypeError) each fail on purpose; `GET /protected` needs `Authorization: Bearer
 * <token>`; `POST /signup` validates `{ email, age }`; `GET /limited` allows `rateLimit`
 * requests per client per window; `GET /flaky` runs the article's 10%-failing operation with
 * retries. Every error reaches one `errorHook`.
 */
export function createErrorHandlingServer(options: ErrorHandlingOptions = {}): Server {
  const server = new Server({ host: options.host ?? '0.0.0.0', port: options.port ?? 60010 });
  return mountErrorHandling(server, options);
}

/**
 * Mounts the routes of {@link createErrorHandlingServer} under `prefix`, and its error hook,
 * which logs, maps and reports the errors of those routes only: errors of other programs on
 * the same server keep their own handling.
 */
export function mountErrorHandling(
  server: Server,
  options: ErrorHandlingMountOptions = {},
): Server {
  const prefix = checkPrefix(options.prefix);
  const scope = createRouteScope();
  const at = (path: string): string => joinPath(prefix, path);
  const logger = options.logger ?? console;
  const monitoring = options.monitoring ?? (() => undefined);
  const random = options.random ?? Math.random;
  const failureRate = options.failureRate ?? 0.1;
  const maxRetries = options.maxRetries ?? 3;
  const baseDelayMs = options.baseDelayMs ?? 100;
  const token = options.token ?? 'secret-token';
  const rateLimit = options.rateLimit ?? 5;
  const rateWindowMs = options.rateWindowMs ?? 60_000;
  const windows = new Map<string, { start: number; count: number }>();

  server.errorHook(async (ctx: Context, error: unknown) => {
    if (!scope.owns(ctx)) return;
    const method = ctx.getRequestMethod();
    const path = ctx.getRequestPath();
    // The framework's own errors (malformed JSON, body too large…) already carry their answer.
    if (error instanceof HttpError) {
      logger.warn(`${method} ${path} -> ${error.status}: ${error.message}`);
      return;
    }
    const response = mapErrorToResponse(error);
    const name = error instanceof Error ? error.name : typeof error;
    const detail = error instanceof Error ? error.message : String(error);
    const line = `${method} ${path} -> ${response.status} ${response.body.code}: ${name}: ${detail}`;
    if (response.status >= 500) logger.error(line);
    else logger.warn(line);
    if (!ctx.isSent()) {
      ctx.setResponseStatusCode(response.status).setResponseBodyJson(response.body);
      for (const [header, value] of Object.entries(response.headers)) {
        ctx.setResponseHeader(header, value);
      }
      await ctx.send();
    }
    // Reported after answering: a slow monitoring service must not delay the client.
    if (response.status >= 500) {
      try {
        await monitoring({
          code: response.body.code,
          status: response.status,
          message: detail,
          name,
          method,
          path,
          timestamp: Date.now(),
        });
      } catch (sinkError) {
        logger.error(`monitoring sink failed: ${String(sinkError)}`);
      }
    }
  });

  server.get(
    at('/errors/database'),
    scope.route(() => {
      throw new DatabaseError('connect ECONNREFUSED 10.0.0.5:5432 (db-primary)');
    }),
  );
  server.get(
    at('/errors/internal'),
    scope.route(() => {
      throw new InternalError('invariant violated: order 17 has no customer');
    }),
  );
  server.get(
    at('/errors/unexpected'),
    scope.route(() => {
      const settings = JSON.parse('null') as { theme: string };
      return settings.theme; // a TypeError: what an unanticipated bug looks like
    }),
  );

  server.get(
    at('/protected'),
    scope.route((ctx: Context) => {
      const header = ctx.getRequestHeader('authorization');
      if (header === undefined) throw new AuthenticationError('Missing Authorization header');
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      if (match === null) throw new AuthenticationError('Expected a Bearer token');
      if (match[1] !== token) throw new AuthenticationError('Invalid token');
      ctx.setResponseStatusCode(200).setResponseBodyJson({ status: 'authenticated' });
    }),
  );

  server.post(
    at('/signup'),
    scope.route((ctx: Context) => {
      const signup = validateSignup(ctx.getRequestBodyJson());
      ctx.setResponseStatusCode(201).setResponseBodyJson({ created: signup });
    }),
  );

  server.get(
    at('/limited'),
    scope.route((ctx: Context) => {
      const client = ctx.getSocketHost() ?? 'unknown';
      const now = Date.now();
      // Forget expired windows now and then, so clients that never return do not pile up.
      if (windows.size > 10_000) {
        for (const [key, old] of windows) if (now - old.start >= rateWindowMs) windows.delete(key);
      }
      let window = windows.get(client);
      if (window === undefined || now - window.start >= rateWindowMs) {
        window = { start: now, count: 0 };
        windows.set(client, window);
      }
      window.count++;
      if (window.count > rateLimit) {
        throw new RateLimitError(
          Math.max(1, Math.ceil((window.start + rateWindowMs - now) / 1000)),
        );
      }
      ctx
        .setResponseStatusCode(200)
        .setResponseBodyJson({ remaining: rateLimit - window.count, limit: rateLimit });
    }),
  );

  server.get(
    at('/flaky'),
    scope.route(async (ctx: Context) => {
      const { value, attempts } = await processWithRetry(
        () => attemptRequestProcessing(random, failureRate),
        maxRetries,
        {
          baseDelayMs,
          signal: ctx.signal,
          onRetry: (attempt, error) =>
            logger.warn(`GET /flaky attempt ${attempt} failed (${String(error)}), retrying`),
        },
      );
      ctx.setResponseStatusCode(200).setResponseBodyJson({ ...value, attempts });
    }),
  );

  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const running = await createErrorHandlingServer({
    port: Number(process.env.PORT ?? 60010),
    monitoring: (report) => console.log('Sending error to monitoring:', JSON.stringify(report)),
  }).run();
  console.log(`error handling demo on http://${running.host}:${running.port}/flaky`);
}
