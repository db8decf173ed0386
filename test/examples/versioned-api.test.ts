import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RunningServer } from '../../src/index.js';
import {
  createVersionedApiServer,
  handleApiRequest,
  SUPPORTED_VERSIONS,
} from '../../examples/versioned-api.js';

let running: RunningServer;
let base: string;

before(async () => {
  running = await createVersionedApiServer({ host: '127.0.0.1', port: 0 }).run();
  base = `http://127.0.0.1:${running.port}`;
});

after(async () => {
  await running.close({ timeout: 2000 });
});

async function getJson(
  path: string,
  init?: RequestInit,
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(base + path, init);
  assert.match(response.headers.get('content-type') ?? '', /application\/json/, `${path} is JSON`);
  return { status: response.status, body: await response.json(), headers: response.headers };
}

test('v1 answers in the article’s shapes', async () => {
  assert.deepEqual(await getJson('/api/v1/users').then((r) => [r.status, r.body]), [
    200,
    { users: ['user1', 'user2'], version: 'v1' },
  ]);
  assert.deepEqual((await getJson('/api/v1/users/user2')).body, {
    user_id: 'user2',
    version: 'v1',
    name: 'Jane Doe',
  });
  assert.deepEqual((await getJson('/api/v1/posts')).body, { message: 'Posts API v1', id: null });
  assert.deepEqual((await getJson('/api/v1/posts/7')).body, { message: 'Posts API v1', id: '7' });
});

test('v2 adds a profile and pagination', async () => {
  assert.deepEqual((await getJson('/api/v2/users/user1')).body, {
    user_id: 'user1',
    version: 'v2',
    profile: { name: 'John Doe', email: 'john@example.com', created_at: '2023-01-01T00:00:00Z' },
  });
  assert.deepEqual((await getJson('/api/v2/users')).body, {
    users: [
      { id: 'user1', name: 'John Doe' },
      { id: 'user2', name: 'Jane Doe' },
    ],
    version: 'v2',
    pagination: { page: 1, per_page: 10, total: 2, pages: 1 },
  });
  const second = (await getJson('/api/v2/users?per_page=1&page=2')).body as {
    users: { id: string }[];
    pagination: Record<string, number>;
  };
  assert.deepEqual(second.users, [{ id: 'user2', name: 'Jane Doe' }]);
  assert.deepEqual(second.pagination, { page: 2, per_page: 1, total: 2, pages: 2 });
  const beyond = (await getJson('/api/v2/users?page=5')).body as { users: unknown[] };
  assert.deepEqual(beyond.users, []);
  assert.deepEqual((await getJson('/api/v2/posts/abc')).body, {
    message: 'Posts API v2',
    id: 'abc',
  });
});

test('malformed pagination is a 400 naming the parameter', async () => {
  for (const query of ['page=0', 'page=abc', 'page=-1', 'per_page=101', 'per_page=1.5']) {
    const { status, body } = await getJson(`/api/v2/users?${query}`);
    assert.equal(status, 400, query);
    assert.equal((body as { parameter: string }).parameter, query.split('=')[0]);
  }
});

test('an unknown version is a 400 JSON, whether or not it looks like v<digits>', async () => {
  for (const path of ['/api/v3/users', '/api/v0/users/user1', '/api/x/users', '/api/V1/users']) {
    const { status, body } = await getJson(path);
    assert.equal(status, 400, path);
    assert.deepEqual(body, {
      error: 'Unsupported API version',
      version: path.split('/')[2],
      supported: ['v1', 'v2'],
    });
  }
  // The version is checked before the resource, as in the article.
  assert.equal((await getJson('/api/v9/comments')).status, 400);
});

test('an unknown resource or path is a 404 JSON', async () => {
  for (const path of ['/api/v1/comments', '/api/v2/comments/5', '/api/v1/users/user1/extra']) {
    const { status, body } = await getJson(path);
    assert.equal(status, 404, path);
    assert.deepEqual(body, { error: 'Resource not found' });
  }
  const missing = await getJson('/api/v2/users/user9');
  assert.deepEqual(
    [missing.status, missing.body],
    [404, { error: 'User not found', user_id: 'user9' }],
  );
});

test('only GET and HEAD reach users: other methods get 405 with Allow', async () => {
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    const { status, body, headers } = await getJson('/api/v1/users/user1', { method });
    assert.equal(status, 405, method);
    assert.equal(headers.get('allow'), 'GET, HEAD');
    assert.equal((body as { method: string }).method, method);
  }
  assert.equal((await getJson('/api/v2/users', { method: 'DELETE' })).status, 405);
  const head = await fetch(`${base}/api/v1/users`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
});

test('ids are percent-decoded; a malformed escape is refused and the server keeps serving', async () => {
  assert.equal(
    ((await getJson('/api/v1/users/user%31')).body as { name: string }).name,
    'John Doe',
  );
  assert.equal((await fetch(`${base}/api/v1/users/%zz`)).status, 400);
  assert.equal((await fetch(`${base}/nothing-here`)).status, 404);
  assert.equal((await getJson('/api/v1/users')).status, 200);
});

test('handleApiRequest is the same table without a server', () => {
  assert.deepEqual(SUPPORTED_VERSIONS, ['v1', 'v2']);
  assert.equal(handleApiRequest({ method: 'GET', version: 'v2', resource: 'users' }).status, 200);
  assert.equal(handleApiRequest({ method: 'GET', version: 'v2', resource: 'nope' }).status, 404);
  assert.equal(handleApiRequest({ method: 'GET', version: 'v10', resource: 'users' }).status, 400);
  const post = handleApiRequest({ method: 'POST', version: 'v1', resource: 'posts', id: '1' });
  assert.deepEqual([post.status, post.headers], [405, { Allow: 'GET, HEAD' }]);
});
