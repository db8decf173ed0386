/**
 * `server.compression()` and the `compression` config key: compression registered by the
 * server itself, ahead of every middleware, so streams are covered too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { HyperlaneError, Server, sseEvent } from '../../src/index.js';
import { serve } from '../helpers/serve.js';

const BIG = 'compress me, '.repeat(400);

function rawGet(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

test('server.compression(): whole bodies and SSE streams are compressed for clients that ask', async (t) => {
  const { port } = await serve(t, (server) => {
    server.compression({ encodings: ['gzip'] });
    server.get('/big', (ctx) => {
      ctx.setResponseBody(BIG);
    });
    server.get('/events', async (ctx) => {
      ctx.setResponseHeader('content-type', 'text/event-stream');
      await ctx.send();
      for (let id = 1; id <= 3; id++) {
        ctx.setResponseBody(sseEvent({ id, data: `event ${id}` }));
        await ctx.sendBody();
      }
    });
  });
  const big = await rawGet(port, '/big', { 'accept-encoding': 'gzip' });
  assert.equal(big.headers['content-encoding'], 'gzip');
  assert.match(String(big.headers.vary), /accept-encoding/i);
  assert.ok(big.body.length < BIG.length / 4);
  assert.equal(gunzipSync(big.body).toString(), BIG);

  const plain = await rawGet(port, '/big', {});
  assert.equal(plain.headers['content-encoding'], undefined, 'no Accept-Encoding, no compression');
  assert.equal(plain.body.toString(), BIG);

  const events = await rawGet(port, '/events', { 'accept-encoding': 'gzip' });
  assert.equal(events.headers['content-encoding'], 'gzip');
  assert.equal(
    gunzipSync(events.body).toString(),
    [1, 2, 3].map((id) => sseEvent({ id, data: `event ${id}` })).join(''),
  );
});

test('the compression config key: plain data, validated at construction, false turns it off', async (t) => {
  const { port } = await serve(
    t,
    (server) => {
      server.get('/big', (ctx) => {
        ctx.setResponseBody(BIG);
      });
    },
    { compression: { threshold: 100, encodings: ['gzip'] } },
  );
  const res = await rawGet(port, '/big', { 'accept-encoding': 'gzip, br' });
  assert.equal(res.headers['content-encoding'], 'gzip');
  assert.equal(gunzipSync(res.body).toString(), BIG);

  assert.throws(
    () => new Server({ compression: 'yes' as never }),
    (error: unknown) =>
      error instanceof HyperlaneError &&
      error.code === 'HL_ERR_CONFIG' &&
      error.message.includes('"compression"'),
  );
  assert.throws(
    () => new Server({ compression: { threshold: -1 } }),
    (error: unknown) => error instanceof HyperlaneError && /threshold/.test(error.message),
  );
  const off = new Server({ compression: { encodings: ['gzip'] } }).compression(false);
  assert.equal(off.getConfig().compression, false);
  off.get('/big', (ctx) => {
    ctx.setResponseBody(BIG);
  });
  const injected = await off.inject({ path: '/big', headers: { 'accept-encoding': 'gzip' } });
  assert.equal(injected.headers['content-encoding'], undefined);
  assert.equal(injected.text(), BIG);
});
