/**
 * The benchmark app, as data: every target serves exactly these responses, and the runner
 * verifies them before loading a target, so no target wins by doing less work than the others.
 * @packageDocumentation
 */

/** Body of `GET /`. */
export const HELLO_BODY = 'Hello World';

/** Value of `message` in the body of `GET /json`. */
export const JSON_MESSAGE = 'Hello, World!';

/** Route prefix of the param case; the rest of the path is the `id` param. */
export const USERS_PREFIX = '/users/';

/** The id the param case requests. */
export const BENCH_USER_ID = '42';

/** Path of the middleware case: security headers, CORS and a request id around a JSON route. */
export const MIDDLEWARE_PATH = '/mw';

/** The Origin the middleware case sends; every target allows exactly this one. */
export const BENCH_ORIGIN = 'http://bench.example';

/**
 * The security headers helmet sends by default (no TLS, so no HSTS): targets without a
 * middleware for them (node:http, the ceiling) write these, so every target does equal work.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

/**
 * Which app a target serves: `basic` (plain routes, no middleware) or `middleware` (the same
 * routes behind security headers, CORS and a request id). Middleware runs for every route, so
 * each app is its own server process: the basic cases never pay for middleware.
 */
export type BenchApp = 'basic' | 'middleware';

/** The app a target server was started for: `argv[3]`, default `basic`. */
export function appFromArgs(): BenchApp {
  const app = process.argv[3] ?? 'basic';
  if (app !== 'basic' && app !== 'middleware') {
    throw new Error(`unknown app ${JSON.stringify(app)}: expected basic or middleware`);
  }
  return app;
}

/** One benchmark case: a request path and the response every target must give for it. */
export interface BenchCase {
  /** The app the target serves for this case. */
  readonly app: BenchApp;
  /** Short name, used by `BENCH_CASES` and in the table. */
  readonly name: string;
  /** Request target (path) sent with GET. */
  readonly path: string;
  /** Media type the `Content-Type` header must start with (parameters such as charset are allowed). */
  readonly contentType: string;
  /** Exact expected body for text; for JSON, the value the body must parse to. */
  readonly expected: string | Readonly<Record<string, unknown>>;
  /** Headers every request of the case carries. */
  readonly requestHeaders?: Readonly<Record<string, string>>;
  /** Response headers that must be present: a value to match exactly, or `null` for any. */
  readonly responseHeaders?: Readonly<Record<string, string | null>>;
}

/** All cases, in table order. */
export const BENCH_CASES: readonly BenchCase[] = [
  { name: 'plaintext', app: 'basic', path: '/', contentType: 'text/plain', expected: HELLO_BODY },
  {
    name: 'json',
    app: 'basic',
    path: '/json',
    contentType: 'application/json',
    expected: { message: JSON_MESSAGE },
  },
  {
    name: 'param',
    app: 'basic',
    path: USERS_PREFIX + BENCH_USER_ID,
    contentType: 'application/json',
    expected: { id: BENCH_USER_ID },
  },
  {
    name: 'middleware',
    app: 'middleware',
    path: MIDDLEWARE_PATH,
    contentType: 'application/json',
    expected: { message: JSON_MESSAGE },
    requestHeaders: { origin: BENCH_ORIGIN },
    responseHeaders: {
      ...SECURITY_HEADERS,
      'access-control-allow-origin': BENCH_ORIGIN,
      vary: 'Origin',
      'x-request-id': null,
    },
  },
];
