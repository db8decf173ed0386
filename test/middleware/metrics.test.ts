/**
 * metrics() (API.md "Batteries", "Decisions on details"): request counts by method, route
 * pattern and final status, a duration histogram, connection gauges, process memory and
 * event-loop delay, exposed in the Prometheus text format 0.0.4. Over real sockets: fetch,
 * raw net (keep-alive, hostile bytes, a client that leaves) and the `ws` client.
 *
 * Every test starts its own server on 127.0.0.1:0 and closes it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { HyperlaneError, type Context, type Server } from '../../src/index.js';
import {
  PROMETHEUS_CONTENT_TYPE,
  metrics,
  type MetricsOptions,
} from '../../src/middleware/metrics.js';
import { RawConnection, assertServing } from '../helpers/raw-client.js';
import { eventually } from '../helpers/eventually.js';
import { serve } from '../helpers/serve.js';

// ---- a strict reader of the text format ----------------------------------------------------

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  samples: Sample[];
  types: Map<string, string>;
  helps: Map<string, string>;
}

const METRIC_NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_VALUE = '"(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*=${LABEL_VALUE}`;
const SAMPLE_LINE = new RegExp(
  `^(${METRIC_NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?\\})? ([-+]?(?:[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf|NaN))$`,
);
const LABEL_ONE = new RegExp(`([a-zA-Z_][a-zA-Z0-9_]*)=(${LABEL_VALUE})`, 'g');
const HELP_LINE = new RegExp(`^# HELP (${METRIC_NAME}) (.*)$`);
const TYPE_LINE = new RegExp(`^# TYPE (${METRIC_NAME}) (counter|gauge|histogram|summary|untyped)$`);

function unescapeLabel(quoted: string): string {
  return quoted.slice(1, -1).replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** Which family a sample belongs to: a histogram's _bucket/_sum/_count lines belong to it. */
function familyOf(name: string, types: Map<string, string>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (types.get(base) === 'histogram') return base;
    }
  }
  return name;
}

/** Parses the exposition, failing on any line that is not HELP, TYPE or a well-formed sample. */
function parseExposition(text: string): Exposition {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helps = new Map<string, string>();
  const finished = new Set<string>();
  let current = '';
  for (const line of text.slice(0, -1).split('\n')) {
    const help = HELP_LINE.exec(line);
    if (help !== null) {
      assert.ok(!helps.has(help[1]!), `one HELP for ${help[1]}`);
      helps.set(help[1]!, help[2]!);
      continue;
    }
    const type = TYPE_LINE.exec(line);
    if (type !== null) {
      assert.ok(!types.has(type[1]!), `one TYPE for ${type[1]}`);
      types.set(type[1]!, type[2]!);
      if (current !== '') finished.add(current);
      current = type[1]!;
      continue;
    }
    const match = SAMPLE_LINE.exec(line);
    assert.ok(match !== null, `malformed line: ${JSON.stringify(line)}`);
    const name = match[1]!;
    const family = familyOf(name, types);
    assert.equal(family, current, `sample ${name} sits under its own TYPE line`);
    assert.ok(!finished.has(family), `${family} samples are grouped`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(LABEL_ONE)) {
      assert.ok(!(pair[1]! in labels), `label ${pair[1]} once`);
      labels[pair[1]!] = unescapeLabel(pair[2]!);
    }
    const raw = match[3]!;
    const value =
      raw === '+Inf' || raw === 'Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    samples.push({ name, labels, value });
  }
  for (const name of types.keys()) assert.ok(helps.has(name), `HELP for ${name}`);
  return { samples, types, helps };
}

function find(expo: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return expo.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

function value(
  expo: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = find(expo, name, labels);
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} is one series`);
  return found[0]?.value;
}

async function scrape(
  base: string,
): Promise<{ expo: Exposition; text: string; type: string | null }> {
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  const text = await res.text();
  return { expo: parseExposition(text), text, type: res.headers.get('content-type') };
}

/** Scrape over a fresh raw connection that closes after the response. */
async function rawScrape(port: number): Promise<Exposition> {
  const conn = await RawConnection.connect(port);
  try {
    await conn.write('GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const [response] = await conn.readResponses(1);
    assert.equal(response?.status, 200);
    return parseExposition(response.text());
  } finally {
    conn.destroy();
  }
}

async function get(url: string, init: RequestInit = {}): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000), ...init });
  await res.arrayBuffer();
  return res.status;
}

function setup(options?: MetricsOptions): (server: Server) => void {
  return (server) => {
    const m = metrics(options);
    server.requestMiddleware(m.middleware);
    server.get('/metrics', m.handler);
    server.errorHook(() => {});
    server.get('/a', (ctx) => {
      ctx.setResponseBody('a');
    });
    server.post('/a', (ctx) => {
      ctx.setResponseStatusCode(201);
    });
    server.get('/users/{id}', (ctx) => {
      ctx.setResponseBodyJson({ id: ctx.getRouteParam('id') });
    });
    server.get('/boom', () => {
      throw new Error('boom');
    });
  };
}

/** A route pattern holding a double quote and backslashes (regex `a"b\\?`). */
const QUOTED_PATTERN = '/q/{v:^a"b\\\\?$}';

// ---- tests ---------------------------------------------------------------------------------

test('counts by method, route pattern and final status; the scrape itself is counted', async (t) => {
  const { base } = await serve(t, setup());
  for (let i = 0; i < 3; i++) assert.equal(await get(`${base}/a`), 200);
  assert.equal(await get(`${base}/a`, { method: 'POST' }), 201);
  for (const id of ['1', '2', 'x%20y']) assert.equal(await get(`${base}/users/${id}`), 200);
  assert.equal(await get(`${base}/nope`), 404);
  assert.equal(await get(`${base}/nope/${Math.random()}`), 404);
  assert.equal(await get(`${base}/a`, { method: 'DELETE' }), 405);
  assert.equal(await get(`${base}/boom`), 500);

  const first = await scrape(base);
  assert.equal(first.type, PROMETHEUS_CONTENT_TYPE);
  const expo = first.expo;
  assert.equal(expo.types.get('http_requests_total'), 'counter');
  assert.equal(
    value(expo, 'http_requests_total', { method: 'GET', route: '/a', status: '200' }),
    3,
  );
  assert.equal(
    value(expo, 'http_requests_total', { method: 'POST', route: '/a', status: '201' }),
    1,
  );
  assert.equal(
    value(expo, 'http_requests_total', { method: 'GET', route: '/users/{id}', status: '200' }),
    3,
  );
  assert.equal(
    value(expo, 'http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }),
    2,
  );
  assert.equal(
    value(expo, 'http_requests_total', { method: 'DELETE', route: 'unmatched', status: '405' }),
    1,
  );
  assert.equal(
    value(expo, 'http_requests_total', { method: 'GET', route: '/boom', status: '500' }),
    1,
  );
  // Counting happens when the exchange is over, so a scrape shows earlier scrapes, not itself.
  assert.equal(find(expo, 'http_requests_total', { route: '/metrics' }).length, 0);
  const total = find(expo, 'http_requests_total').reduce((sum, s) => sum + s.value, 0);
  assert.equal(total, 11);

  const second = await scrape(base);
  assert.equal(
    value(second.expo, 'http_requests_total', { method: 'GET', route: '/metrics', status: '200' }),
    1,
  );
});

test('histogram: cumulative buckets, +Inf equals _count, _count matches the requests', async (t) => {
  const { base } = await serve(t, setup());
  for (let i = 0; i < 5; i++) await get(`${base}/a`);
  for (let i = 0; i < 2; i++) await get(`${base}/users/${i}`);
  await get(`${base}/missing`);
  const { expo } = await scrape(base);
  assert.equal(expo.types.get('http_request_duration_seconds'), 'histogram');

  const pairs = new Set(
    find(expo, 'http_request_duration_seconds_count').map(
      (s) => `${s.labels.method} ${s.labels.route}`,
    ),
  );
  assert.deepEqual([...pairs].sort(), ['GET /a', 'GET /users/{id}', 'GET unmatched']);
  for (const pair of pairs) {
    const [method, route] = pair.split(' ') as [string, string];
    const labels = { method, route };
    const buckets = find(expo, 'http_request_duration_seconds_bucket', labels);
    assert.deepEqual(
      buckets.map((b) => b.labels.le),
      ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'],
    );
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, `${pair} buckets are cumulative`);
    }
    const count = value(expo, 'http_request_duration_seconds_count', labels)!;
    assert.equal(buckets.at(-1)!.value, count);
    const requests = find(expo, 'http_requests_total', labels).reduce((sum, s) => sum + s.value, 0);
    assert.equal(count, requests, `${pair}: _count equals the requests counted`);
    const sum = value(expo, 'http_request_duration_seconds_sum', labels)!;
    assert.ok(sum > 0 && Number.isFinite(sum));
    assert.ok(!('status' in buckets[0]!.labels), 'the histogram is labelled by method and route');
  }
  assert.equal(value(expo, 'http_request_duration_seconds_count', { route: '/a' }), 5);
});

test('custom buckets are used as given', async (t) => {
  const { base } = await serve(t, setup({ buckets: [0.1, 1, 30] }));
  await get(`${base}/a`);
  const { expo } = await scrape(base);
  assert.deepEqual(
    find(expo, 'http_request_duration_seconds_bucket', { route: '/a' }).map((b) => b.labels.le),
    ['0.1', '1', '30', '+Inf'],
  );
});

test('http_active_connections sees an open keep-alive connection', async (t) => {
  const { port } = await serve(t, setup());
  const keepAlive = await RawConnection.connect(port);
  await keepAlive.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
  const [response] = await keepAlive.readResponses(1);
  assert.equal(response?.status, 200);
  assert.ok(!keepAlive.closed, 'still open');

  const withIt = await rawScrape(port);
  assert.equal(withIt.types.get('http_active_connections'), 'gauge');
  assert.equal(value(withIt, 'http_active_connections'), 2, 'the keep-alive one and the scrape');
  keepAlive.destroy();
  assert.ok(
    await eventually(async () => value(await rawScrape(port), 'http_active_connections') === 1),
    'the closed connection is gone from the gauge',
  );
});

test('websocket_connections sees an open ws client; the connection is counted once as 101', async (t) => {
  const m = metrics();
  const { base, url } = await serve(t, (server) => {
    server.requestMiddleware(m.middleware);
    server.get('/metrics', m.handler);
    server.get('/ws', async (ctx: Context) => {
      ctx.setResponseBody(ctx.getRequestBodyString());
      await ctx.sendBody();
    });
  });
  const before = await scrape(base);
  assert.equal(value(before.expo, 'websocket_connections'), 0);

  const ws = new WebSocket(url('/ws'));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let echoes = 0;
  const echoed = new Promise<void>((resolve) => {
    ws.on('message', () => {
      if (++echoes === 3) resolve();
    });
  });
  for (const text of ['a', 'b', 'c']) ws.send(text);
  await echoed;
  const open = await scrape(base);
  assert.equal(open.expo.types.get('websocket_connections'), 'gauge');
  assert.equal(value(open.expo, 'websocket_connections'), 1);
  assert.ok(value(open.expo, 'http_active_connections')! >= 1);

  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  ws.close();
  await closed;
  assert.ok(
    await eventually(async () => value((await scrape(base)).expo, 'websocket_connections') === 0),
  );
  const after = (await scrape(base)).expo;
  // Three messages ran through the middleware; the connection counts once.
  assert.equal(
    value(after, 'http_requests_total', { method: 'GET', route: '/ws', status: '101' }),
    1,
  );
  assert.equal(find(after, 'http_request_duration_seconds_count', { route: '/ws' }).length, 0);
});

test('process memory and event-loop delay are real figures', async (t) => {
  const { base } = await serve(t, (server) => {
    setup()(server);
    server.get('/block', (ctx: Context) => {
      // Holds the event loop for 60 ms: a timer due meanwhile runs at least 50 ms late.
      const until = performance.now() + 60;
      while (performance.now() < until);
      ctx.setResponseBody('blocked');
    });
  });
  await get(`${base}/a`);
  await scrape(base); // starts a fresh window
  // Node skips the first interval after a reset: let the monitor tick before blocking.
  await sleep(50);
  await get(`${base}/block`);
  let expo: Exposition | undefined;
  assert.ok(
    await eventually(async () => {
      expo = (await scrape(base)).expo;
      return find(expo, 'nodejs_eventloop_delay_seconds').length === 4;
    }),
    'event-loop delay sampled',
  );
  const e = expo!;
  assert.ok(value(e, 'process_resident_memory_bytes')! > 1024 * 1024);
  assert.ok(value(e, 'nodejs_heap_used_bytes')! > 1024 * 1024);
  assert.equal(e.types.get('nodejs_eventloop_delay_seconds'), 'gauge');
  const stat = (s: string): number => value(e, 'nodejs_eventloop_delay_seconds', { stat: s })!;
  for (const s of ['p50', 'p99', 'max', 'mean']) {
    assert.ok(stat(s) >= 0 && stat(s) < 60, `${s} is a delay in seconds: ${stat(s)}`);
  }
  assert.ok(stat('p50') <= stat('p99') && stat('p99') <= stat('max'));
  assert.ok(stat('max') >= 0.04, `the blocked loop shows: max ${stat('max')}`);
});

test('a client that leaves before the response is counted as 499', async (t) => {
  let started = false;
  const { base, port } = await serve(t, (server) => {
    setup()(server);
    server.get('/hang', async (ctx: Context) => {
      started = true;
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    });
  });
  // setup() registered its own metrics(); count through the one it serves at /metrics.
  const raw = await RawConnection.connect(port);
  await raw.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.ok(await eventually(() => started));
  // A reset, not a FIN: a half-closed socket may still take the answer (`printf … | nc`).
  raw.socket.resetAndDestroy();
  assert.ok(
    await eventually(
      async () =>
        value((await scrape(base)).expo, 'http_requests_total', {
          route: '/hang',
          status: '499',
        }) === 1,
    ),
  );
  await assertServing(port, '/a');
});

test('hostile input keeps the exposition valid and the label set bounded', async (t) => {
  const m = metrics();
  const { base, port } = await serve(t, (server) => {
    server.requestMiddleware(m.middleware);
    server.get('/metrics', m.handler);
    server.get('/users/{id}', (ctx) => {
      ctx.setResponseBody(ctx.getRouteParam('id') ?? '');
    });
    server.get('/digits/{n:^\\d+$}', (ctx) => {
      ctx.setResponseBody('n');
    });
    // A pattern whose own text needs escaping in a label value: a quote and backslashes.
    server.get(QUOTED_PATTERN, (ctx) => {
      ctx.setResponseBody('q');
    });
  });

  const requests = [
    // A quote, a newline and a backslash in a route param (percent-encoded on the wire).
    'GET /users/a%22b%0Ac%5C HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /digits/42 HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /q/a"b HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /q/a%22b%5C HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /nowhere/"}{\\ HTTP/1.1\r\nHost: x\r\n\r\n',
    // Invented methods fold into OTHER.
    'BREW /users/1 HTTP/1.1\r\nHost: x\r\n\r\n',
    'M-SEARCH /x HTTP/1.1\r\nHost: x\r\n\r\n',
  ];
  for (const data of requests) {
    const conn = await RawConnection.connect(port);
    await conn.write(data);
    await conn.readResponses(1);
    conn.destroy();
    await assertServing(port, '/users/alive');
  }
  const { expo, text } = await scrape(base);
  const routes = new Set(find(expo, 'http_requests_total').map((s) => s.labels.route));
  for (const route of routes) {
    assert.ok(
      ['/users/{id}', '/digits/{n:^\\d+$}', QUOTED_PATTERN, 'unmatched'].includes(route!),
      `route label is a pattern or "unmatched": ${route}`,
    );
  }
  assert.equal(value(expo, 'http_requests_total', { route: '/digits/{n:^\\d+$}' }), 1);
  assert.equal(value(expo, 'http_requests_total', { route: QUOTED_PATTERN }), 2);
  const escaped = QUOTED_PATTERN.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  assert.ok(text.includes(`route="${escaped}"`), 'quote and backslash escaped on the wire');
  const methods = new Set(find(expo, 'http_requests_total').map((s) => s.labels.method));
  for (const method of methods) assert.ok(['GET', 'OTHER'].includes(method!), method);
  assert.ok(methods.has('OTHER'));
  assert.ok(!text.includes('BREW') && !text.includes('M-SEARCH'));
  // The hostile param and the seven liveness requests.
  assert.equal(
    value(expo, 'http_requests_total', { method: 'GET', route: '/users/{id}', status: '200' }),
    1 + requests.length,
  );
});

test('the handler answers HEAD and serves while metrics are scraped', async (t) => {
  const { base, port } = await serve(t, setup());
  const res = await fetch(`${base}/metrics`, { method: 'HEAD' });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), PROMETHEUS_CONTENT_TYPE);
  await assertServing(port, '/a');
});

test('bad options throw HL_ERR_CONFIG naming the option', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ buckets: [] }, /"buckets"/],
    [{ buckets: [1, 0.5] }, /"buckets"/],
    [{ buckets: [0.1, 0.1] }, /"buckets"/],
    [{ buckets: ['1'] }, /"buckets"/],
    [{ buckets: [0, 1] }, /"buckets"/],
    [{ buckets: [1, Infinity] }, /"buckets"/],
    [{ eventLoopResolutionMs: 0 }, /"eventLoopResolutionMs"/],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => metrics(options as MetricsOptions),
      (error: unknown) =>
        error instanceof HyperlaneError &&
        error.code === 'HL_ERR_CONFIG' &&
        message.test(error.message),
    );
  }
});
