/**
 * The benchmark app, as data: every target serves exactly these routes and responses, and the
 * runner verifies them before loading a target, so no target wins by doing less work than the
 * others.
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

/** Path of the POST echo case: the JSON body is parsed and sent back re-serialized. */
export const ECHO_PATH = '/echo';

/** Body of the filler routes (they exist so that routing does real work). */
export const FILLER_BODY = 'ok';

/** The Origin the middleware case sends; every target allows exactly this one. */
export const BENCH_ORIGIN = 'http://bench.example';

/**
 * The security headers helmet sends by default (no TLS, so no HSTS): targets without a
 * middleware for them (node:http, Express, Koa, the ceiling) write these, so every target does
 * equal work.
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

/** The body of the POST echo case: a JSON document of exactly 1,024 bytes. */
export const ECHO_BODY: string = makeEchoBody(1024);

function makeEchoBody(size: number): string {
  const doc = {
    id: 7341,
    user: { name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'editor'] },
    tags: ['bench', 'json', 'echo'],
    items: Array.from({ length: 9 }, (_, i) => ({
      sku: `SKU-${1000 + i}`,
      title: `Item number ${i}`,
      price: 9.99 + i,
      qty: i + 1,
      inStock: i % 2 === 0,
    })),
    note: '',
  };
  // Padding in a string field keeps the document realistic and its size exact.
  doc.note = 'x'.repeat(size - JSON.stringify(doc).length);
  return JSON.stringify(doc);
}

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

/**
 * The keep-alive timeout (ms) a server should use, from `$BENCH_KEEPALIVE_MS`, or `undefined`
 * for the framework's default. The idle-memory scenario sets it on every target alike, so idle
 * connections outlive the measurement (the defaults close them after 5 s).
 */
export function keepAliveFromEnv(): number | undefined {
  const raw = process.env.BENCH_KEEPALIVE_MS;
  return raw === undefined || raw === '' ? undefined : Number(raw);
}

/** What a route answers: each target maps these to its own handlers. */
export type RouteKind = 'plaintext' | 'json' | 'user' | 'echo' | 'filler';

/** One route of the app, in Express/Fastify/Hono syntax (`:name` is a param segment). */
export interface BenchRoute {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly kind: RouteKind;
}

// 46 filler routes, half registered before the param route and half after, so routers that
// scan in registration order (Express, Koa) pay for about half of them, and tree routers see
// static and param siblings of `/users/:id` (`/users/me`, `/users/:id/posts`). Param names
// agree at each position, which some routers require.
const RESOURCES = ['posts', 'comments', 'tags', 'orgs', 'teams', 'projects', 'issues', 'orders'];
const FILLERS: readonly string[] = [
  '/health',
  '/status',
  '/about',
  '/login',
  '/logout',
  '/users',
  '/users/me',
  '/users/:id/posts',
  '/users/:id/posts/:postId',
  '/users/:id/followers',
  '/users/:id/following',
  '/orgs/:id/repos/:repo',
  '/orgs/:id/members',
  '/search',
  ...RESOURCES.flatMap((r) => [`/${r}`, `/${r}/:id`, `/${r}/:id/history`, `/api/v1/${r}/:id`]),
];

/**
 * All 50 routes of the basic app, in registration order: the three case routes, 23 fillers,
 * the param route, the other 23 fillers. Every target registers exactly these, in this order.
 */
export const BENCH_ROUTES: readonly BenchRoute[] = [
  { method: 'GET', path: '/', kind: 'plaintext' },
  { method: 'GET', path: '/json', kind: 'json' },
  { method: 'POST', path: ECHO_PATH, kind: 'echo' },
  ...FILLERS.slice(0, 23).map((path) => ({
    method: 'GET' as const,
    path,
    kind: 'filler' as const,
  })),
  { method: 'GET', path: `${USERS_PREFIX}:id`, kind: 'user' },
  ...FILLERS.slice(23).map((path) => ({ method: 'GET' as const, path, kind: 'filler' as const })),
];

/** One benchmark case: a request and the response every target must give for it. */
export interface BenchCase {
  /** The app the target serves for this case. */
  readonly app: BenchApp;
  /** Short name, used by `--only` and in the tables. */
  readonly name: string;
  readonly method: 'GET' | 'POST';
  /** Request target (path). */
  readonly path: string;
  /** Request body (sent with `Content-Type: application/json`). */
  readonly body?: string;
  /** Media type the `Content-Type` header must start with (parameters such as charset are allowed). */
  readonly contentType: string;
  /** Exact expected body for text; for JSON, the value the body must parse to. */
  readonly expected: string | Readonly<Record<string, unknown>>;
  /** Headers every request of the case carries. */
  readonly requestHeaders?: Readonly<Record<string, string>>;
  /** Response headers that must be present: a value to match exactly, or `null` for any. */
  readonly responseHeaders?: Readonly<Record<string, string | null>>;
  /** Requests in flight per connection (HTTP/1.1 pipelining); 1 when absent. */
  readonly pipelining?: number;
  /** Only verified, never loaded (the filler routes). */
  readonly verifyOnly?: boolean;
}

const PLAINTEXT = {
  method: 'GET',
  path: '/',
  contentType: 'text/plain',
  expected: HELLO_BODY,
} as const;

/** All cases, in table order. */
export const BENCH_CASES: readonly BenchCase[] = [
  { name: 'plaintext', app: 'basic', ...PLAINTEXT },
  {
    name: 'json',
    app: 'basic',
    method: 'GET',
    path: '/json',
    contentType: 'application/json',
    expected: { message: JSON_MESSAGE },
  },
  {
    name: 'param',
    app: 'basic',
    method: 'GET',
    path: USERS_PREFIX + BENCH_USER_ID,
    contentType: 'application/json',
    expected: { id: BENCH_USER_ID },
  },
  {
    name: 'middleware',
    app: 'middleware',
    method: 'GET',
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
  {
    name: 'post',
    app: 'basic',
    method: 'POST',
    path: ECHO_PATH,
    body: ECHO_BODY,
    requestHeaders: { 'content-type': 'application/json' },
    contentType: 'application/json',
    expected: JSON.parse(ECHO_BODY) as Record<string, unknown>,
  },
  { name: 'pipelining', app: 'basic', ...PLAINTEXT, pipelining: 16 },
  {
    name: 'close',
    app: 'basic',
    ...PLAINTEXT,
    requestHeaders: { connection: 'close' },
    responseHeaders: { connection: 'close' },
  },
  // Two filler routes, checked so that a target with a broken route table never gets loaded.
  {
    name: 'filler-static',
    app: 'basic',
    method: 'GET',
    path: '/users/me',
    contentType: 'text/plain',
    expected: FILLER_BODY,
    verifyOnly: true,
  },
  {
    name: 'filler-param',
    app: 'basic',
    method: 'GET',
    path: '/orgs/acme/repos/widgets',
    contentType: 'text/plain',
    expected: FILLER_BODY,
    verifyOnly: true,
  },
];
