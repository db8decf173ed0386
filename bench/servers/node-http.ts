/**
 * Target `node-http`: the benchmark app on plain `node:http`, routed by a small hand-written
 * table. This is the baseline every ratio is measured against: what Node's own HTTP stack costs
 * with no framework.
 * Usage: `node .build/bench/servers/node-http.js [port] [basic|middleware]`.
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  appFromArgs,
  BENCH_ORIGIN,
  BENCH_ROUTES,
  FILLER_BODY,
  HELLO_BODY,
  JSON_MESSAGE,
  keepAliveFromEnv,
  MIDDLEWARE_PATH,
  SECURITY_HEADERS,
  type RouteKind,
} from '../app.js';
import { announceReady, BENCH_HOST, portFromArgs } from './cli.js';

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[]) => void;

// Fixed responses have their headers built once, as a framework-free server would do; the
// JSON bodies are stringified per request, like every other target does.
const PLAIN_HEADERS = {
  'Content-Type': 'text/plain',
  'Content-Length': String(Buffer.byteLength(HELLO_BODY)),
};
const FILLER_HEADERS = {
  'Content-Type': 'text/plain',
  'Content-Length': String(Buffer.byteLength(FILLER_BODY)),
};

const MIDDLEWARE_APP = appFromArgs() === 'middleware';

/** The middleware case by hand: security headers, CORS for the allowed origin, a request id. */
function applyMiddleware(req: IncomingMessage, res: ServerResponse): void {
  for (const name in SECURITY_HEADERS) res.setHeader(name, SECURITY_HEADERS[name]!);
  if (req.headers.origin === BENCH_ORIGIN) {
    res.setHeader('access-control-allow-origin', BENCH_ORIGIN);
    res.setHeader('vary', 'Origin');
  }
  const incoming = req.headers['x-request-id'];
  res.setHeader('x-request-id', typeof incoming === 'string' ? incoming : randomUUID());
}

function sendJson(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/** Error responses are off the measured paths; they exist so a wrong URL is visible as such. */
function sendError(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': String(body.length) });
  res.end(body);
}

const MAX_BODY = 1024 * 1024;

/** Reads the whole body, parses it and sends it back re-serialized. */
function echo(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(chunk);
  });
  req.on('end', () => {
    let value: unknown;
    try {
      value = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
    } catch {
      sendError(res, 400, 'Bad Request');
      return;
    }
    sendJson(res, value);
  });
}

const HANDLERS: Record<RouteKind, Handler> = {
  plaintext: (_req, res) => {
    res.writeHead(200, PLAIN_HEADERS);
    res.end(HELLO_BODY);
  },
  json: (_req, res) => sendJson(res, { message: JSON_MESSAGE }),
  user: (_req, res, params) => sendJson(res, { id: params[0] }),
  echo,
  filler: (_req, res) => {
    res.writeHead(200, FILLER_HEADERS);
    res.end(FILLER_BODY);
  },
};

// The route table: static paths in a Map (one lookup), param routes tried in registration
// order by comparing segments, which is what a hand-written router does.
interface ParamRoute {
  readonly method: string;
  readonly segments: readonly string[];
  readonly handler: Handler;
}
const staticRoutes = new Map<string, Handler>();
const paramRoutes: ParamRoute[] = [];
for (const route of BENCH_ROUTES) {
  const handler = HANDLERS[route.kind];
  if (route.path.includes(':')) {
    paramRoutes.push({ method: route.method, segments: route.path.split('/'), handler });
  } else {
    staticRoutes.set(`${route.method} ${route.path}`, handler);
  }
}
if (MIDDLEWARE_APP) {
  staticRoutes.set(`GET ${MIDDLEWARE_PATH}`, (req, res) => {
    applyMiddleware(req, res);
    HANDLERS.json(req, res, []);
  });
}

/** Runs the param route matching `path`, if any; `false` when none does. */
function routeParams(req: IncomingMessage, res: ServerResponse, path: string): boolean {
  const segments = path.split('/');
  for (const route of paramRoutes) {
    if (route.method !== req.method || route.segments.length !== segments.length) continue;
    const params: string[] = [];
    let matched = true;
    for (let i = 1; i < segments.length && matched; i++) {
      const pattern = route.segments[i]!;
      const segment = segments[i]!;
      if (pattern.charCodeAt(0) === 58 /* ':' */) {
        if (segment === '') matched = false;
        else params.push(segment);
      } else matched = pattern === segment;
    }
    if (!matched) continue;
    let decoded: string[];
    try {
      // Decoded like the frameworks decode params, so the work matches.
      decoded = params.map(decodeURIComponent);
    } catch {
      sendError(res, 400, 'Bad Request');
      return true;
    }
    route.handler(req, res, decoded);
    return true;
  }
  return false;
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const handler = staticRoutes.get(`${req.method} ${path}`);
  if (handler !== undefined) handler(req, res, []);
  else if (!routeParams(req, res, path)) sendError(res, 404, 'Not Found');
}

const server = createServer(handle);
const keepAlive = keepAliveFromEnv();
if (keepAlive !== undefined) server.keepAliveTimeout = keepAlive;
server.listen(portFromArgs(), BENCH_HOST, () => {
  announceReady((server.address() as AddressInfo).port);
});
