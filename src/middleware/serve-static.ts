import type { Stats } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { Context } from '../context/context.js';
import { HyperlaneError } from '../error/hyperlane-error.js';
import { reasonPhrase } from '../http/status.js';
import type { Middleware } from './middleware.js';
import { contentTypeFor } from './mime-types.js';

/** What to do with a path that has a segment starting with a dot (`.env`, `.git/config`). */
export type DotfilesPolicy = 'ignore' | 'deny' | 'allow';

/**
 * Where the file path comes from and what happens when there is no file:
 * - `'route'`: the last route param (the request path if the route has none); no file → 404,
 *   a refused path → 403 (400 for a malformed escape), methods other than GET/HEAD → 405.
 * - `'middleware'`: the request path (below `prefix`, if set). Anything that is not an existing
 *   file inside the root (another method, a missing file, `..`, a backslash, a dotfile, a
 *   malformed escape) passes on untouched: no status, no header, the chain goes on. A traversal
 *   attempt is simply not served, so app routes such as `/.well-known/…` or `/search/C%5C` work.
 * - `'auto'` (default): `'route'` when the matched route's last segment is a regex param (the
 *   documented mounting `server.get('/static/{path:^.*$}', serveStatic('public'))`), otherwise
 *   `'middleware'`, so `server.requestMiddleware(serveStatic('public'))` never touches param
 *   routes such as `/users/{id}`.
 */
export type ServeStaticMode = 'auto' | 'route' | 'middleware';

/** Options of {@link serveStatic}. */
export interface ServeStaticOptions {
  /** Files tried, in order, for a directory (default `['index.html']`; `false` for none). */
  index?: string | readonly string[] | false;
  /** `Cache-Control: public, max-age=<maxAge>` in seconds (default 0). */
  maxAge?: number;
  /** Adds `immutable` to `Cache-Control` (default false): for file names that carry a hash. */
  immutable?: boolean;
  /**
   * Send a strong `ETag` from size, modification time and inode, and honour `If-None-Match` and
   * an entity-tag `If-Range` (default true). Strong, so `If-Range` (strong comparison, RFC 9110
   * §13.1.5) can resume a download; the inode makes the tag change even when a deploy keeps
   * sizes and timestamps (reproducible builds). Replicas on different machines therefore send
   * different tags for the same file: a revalidation at another replica gets a 200, not a 304.
   */
  etag?: boolean;
  /** Send `Last-Modified` and honour `If-Modified-Since` (default true). */
  lastModified?: boolean;
  /**
   * `'ignore'` (default: as if absent), `'deny'` (403 as a route; as middleware the request
   * passes on, like `'ignore'`) or `'allow'`.
   */
  dotfiles?: DotfilesPolicy;
  /** See {@link ServeStaticMode} (default `'auto'`). */
  mode?: ServeStaticMode;
  /**
   * Middleware behaviour only: serve just the paths under this one (`'/static'` serves
   * `/static/app.js` from `<root>/app.js`). Requests outside it pass on with no file-system
   * call at all. Without it, every GET/HEAD that reaches the middleware costs a file-system
   * lookup. Not allowed with `mode: 'route'`.
   */
  prefix?: string;
}

// Up to this many bytes a response is read whole and sent as one body; beyond it, streamed.
const WHOLE_LIMIT = 64 * 1024;
const CHUNK_SIZE = 64 * 1024;

const PATH_OK = 0;
const PATH_DOTFILE = 1;
const PATH_FORBIDDEN = 2;

const DOT = 46;
const OPTION_KEYS = new Set([
  'index',
  'maxAge',
  'immutable',
  'etag',
  'lastModified',
  'dotfiles',
  'mode',
  'prefix',
]);
// A path prefix of plain segments: compared with the raw request path, so no escapes, and no
// `.`/`..` segments, which a client could not use to reach it anyway.
const PREFIX = /^(?:\/[A-Za-z0-9\-._~!$&'()*+,;=:@]+)+$/;
// Errors that mean "no such file here", as opposed to a server fault worth a 500.
const MISSING = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EACCES', 'EPERM']);
const RANGE = /^bytes=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;
const UNSATISFIABLE = -1;
const WHOLE = -2;

/** A file found for a request. */
interface Found {
  /** Its real path (symlinks resolved). */
  path: string;
  stats: Stats;
  /** The name its content type comes from (the requested one, or the index file's). */
  typeName: string;
  /** It is a directory's index file. */
  isIndex: boolean;
}

function configError(message: string): HyperlaneError {
  return new HyperlaneError('HL_ERR_CONFIG', `serveStatic: ${message}`);
}

function checkOptions(root: unknown, options: ServeStaticOptions): void {
  if (typeof root !== 'string' || root === '') {
    throw configError('root must be a non-empty string (a directory path)');
  }
  if (typeof options !== 'object' || options === null) {
    throw configError('options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw configError(`unknown option "${key}"`);
  }
  const { maxAge, dotfiles, mode } = options;
  if (maxAge !== undefined && (!Number.isSafeInteger(maxAge) || maxAge < 0)) {
    throw configError(`maxAge must be a whole number of seconds >= 0, got ${String(maxAge)}`);
  }
  for (const key of ['immutable', 'etag', 'lastModified'] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'boolean') {
      throw configError(`${key} must be a boolean, got ${typeof value}`);
    }
  }
  if (
    dotfiles !== undefined &&
    dotfiles !== 'ignore' &&
    dotfiles !== 'deny' &&
    dotfiles !== 'allow'
  ) {
    throw configError(`dotfiles must be 'ignore', 'deny' or 'allow', got ${String(dotfiles)}`);
  }
  if (mode !== undefined && mode !== 'auto' && mode !== 'route' && mode !== 'middleware') {
    throw configError(`mode must be 'auto', 'route' or 'middleware', got ${String(mode)}`);
  }
  const prefix = options.prefix;
  if (prefix !== undefined && prefix !== '/') {
    if (mode === 'route') {
      throw configError(
        "prefix applies to middleware behaviour only; it cannot go with mode 'route'",
      );
    }
    if (
      typeof prefix !== 'string' ||
      !PREFIX.test(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix) ||
      /\/\.\.?(?:\/|$)/.test(prefix)
    ) {
      throw configError(
        `prefix must be a path such as '/static' (plain segments, no escapes, no . or ..), got ${typeof prefix === 'string' ? JSON.stringify(prefix) : typeof prefix}`,
      );
    }
  }
}

/** The prefix without a trailing slash; '' for none (or '/'). */
function normalizePrefix(prefix: string | undefined): string {
  if (prefix === undefined || prefix === '/') return '';
  return prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
}

/**
 * Whether a route pattern's last segment is a regex param (`…/{path:^.*$}`): the mounting that
 * makes `'auto'` behave as a route. The pattern was validated when it was registered, so this
 * only has to find where its params end, with the router's rules (a `}` inside the regex may be
 * escaped, sit in a class, or close a nested `{`).
 */
export function endsWithRegexParam(pattern: string): boolean {
  const length = pattern.length;
  let i = 0;
  while (i < length) {
    if (pattern.charCodeAt(i) !== 0x7b /* { */ || pattern.charCodeAt(i - 1) !== 0x2f /* / */) {
      i++;
      continue;
    }
    let colon = -1;
    let depth = 0;
    let inClass = false;
    let end = -1;
    for (let j = i + 1; j < length; j++) {
      const ch = pattern.charCodeAt(j);
      if (colon === -1) {
        if (ch === 0x3a /* : */) colon = j;
        else if (ch === 0x7d /* } */) {
          end = j;
          break;
        }
        continue;
      }
      if (ch === 0x5c /* \ */) j++;
      else if (inClass) {
        if (ch === 0x5d /* ] */) inClass = false;
      } else if (ch === 0x5b /* [ */) inClass = true;
      else if (ch === 0x7b /* { */) depth++;
      else if (ch === 0x7d /* } */) {
        if (depth === 0) {
          end = j;
          break;
        }
        depth--;
      }
    }
    if (end === -1) return false;
    if (end === length - 1) return colon !== -1;
    i = end + 1;
  }
  return false;
}

function indexList(index: ServeStaticOptions['index']): readonly string[] {
  if (index === undefined) return ['index.html'];
  if (index === false) return [];
  const list = typeof index === 'string' ? [index] : index;
  if (!Array.isArray(list))
    throw configError('index must be a file name, a list of them, or false');
  for (const name of list as unknown[]) {
    if (
      typeof name !== 'string' ||
      name === '' ||
      name === '.' ||
      name === '..' ||
      /[/\\\0]/.test(name)
    ) {
      throw configError(`index entries must be plain file names, got ${JSON.stringify(name)}`);
    }
  }
  return [...list];
}

/**
 * Classifies a decoded relative path: `.` / `..` segments, backslashes (a separator on Windows)
 * and NUL bytes are forbidden; a segment starting with a dot makes it a dotfile path.
 */
function inspectPath(relative: string): number {
  if (relative.includes('\0') || relative.includes('\\')) return PATH_FORBIDDEN;
  let verdict = PATH_OK;
  let start = 0;
  for (;;) {
    const slash = relative.indexOf('/', start);
    const end = slash === -1 ? relative.length : slash;
    if (end > start && relative.charCodeAt(start) === DOT) {
      const length = end - start;
      if (length === 1 || (length === 2 && relative.charCodeAt(start + 1) === DOT)) {
        return PATH_FORBIDDEN;
      }
      verdict = PATH_DOTFILE;
    }
    if (slash === -1) return verdict;
    start = slash + 1;
  }
}

function lastRouteParam(ctx: Context): string | undefined {
  const params = ctx.getRouteParams();
  let last: string | undefined;
  for (const name in params) last = params[name];
  return last;
}

function isMissing(error: unknown): boolean {
  return MISSING.has((error as NodeJS.ErrnoException | undefined)?.code ?? '');
}

/** Weak comparison (RFC 9110 §8.8.3.2) of our strong `etag` against an `If-None-Match` list. */
function noneMatchHits(header: string, etag: string | undefined): boolean {
  for (const part of header.split(',')) {
    let tag = part.trim();
    if (tag === '*') return true;
    if (tag.startsWith('W/')) tag = tag.slice(2);
    if (tag === etag) return true;
  }
  return false;
}

/**
 * Parses a `Range` header against a file of `size` bytes into `span` ([first, last]).
 * @returns 0 for a range, UNSATISFIABLE (→ 416), or WHOLE: ignore it and send the whole file
 *   (another unit, a malformed value, or several ranges, which are not served as multipart)
 */
function parseRange(header: string, size: number, span: [number, number]): number {
  const match = RANGE.exec(header);
  if (match === null) return WHOLE;
  const first = match[1]!;
  const last = match[2]!;
  if (first === '') {
    if (last === '') return WHOLE;
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return UNSATISFIABLE;
    span[0] = suffix >= size ? 0 : size - suffix;
    span[1] = size - 1;
    return 0;
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Number(last);
  if (last !== '' && end < start) return WHOLE; // invalid, so ignored (RFC 9110 §14.1.1)
  if (start >= size) return UNSATISFIABLE;
  span[0] = start;
  span[1] = end >= size ? size - 1 : end;
  return 0;
}

/** Reads `length` bytes from `position`; fewer if the file shrank meanwhile. */
async function readSpan(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  // Never send the uninitialised tail of an unsafe allocation.
  return filled === length ? buffer : buffer.subarray(0, filled);
}

/**
 * Streams `length` bytes from `position`, one chunk at a time, each written only once the
 * client has taken the one before (`sendBody()` waits for the socket to drain), so a slow
 * reader holds at most a chunk in memory. Stops quietly when the client goes away.
 */
async function streamSpan(
  ctx: Context,
  handle: FileHandle,
  position: number,
  length: number,
): Promise<void> {
  ctx.setResponseStream().setResponseHeader('content-length', length);
  if (!(await ctx.send())) return;
  let left = length;
  while (left > 0) {
    const size = left < CHUNK_SIZE ? left : CHUNK_SIZE;
    // A fresh buffer per chunk: the socket may still hold the previous one.
    const chunk = Buffer.allocUnsafe(size);
    const { bytesRead } = await handle.read(chunk, 0, size, position);
    // The file shrank: the stream ends short of its content-length and the server closes the
    // connection, which is how the client learns the body is incomplete.
    if (bytesRead === 0) return;
    ctx.setResponseBody(bytesRead === size ? chunk : chunk.subarray(0, bytesRead));
    try {
      await ctx.sendBody();
    } catch {
      return; // the client has gone away
    }
    position += bytesRead;
    left -= bytesRead;
  }
}

/** One `serveStatic()` instance: its options, compiled once, and the cached real root. */
class StaticFiles {
  private readonly root: string;
  private realRoot: string | null = null;
  private realRootPrefix = '';
  private readonly indexes: readonly string[];
  private readonly cacheControl: string;
  private readonly etag: boolean;
  private readonly lastModified: boolean;
  private readonly dotfiles: DotfilesPolicy;
  private readonly mode: ServeStaticMode;
  /** Middleware behaviour serves only below this path ('' for everywhere). */
  private readonly prefix: string;
  /** `'auto'`: route pattern → whether it behaves as a route. Bounded by the routes registered. */
  private readonly routeLike = new Map<string, boolean>();

  constructor(root: string, options: ServeStaticOptions) {
    this.root = resolve(root);
    this.indexes = indexList(options.index);
    this.cacheControl = `public, max-age=${options.maxAge ?? 0}${options.immutable === true ? ', immutable' : ''}`;
    this.etag = options.etag ?? true;
    this.lastModified = options.lastModified ?? true;
    this.dotfiles = options.dotfiles ?? 'ignore';
    this.mode = options.mode ?? 'auto';
    this.prefix = normalizePrefix(options.prefix);
  }

  handle(ctx: Context): Promise<void> | void {
    if (this.mode === 'middleware' || (this.mode === 'auto' && !this.isRouteLike(ctx))) {
      // Decided synchronously: a request that passes on costs no promise.
      const relative = this.middlewareTarget(ctx);
      return relative === undefined ? undefined : this.serveAsMiddleware(ctx, relative);
    }
    return this.handleRoute(ctx);
  }

  /** `'auto'`: a route whose last segment is a regex param is the documented mounting. */
  private isRouteLike(ctx: Context): boolean {
    const pattern = ctx.getRoutePattern();
    if (pattern === undefined) return false;
    let routeLike = this.routeLike.get(pattern);
    if (routeLike === undefined) {
      routeLike = endsWithRegexParam(pattern);
      this.routeLike.set(pattern, routeLike);
    }
    return routeLike;
  }

  /** As a route: the last route param names the file, and failures are answered here. */
  private async handleRoute(ctx: Context): Promise<void> {
    const method = ctx.getRequestMethod();
    if (method !== 'GET' && method !== 'HEAD') {
      answer(ctx, 405, `${method} is not allowed here`);
      ctx.setResponseHeader('allow', 'GET, HEAD');
      return;
    }
    let relative = lastRouteParam(ctx);
    if (relative === undefined) {
      try {
        relative = decodeURIComponent(ctx.getRequestPath());
      } catch {
        answer(ctx, 400, 'malformed percent-encoding in the request path');
        return;
      }
    }
    const verdict = inspectPath(relative);
    if (verdict === PATH_FORBIDDEN) {
      answer(ctx, 403, 'path not allowed');
      return;
    }
    if (verdict === PATH_DOTFILE && this.dotfiles !== 'allow') {
      if (this.dotfiles === 'deny') answer(ctx, 403, 'path not allowed');
      else answer(ctx, 404, 'file not found');
      return;
    }
    const found = await this.find(relative);
    if (found === null) {
      answer(ctx, 404, 'file not found');
    } else if (found.isIndex && !ctx.getRequestPath().endsWith('/')) {
      redirectToDirectory(ctx);
    } else if (!(await this.serve(ctx, found, method === 'HEAD'))) {
      answer(ctx, 404, 'file not found');
    }
  }

  /**
   * As middleware: the decoded path below the prefix that could name a file, or undefined when
   * the request passes on untouched (no status, no header), whatever the reason.
   */
  private middlewareTarget(ctx: Context): string | undefined {
    const method = ctx.getRequestMethod();
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    let relative = ctx.getRequestPath();
    const prefix = this.prefix;
    if (prefix !== '') {
      if (
        !relative.startsWith(prefix) ||
        (relative.length !== prefix.length && relative.charCodeAt(prefix.length) !== 0x2f)
      ) {
        return undefined;
      }
      relative = relative.slice(prefix.length);
    }
    if (relative.includes('%')) {
      try {
        relative = decodeURIComponent(relative);
      } catch {
        return undefined; // no file has that name; an app route may still want the path
      }
    }
    const verdict = inspectPath(relative);
    if (verdict === PATH_FORBIDDEN) return undefined; // a traversal attempt is simply not served
    if (verdict === PATH_DOTFILE && this.dotfiles !== 'allow') return undefined;
    return relative;
  }

  /** As middleware: answers with the file if there is one, else leaves the request as it was. */
  private async serveAsMiddleware(ctx: Context, relative: string): Promise<void> {
    const found = await this.find(relative);
    if (found === null) return;
    if (found.isIndex && !ctx.getRequestPath().endsWith('/')) {
      redirectToDirectory(ctx);
    } else if (!(await this.serve(ctx, found, ctx.getRequestMethod() === 'HEAD'))) {
      return;
    }
    // Answered: the route must not answer over it. A 405 the router prepared (the path is
    // routed for other methods only) no longer applies.
    ctx.removeResponseHeader('allow');
    ctx.aborted();
  }

  /** The real root, resolved once; null while it does not exist. */
  private async resolveRoot(refresh: boolean): Promise<string | null> {
    if (this.realRoot !== null && !refresh) return this.realRoot;
    try {
      const real = await realpath(this.root);
      this.realRoot = real;
      this.realRootPrefix = real.endsWith(sep) ? real : real + sep;
      return real;
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  private isInside(real: string): boolean {
    return real === this.realRoot || real.startsWith(this.realRootPrefix);
  }

  /**
   * The real path of `candidate` if it lies inside the root, else null. The root is resolved
   * again before giving up, in case it is a symlink that was re-pointed (a deploy switching
   * `current` to a new release).
   */
  private async realInside(candidate: string): Promise<string | null> {
    let real: string;
    try {
      real = await realpath(candidate);
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    if (this.isInside(real)) return real;
    const before = this.realRoot;
    if ((await this.resolveRoot(true)) !== before && this.isInside(real)) return real;
    return null;
  }

  private async statOf(path: string): Promise<Stats | null> {
    try {
      return await stat(path);
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  private async find(relative: string): Promise<Found | null> {
    const root = await this.resolveRoot(false);
    if (root === null) return null;
    const real = await this.realInside(join(root, relative));
    if (real === null) return null;
    const stats = await this.statOf(real);
    if (stats === null) return null;
    if (stats.isFile()) return { path: real, stats, typeName: relative, isIndex: false };
    // Anything else that is not a directory (a FIFO would block a read forever) is not served.
    if (!stats.isDirectory()) return null;
    const indexes = this.indexes;
    for (let i = 0; i < indexes.length; i++) {
      const name = indexes[i]!;
      const indexReal = await this.realInside(join(real, name));
      if (indexReal === null) continue;
      const indexStats = await this.statOf(indexReal);
      if (indexStats?.isFile() === true) {
        return { path: indexReal, stats: indexStats, typeName: name, isIndex: true };
      }
    }
    return null;
  }

  /**
   * Answers with the file (or 304 / 206 / 416).
   * @returns false when the file vanished before it could be opened: nothing was answered
   */
  private async serve(ctx: Context, found: Found, isHead: boolean): Promise<boolean> {
    const stats = found.stats;
    const size = stats.size;
    const mtimeSeconds = Math.floor(stats.mtimeMs / 1000);
    const etag = this.etag
      ? `"${size.toString(16)}-${Math.round(stats.mtimeMs * 1000).toString(16)}-${stats.ino.toString(16)}"`
      : undefined;

    let status = 200;
    let start = 0;
    let length = size;
    let contentRange: string | undefined;
    if (this.isNotModified(ctx, etag, mtimeSeconds)) {
      status = 304;
      length = 0;
    } else if (!isHead) {
      // Range is defined for GET only (RFC 9110 §14.2); HEAD answers as a plain GET would.
      const range = ctx.getRequestHeader('range');
      if (range !== undefined && this.ifRangeHolds(ctx, etag, mtimeSeconds)) {
        const span: [number, number] = [0, 0];
        const kind = parseRange(range, size, span);
        if (kind === UNSATISFIABLE) {
          status = 416;
          length = 0;
          contentRange = `bytes */${size}`;
        } else if (kind !== WHOLE) {
          status = 206;
          start = span[0];
          length = span[1] - span[0] + 1;
          contentRange = `bytes ${span[0]}-${span[1]}/${size}`;
        }
      }
    }

    let handle: FileHandle | null = null;
    if (!isHead && length > 0) {
      try {
        handle = await open(found.path, 'r');
      } catch (error) {
        if (isMissing(error)) return false; // gone (or unreadable) since the stat
        throw error;
      }
    }

    ctx.setResponseStatusCode(status);
    if (etag !== undefined) ctx.setResponseHeader('etag', etag);
    if (this.lastModified) ctx.setResponseHeader('last-modified', stats.mtime.toUTCString());
    ctx.setResponseHeader('cache-control', this.cacheControl);
    if (status === 304) {
      ctx.setResponseBody('');
      return true;
    }
    ctx.setResponseHeader('accept-ranges', 'bytes');
    if (contentRange !== undefined) ctx.setResponseHeader('content-range', contentRange);
    if (status === 416) {
      ctx.setResponseBody('');
      return true;
    }
    ctx
      .setResponseHeader('content-type', contentTypeFor(found.typeName))
      .setResponseHeader('content-length', length);
    if (handle === null) {
      ctx.setResponseBody('');
      return true;
    }
    try {
      if (length <= WHOLE_LIMIT) ctx.setResponseBody(await readSpan(handle, start, length));
      else await streamSpan(ctx, handle, start, length);
    } finally {
      await handle.close();
    }
    return true;
  }

  /** If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2). */
  private isNotModified(ctx: Context, etag: string | undefined, mtimeSeconds: number): boolean {
    const noneMatch = ctx.getRequestHeader('if-none-match');
    if (noneMatch !== undefined) return noneMatchHits(noneMatch, etag);
    if (!this.lastModified) return false;
    const modifiedSince = ctx.getRequestHeader('if-modified-since');
    if (modifiedSince === undefined) return false;
    const since = Date.parse(modifiedSince);
    return !Number.isNaN(since) && mtimeSeconds * 1000 <= since;
  }

  /**
   * Whether an `If-Range` validator (if any) still describes the file: our ETag by strong
   * comparison (RFC 9110 §13.1.5: a weak tag never matches, such as one a compressor weakened),
   * or exactly our Last-Modified date. Otherwise the whole file goes out with 200.
   */
  private ifRangeHolds(ctx: Context, etag: string | undefined, mtimeSeconds: number): boolean {
    const ifRange = ctx.getRequestHeader('if-range');
    if (ifRange === undefined) return true;
    const value = ifRange.trim();
    if (value.startsWith('W/"')) return false;
    if (value.startsWith('"')) return value === etag;
    if (!this.lastModified) return false;
    return Date.parse(value) === mtimeSeconds * 1000;
  }
}

/** Answers `status` with the framework's JSON error body. */
function answer(ctx: Context, status: number, message: string): void {
  ctx.setResponseStatusCode(status).setResponseBodyJson({ error: reasonPhrase(status), message });
}

/** 301 to the same path with a slash added, so the index page's relative links resolve. */
function redirectToDirectory(ctx: Context): void {
  // Leading slashes collapse to one: `//evil.example/dir` must not become a protocol-relative
  // redirect to another host.
  let location = ctx.getRequestPath().replace(/^\/+/, '/');
  if (!location.startsWith('/')) location = `/${location}`;
  const url = ctx.getRequestUrl();
  const query = url.indexOf('?');
  location += query === -1 ? '/' : `/${url.slice(query)}`;
  ctx.setResponseStatusCode(301).setResponseHeader('location', location).setResponseBody('');
}

/**
 * Serves files under `root` for GET and HEAD, with a strong `ETag`, `Last-Modified` and 304s,
 * single byte ranges (206 / 416, `If-Range`), `Cache-Control`, index files, and large files
 * streamed with backpressure. Requests that would leave `root` (`..`, encoded or not,
 * backslashes, NUL, symlinks pointing outside) never reach the disk outside it.
 *
 * Mounted as a route (`server.get('/static/{path:^.*$}', serveStatic('public'))`) it serves the
 * last route param and answers 403 / 404 / 405 itself. As request middleware
 * (`server.requestMiddleware(serveStatic('public', { prefix: '/static' }))`) it serves the
 * request path and answers only when that names an existing file inside `root`; anything else
 * passes on untouched to the app's routes (see `mode`). Without `prefix`, every GET/HEAD that
 * reaches it costs a file-system lookup.
 * @throws HyperlaneError `HL_ERR_CONFIG` for a bad root or option
 */
export function serveStatic(root: string, options: ServeStaticOptions = {}): Middleware {
  checkOptions(root, options);
  const files = new StaticFiles(root, options);
  return function serveStaticMiddleware(ctx: Context): Promise<void> | void {
    return files.handle(ctx);
  };
}
