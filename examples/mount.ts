/**
 * What the examples share so that each can be mounted on a Server other programs use too (the
 * showcase mounts all twelve on one): a path prefix, and a route scope that lets an error hook
 * act only on errors from its own program's routes. Not a seed program itself.
 */
import type { Context, Handler } from '../src/index.js';

/** The option every `mount…(server, options)` function takes. */
export interface MountOptions {
  /**
   * Path prefix of the program's routes: `''` (the default) or `/segment[/segment…]` with no
   * trailing slash; `/demo` turns `/errors/database` into `/demo/errors/database`.
   */
  prefix?: string;
}

/** Returns `prefix` if it is a valid mount prefix (see {@link MountOptions}), else throws. */
export function checkPrefix(prefix = ''): string {
  if (prefix === '' || /^(\/[^/\s?#{}]+)+$/.test(prefix)) return prefix;
  throw new RangeError(
    `a mount prefix is '' or like '/demo' (no trailing slash), got ${JSON.stringify(prefix)}`,
  );
}

/** `prefix` + `path`; the root of a prefix is the prefix itself (`/demo`, not `/demo/`). */
export function joinPath(prefix: string, path: string): string {
  return prefix !== '' && path === '/' ? prefix : prefix + path;
}

/** Marks the requests one program's routes handled; see {@link createRouteScope}. */
export interface RouteScope {
  /** Wraps a route handler so every request it handles is marked as this program's. */
  route(handler: Handler): Handler;
  /** Whether this program's routes handled `ctx`: error hooks use it to leave others' errors alone. */
  owns(ctx: Context): boolean;
}

/**
 * A scope for one mounted program. Error hooks are server-wide; a program whose hook answers or
 * logs errors in its own way checks `owns(ctx)` so it does not take over errors from the other
 * programs mounted beside it.
 */
export function createRouteScope(): RouteScope {
  const mark = Symbol('route scope');
  return {
    route: (handler) => (ctx) => {
      ctx.setAttribute(mark, true);
      return handler(ctx);
    },
    owns: (ctx) => ctx.getAttribute(mark) === true,
  };
}
