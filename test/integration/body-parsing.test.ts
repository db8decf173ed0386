/**
 * Body parsing with real Standard Schema validators (zod, valibot): 422 with the issues,
 * 400 for malformed JSON, 415 for a body that is not JSON, 413 over bodyLimit, and the server
 * serving after each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as v from 'valibot';
import { z } from 'zod';
import { serve } from '../helpers/serve.js';
import { assertServing, request } from '../helpers/raw-client.js';

const ZodUser = z.object({ name: z.string().min(1), age: z.number().int().nonnegative() });
const ValibotUser = v.object({
  name: v.pipe(v.string(), v.minLength(1)),
  tags: v.array(v.string()),
});

test('parseRequestBody(): zod and valibot schemas validate real requests', async (t) => {
  const { base, port } = await serve(
    t,
    (server) => {
      server.post('/zod', async (ctx) => {
        const user = await ctx.parseRequestBody(ZodUser);
        ctx.setResponseBodyJson({ greeting: `hello ${user.name}`, nextAge: user.age + 1 });
      });
      server.post('/valibot', async (ctx) => {
        const user = await ctx.parseRequestBody(ValibotUser);
        ctx.setResponseBodyJson({ name: user.name, tags: user.tags.length });
      });
      server.get('/__alive', (ctx) => ctx.setResponseBody('ok'));
    },
    { bodyLimit: 1024 },
  );
  const post = async (path: string, body: string, type = 'application/json') => {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': type },
      body,
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  const zodOk = await post('/zod', JSON.stringify({ name: 'ada', age: 36 }));
  assert.deepEqual(zodOk, { status: 200, json: { greeting: 'hello ada', nextAge: 37 } });
  const zodBad = await post('/zod', JSON.stringify({ name: '', age: -1.5 }));
  assert.equal(zodBad.status, 422);
  assert.equal(zodBad.json.code, 'VALIDATION_FAILED');
  assert.match(String(zodBad.json.message), /^request body is invalid: name: .+; age: .+/);

  const valibotOk = await post(
    '/valibot',
    JSON.stringify({ name: 'x', tags: ['a', 'b'] }),
    'application/vnd.api+json; charset=utf-8',
  );
  assert.deepEqual(valibotOk, { status: 200, json: { name: 'x', tags: 2 } });
  const valibotBad = await post('/valibot', JSON.stringify({ name: 'x', tags: [1] }));
  assert.equal(valibotBad.status, 422);
  assert.match(String(valibotBad.json.message), /tags\.0: /);

  for (const malformed of ['{', '{"name":', 'nul', '\u0000', '{"a":1}}']) {
    const res = await post('/zod', malformed);
    assert.equal(res.status, 400, malformed);
    assert.equal(res.json.error, 'Bad Request');
  }
  for (const type of [
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/jsonx',
  ]) {
    const res = await post('/zod', JSON.stringify({ name: 'ada', age: 1 }), type);
    assert.equal(res.status, 415, type);
    assert.equal(res.json.code, 'UNSUPPORTED_MEDIA_TYPE');
  }
  // No Content-Type at all: the body is tried as JSON (curl --data-binary with -H '' does this).
  const untyped = await request(
    port,
    'POST /zod HTTP/1.1\r\nHost: x\r\nContent-Length: 23\r\n\r\n{"name":"bo","age":0}  ',
  );
  assert.equal(untyped.finals[0]!.status, 200);

  const big = await request(
    port,
    `POST /zod HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n${'x'.repeat(5000)}`,
  );
  assert.equal(big.finals[0]!.status, 413);
  await assertServing(port);
});
