import type { Context } from '../context/context.js';
import { HyperlaneError } from '../error/hyperlane-error.js';
import { TOKEN } from '../util/token.js';
import type { Middleware } from './middleware.js';

/** Which request origins may read responses: see {@link CorsOptions.origins}. */
export type CorsOrigins =
  | '*'
  | string
  | RegExp
  | readonly (string | RegExp)[]
  | ((origin: string, ctx: Context) => boolean);

/** Options of {@link cors}. */
export interface CorsOptions {
  /**
   * Allowed origins: `'*'` (any, and then `credentials` must stay off), one origin
   * (`'https://app.example'`, compared exactly), a RegExp, a list of those, or a synchronous
   * function deciding per request (only a return of `true` allows; a Promise does not). The
   * literal origin `null` (sandboxed iframes, `file:`) is allowed only when listed as the
   * string `'null'` or a function accepts it.
   *
   * A RegExp is run with `test()`, which finds a match anywhere in the value: an unanchored
   * `/app\.example/` would also allow `https://app.example.evil.example`. So a RegExp must be
   * anchored, starting with `^` and ending with `$` (each top-level alternative too), such as
   * `/^https:\/\/[a-z]+\.app\.example$/`; any other is refused when the middleware is built.
   */
  origins: CorsOrigins;
  /** Methods a preflight allows; default `GET,HEAD,PUT,PATCH,POST,DELETE`. */
  methods?: string | readonly string[];
  /**
   * Request headers a preflight allows. When omitted, the headers the browser asks for
   * (`Access-Control-Request-Headers`) are echoed back, if that list is well formed.
   */
  headers?: string | readonly string[];
  /** Response headers the browser may show to scripts (`Access-Control-Expose-Headers`). */
  exposeHeaders?: string | readonly string[];
  /** Allow cookies and HTTP auth: sends `Access-Control-Allow-Credentials: true`. */
  credentials?: boolean;
  /** Seconds a browser may cache a preflight answer (`Access-Control-Max-Age`). */
  maxAge?: number;
}

const DEFAULT_METHODS = 'GET,HEAD,PUT,PATCH,POST,DELETE';
const KNOWN_OPTIONS = new Set([
  'origins',
  'methods',
  'headers',
  'exposeHeaders',
  'credentials',
  'maxAge',
]);
// RFC 6454 serialized origin: scheme "://" host [":" port], visible ASCII only. Anything else
// is never echoed back, whatever a RegExp or function would say.
const ORIGIN_SYNTAX = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[!$&'()*+,\-.0-9;=A-Z_a-z~%[\]:]+$/;
const MAX_ORIGIN_LENGTH = 1024;
// A browser names few headers; a long list is hostile, and echoing it would only bloat the answer.
const MAX_REQUEST_HEADERS_LENGTH = 2048;

const enum Mode {
  /** `'*'` (never with credentials): answer `*`. */
  Wildcard,
  /** Exact strings and RegExps. */
  List,
  /** A user function. */
  Predicate,
}

/** Options compiled once by the factory; the middleware only reads them. */
interface CompiledCors {
  mode: Mode;
  exact: ReadonlySet<string>;
  patterns: readonly RegExp[];
  predicate: ((origin: string, ctx: Context) => boolean) | null;
  credentials: boolean;
  methods: string;
  headers: string | null;
  exposeHeaders: string | null;
  maxAge: string | null;
}

/**
 * CORS as request middleware: answers preflight requests itself (204, before the route runs,
 * so authentication further down never sees them) and adds `Access-Control-Allow-Origin`
 * (+ `Vary: Origin`) to responses for allowed origins. A disallowed origin gets no CORS
 * headers, so the browser blocks the read; its preflight still gets an empty 204, as with
 * `@fastify/cors`. Requests without `Origin` are left untouched.
 *
 * ```ts
 * server.requestMiddleware(cors({ origins: ['https://app.example'], credentials: true }));
 * ```
 * @throws HyperlaneError `HL_ERR_CONFIG` naming the option that is invalid
 */
export function cors(options: CorsOptions): Middleware {
  const compiled = compileCors(options);
  return function corsMiddleware(ctx: Context): void {
    handleCors(ctx, compiled);
  };
}

function handleCors(ctx: Context, options: CompiledCors): void {
  const origin = ctx.getRequestHeader('origin');
  if (origin === undefined) {
    // The answer depends on Origin even when none came: a shared cache must not hand this
    // response to a cross-origin browser (as @fastify/cors does).
    if (options.mode !== Mode.Wildcard) appendVary(ctx, 'Origin');
    return;
  }
  const preflight =
    ctx.getRequestMethod() === 'OPTIONS' && ctx.hasRequestHeader('access-control-request-method');
  const allowOrigin = resolveAllowOrigin(ctx, options, origin);
  if (options.mode !== Mode.Wildcard) appendVary(ctx, 'Origin');
  if (allowOrigin !== null) {
    ctx.setResponseHeader('access-control-allow-origin', allowOrigin);
    if (options.credentials) ctx.setResponseHeader('access-control-allow-credentials', 'true');
  }
  if (!preflight) {
    if (allowOrigin !== null && options.exposeHeaders !== null) {
      ctx.setResponseHeader('access-control-expose-headers', options.exposeHeaders);
    }
    return;
  }
  if (allowOrigin !== null) {
    ctx.setResponseHeader('access-control-allow-methods', options.methods);
    if (options.headers !== null) {
      ctx.setResponseHeader('access-control-allow-headers', options.headers);
    } else {
      appendVary(ctx, 'Access-Control-Request-Headers');
      const requested = ctx.getRequestHeader('access-control-request-headers');
      const echoed = requested === undefined ? null : normalizeHeaderList(requested);
      if (echoed !== null) ctx.setResponseHeader('access-control-allow-headers', echoed);
    }
    if (options.maxAge !== null) ctx.setResponseHeader('access-control-max-age', options.maxAge);
  }
  // The preflight is answered here, whatever route the path has (or lacks).
  ctx.setResponseStatusCode(204).setResponseBody('');
  ctx.aborted();
}

/** The `Access-Control-Allow-Origin` value for `origin`, or null when it is not allowed. */
function resolveAllowOrigin(ctx: Context, options: CompiledCors, origin: string): string | null {
  if (options.mode === Mode.Wildcard) return '*';
  if (origin.length > MAX_ORIGIN_LENGTH) return null;
  const isNull = origin === 'null';
  if (!isNull && !ORIGIN_SYNTAX.test(origin)) return null;
  switch (options.mode) {
    case Mode.List: {
      if (options.exact.has(origin)) return origin;
      if (isNull) return null;
      const patterns = options.patterns;
      for (let i = 0; i < patterns.length; i++) {
        const pattern = patterns[i]!;
        pattern.lastIndex = 0; // a /g or /y RegExp keeps state between tests
        if (pattern.test(origin)) return origin;
      }
      return null;
    }
    default:
      return options.predicate!(origin, ctx) === true ? origin : null;
  }
}

/** Adds `name` to the response's `Vary`, unless it (or `*`) is already there. */
function appendVary(ctx: Context, name: string): void {
  const current = ctx.getResponseHeader('vary');
  if (current === undefined || current.trim() === '') {
    ctx.setResponseHeader('vary', name);
    return;
  }
  const lower = name.toLowerCase();
  const parts = current.split(',');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!.trim().toLowerCase();
    if (part === lower || part === '*') return;
  }
  ctx.setResponseHeader('vary', `${current}, ${name}`);
}

/** `Access-Control-Request-Headers` as a clean `a, b` list, or null if any entry is not a token. */
function normalizeHeaderList(value: string): string | null {
  if (value.length > MAX_REQUEST_HEADERS_LENGTH) return null;
  const parts = value.split(',');
  let result = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!.trim();
    if (part === '') continue; // RFC 9110 lists tolerate empty elements
    if (!TOKEN.test(part)) return null;
    result = result === '' ? part : `${result}, ${part}`;
  }
  return result === '' ? null : result;
}

// ---- options -------------------------------------------------------------------------------

function compileCors(options: CorsOptions): CompiledCors {
  if (options === null || typeof options !== 'object') {
    throw configError('cors(options): options must be an object with an `origins` field');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw configError(`cors(): unknown option "${key}"`);
  }
  const credentials = options.credentials ?? false;
  if (typeof credentials !== 'boolean') {
    throw configError(`cors(): credentials must be a boolean, got ${describe(credentials)}`);
  }
  const compiled: CompiledCors = {
    mode: Mode.List,
    exact: new Set(),
    patterns: [],
    predicate: null,
    credentials,
    methods: tokenList('methods', options.methods, false) ?? DEFAULT_METHODS,
    headers: tokenList('headers', options.headers, true),
    exposeHeaders: tokenList('exposeHeaders', options.exposeHeaders, true),
    maxAge: compileMaxAge(options.maxAge),
  };
  const origins = options.origins;
  if (typeof origins === 'function') {
    compiled.mode = Mode.Predicate;
    compiled.predicate = origins;
    return compiled;
  }
  const list: readonly unknown[] = Array.isArray(origins) ? origins : [origins];
  if (list.length === 0) throw configError('cors(): origins must not be an empty list');
  const exact = new Set<string>();
  const patterns: RegExp[] = [];
  for (const entry of list) {
    if (entry instanceof RegExp) {
      if (!isAnchored(entry.source)) {
        throw configError(
          `cors(): origins RegExp ${String(entry)} must be anchored: start with ^ and end with $ (each top-level alternative too), such as /^https:\\/\\/[a-z]+\\.app\\.example$/; test() matches anywhere, so an unanchored pattern also allows origins such as https://app.example.evil.example`,
        );
      }
      patterns.push(entry);
    } else if (typeof entry === 'string') {
      if (entry === '*') {
        if (credentials) {
          throw configError(
            "cors(): origins '*' cannot go with credentials: true: every website could then read responses made with the user's cookies. List the allowed origins instead (or pass a function that decides)",
          );
        }
        compiled.mode = Mode.Wildcard;
        return compiled;
      }
      if (entry !== 'null' && !ORIGIN_SYNTAX.test(entry)) {
        throw configError(
          `cors(): origins entry ${JSON.stringify(entry)} is not an origin like "https://example.com" (scheme://host[:port], no path)`,
        );
      }
      exact.add(entry);
    } else {
      throw configError(
        `cors(): origins must be '*', a string, a RegExp, a list of those or a function; got ${describe(entry)}`,
      );
    }
  }
  compiled.exact = exact;
  compiled.patterns = patterns;
  return compiled;
}

/**
 * Whether a RegExp source is anchored at both ends: it starts with `^`, ends with an unescaped
 * `$`, and every `|` outside groups and classes sits between a `$` and a `^`, so no top-level
 * alternative can match in the middle of a value.
 */
function isAnchored(source: string): boolean {
  if (source.charCodeAt(0) !== 0x5e /* ^ */ || !isAnchorAt(source, source.length - 1)) {
    return false;
  }
  let depth = 0;
  let inClass = false;
  for (let i = 1; i < source.length; i++) {
    const ch = source.charCodeAt(i);
    if (ch === 0x5c /* \ */) {
      i++;
    } else if (inClass) {
      if (ch === 0x5d /* ] */) inClass = false;
    } else if (ch === 0x5b /* [ */) {
      inClass = true;
    } else if (ch === 0x28 /* ( */) {
      depth++;
    } else if (ch === 0x29 /* ) */) {
      depth--;
    } else if (ch === 0x7c /* | */ && depth === 0) {
      if (!isAnchorAt(source, i - 1) || source.charCodeAt(i + 1) !== 0x5e) return false;
    }
  }
  return true;
}

/** Whether `source[index]` is a `$` that is not escaped by a backslash. */
function isAnchorAt(source: string, index: number): boolean {
  if (index < 1 || source.charCodeAt(index) !== 0x24 /* $ */) return false;
  let backslashes = 0;
  for (let i = index - 1; i >= 0 && source.charCodeAt(i) === 0x5c; i--) backslashes++;
  return backslashes % 2 === 0;
}

/** A comma-separated list of header or method names, checked as tokens; null when absent. */
function tokenList(
  name: string,
  value: string | readonly string[] | undefined,
  allowStar: boolean,
): string | null {
  if (value === undefined) return null;
  let items: readonly unknown[];
  if (typeof value === 'string') items = value.split(',').map((item) => item.trim());
  else if (Array.isArray(value)) items = value;
  else throw configError(`cors(): ${name} must be a string or a list of strings`);
  const names: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string' || !(TOKEN.test(item) || (allowStar && item === '*'))) {
      throw configError(`cors(): ${name} entry ${describe(item)} is not a valid name`);
    }
    names.push(item);
  }
  if (names.length === 0) throw configError(`cors(): ${name} must not be empty`);
  return names.join(name === 'methods' ? ',' : ', ');
}

function compileMaxAge(value: number | undefined): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw configError(
      `cors(): maxAge must be a whole number of seconds >= 0, got ${describe(value)}`,
    );
  }
  return String(value);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

function configError(message: string): HyperlaneError {
  return new HyperlaneError('HL_ERR_CONFIG', message);
}
