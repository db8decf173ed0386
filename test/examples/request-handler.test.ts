import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import {
  createRequestHandlerServer,
  ResourceStore,
  signToken,
  verifyToken,
  type Resource,
} from '../../examples/request-handler.js';

const run = promisify(execFile);
const SECRET = 'test-secret-0123456789abcdef';

interface Envelope<T> {
  data: T;
  meta: { method: string; path: string; query: Record<string, string>; user: string };
}

async function start(store?: ResourceStore) {
  const running = await createRequestHandlerServer({
    host: '127.0.0.1',
    port: 0,
    secret: SECRET,
    store,
  }).run();
  const url = `http://127.0.0.1:${running.port}/api/resources`;
  return { running, url };
}

function bearer(user: string, secret = SECRET): Record<string, string> {
  return { Authorization: `Bearer ${signToken(user, secret)}` };
}

const json = { 'Content-Type': 'application/json' };

test('tokens: only an HMAC made with the secret verifies', () => {
  const token = signToken('alice', SECRET);
  assert.deepEqual(verifyToken(token, SECRET), { isValid: true, userId: 'alice' });
  assert.equal(verifyToken(token, 'another-secret-0123456789').isValid, false);
  const signatureOfAlice = token.slice(token.indexOf('.') + 1);
  assert.equal(verifyToken(`bob.${signatureOfAlice}`, SECRET).isValid, false);
  assert.equal(verifyToken(`${token}x`, SECRET).isValid, false);
  assert.equal(verifyToken(`${token.slice(0, -1)}!`, SECRET).isValid, false);
  assert.equal(verifyToken('alice', SECRET).isValid, false);
  assert.equal(verifyToken('.abc', SECRET).isValid, false);
  assert.throws(() => signToken('a.b', SECRET), /user id/);
  assert.throws(() => createRequestHandlerServer({ secret: 'short' }), /at least 16 bytes/);
});

test('requests without a valid Bearer token get 401 AUTH_REQUIRED', async () => {
  const { running, url } = await start();
  try {
    const attempts: (Record<string, string> | undefined)[] = [
      undefined,
      { Authorization: 'Basic YWxpY2U6cGFzcw==' },
      { Authorization: 'Bearer' },
      { Authorization: 'Bearer not-a-token' },
      bearer('alice', 'someone-elses-secret-123456'),
      { Authorization: `Bearer mallory.${signToken('alice', SECRET).split('.')[1]}` },
    ];
    for (const headers of attempts) {
      for (const method of ['GET', 'POST', 'PATCH']) {
        const response = await fetch(url, { method, headers });
        assert.equal(response.status, 401, `${method} ${JSON.stringify(headers)}`);
        const body = (await response.json()) as Record<string, unknown>;
        assert.equal(body.error, 'Authentication failed');
        assert.equal(body.code, 'AUTH_REQUIRED');
        assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/);
        assert.ok(response.headers.get('x-request-id'));
      }
    }
  } finally {
    await running.close({ timeout: 2000 });
  }
});

test('GET/POST/PUT/DELETE on the store; users only see their own resources', async () => {
  const { running, url } = await start();
  try {
    const created = await fetch(`${url}?tag=first`, {
      method: 'POST',
      headers: { ...bearer('alice'), ...json, 'User-Agent': 'resource-test' },
      body: JSON.stringify({ title: 'hello' }),
    });
    assert.equal(created.status, 201);
    const { data: resource, meta } = (await created.json()) as Envelope<Resource>;
    assert.deepEqual(resource.data, { title: 'hello' });
    assert.equal(resource.owner, 'alice');
    assert.equal(created.headers.get('location'), `/api/resources?id=${resource.id}`);
    assert.deepEqual(meta, {
      method: 'POST',
      path: '/api/resources',
      query: { tag: 'first' },
      user: 'alice',
      requestId: created.headers.get('x-request-id'),
      userAgent: 'resource-test',
      bodyBytes: 17,
    });

    const one = await fetch(`${url}?id=${resource.id}`, { headers: bearer('alice') });
    assert.equal(one.status, 200);
    assert.equal(((await one.json()) as Envelope<Resource>).data.id, resource.id);

    const list = (await (await fetch(url, { headers: bearer('alice') })).json()) as Envelope<
      Resource[]
    >;
    assert.deepEqual(
      list.data.map((item) => item.id),
      [resource.id],
    );

    // Bob can neither see nor touch Alice's resource.
    const bobList = (await (await fetch(url, { headers: bearer('bob') })).json()) as Envelope<
      Resource[]
    >;
    assert.deepEqual(bobList.data, []);
    const bobGet = await fetch(`${url}?id=${resource.id}`, { headers: bearer('bob') });
    assert.equal(bobGet.status, 404);
    assert.equal(((await bobGet.json()) as { code: string }).code, 'NOT_FOUND');
    const bobDelete = await fetch(`${url}?id=${resource.id}`, {
      method: 'DELETE',
      headers: bearer('bob'),
    });
    assert.equal(bobDelete.status, 404);

    const replaced = await fetch(`${url}?id=${resource.id}`, {
      method: 'PUT',
      headers: { ...bearer('alice'), ...json },
      body: JSON.stringify({ title: 'changed' }),
    });
    assert.equal(replaced.status, 200);
    assert.deepEqual(((await replaced.json()) as Envelope<Resource>).data.data, {
      title: 'changed',
    });

    const deleted = await fetch(`${url}?id=${resource.id}`, {
      method: 'DELETE',
      headers: bearer('alice'),
    });
    assert.equal(deleted.status, 200);
    assert.deepEqual(((await deleted.json()) as Envelope<unknown>).data, { deleted: resource.id });
    const gone = await fetch(`${url}?id=${resource.id}`, { headers: bearer('alice') });
    assert.equal(gone.status, 404);

    // curl, as a user would try it from the shell.
    const { stdout } = await run('curl', [
      '-s',
      '-H',
      `Authorization: Bearer ${signToken('carol', SECRET)}`,
      '-H',
      'Content-Type: application/json',
      '-d',
      '{"via":"curl"}',
      '-w',
      '\n%{http_code}',
      url,
    ]);
    const [body, code] = stdout.split('\n');
    assert.equal(code, '201');
    assert.deepEqual((JSON.parse(body!) as Envelope<Resource>).data.data, { via: 'curl' });
  } finally {
    await running.close({ timeout: 2000 });
  }
});

test('other methods get 405 JSON; bad bodies and ids get clear 4xx; X-Request-ID always', async () => {
  const { running, url } = await start(new ResourceStore({ maxPerOwner: 2 }));
  const ids = new Set<string>();
  async function expect(
    status: number,
    code: string,
    path: string,
    init: RequestInit = {},
  ): Promise<void> {
    const response = await fetch(path, init);
    assert.equal(response.status, status, `${init.method ?? 'GET'} ${path}`);
    const body = (await response.json()) as { error: string; code?: string; message: string };
    if (code !== '') assert.equal(body.code, code);
    assert.equal(typeof body.error, 'string');
    const id = response.headers.get('x-request-id');
    assert.ok(id !== null && !ids.has(id), 'a fresh request id on every response');
    ids.add(id);
  }
  try {
    for (const method of ['PATCH', 'OPTIONS', 'PURGE']) {
      const response = await fetch(url, { method, headers: bearer('alice') });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get('allow'), 'GET, HEAD, POST, PUT, DELETE');
      assert.equal(((await response.json()) as { code: string }).code, 'METHOD_NOT_ALLOWED');
    }
    const alice = bearer('alice');
    await expect(415, 'UNSUPPORTED_MEDIA_TYPE', url, {
      method: 'POST',
      headers: { ...alice, 'Content-Type': 'text/plain' },
      body: '{}',
    });
    await expect(400, '', url, { method: 'POST', headers: { ...alice, ...json }, body: '{oops' });
    await expect(400, 'INVALID_BODY', url, {
      method: 'POST',
      headers: { ...alice, ...json },
      body: '[1,2]',
    });
    await expect(400, 'MISSING_ID', url, {
      method: 'PUT',
      headers: { ...alice, ...json },
      body: '{}',
    });
    await expect(400, 'MISSING_ID', url, { method: 'DELETE', headers: alice });
    await expect(404, 'NOT_FOUND', `${url}?id=nope`, {
      method: 'PUT',
      headers: { ...alice, ...json },
      body: '{}',
    });
    await expect(413, 'BODY_TOO_LARGE', url, {
      method: 'POST',
      headers: { ...alice, ...json },
      body: JSON.stringify({ blob: 'x'.repeat(70 * 1024) }),
    });
    await expect(404, '', `http://127.0.0.1:${running.port}/nowhere`);
    for (let i = 0; i < 2; i++) {
      const ok = await fetch(url, { method: 'POST', headers: { ...alice, ...json }, body: '{}' });
      assert.equal(ok.status, 201);
    }
    await expect(507, 'STORE_FULL', url, {
      method: 'POST',
      headers: { ...alice, ...json },
      body: '{}',
    });

    // A sane client id is echoed; an oversized one is replaced.
    const echoed = await fetch(url, { headers: { ...alice, 'X-Request-ID': 'client-42' } });
    assert.equal(echoed.headers.get('x-request-id'), 'client-42');
    const replaced = await fetch(url, { headers: { ...alice, 'X-Request-ID': 'x'.repeat(200) } });
    assert.match(replaced.headers.get('x-request-id') ?? '', /^req_\d+_[0-9a-f]{8}$/);

    // Still serving after all of that.
    const live = await fetch(url, { headers: alice });
    assert.equal(live.status, 200);
    assert.equal(((await live.json()) as Envelope<unknown[]>).data.length, 2);
  } finally {
    await running.close({ timeout: 2000 });
  }
});
