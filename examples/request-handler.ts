/**
 * The seed's advanced request handler: it reads method, path, headers, query and body,
 * authenticates a Bearer token, and dispatches GET/POST/PUT/DELETE on a resource store.
 * Where the seed's `validate_jwt_token` accepted anything, tokens here are really checked: a
 * token is `<user>.<signature>`, the signature an HMAC-SHA256 of the user id under a secret.
 *
 * Run: `node .build/examples/request-handler.js` (secret from `HL_AUTH_SECRET`, else random);
 * it prints a token to try with
 * `curl -H "Authorization: Bearer <token>" localhost:60003/api/resources`.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { HttpError, Server, type Context } from '../src/index.js';
import { checkPrefix, createRouteScope, joinPath, type MountOptions } from './mount.js';

/** The outcome of checking a request's credentials. */
export type AuthResult = { isValid: true; userId: string } | { isValid: false; reason: string };

/** A stored resource: any JSON object, owned by the user who created it. */
export interface Resource {
  id: string;
  owner: string;
  data: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SIGNATURE_BYTES = 32; // SHA-256
const MIN_SECRET_BYTES = 16;
// Visible ASCII only, bounded: a client-chosen id ends up in our logs and response headers.
const CLIENT_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, DELETE';
/** Largest resource body accepted, in bytes. */
export const MAX_RESOURCE_BYTES = 64 * 1024;

function signature(userId: string, secret: string | Buffer): Buffer {
  return createHmac('sha256', secret).update(userId).digest();
}

/** Issues the token for `userId`: `<userId>.<base64url HMAC-SHA256(userId)>`. */
export function signToken(userId: string, secret: string | Buffer): string {
  if (!USER_ID.test(userId)) {
    throw new RangeError(`user id must be 1-64 of [A-Za-z0-9_-], got ${JSON.stringify(userId)}`);
  }
  return `${userId}.${signature(userId, secret).toString('base64url')}`;
}

/** Checks a token made by {@link signToken} with the same secret. */
export function verifyToken(token: string, secret: string | Buffer): AuthResult {
  const dot = token.lastIndexOf('.');
  if (dot <= 0) return { isValid: false, reason: 'malformed token' };
  const userId = token.slice(0, dot);
  const encoded = token.slice(dot + 1);
  const given = Buffer.from(encoded, 'base64url');
  // Buffer.from skips characters it cannot decode; insist on the one canonical spelling.
  if (
    !USER_ID.test(userId) ||
    given.length !== SIGNATURE_BYTES ||
    given.toString('base64url') !== encoded
  ) {
    return { isValid: false, reason: 'malformed token' };
  }
  // Constant-time comparison, so response timing does not reveal how much of a forgery matched.
  if (!timingSafeEqual(given, signature(userId, secret))) {
    return { isValid: false, reason: 'invalid signature' };
  }
  return { isValid: true, userId };
}

/** Reads `Authorization: Bearer <token>` and verifies the token. */
export function authenticateRequest(ctx: Context, secret: string | Buffer): AuthResult {
  const header = ctx.getRequestHeader('authorization');
  if (header === undefined) return { isValid: false, reason: 'missing Authorization header' };
  const match = /^Bearer +(\S+)$/i.exec(header.trim());
  if (match === null) return { isValid: false, reason: 'expected a Bearer token' };
  return verifyToken(match[1]!, secret);
}

/** A request id: the client's own if it is short visible ASCII, else a fresh one. */
export function generateRequestId(incoming?: string): string {
  if (incoming !== undefined && CLIENT_REQUEST_ID.test(incoming)) return incoming;
  return `req_${Date.now()}_${randomUUID().slice(0, 8)}`;
}

/** An in-memory resource store; each user sees only their own resources. */
export class ResourceStore {
  private readonly resources = new Map<string, Resource>();
  private readonly counts = new Map<string, number>();
  private readonly maxPerOwner: number;

  /** @param options - `maxPerOwner` caps what one user may store (default 1,000) */
  constructor(options: { maxPerOwner?: number } = {}) {
    this.maxPerOwner = options.maxPerOwner ?? 1000;
  }

  /** The owner's resources, oldest first. */
  list(owner: string): Resource[] {
    return [...this.resources.values()].filter((resource) => resource.owner === owner);
  }

  /** The owner's resource `id`, or undefined (also when someone else owns it). */
  get(owner: string, id: string): Resource | undefined {
    const resource = this.resources.get(id);
    return resource?.owner === owner ? resource : undefined;
  }

  /** Stores `data` as a new resource; throws HttpError 507 when the owner is at the cap. */
  create(owner: string, data: Record<string, unknown>): Resource {
    const count = this.counts.get(owner) ?? 0;
    // Without a cap one client could grow the process's memory without bound.
    if (count >= this.maxPerOwner) {
      throw new HttpError(507, `at most ${this.maxPerOwner} resources per user`, {
        code: 'STORE_FULL',
      });
    }
    const now = new Date().toISOString();
    const resource: Resource = { id: randomUUID(), owner, data, createdAt: now, updatedAt: now };
    this.resources.set(resource.id, resource);
    this.counts.set(owner, count + 1);
    return resource;
  }

  /** Replaces the data of the owner's resource `id`; undefined if there is none. */
  replace(owner: string, id: string, data: Record<string, unknown>): Resource | undefined {
    const resource = this.get(owner, id);
    if (resource === undefined) return undefined;
    resource.data = data;
    resource.updatedAt = new Date().toISOString();
    return resource;
  }

  /** Deletes the owner's resource `id`; whether there was one. */
  delete(owner: string, id: string): boolean {
    if (this.get(owner, id) === undefined) return false;
    this.resources.delete(id);
    this.counts.set(owner, (this.counts.get(owner) ?? 1) - 1);
    return true;
  }
}

/** The JSON object in the request body; 415 for another content type, 400 for anything else. */
function readJsonObject(ctx: Context): Record<string, unknown> {
  const type = ctx.getRequestHeaders()['content-type'] ?? '';
  if (!/^application\/([\w.-]+\+)?json\s*(;|$)/i.test(type)) {
    throw new HttpError(
      415,
      `expected an application/json body, got ${type || 'no content type'}`,
      {
        code: 'UNSUPPORTED_MEDIA_TYPE',
      },
    );
  }
  // Checked here rather than with server.bodyLimit(): the server's own 413 is written before
  // middleware runs, so it would go out without X-Request-ID. The server's default 1 MiB limit
  // still bounds what is buffered.
  const size = ctx.getRequestBody().length;
  if (size > MAX_RESOURCE_BYTES) {
    throw new HttpError(413, `a resource is at most ${MAX_RESOURCE_BYTES} bytes, got ${size}`, {
      code: 'BODY_TOO_LARGE',
    });
  }
  const value = ctx.getRequestBodyJson<unknown>();
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, 'the body must be a JSON object', { code: 'INVALID_BODY' });
  }
  return value as Record<string, unknown>;
}

function requireId(ctx: Context): string {
  const id = ctx.getRequestQuery('id');
  if (id === undefined || id === '') {
    throw new HttpError(400, `${ctx.getRequestMethod()} needs ?id=<resource id>`, {
      code: 'MISSING_ID',
    });
  }
  return id;
}

function notFound(id: string): HttpError {
  return new HttpError(404, `no resource ${id}`, { code: 'NOT_FOUND' });
}

/** Options for {@link mountRequestHandler}. */
export interface RequestHandlerMountOptions extends MountOptions {
  /** HMAC secret for Bearer tokens (at least 16 bytes). */
  secret: string | Buffer;
  /** Where resources live; a fresh store by default. */
  store?: ResourceStore;
  /**
   * Register the `X-Request-ID` middleware (default true). Turn it off where another program
   * on the same server already sets the id: the handler reports whichever id is set.
   */
  requestId?: boolean;
}

/** Options for {@link createRequestHandlerServer}. */
export interface RequestHandlerOptions extends RequestHandlerMountOptions {
  host?: string;
  port?: number;
}

/**
 * Builds the server: every response carries `X-Request-ID`; `/api/resources` needs a valid
 * Bearer token (else 401 `{ error: "Authentication failed", code: "AUTH_REQUIRED" }`), then
 * GET (list, or `?id=`), POST (JSON object → 201), PUT `?id=` (replace), DELETE `?id=`;
 * any other method → 405 JSON with `Allow`.
 */
export function createRequestHandlerServer(options: RequestHandlerOptions): Server {
  const server = new Server({ host: options.host ?? '0.0.0.0', port: options.port ?? 60003 });
  return mountRequestHandler(server, options);
}

/**
 * Mounts the request handler on `server`: `{prefix}/api/resources` (see
 * {@link createRequestHandlerServer}), the `X-Request-ID` middleware (server-wide, unless
 * `requestId: false`) and an error hook that logs unexpected errors of its own route.
 */
export function mountRequestHandler(server: Server, options: RequestHandlerMountOptions): Server {
  const { secret } = options;
  if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
    throw new RangeError(`the token secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  const prefix = checkPrefix(options.prefix);
  const store = options.store ?? new ResourceStore();
  const scope = createRouteScope();

  // HttpErrors are answers we chose (404, 507, …); only unexpected throws are worth a log line.
  server.errorHook((ctx, error) => {
    if (scope.owns(ctx) && !(error instanceof HttpError)) {
      console.error(`[${ctx.getResponseHeader('x-request-id')}] unexpected error:`, error);
    }
  });
  // Middleware, not the handler, sets the id: so 404s and thrown errors carry it too.
  if (options.requestId ?? true) {
    server.requestMiddleware((ctx) => {
      ctx.setResponseHeader(
        'X-Request-ID',
        generateRequestId(ctx.getRequestHeader('x-request-id')),
      );
    });
  }

  const resources = scope.route((ctx) => {
    const method = ctx.getRequestMethod();
    const path = ctx.getRequestPath();
    const headers = ctx.getRequestHeaders();
    const query = ctx.getRequestQueries();

    const auth = authenticateRequest(ctx, secret);
    if (!auth.isValid) {
      ctx
        .setResponseStatusCode(401)
        .setResponseHeader('WWW-Authenticate', 'Bearer realm="api"')
        .setResponseBodyJson({
          error: 'Authentication failed',
          code: 'AUTH_REQUIRED',
          message: auth.reason,
        });
      return;
    }
    const user = auth.userId;

    let status = 200;
    let data: unknown;
    switch (method) {
      case 'GET':
      case 'HEAD': {
        const id = ctx.getRequestQuery('id');
        if (id === undefined) {
          data = store.list(user);
        } else {
          data = store.get(user, id);
          if (data === undefined) throw notFound(id);
        }
        break;
      }
      case 'POST': {
        const created = store.create(user, readJsonObject(ctx));
        ctx.setResponseHeader('Location', `${path}?id=${created.id}`);
        status = 201;
        data = created;
        break;
      }
      case 'PUT': {
        const id = requireId(ctx);
        data = store.replace(user, id, readJsonObject(ctx));
        if (data === undefined) throw notFound(id);
        break;
      }
      case 'DELETE': {
        const id = requireId(ctx);
        if (!store.delete(user, id)) throw notFound(id);
        data = { deleted: id };
        break;
      }
      default:
        ctx
          .setResponseStatusCode(405)
          .setResponseHeader('Allow', ALLOWED_METHODS)
          .setResponseBodyJson({
            error: 'Method Not Allowed',
            code: 'METHOD_NOT_ALLOWED',
            message: `${method} is not allowed on ${path}; use ${ALLOWED_METHODS}`,
          });
        return;
    }
    ctx.setResponseStatusCode(status).setResponseBodyJson({
      data,
      meta: {
        method,
        path,
        query,
        user,
        requestId: ctx.getResponseHeader('x-request-id'),
        userAgent: headers['user-agent'] ?? null,
        bodyBytes: ctx.getRequestBody().length,
      },
    });
  });
  server.route(joinPath(prefix, '/api/resources'), resources);
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const secret = process.env.HL_AUTH_SECRET ?? randomBytes(32).toString('hex');
  const running = await createRequestHandlerServer({
    secret,
    port: Number(process.env.PORT ?? 60003),
  }).run();
  console.log(`resources on http://${running.host}:${running.port}/api/resources`);
  console.log(`try: Authorization: Bearer ${signToken('alice', secret)}`);
}
