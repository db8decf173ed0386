import type { HyperlaneErrorCode } from '../error/hyperlane-error.js';

/** A route registration in a case: `[method, pattern]`; method '*' means any method. */
export type RouteDef = readonly [method: string, pattern: string];

/** One matching rule as data: register `routes`, send `request`, expect `expect`. */
export interface RouterMatchCase {
  name: string;
  routes: readonly RouteDef[];
  request: readonly [method: string, path: string];
  expect: {
    status: 200 | 400 | 404 | 405;
    pattern?: string;
    params?: Record<string, string>;
    allow?: string;
    /** The route that must win, as `"METHOD pattern"` of its registration. */
    handler?: string;
    /** A substring the 400 message must contain. */
    message?: string;
  };
}

/** One registration rule as data: registering `routes` in order must throw on the last one. */
export interface RouterThrowCase {
  name: string;
  routes: readonly RouteDef[];
  throws: RegExp;
  code: HyperlaneErrorCode;
}

/** The router's matching rules; every Router implementation must pass all of them. */
export const ROUTER_MATCH_CASES: readonly RouterMatchCase[] = [
  // --- static ---
  {
    name: 'root path',
    routes: [['GET', '/']],
    request: ['GET', '/'],
    expect: { status: 200, pattern: '/', params: {} },
  },
  {
    name: 'static multi-segment path',
    routes: [['GET', '/a/b/c']],
    request: ['GET', '/a/b/c'],
    expect: { status: 200, pattern: '/a/b/c', params: {} },
  },
  {
    name: 'unknown path is 404',
    routes: [['GET', '/a']],
    request: ['GET', '/b'],
    expect: { status: 404 },
  },
  {
    name: 'no routes at all is 404',
    routes: [],
    request: ['GET', '/'],
    expect: { status: 404 },
  },
  {
    name: 'trailing slash is significant: /a does not match /a/',
    routes: [['GET', '/a']],
    request: ['GET', '/a/'],
    expect: { status: 404 },
  },
  {
    name: 'trailing slash is significant: /a/ does not match /a',
    routes: [['GET', '/a/']],
    request: ['GET', '/a'],
    expect: { status: 404 },
  },
  {
    name: 'static /a and /a/ are distinct routes',
    routes: [
      ['GET', '/a'],
      ['GET', '/a/'],
    ],
    request: ['GET', '/a/'],
    expect: { status: 200, pattern: '/a/' },
  },
  {
    name: 'non-ASCII static pattern matches its percent-encoded path',
    routes: [['GET', '/café']],
    request: ['GET', '/caf%C3%A9'],
    expect: { status: 200, pattern: '/café', params: {} },
  },
  {
    name: 'already-encoded static pattern is not double-encoded',
    routes: [['GET', '/a%20b']],
    request: ['GET', '/a%20b'],
    expect: { status: 200, pattern: '/a%20b' },
  },
  {
    name: 'static text is compared raw: an encoded letter does not match',
    routes: [['GET', '/abc']],
    request: ['GET', '/%61bc'],
    expect: { status: 404 },
  },
  {
    name: 'non-ASCII static segment inside a dynamic pattern',
    routes: [['GET', '/café/{id}']],
    request: ['GET', '/caf%C3%A9/7'],
    expect: { status: 200, pattern: '/café/{id}', params: { id: '7' } },
  },
  {
    name: 'a request path that is not origin-form matches nothing',
    routes: [['*', '/{p:^.*$}']],
    request: ['OPTIONS', '*'],
    expect: { status: 404 },
  },

  // --- dynamic ---
  {
    name: 'dynamic param captures one segment',
    routes: [['GET', '/users/{id}']],
    request: ['GET', '/users/42'],
    expect: { status: 200, pattern: '/users/{id}', params: { id: '42' } },
  },
  {
    name: 'several dynamic params',
    routes: [['GET', '/users/{uid}/posts/{pid}']],
    request: ['GET', '/users/1/posts/2'],
    expect: { status: 200, params: { uid: '1', pid: '2' } },
  },
  {
    name: 'dynamic param does not span a slash',
    routes: [['GET', '/users/{id}']],
    request: ['GET', '/users/1/2'],
    expect: { status: 404 },
  },
  {
    name: 'dynamic param must be non-empty',
    routes: [['GET', '/users/{id}']],
    request: ['GET', '/users/'],
    expect: { status: 404 },
  },
  {
    name: 'dynamic pattern needs every segment',
    routes: [['GET', '/users/{id}']],
    request: ['GET', '/users'],
    expect: { status: 404 },
  },
  {
    name: 'dynamic pattern with trailing slash',
    routes: [['GET', '/users/{id}/']],
    request: ['GET', '/users/5/'],
    expect: { status: 200, params: { id: '5' } },
  },
  {
    name: 'dynamic pattern with trailing slash does not match without it',
    routes: [['GET', '/users/{id}/']],
    request: ['GET', '/users/5'],
    expect: { status: 404 },
  },

  // --- percent-decoding ---
  {
    name: 'param is percent-decoded',
    routes: [['GET', '/u/{name}']],
    request: ['GET', '/u/J%C3%BCrgen%20M'],
    expect: { status: 200, params: { name: 'Jürgen M' } },
  },
  {
    name: '%2F inside a param decodes to / and stays one segment',
    routes: [['GET', '/u/{name}']],
    request: ['GET', '/u/a%2Fb'],
    expect: { status: 200, params: { name: 'a/b' } },
  },
  {
    name: '+ in a path param is not a space',
    routes: [['GET', '/u/{name}']],
    request: ['GET', '/u/a+b'],
    expect: { status: 200, params: { name: 'a+b' } },
  },
  {
    name: 'malformed escape in a dynamic param is 400',
    routes: [['GET', '/u/{name}']],
    request: ['GET', '/u/%zz'],
    expect: { status: 400, message: '%zz' },
  },
  {
    name: 'truncated escape in a param is 400',
    routes: [['GET', '/u/{name}']],
    request: ['GET', '/u/ab%4'],
    expect: { status: 400, message: 'ab%4' },
  },
  {
    name: 'invalid UTF-8 in a param is 400',
    routes: [['GET', '/u/{name}']],
    request: ['GET', '/u/%C3'],
    expect: { status: 400 },
  },
  {
    name: 'malformed escape in a regex tail is 400',
    routes: [['GET', '/files/{path:^.*$}']],
    request: ['GET', '/files/a/%zz'],
    expect: { status: 400 },
  },
  {
    name: 'malformed escape where no pattern fits is 404, not 400',
    routes: [['GET', '/u/{name}']],
    request: ['GET', '/v/%zz'],
    expect: { status: 404 },
  },
  {
    name: 'regex is tested against the decoded value',
    routes: [['GET', '/tag/{t:^a b$}']],
    request: ['GET', '/tag/a%20b'],
    expect: { status: 200, params: { t: 'a b' } },
  },

  // --- regex ---
  {
    name: 'non-tail regex matches one whole segment',
    routes: [['GET', '/n/{id:\\d+}/x']],
    request: ['GET', '/n/123/x'],
    expect: { status: 200, params: { id: '123' } },
  },
  {
    name: 'regex is anchored to the whole segment even without ^ and $',
    routes: [['GET', '/n/{id:\\d+}/x']],
    request: ['GET', '/n/12a/x'],
    expect: { status: 404 },
  },
  {
    name: 'non-tail regex does not span a slash',
    routes: [['GET', '/n/{p:.*}/x']],
    request: ['GET', '/n/a/b/x'],
    expect: { status: 404 },
  },
  {
    name: 'non-tail regex may match an empty segment if it allows',
    routes: [['GET', '/n/{p:.*}/x']],
    request: ['GET', '/n//x'],
    expect: { status: 200, params: { p: '' } },
  },
  {
    name: 'regex with nested braces',
    routes: [['GET', '/y/{year:\\d{4}}']],
    request: ['GET', '/y/2025'],
    expect: { status: 200, params: { year: '2025' } },
  },
  {
    name: 'regex with nested braces rejects other lengths',
    routes: [['GET', '/y/{year:\\d{4}}']],
    request: ['GET', '/y/202'],
    expect: { status: 404 },
  },
  {
    name: 'tail regex spans slashes; param has no leading slash',
    routes: [['GET', '/files/{path:^.*$}']],
    request: ['GET', '/files/a/b/c.txt'],
    expect: { status: 200, pattern: '/files/{path:^.*$}', params: { path: 'a/b/c.txt' } },
  },
  {
    name: 'tail regex matches an empty rest after the slash',
    routes: [['GET', '/files/{path:^.*$}']],
    request: ['GET', '/files/'],
    expect: { status: 200, params: { path: '' } },
  },
  {
    name: 'tail regex does not match without the slash',
    routes: [['GET', '/files/{path:^.*$}']],
    request: ['GET', '/files'],
    expect: { status: 404 },
  },
  {
    name: 'tail regex is tested against the whole rest',
    routes: [['GET', '/img/{p:[a-z/]+\\.png}']],
    request: ['GET', '/img/a/b.jpg'],
    expect: { status: 404 },
  },
  {
    name: 'tail regex rest is decoded',
    routes: [['GET', '/files/{path:^.*$}']],
    request: ['GET', '/files/my%20dir/%E2%9C%93'],
    expect: { status: 200, params: { path: 'my dir/✓' } },
  },
  {
    name: 'regex at the root spans everything',
    routes: [['GET', '/{all:^.*$}']],
    request: ['GET', '/x/y'],
    expect: { status: 200, params: { all: 'x/y' } },
  },
  {
    name: 'regex brace inside a character class',
    routes: [['GET', '/b/{s:[{}a]+}']],
    request: ['GET', '/b/%7Ba%7D'],
    expect: { status: 200, params: { s: '{a}' } },
  },

  // --- priority ---
  {
    name: 'static beats dynamic registered earlier',
    routes: [
      ['GET', '/users/{id}'],
      ['GET', '/users/me'],
    ],
    request: ['GET', '/users/me'],
    expect: { status: 200, pattern: '/users/me', params: {} },
  },
  {
    name: 'dynamic beats regex registered earlier',
    routes: [
      ['GET', '/users/{id:\\d+}'],
      ['GET', '/users/{name}'],
    ],
    request: ['GET', '/users/7'],
    expect: { status: 200, pattern: '/users/{name}', params: { name: '7' } },
  },
  {
    name: 'static beats regex tail',
    routes: [
      ['GET', '/files/{path:^.*$}'],
      ['GET', '/files/index'],
    ],
    request: ['GET', '/files/index'],
    expect: { status: 200, pattern: '/files/index' },
  },
  {
    name: 'registration order within dynamic',
    routes: [
      ['GET', '/{a}/x'],
      ['GET', '/y/{b}'],
    ],
    request: ['GET', '/y/x'],
    expect: { status: 200, pattern: '/{a}/x', params: { a: 'y' } },
  },
  {
    name: 'registration order within dynamic, among patterns of other lengths',
    routes: [
      ['GET', '/{a}/x/{c}'],
      ['GET', '/{a}'],
      ['GET', '/{a}/x'],
      ['GET', '/y/{b}/z'],
      ['GET', '/y/{b}'],
    ],
    request: ['GET', '/y/x'],
    expect: { status: 200, pattern: '/{a}/x', params: { a: 'y' } },
  },
  {
    name: 'a trailing slash is one more (empty) segment',
    routes: [
      ['GET', '/y/{b}'],
      ['GET', '/y/{b}/'],
    ],
    request: ['GET', '/y/x/'],
    expect: { status: 200, pattern: '/y/{b}/', params: { b: 'x' } },
  },
  {
    name: 'registration order within regex',
    routes: [
      ['GET', '/r/{a:[a-z]+}'],
      ['GET', '/r/{b:.*}'],
    ],
    request: ['GET', '/r/abc'],
    expect: { status: 200, pattern: '/r/{a:[a-z]+}', params: { a: 'abc' } },
  },
  {
    name: 'regex falls through to the next regex when it does not match',
    routes: [
      ['GET', '/r/{a:[a-z]+}'],
      ['GET', '/r/{b:.*}'],
    ],
    request: ['GET', '/r/123'],
    expect: { status: 200, pattern: '/r/{b:.*}', params: { b: '123' } },
  },
  {
    name: 'a pattern without the method falls through to a lower-priority one with it',
    routes: [
      ['GET', '/users/me'],
      ['POST', '/users/{id}'],
    ],
    request: ['POST', '/users/me'],
    expect: { status: 200, pattern: '/users/{id}', params: { id: 'me' } },
  },

  // --- methods, HEAD, '*' ---
  {
    name: 'HEAD falls back to GET',
    routes: [['GET', '/h']],
    request: ['HEAD', '/h'],
    expect: { status: 200, handler: 'GET /h' },
  },
  {
    name: 'explicit HEAD beats GET',
    routes: [
      ['GET', '/h'],
      ['HEAD', '/h'],
    ],
    request: ['HEAD', '/h'],
    expect: { status: 200, handler: 'HEAD /h' },
  },
  {
    name: 'HEAD prefers GET over any-method on the same pattern',
    routes: [
      ['*', '/h'],
      ['GET', '/h'],
    ],
    request: ['HEAD', '/h'],
    expect: { status: 200, handler: 'GET /h' },
  },
  {
    name: 'HEAD falls back to GET on a dynamic route',
    routes: [['GET', '/h/{id}']],
    request: ['HEAD', '/h/1'],
    expect: { status: 200, handler: 'GET /h/{id}', params: { id: '1' } },
  },
  {
    name: 'any-method route answers any method',
    routes: [['*', '/any']],
    request: ['PATCH', '/any'],
    expect: { status: 200, handler: '* /any', pattern: '/any' },
  },
  {
    name: 'any-method route answers a custom method',
    routes: [['*', '/any/{x}']],
    request: ['PURGE', '/any/1'],
    expect: { status: 200, handler: '* /any/{x}', params: { x: '1' } },
  },
  {
    name: 'specific method beats any-method on the same pattern',
    routes: [
      ['*', '/m'],
      ['POST', '/m'],
    ],
    request: ['POST', '/m'],
    expect: { status: 200, handler: 'POST /m' },
  },
  {
    name: 'any-method still answers other methods next to a specific one',
    routes: [
      ['POST', '/m'],
      ['*', '/m'],
    ],
    request: ['DELETE', '/m'],
    expect: { status: 200, handler: '* /m' },
  },
  {
    name: 'methods are case-sensitive',
    routes: [['GET', '/c']],
    request: ['get', '/c'],
    expect: { status: 405, allow: 'GET, HEAD' },
  },

  // --- 405 ---
  {
    name: '405 lists GET and HEAD',
    routes: [['GET', '/only-get']],
    request: ['POST', '/only-get'],
    expect: { status: 405, allow: 'GET, HEAD' },
  },
  {
    name: '405 allow is sorted',
    routes: [
      ['PUT', '/s'],
      ['DELETE', '/s'],
      ['POST', '/s'],
    ],
    request: ['GET', '/s'],
    expect: { status: 405, allow: 'DELETE, POST, PUT' },
  },
  {
    name: '405 allow is the union over every pattern that fits the path',
    routes: [
      ['GET', '/u/me'],
      ['PUT', '/u/{id}'],
      ['DELETE', '/u/{id:^[a-z]+$}'],
      ['POST', '/u/{id:^\\d+$}'],
    ],
    request: ['PATCH', '/u/me'],
    expect: { status: 405, allow: 'DELETE, GET, HEAD, PUT' },
  },
  {
    name: '405 with explicit HEAD and no GET',
    routes: [['HEAD', '/x']],
    request: ['GET', '/x'],
    expect: { status: 405, allow: 'HEAD' },
  },
  {
    name: 'HEAD with only POST is 405',
    routes: [['POST', '/p']],
    request: ['HEAD', '/p'],
    expect: { status: 405, allow: 'POST' },
  },
];

/** Registrations that must be refused. */
export const ROUTER_THROW_CASES: readonly RouterThrowCase[] = [
  {
    name: 'pattern must start with /',
    routes: [['GET', 'users']],
    throws: /must start with '\/'/,
    code: 'HL_ERR_ROUTE_INVALID',
  },
  {
    name: 'empty pattern',
    routes: [['GET', '']],
    throws: /must start with '\/'/,
    code: 'HL_ERR_ROUTE_INVALID',
  },
  {
    name: 'mixed segment: text before a param',
    routes: [['GET', '/a-{id}']],
    throws: /whole segment/,
    code: 'HL_ERR_ROUTE_INVALID',
  },
  {
    name: 'mixed segment: text after a param',
    routes: [['GET', '/{id}.json']],
    throws: /whole segment/,
    code: 'HL_ERR_ROUTE_INVALID',
  },
  {
    name: 'unbalanced {',
    routes: [['GET', '/a/{id']],
    throws: /unbalanced '\{'/,
    code: 'HL_ERR_ROUTE_INVALID',
  },
  {
    name: 'unbalanced } in static text',
    routes: [['GET', '/a/id}']],
    throws: /unbalanced '\}'/,
    code: 'HL_ERR_ROUTE_INVALID',
  },
  {
    name: 'unbalanced braces inside a regex',
    routes: [['GET', '/a/{id:\\d{2}']],
    throws: /unbalanced '\{'/,
    code: 'HL_ERR_ROUTE_INVALID',
  },
  {
    name: 'empty param name',
    routes: [['GET', '/a/{}']],
    throws: /not an identifier/,
    code: 'HL_ERR_ROUTE_INVALID',
  },
  {
    name: 'param name starting with a digit',
    routes: [['GET', '/a/{1id}']],
    throws: /not an identifier/,
    code: 'HL_ERR_ROUTE_INVALID',
  },
  {
    name: 'param name with a dash',
    routes: [['GET', '/a/{user-id}']],
    throws: /not an identifier/,
    code: 'HL_ERR_ROUTE_INVALID',
  },
  {
    name: 'param name __proto__',
    routes: [['GET', '/a/{__proto__}']],
    throws: /reserved/,
    code: 'HL_ERR_ROUTE_INVALID',
  },
  {
    name: 'duplicate param name',
    routes: [['GET', '/a/{id}/b/{id}']],
    throws: /'id' appears twice/,
    code: 'HL_ERR_ROUTE_INVALID',
  },
  {
    name: 'duplicate param name across dynamic and regex',
    routes: [['GET', '/a/{id}/{id:\\d+}']],
    throws: /'id' appears twice/,
    code: 'HL_ERR_ROUTE_INVALID',
  },
  {
    name: 'invalid regex',
    routes: [['GET', '/a/{id:(\\d+}']],
    throws: /invalid regex/,
    code: 'HL_ERR_ROUTE_INVALID',
  },
  {
    name: 'empty regex',
    routes: [['GET', '/a/{id:}']],
    throws: /empty regex/,
    code: 'HL_ERR_ROUTE_INVALID',
  },
  {
    name: 'query string in a pattern',
    routes: [['GET', '/search?q=1']],
    throws: /'\?' cannot appear/,
    code: 'HL_ERR_ROUTE_INVALID',
  },
  {
    name: 'invalid method token',
    routes: [['GE T', '/a']],
    throws: /Invalid method/,
    code: 'HL_ERR_ROUTE_INVALID',
  },
  {
    name: 'same static pattern and method twice',
    routes: [
      ['GET', '/a'],
      ['GET', '/a'],
    ],
    throws: /already registered for GET/,
    code: 'HL_ERR_ROUTE_DUPLICATE',
  },
  {
    name: 'same dynamic pattern and method twice',
    routes: [
      ['POST', '/u/{id}'],
      ['GET', '/u/{id}'],
      ['POST', '/u/{id}'],
    ],
    throws: /already registered for POST/,
    code: 'HL_ERR_ROUTE_DUPLICATE',
  },
  {
    name: 'same regex pattern and method twice',
    routes: [
      ['GET', '/f/{p:^.*$}'],
      ['GET', '/f/{p:^.*$}'],
    ],
    throws: /already registered/,
    code: 'HL_ERR_ROUTE_DUPLICATE',
  },
  {
    name: 'same pattern with any-method twice',
    routes: [
      ['*', '/a'],
      ['GET', '/a'],
      ['*', '/a'],
    ],
    throws: /already registered for any method/,
    code: 'HL_ERR_ROUTE_DUPLICATE',
  },
  {
    name: 'two spellings of one static path',
    routes: [
      ['GET', '/café'],
      ['POST', '/caf%C3%A9'],
    ],
    throws: /same path as '\/café'/,
    code: 'HL_ERR_ROUTE_DUPLICATE',
  },
];
