import type { Context } from '../context/context.js';
import type { Router } from '../route/router.js';
import type { Handler } from './pipeline.js';

/*
 * Built-in route steps for requests no route handles. They are module-level functions, not
 * closures, and they only fill in a body when middleware has not already answered.
 */

function describeRoute(ctx: Context): string {
  return `${ctx.getRequestMethod()} ${ctx.getRequestPath()}`;
}

function fillErrorBody(ctx: Context, status: number, error: string, message: string): void {
  if (ctx._status !== status || ctx._body.length !== 0 || ctx._sent) return;
  ctx.setResponseBodyJson({ error, message });
}

function notFound(ctx: Context): void {
  fillErrorBody(ctx, 404, 'Not Found', `no route for ${describeRoute(ctx)}`);
}

function methodNotAllowed(ctx: Context): void {
  fillErrorBody(
    ctx,
    405,
    'Method Not Allowed',
    `${ctx.getRequestMethod()} is not allowed on ${ctx.getRequestPath()}`,
  );
}

function badPath(ctx: Context): void {
  fillErrorBody(ctx, 400, 'Bad Request', 'malformed percent-encoding in the request path');
}

function optionsAsterisk(ctx: Context): void {
  if (ctx._status === 204 && !ctx._sent) ctx._body = '';
}

/**
 * Resolves the route for `ctx` before any middleware runs (so middleware can read route
 * params) and sets the status an unmatched request starts with.
 * @param allMethods - the `Allow` value for `OPTIONS *`
 * @returns the handler to run as the route step
 */
export function resolveRoute(ctx: Context, router: Router<Handler>, allMethods: string): Handler {
  const request = ctx._request;
  if (request.path === '*') {
    ctx._status = 204;
    ctx._writableHeaders().set('allow', allMethods);
    return optionsAsterisk;
  }
  const match = router.match(request.method, request.path);
  switch (match.status) {
    case 200:
      ctx._params = match.params;
      ctx._routePattern = match.pattern;
      return match.handler;
    case 404:
      ctx._status = 404;
      return notFound;
    case 405:
      ctx._status = 405;
      ctx._writableHeaders().set('allow', match.allow);
      return methodNotAllowed;
    default:
      ctx._status = 400;
      return badPath;
  }
}
