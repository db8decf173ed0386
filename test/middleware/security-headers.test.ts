/**
 * securityHeaders() (API.md "Batteries") over real sockets: the default set (compared with what
 * @fastify/helmet sends), overrides and opt-outs, route headers winning, HSTS only over a real
 * TLS server (certificate made with openssl at test time), bad options, hostile requests.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import https from 'node:https';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import fastifyHelmet from '@fastify/helmet';
import Fastify from 'fastify';
import { HyperlaneError, Server } from '../../src/index.js';
import {
  securityHeaders,
  type SecurityHeadersOptions,
} from '../../src/middleware/security-headers.js';
import { assertServing, request } from '../helpers/raw-client.js';
import { serve } from '../helpers/serve.js';
import { selfSignedCert } from '../helpers/tls-cert.js';

const execFileAsync = promisify(execFile);

const HELMET_CSP =
  "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';" +
  "frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';" +
  "script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests";

const DEFAULTS: Record<string, string> = {
  'content-security-policy': HELMET_CSP,
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

async function headersOf(base: string, path = '/'): Promise<Headers> {
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res.headers;
}

async function withHeaders(t: TestContext, options?: SecurityHeadersOptions): Promise<Headers> {
  const { base } = await serve(t, (server) => {
    server.requestMiddleware(securityHeaders(options));
    server.get('/', (ctx) => {
      ctx.setResponseBody('ok');
    });
  });
  return headersOf(base);
}

// ---- defaults --------------------------------------------------------------------------------

test('defaults: the helmet set over plain HTTP, no HSTS, X-Powered-By removed, on 404s too', async (t) => {
  const { base, port } = await serve(t, (server) => {
    server.requestMiddleware((ctx) => {
      ctx.setResponseHeader('X-Powered-By', 'Hyperlane');
    });
    server.requestMiddleware(securityHeaders());
    server.get('/', (ctx) => {
      ctx.setResponseBody('ok');
    });
    server.get('/__alive', (ctx) => {
      ctx.setResponseBody('alive');
    });
  });
  for (const path of ['/', '/no/such/route']) {
    const headers = await headersOf(base, path);
    for (const [name, value] of Object.entries(DEFAULTS)) {
      assert.equal(headers.get(name), value, `${path} ${name}`);
    }
    assert.equal(headers.get('strict-transport-security'), null, 'no HSTS over plain HTTP');
    assert.equal(headers.get('x-powered-by'), null);
    assert.equal(headers.get('cross-origin-embedder-policy'), null, 'COEP is opt-in, as in helmet');
  }
  // Hostile request bytes do not matter to it: it reads nothing from the request.
  const hostile = await request(
    port,
    Buffer.concat([
      Buffer.from('GET /?q=%00%ff HTTP/1.1\r\nHost: x\r\nX-Junk: '),
      Buffer.from([0x80, 0xff, 0xfe]),
      Buffer.from('\r\nConnection: close\r\n\r\n'),
    ]),
  );
  assert.equal(hostile.finals[0]?.status, 200);
  assert.equal(hostile.finals[0]?.headers['x-frame-options'], 'SAMEORIGIN');
  await assertServing(port);
});

test('defaults match what @fastify/helmet sends, header for header (HSTS aside)', async (t) => {
  const app = Fastify();
  await app.register(fastifyHelmet);
  app.get('/', () => 'ok');
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const address = app.server.address();
  assert.ok(address !== null && typeof address === 'object');
  const helmet = await headersOf(`http://127.0.0.1:${address.port}`);
  const ours = await withHeaders(t);
  const names = (headers: Headers) =>
    [...headers.keys()].filter(
      (name) =>
        ![
          'content-type',
          'content-length',
          'date',
          'connection',
          'keep-alive',
          'strict-transport-security',
        ].includes(name),
    );
  assert.deepEqual(names(ours).sort(), names(helmet).sort());
  for (const name of names(helmet)) assert.equal(ours.get(name), helmet.get(name), name);
});

// ---- options ---------------------------------------------------------------------------------

test('options: override values, disable headers with false, keep the rest', async (t) => {
  const headers = await withHeaders(t, {
    xFrameOptions: 'DENY',
    contentSecurityPolicy: false,
    referrerPolicy: ['no-referrer', 'strict-origin-when-cross-origin'],
    crossOriginEmbedderPolicy: 'require-corp',
    crossOriginResourcePolicy: 'cross-origin',
    originAgentCluster: false,
    xXssProtection: false,
    xDnsPrefetchControl: 'on',
  });
  assert.equal(headers.get('x-frame-options'), 'DENY');
  assert.equal(headers.get('content-security-policy'), null);
  assert.equal(headers.get('referrer-policy'), 'no-referrer,strict-origin-when-cross-origin');
  assert.equal(headers.get('cross-origin-embedder-policy'), 'require-corp');
  assert.equal(headers.get('cross-origin-resource-policy'), 'cross-origin');
  assert.equal(headers.get('origin-agent-cluster'), null);
  assert.equal(headers.get('x-xss-protection'), null);
  assert.equal(headers.get('x-dns-prefetch-control'), 'on');
  assert.equal(headers.get('x-content-type-options'), 'nosniff');
  assert.equal(headers.get('cross-origin-opener-policy'), 'same-origin');
});

test('Content-Security-Policy: directives merged over the defaults (camelCase too), a string, report-only', async (t) => {
  const merged = await withHeaders(t, {
    contentSecurityPolicy: {
      scriptSrc: ["'self'", 'https://cdn.example'],
      'img-src': '*',
      upgradeInsecureRequests: null,
      'frame-ancestors': false,
      'block-all-mixed-content': true,
      'report-uri': '/csp',
    },
  });
  assert.equal(
    merged.get('content-security-policy'),
    "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';" +
      "img-src *;object-src 'none';script-src 'self' https://cdn.example;script-src-attr 'none';" +
      "style-src 'self' https: 'unsafe-inline';block-all-mixed-content;report-uri /csp",
  );
  const asString = await withHeaders(t, { contentSecurityPolicy: "default-src 'none'" });
  assert.equal(asString.get('content-security-policy'), "default-src 'none'");
  const reportOnly = await withHeaders(t, { contentSecurityPolicyReportOnly: true });
  assert.equal(reportOnly.get('content-security-policy'), null);
  assert.equal(reportOnly.get('content-security-policy-report-only'), HELMET_CSP);
});

test('HSTS behind a TLS-terminating proxy: force sends it over plain HTTP too', async (t) => {
  const { base, port } = await serve(t, (server) => {
    server.requestMiddleware(
      securityHeaders({ strictTransportSecurity: { maxAge: 31536000, force: true } }),
    );
    server.get('/', (ctx) => {
      ctx.setResponseBody(ctx.isSecure() ? 'secure' : 'plain');
    });
  });
  const res = await fetch(`${base}/`, { signal: AbortSignal.timeout(5000) });
  assert.equal(await res.text(), 'plain', 'the connection itself is not TLS');
  assert.equal(res.headers.get('strict-transport-security'), 'max-age=31536000; includeSubDomains');
  // Also on a 404 and over raw TCP (a proxy speaks HTTP/1.1 to the app).
  const raw = await request(
    port,
    'GET /nothing HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n',
  );
  assert.equal(raw.finals[0]?.status, 404);
  assert.equal(
    raw.finals[0]?.headers['strict-transport-security'],
    'max-age=31536000; includeSubDomains',
  );
  await assertServing(port);
  // Without force, plain HTTP never gets it, whatever X-Forwarded-Proto claims.
  const unforced = await serve(t, (server) => {
    server.requestMiddleware(securityHeaders({ strictTransportSecurity: { maxAge: 60 } }));
    server.get('/', (ctx) => void ctx.setResponseBody('ok'));
  });
  const spoofed = await fetch(`${unforced.base}/`, {
    headers: { 'x-forwarded-proto': 'https' },
    signal: AbortSignal.timeout(5000),
  });
  await spoofed.arrayBuffer();
  assert.equal(spoofed.headers.get('strict-transport-security'), null);
});

test('headers the route sets afterwards win', async (t) => {
  const { base } = await serve(t, (server) => {
    server.requestMiddleware(securityHeaders());
    server.get('/embed', (ctx) => {
      ctx
        .setResponseHeader('X-Frame-Options', 'ALLOWALL')
        .setResponseHeader('Content-Security-Policy', 'frame-ancestors *')
        .removeResponseHeader('cross-origin-resource-policy')
        .setResponseBody('embeddable');
    });
  });
  const headers = await headersOf(base, '/embed');
  assert.equal(headers.get('x-frame-options'), 'ALLOWALL');
  assert.equal(headers.get('content-security-policy'), 'frame-ancestors *');
  assert.equal(headers.get('cross-origin-resource-policy'), null);
  assert.equal(headers.get('x-content-type-options'), 'nosniff');
});

test('invalid options throw HL_ERR_CONFIG naming the option', () => {
  const bad: [unknown, RegExp][] = [
    [{ xFrameOption: 'DENY' }, /unknown option "xFrameOption"/],
    [{ xFrameOptions: 'DENY\r\nX-Evil: 1' }, /xFrameOptions/],
    [{ xFrameOptions: '' }, /xFrameOptions/],
    [{ xFrameOptions: true }, /xFrameOptions/],
    [{ referrerPolicy: [] }, /referrerPolicy/],
    [{ strictTransportSecurity: { maxAge: -5 } }, /strictTransportSecurity.maxAge/],
    [{ strictTransportSecurity: 7 }, /strictTransportSecurity/],
    [{ strictTransportSecurity: { force: 'yes' } }, /strictTransportSecurity.force/],
    [{ strictTransportSecurity: { preload: 1 } }, /strictTransportSecurity.preload/],
    [{ strictTransportSecurity: { forced: true } }, /strictTransportSecurity option "forced"/],
    [{ contentSecurityPolicy: { scriptSrc: ['self'] } }, /"script-src".*must be quoted/],
    [
      { contentSecurityPolicy: { scriptSrc: "'self'; img-src *" } },
      /"script-src" has an invalid value/,
    ],
    [{ contentSecurityPolicy: { 'bad name': 'x' } }, /directive name "bad name"/],
    [{ contentSecurityPolicy: [] }, /contentSecurityPolicy/],
    [
      {
        contentSecurityPolicy: Object.fromEntries(
          [
            'default-src',
            'base-uri',
            'font-src',
            'form-action',
            'frame-ancestors',
            'img-src',
            'object-src',
            'script-src',
            'script-src-attr',
            'style-src',
            'upgrade-insecure-requests',
          ].map((name) => [name, null]),
        ),
      },
      /no directives left/,
    ],
    [{ contentSecurityPolicyReportOnly: 'yes' }, /contentSecurityPolicyReportOnly/],
    [{ removePoweredBy: 1 }, /removePoweredBy/],
    [null, /options/],
  ];
  for (const [options, message] of bad) {
    assert.throws(
      () => securityHeaders(options as SecurityHeadersOptions),
      (error: unknown) =>
        error instanceof HyperlaneError &&
        error.code === 'HL_ERR_CONFIG' &&
        message.test(error.message),
      JSON.stringify(options),
    );
  }
});

// ---- HSTS over TLS ---------------------------------------------------------------------------

function httpsHeaders(port: number, path: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path, rejectUnauthorized: false, timeout: 5000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.headers));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('Strict-Transport-Security: sent over a real TLS server (https and curl), configurable', async (t) => {
  const tls = await selfSignedCert(t);
  const start = async (options?: SecurityHeadersOptions): Promise<number> => {
    const server = new Server({ host: '127.0.0.1', port: 0, tls });
    server.requestMiddleware(securityHeaders(options));
    server.get('/', (ctx) => {
      ctx.setResponseBody(ctx.isSecure() ? 'secure' : 'plain');
    });
    const running = await server.run();
    t.after(() => running.close({ timeout: 200 }));
    return running.port;
  };

  const port = await start();
  const headers = await httpsHeaders(port, '/');
  assert.equal(headers['strict-transport-security'], 'max-age=15552000; includeSubDomains');
  assert.equal(headers['x-frame-options'], 'SAMEORIGIN');
  const viaCurl = await execFileAsync('curl', [
    '-s',
    '-k',
    '-i',
    '--max-time',
    '5',
    `https://127.0.0.1:${port}/`,
  ]);
  assert.match(
    viaCurl.stdout,
    /^strict-transport-security: max-age=15552000; includeSubDomains\r$/im,
  );
  assert.match(viaCurl.stdout, /\r\n\r\nsecure$/);

  const custom = await start({
    strictTransportSecurity: { maxAge: 63072000, includeSubDomains: false, preload: true },
  });
  assert.equal(
    (await httpsHeaders(custom, '/'))['strict-transport-security'],
    'max-age=63072000; preload',
  );
  const asString = await start({ strictTransportSecurity: 'max-age=60' });
  assert.equal((await httpsHeaders(asString, '/'))['strict-transport-security'], 'max-age=60');
  const off = await start({ strictTransportSecurity: false });
  const offHeaders = await httpsHeaders(off, '/');
  assert.equal(offHeaders['strict-transport-security'], undefined);
  assert.equal(offHeaders['x-content-type-options'], 'nosniff');
});
