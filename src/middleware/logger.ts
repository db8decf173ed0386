import cluster from 'node:cluster';
import { performance } from 'node:perf_hooks';
import type { Context } from '../context/context.js';
import { HyperlaneError } from '../error/hyperlane-error.js';
import type { Middleware } from './middleware.js';

/**
 * What `logger()` needs from a logger: pino's shape (`info(obj, msg)`, `child(bindings)`), so a
 * pino instance fits as it is, and so does anything else with these four methods.
 */
export interface Logger {
  /** Logs `obj` (merged into the line) with an optional message at level info. */
  info(obj: object, msg?: string): void;
  /** The same at level warn. */
  warn(obj: object, msg?: string): void;
  /** The same at level error. */
  error(obj: object, msg?: string): void;
  /** A logger that adds `bindings` to every line it writes. */
  child(bindings: Record<string, unknown>): Logger;
}

/** The level (logger method) `logger()` writes its per-request line with. */
export type LoggerLevel = 'info' | 'warn' | 'error';

/** Options of {@link logger}. */
export interface LoggerOptions {
  /** Any pino-compatible logger; default: a built-in one writing JSON lines to stdout. */
  logger?: Logger;
  /** Level of the per-request line (default `'info'`). */
  level?: LoggerLevel;
  /**
   * Header carrying the request id (default `x-request-id`): read from the response (set by
   * `requestId()` registered before) or else from the request.
   */
  requestIdHeader?: string;
}

/** Where the built-in logger writes its lines: `process.stdout`, a file stream, a test buffer… */
export interface LogDestination {
  /** Receives one complete JSON line, newline included. */
  write(line: string): unknown;
}

// pino's level numbers, so the built-in lines read like pino's.
const LEVEL_NUMBERS = { info: 30, warn: 40, error: 50 } as const;

/** Error objects have no enumerable fields: spell out what a reader of the log needs. */
function jsonReplacer(this: unknown, _key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { type: value.name, message: value.message, stack: value.stack };
  }
  return typeof value === 'bigint' ? value.toString() : value;
}

/** `{"a":1}` → `,"a":1`; `{}` → `''`: the fields of an object ready to splice into a line. */
function fieldsOf(obj: object): string {
  let text: string;
  try {
    text = JSON.stringify(obj, jsonReplacer) ?? '{}';
  } catch {
    // Circular data must not take the request down: log that it could not be logged.
    text = '{"logError":"could not serialise the logged object"}';
  }
  // An array (or a toJSON() giving a scalar) has no fields to splice: keep it under `value`.
  if (text.charCodeAt(0) !== 0x7b) return `,"value":${text}`;
  return text.length > 2 ? `,${text.slice(1, -1)}` : '';
}

/**
 * A tiny pino-like logger: one JSON line per call with `level` (pino's numbers), `time`
 * (epoch ms), the child bindings, the logged object and `msg`. Synchronous, no buffering.
 */
class JsonLogger implements Logger {
  private readonly destination: LogDestination;
  /** The bindings of this logger and its parents, already serialised as `,"k":v…`. */
  private readonly bindings: string;

  constructor(destination: LogDestination, bindings: string) {
    this.destination = destination;
    this.bindings = bindings;
  }

  info(obj: object, msg?: string): void {
    this.write(LEVEL_NUMBERS.info, obj, msg);
  }

  warn(obj: object, msg?: string): void {
    this.write(LEVEL_NUMBERS.warn, obj, msg);
  }

  error(obj: object, msg?: string): void {
    this.write(LEVEL_NUMBERS.error, obj, msg);
  }

  child(bindings: Record<string, unknown>): Logger {
    return new JsonLogger(this.destination, this.bindings + fieldsOf(bindings));
  }

  private write(level: number, obj: object, msg: string | undefined): void {
    const message = msg === undefined ? '' : `,"msg":${JSON.stringify(msg)}`;
    this.destination.write(
      `{"level":${level},"time":${Date.now()}${this.bindings}${fieldsOf(obj)}${message}}\n`,
    );
  }
}

/**
 * The built-in logger `logger()` uses by default: one pino-style JSON line per call
 * (`level`, `time`, `pid`, `worker` in a worker process, bindings, fields, `msg`) written to
 * `destination` (default stdout).
 */
export function createJsonLogger(destination: LogDestination = process.stdout): Logger {
  // pino's base fields; a worker of `server.workers()` also says which one it is.
  const worker = cluster.isWorker ? `,"worker":${cluster.worker?.id ?? 0}` : '';
  return new JsonLogger(destination, `,"pid":${process.pid}${worker}`);
}

let defaultLogger: Logger | null = null;

function builtInLogger(): Logger {
  return (defaultLogger ??= createJsonLogger());
}

/** What the middleware keeps on the Context for its `onFinish()` hook and for `getLogger()`. */
class RequestLog {
  readonly log: Logger;
  readonly startedAt: number;
  readonly level: LoggerLevel;

  constructor(log: Logger, startedAt: number, level: LoggerLevel) {
    this.log = log;
    this.startedAt = startedAt;
    this.level = level;
  }
}

const REQUEST_LOG = Symbol('hyperlane.logger');

// The status an access log reports for a request whose client left before any response went
// out (nginx's "client closed request"); the line also says `aborted: true`.
const CLIENT_CLOSED_REQUEST = 499;
// Sent ids are bounded and printable, as `requestId()` requires: raw request headers are not
// copied into every log line unchecked.
const SAFE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** Logs the exchange once it is over (module-level: no closure per request). */
function logFinishedExchange(ctx: Context): void {
  const state = ctx.getAttribute<RequestLog>(REQUEST_LOG);
  if (state === undefined) return;
  const durationMs = Math.round((performance.now() - state.startedAt) * 1000) / 1000;
  const method = ctx.getRequestMethod();
  const path = ctx.getRequestPath();
  if (ctx.isWebSocket()) {
    state.log[state.level](
      { method, path, status: 101, durationMs, webSocket: true },
      'websocket closed',
    );
  } else if (!ctx.isSent()) {
    state.log[state.level](
      { method, path, status: CLIENT_CLOSED_REQUEST, durationMs, aborted: true },
      'request aborted',
    );
  } else {
    state.log[state.level](
      { method, path, status: ctx.getResponseStatusCode(), durationMs },
      'request completed',
    );
  }
}

/**
 * Request middleware that writes one log line per exchange, when it is over, with
 * `{ method, path, status, durationMs }` (path without the query) through a child logger
 * bound to `{ reqId }`. Handlers log through the same child with {@link getLogger}.
 * A client that left before any response went out is logged with `status: 499, aborted: true`.
 * A WebSocket connection is logged once, when it closes (`status: 101, webSocket: true`);
 * its messages are not logged.
 */
export function logger(options: LoggerOptions = {}): Middleware {
  const base = options.logger ?? builtInLogger();
  if (
    typeof base !== 'object' ||
    base === null ||
    typeof base.info !== 'function' ||
    typeof base.warn !== 'function' ||
    typeof base.error !== 'function' ||
    typeof base.child !== 'function'
  ) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      'logger: option "logger" must have info, warn, error and child methods (a pino logger fits)',
    );
  }
  const level = options.level ?? 'info';
  if (!Object.hasOwn(LEVEL_NUMBERS, level)) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `logger: option "level" must be "info", "warn" or "error", got ${JSON.stringify(level)}`,
    );
  }
  const header = options.requestIdHeader ?? 'x-request-id';
  if (typeof header !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(header)) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `logger: option "requestIdHeader" must be a header name, got ${JSON.stringify(header)}`,
    );
  }

  return function loggerMiddleware(ctx: Context): void {
    // A WebSocket runs the chain again per message: the connection is logged only once.
    if (ctx.getAttribute(REQUEST_LOG) !== undefined) return;
    const startedAt = performance.now();
    let reqId = ctx.getResponseHeader(header);
    if (reqId === undefined) {
      const sent = ctx.getRequestHeader(header);
      if (sent !== undefined && SAFE_REQUEST_ID.test(sent)) reqId = sent;
    }
    const log = reqId === undefined ? base : base.child({ reqId });
    ctx.setAttribute(REQUEST_LOG, new RequestLog(log, startedAt, level));
    ctx.onFinish(logFinishedExchange);
  };
}

/**
 * The logger of this request: the child `logger()` bound to its `reqId`, so a handler's lines
 * carry the same id as the access line. Without `logger()` on the request: the built-in logger.
 */
export function getLogger(ctx: Context): Logger {
  return ctx.getAttribute<RequestLog>(REQUEST_LOG)?.log ?? builtInLogger();
}
