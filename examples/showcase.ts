/**
 * The demo server `npm start` runs: a small app in the style of the Hyperlane programs it was
 * specified from — server config, request middleware, routes (static, dynamic, regex), JSON,
 * error handling and a Server-Sent Events stream. Listens on 0.0.0.0:60000 (PORT/HOST override).
 */
import {
  APPLICATION_JSON,
  CONTENT_TYPE,
  HttpError,
  Server,
  TEXT_EVENT_STREAM,
  TEXT_HTML,
  type Context,
} from '../src/index.js';

const startedAt = Date.now();
let totalRequests = 0;

/** Builds the demo server (exported so tests can run it on port 0). */
export function createShowcase(config: { host?: string; port?: number } = {}): Server {
  const server = new Server({ host: config.host ?? '0.0.0.0', port: config.port ?? 60000 });
  server.enableNodelay().disableLinger().httpBufferSize(8192).wsBufferSize(4096);

  server.errorHook((ctx, error) => {
    if (!(error instanceof HttpError)) console.error(`error on ${ctx.getRequestPath()}:`, error);
  });

  server.requestMiddleware(securityHeaders);
  server.requestMiddleware((ctx) => {
    totalRequests++;
    ctx.setResponseHeader('Server', 'hyperlane-ts');
  });

  server.get('/', (ctx) => {
    ctx.setResponseHeader(CONTENT_TYPE, `${TEXT_HTML}; charset=utf-8`).setResponseBody(HOME_PAGE);
  });
  server.get('/health', healthCheck);
  server.get('/api/{version:^v[12]$}/users/{id}', userHandler);
  server.get('/api/{version:^v[12]$}/users', userHandler);
  server.post('/echo', (ctx) => {
    ctx.setResponseBodyJson({ received: ctx.getRequestBodyJson() });
  });
  server.get('/files/{path:^.*$}', (ctx) => {
    ctx.setResponseBodyJson({ path: ctx.getRouteParam('path') });
  });
  server.get('/fail', () => {
    throw new HttpError(503, 'database unavailable', { code: 'DB_ERROR' });
  });
  server.get('/metrics/stream', metricsStream);
  return server;
}

function securityHeaders(ctx: Context): void {
  ctx
    .setResponseHeader('X-Content-Type-Options', 'nosniff')
    .setResponseHeader('X-Frame-Options', 'DENY')
    .setResponseHeader('Referrer-Policy', 'no-referrer');
}

function healthCheck(ctx: Context): void {
  const memory = process.memoryUsage();
  ctx.setResponseHeader(CONTENT_TYPE, APPLICATION_JSON).setResponseBodyJson({
    status: 'healthy',
    timestamp: Math.floor(Date.now() / 1000),
    memory: {
      rssMb: Math.round(memory.rss / 1048576),
      heapUsedMb: Math.round(memory.heapUsed / 1048576),
    },
    requests: totalRequests,
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
  });
}

function userHandler(ctx: Context): void {
  const version = ctx.getRouteParam('version');
  const id = ctx.getRouteParam('id');
  if (id === undefined) {
    ctx.setResponseBodyJson({ users: ['user1', 'user2'], version });
    return;
  }
  ctx.setResponseBodyJson(
    version === 'v1'
      ? { user_id: id, version, name: 'John Doe' }
      : { user_id: id, version, profile: { name: 'John Doe', email: 'john@example.com' } },
  );
}

async function metricsStream(ctx: Context): Promise<void> {
  ctx
    .setResponseHeader(CONTENT_TYPE, TEXT_EVENT_STREAM)
    .setResponseHeader('Cache-Control', 'no-cache')
    .setResponseStatusCode(200);
  await ctx.send();
  for (let id = 1; !ctx.signal.aborted; id++) {
    const memory = process.memoryUsage();
    const event = JSON.stringify({
      id,
      timestamp: Date.now(),
      rss: memory.rss,
      heapUsed: memory.heapUsed,
    });
    try {
      await ctx.setResponseBody(`id: ${id}\ndata: ${event}\n\n`).sendBody();
    } catch {
      break; // the client went away
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

const HOME_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>hyperlane-ts</title></head>
<body>
<h1>hyperlane-ts</h1>
<p>Try: <a href="/health">/health</a>, <a href="/api/v2/users/42">/api/v2/users/42</a>,
<a href="/files/a/b/c.txt">/files/a/b/c.txt</a>, <a href="/fail">/fail</a>.</p>
<h2>Live metrics (Server-Sent Events)</h2>
<pre id="metrics">waiting…</pre>
<script>
const source = new EventSource('/metrics/stream');
source.onmessage = (event) => { document.getElementById('metrics').textContent = event.data; };
</script>
</body></html>`;

// Started directly (npm start): listen and report where.
if (import.meta.url === `file://${process.argv[1]}`) {
  const running = await createShowcase({
    host: process.env.HOST,
    port: process.env.PORT === undefined ? undefined : Number(process.env.PORT),
  }).run();
  console.log(`hyperlane-ts showcase listening on http://${running.host}:${running.port}`);
  const stop = (): void => {
    void running.close({ timeout: 3000 }).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
