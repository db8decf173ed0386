import type { Context } from '../context/context.js';

/**
 * What every battery factory returns: a function registered with `server.requestMiddleware()`,
 * `server.responseMiddleware()` or as a route handler.
 */
export type Middleware = (ctx: Context) => void | Promise<void>;
