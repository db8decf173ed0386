/**
 * A versioned REST API: `/api/{version}/{resource}/{id?}` with a regex route for the version
 * and dynamic segments for the rest. v1 and v2 answer in the article's shapes (v2 adds a profile
 * and pagination); the data comes from a small in-memory table instead of fixed strings.
 * Run: `node .build/examples/versioned-api.js`, then GET http://localhost:60009/api/v2/users.
 */
import { Server, type Context } from '../src/index.js';
import { checkPrefix, joinPath, type MountOptions } from './mount.js';

/** One user row of the in-memory table. */
export interface User {
  id: string;
  name: string;
  email: string;
  created_at: string;
}

/** The users the API serves, in list order. */
export const USERS: readonly User[] = [
  { id: 'user1', name: 'John Doe', email: 'john@example.com', created_at: '2023-01-01T00:00:00Z' },
  { id: 'user2', name: 'Jane Doe', email: 'jane@example.com', created_at: '2023-02-14T09:30:00Z' },
];

/** A request as the API sees it, once routing has split the path. */
export interface ApiRequest {
  method: string;
  version: string;
  resource: string;
  /** Absent for the collection (`/api/v1/users`). */
  id?: string | undefined;
  /** Decoded query parameters (first value of each). */
  query?: Readonly<Record<string, string>>;
}

/** What the API answers: a status, a JSON body and any extra headers. */
export interface ApiResult {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

type ResourceHandler = (request: ApiRequest) => ApiResult;

const ok = (body: unknown): ApiResult => ({ status: 200, body });
const READ_METHODS = 'GET, HEAD';
const MAX_PER_PAGE = 100;

/** Reads a positive integer query parameter; `undefined` means it was malformed. */
function positiveInt(
  request: ApiRequest,
  name: string,
  fallback: number,
  max: number,
): number | undefined {
  const raw = request.query?.[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,6}$/.test(raw)) return undefined;
  const value = Number(raw);
  return value >= 1 && value <= max ? value : undefined;
}

function badParameter(name: string, rule: string): ApiResult {
  return { status: 400, body: { error: 'Invalid query parameter', parameter: name, rule } };
}

function findUser(id: string): User | undefined {
  return USERS.find((user) => user.id === id);
}

function userNotFound(id: string): ApiResult {
  return { status: 404, body: { error: 'User not found', user_id: id } };
}

function usersV1({ id }: ApiRequest): ApiResult {
  if (id === undefined) return ok({ users: USERS.map((user) => user.id), version: 'v1' });
  const user = findUser(id);
  return user === undefined
    ? userNotFound(id)
    : ok({ user_id: id, version: 'v1', name: user.name });
}

function usersV2(request: ApiRequest): ApiResult {
  const { id } = request;
  if (id !== undefined) {
    const user = findUser(id);
    if (user === undefined) return userNotFound(id);
    return ok({
      user_id: id,
      version: 'v2',
      profile: { name: user.name, email: user.email, created_at: user.created_at },
    });
  }
  const page = positiveInt(request, 'page', 1, 1_000_000);
  if (page === undefined) return badParameter('page', 'an integer >= 1');
  const perPage = positiveInt(request, 'per_page', 10, MAX_PER_PAGE);
  if (perPage === undefined)
    return badParameter('per_page', `an integer from 1 to ${MAX_PER_PAGE}`);
  const slice = USERS.slice((page - 1) * perPage, page * perPage);
  return ok({
    users: slice.map((user) => ({ id: user.id, name: user.name })),
    version: 'v2',
    pagination: {
      page,
      per_page: perPage,
      total: USERS.length,
      pages: Math.ceil(USERS.length / perPage),
    },
  });
}

function posts(version: string): ResourceHandler {
  return ({ id }) => ok({ message: `Posts API ${version}`, id: id ?? null });
}

/**
 * Versions → resources → handlers, as data: adding v3 is one more entry. Every resource here is
 * read-only, so the method check lives in one place ({@link handleApiRequest}).
 */
const API: ReadonlyMap<string, ReadonlyMap<string, ResourceHandler>> = new Map([
  [
    'v1',
    new Map([
      ['users', usersV1],
      ['posts', posts('v1')],
    ]),
  ],
  [
    'v2',
    new Map([
      ['users', usersV2],
      ['posts', posts('v2')],
    ]),
  ],
]);

/** The versions this API serves. */
export const SUPPORTED_VERSIONS: readonly string[] = [...API.keys()];

/**
 * Answers one API request: 400 for a version it does not serve (checked first, as in the
 * article), 404 `{ error: "Resource not found" }` for an unknown resource, 405 with `Allow`
 * for anything but GET/HEAD, else the resource's answer.
 */
export function handleApiRequest(request: ApiRequest): ApiResult {
  const resources = API.get(request.version);
  if (resources === undefined) {
    return {
      status: 400,
      body: {
        error: 'Unsupported API version',
        version: request.version,
        supported: SUPPORTED_VERSIONS,
      },
    };
  }
  const handler = resources.get(request.resource);
  if (handler === undefined) return { status: 404, body: { error: 'Resource not found' } };
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return {
      status: 405,
      body: { error: 'Method not allowed', method: request.method, allowed: ['GET', 'HEAD'] },
      headers: { Allow: READ_METHODS },
    };
  }
  return handler(request);
}

function send(ctx: Context, result: ApiResult): void {
  ctx.setResponseStatusCode(result.status).setResponseBodyJson(result.body);
  for (const [name, value] of Object.entries(result.headers ?? {}))
    ctx.setResponseHeader(name, value);
}

function apiRoute(ctx: Context): void {
  send(
    ctx,
    handleApiRequest({
      method: ctx.getRequestMethod(),
      version: ctx.getRouteParam('version')!,
      resource: ctx.getRouteParam('resource')!,
      id: ctx.getRouteParam('id'),
      query: ctx.getRequestQueries(),
    }),
  );
}

/**
 * Builds the API server. Two regex routes take `/api/v<digits>/{resource}` with and without an
 * id; a tail route registered after them catches every other `/api/...` path, so a version that
 * is not `v<digits>` (`/api/x/users`) still gets the 400 JSON rather than a bare 404, and extra
 * segments get the JSON 404.
 */
export function createVersionedApiServer(
  options: { host?: string; port?: number } & MountOptions = {},
): Server {
  const server = new Server({ host: options.host ?? '0.0.0.0', port: options.port ?? 60009 });
  return mountVersionedApi(server, options);
}

/**
 * Mounts the API under `{prefix}/api/` (see {@link createVersionedApiServer}); no middleware or
 * hooks. Its catch-all answers every `{prefix}/api/...` path no static or dynamic route of the
 * server claims, so other programs' `/api` routes belong under their own prefix.
 */
export function mountVersionedApi(server: Server, options: MountOptions = {}): Server {
  const api = joinPath(checkPrefix(options.prefix), '/api');
  server.route(`${api}/{version:^v\\d+$}/{resource}/{id}`, apiRoute);
  server.route(`${api}/{version:^v\\d+$}/{resource}`, apiRoute);
  // Regex routes are tried in registration order, so this one only sees what the two above refused.
  server.route(`${api}/{rest:^.*$}`, (ctx) => {
    const version = (ctx.getRouteParam('rest') ?? '').split('/')[0] ?? '';
    if (!API.has(version)) {
      send(ctx, handleApiRequest({ method: ctx.getRequestMethod(), version, resource: '' }));
    } else {
      send(ctx, { status: 404, body: { error: 'Resource not found' } });
    }
  });
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const running = await createVersionedApiServer({ port: Number(process.env.PORT ?? 60009) }).run();
  console.log(`versioned API on http://${running.host}:${running.port}/api/v1/users`);
}
