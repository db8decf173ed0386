/**
 * Target `node-http`: the benchmark app on plain `node:http`, routed by hand. This is the
 * baseline every ratio is measured against: what Node's own HTTP stack costs with no framework.
 * Usage: `node .build/bench/servers/node-http.js [port]`.
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  appFromArgs,
  BENCH_ORIGIN,
  HELLO_BODY,
  JSON_MESSAGE,
  MIDDLEWARE_PATH,
  SECURITY_HEADERS,
  USERS_PREFIX,
} from '../app.js';
import { announceReady, BENCH_HOST, portFromArgs } from './cli.js';

// The plaintext response never changes, so its headers are built once, as a framework-free
// server would do; the JSON bodies are stringified per request, like every other target does.
const PLAIN_HEADERS = {
  'Content-Type': 'text/plain',
  'Content-Length': String(Buffer.byteLength(HELLO_BODY)),
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

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  if (path === '/') {
    res.writeHead(200, PLAIN_HEADERS);
    res.end(HELLO_BODY);
    return;
  }
  if (path === '/json') {
    sendJson(res, { message: JSON_MESSAGE });
    return;
  }
  if (MIDDLEWARE_APP && path === MIDDLEWARE_PATH) {
    applyMiddleware(req, res);
    sendJson(res, { message: JSON_MESSAGE });
    return;
  }
  if (path.startsWith(USERS_PREFIX) && path.indexOf('/', USERS_PREFIX.length) === -1) {
    const raw = path.slice(USERS_PREFIX.length);
    if (raw !== '') {
      let id: string;
      try {
        // Decoded like the frameworks decode params, so the work matches.
        id = decodeURIComponent(raw);
      } catch {
        sendError(res, 400, 'Bad Request');
        return;
      }
      sendJson(res, { id });
      return;
    }
  }
  sendError(res, 404, 'Not Found');
}

const server = createServer(handle);
server.listen(portFromArgs(), BENCH_HOST, () => {
  announceReady((server.address() as AddressInfo).port);
});
