import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HyperlaneError } from '../error/hyperlane-error.js';
import { ROUTER_MATCH_CASES, ROUTER_THROW_CASES, type RouteDef } from './router-cases.js';
import { Router } from './router.js';

/** Each handler is its own registration label, so a case can say which route won. */
function build(routes: readonly RouteDef[]): Router<string> {
  const router = new Router<string>();
  for (const [method, pattern] of routes) router.add(method, pattern, `${method} ${pattern}`);
  return router;
}

for (const c of ROUTER_MATCH_CASES) {
  test(`match: ${c.name}`, () => {
    const router = build(c.routes);
    const result = router.match(c.request[0], c.request[1]);
    assert.equal(result.status, c.expect.status, JSON.stringify(result));
    if (result.status === 200) {
      if (c.expect.pattern !== undefined) assert.equal(result.pattern, c.expect.pattern);
      if (c.expect.params !== undefined) assert.deepEqual({ ...result.params }, c.expect.params);
      if (c.expect.handler !== undefined) assert.equal(result.handler, c.expect.handler);
    } else if (result.status === 405) {
      assert.equal(result.allow, c.expect.allow);
    } else if (result.status === 400 && c.expect.message !== undefined) {
      assert.ok(result.message.includes(c.expect.message), result.message);
    }
  });
}

for (const c of ROUTER_THROW_CASES) {
  test(`register: ${c.name}`, () => {
    const router = new Router<string>();
    const last = c.routes[c.routes.length - 1]!;
    for (const [method, pattern] of c.routes.slice(0, -1)) router.add(method, pattern, 'h');
    assert.throws(
      () => router.add(last[0], last[1], 'h'),
      (err: unknown) => {
        assert.ok(err instanceof HyperlaneError);
        assert.equal(err.code, c.code);
        assert.match(err.message, c.throws);
        assert.ok(err.message.includes(last[1]), `message names the pattern: ${err.message}`);
        return true;
      },
    );
  });
}

test('a failed registration leaves the router usable', () => {
  const router = build([['GET', '/a']]);
  assert.throws(() => router.add('GET', '/a', 'again'));
  assert.equal(router.match('GET', '/a').status, 200);
});

test('methods(): every registered method, sorted, HEAD with GET, not *', () => {
  const router = build([
    ['POST', '/a'],
    ['GET', '/b/{id}'],
    ['*', '/c'],
    ['PURGE', '/d/{p:^.*$}'],
  ]);
  assert.deepEqual(router.methods(), ['GET', 'HEAD', 'POST', 'PURGE']);
  router.add('DELETE', '/e', 'x');
  assert.deepEqual(router.methods(), ['DELETE', 'GET', 'HEAD', 'POST', 'PURGE']);
  router.methods().push('MUTATED');
  assert.ok(!router.methods().includes('MUTATED'));
  assert.deepEqual(new Router().methods(), []);
});

test('hasPattern(): exact pattern strings, any method', () => {
  const router = build([
    ['*', '/any'],
    ['GET', '/users/{id}'],
    ['GET', '/café'],
  ]);
  assert.equal(router.hasPattern('/any'), true);
  assert.equal(router.hasPattern('/users/{id}'), true);
  assert.equal(router.hasPattern('/users/{uid}'), false);
  assert.equal(router.hasPattern('/café'), true);
  assert.equal(router.hasPattern('/caf%C3%A9'), false);
});

test('static matches share one frozen empty params object', () => {
  const router = build([
    ['GET', '/a'],
    ['GET', '/b'],
  ]);
  const a = router.match('GET', '/a');
  const b = router.match('GET', '/b');
  assert.ok(a.status === 200 && b.status === 200);
  assert.equal(a.params, b.params);
  assert.ok(Object.isFrozen(a.params));
});

test('dynamic matches get fresh params each time', () => {
  const router = build([['GET', '/u/{id}']]);
  const one = router.match('GET', '/u/1');
  const two = router.match('GET', '/u/2');
  assert.ok(one.status === 200 && two.status === 200);
  assert.notEqual(one.params, two.params);
  assert.deepEqual(one.params, { id: '1' });
  assert.deepEqual(two.params, { id: '2' });
});

test('invalid regex error keeps the SyntaxError as cause', () => {
  const router = new Router<string>();
  try {
    router.add('GET', '/x/{id:a(}', 'h');
    assert.fail('expected a throw');
  } catch (err) {
    assert.ok(err instanceof HyperlaneError);
    assert.ok(err.cause instanceof SyntaxError);
  }
});
