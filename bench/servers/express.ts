/**
 * Target `express`: the benchmark app on Express 5 with its default settings, except
 * `x-powered-by`, which Express's production guide says to disable. helmet is not a
 * dependency here, so the middleware app writes the same security headers with a small
 * hand-written middleware, next to equally small CORS and request-id ones.
 * Usage: `node .build/bench/servers/express.js [port] [basic|middleware]`.
 * @packageDocumentation
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { randomUUID } from 'node:crypto';
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

function plaintext(_req: Request, res: Response): void {
  res.type('text/plain').send(HELLO_BODY);
}

function json(_req: Request, res: Response): void {
  res.json({ message: JSON_MESSAGE });
}

function user(req: Request, res: Response): void {
  res.json({ id: req.params.id });
}

// `express.json()` runs before this on the echo route and has parsed the body.
function echo(req: Request, res: Response): void {
  res.json(req.body);
}

function filler(_req: Request, res: Response): void {
  res.type('text/plain').send(FILLER_BODY);
}

const HANDLERS: Record<RouteKind, (req: Request, res: Response) => void> = {
  plaintext,
  json,
  user,
  echo,
  filler,
};

// The three middleware, by hand (helmet's default headers, CORS for one origin, a request id).
function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set(SECURITY_HEADERS);
  next();
}

function corsForOrigin(req: Request, res: Response, next: NextFunction): void {
  if (req.headers.origin === BENCH_ORIGIN) {
    res.set('access-control-allow-origin', BENCH_ORIGIN);
    res.vary('Origin');
  }
  next();
}

function requestId(req: Request, res: Response, next: NextFunction): void {
  const incoming = req.headers['x-request-id'];
  res.set('x-request-id', typeof incoming === 'string' ? incoming : randomUUID());
  next();
}

const app = express();
app.disable('x-powered-by');
if (appFromArgs() === 'middleware') {
  app.use(securityHeaders, corsForOrigin, requestId);
  app.get(MIDDLEWARE_PATH, json);
}
const parseJson = express.json();
for (const route of BENCH_ROUTES) {
  if (route.method === 'POST') app.post(route.path, parseJson, HANDLERS[route.kind]);
  else app.get(route.path, HANDLERS[route.kind]);
}

const server = app.listen(portFromArgs(), BENCH_HOST, (error?: Error) => {
  if (error !== undefined) throw error;
  announceReady((server.address() as AddressInfo).port);
});
const keepAlive = keepAliveFromEnv();
if (keepAlive !== undefined) server.keepAliveTimeout = keepAlive;
