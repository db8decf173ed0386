import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compareWithUrlSearchParams,
  createQueryParsingServer,
  parseQuery,
  queryOf,
  SAMPLE_QUERIES,
  type QueryView,
} from '../../examples/query-parsing.js';

/**
 * The WHATWG urlencoded parser, written straight from the standard as an independent oracle:
 * split on '&', split at the first '=', '+' → space, percent-decode the UTF-8 bytes, UTF-8 decode.
 */
function referenceParse(query: string): [string, string][] {
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const decode = (text: string): string => {
    const bytes = [...Buffer.from(text.replaceAll('+', ' '), 'utf8')];
    const out: number[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const hex = String.fromCharCode(bytes[i + 1] ?? 0, bytes[i + 2] ?? 0);
      if (bytes[i] === 0x25 && /^[0-9A-Fa-f]{2}$/.test(hex)) {
        out.push(parseInt(hex, 16));
        i += 2;
      } else {
        out.push(bytes[i]!);
      }
    }
    return decoder.decode(Uint8Array.from(out));
  };
  return (query.startsWith('?') ? query.slice(1) : query)
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq === -1
        ? [decode(pair), '']
        : [decode(pair.slice(0, eq)), decode(pair.slice(eq + 1))];
    });
}

/**
 * Node 20's URLSearchParams mangles raw non-ASCII characters in a component whose escapes are
 * not valid UTF-8 (its fallback decoder keeps only the low byte of each UTF-16 unit: '%FFé' gives
 * '\uFFFD\uFFFD', where the standard says '\uFFFDé'). For such queries the oracle is the reference.
 */
function hitsNodeFallbackBug(query: string): boolean {
  const parts = query.split('&').flatMap((pair) => {
    const eq = pair.indexOf('=');
    return eq === -1 ? [pair] : [pair.slice(0, eq), pair.slice(eq + 1)];
  });
  return parts.some((part) => {
    if (!/[^\x00-\x7f]/.test(part)) return false;
    try {
      decodeURIComponent(part.replaceAll('+', ' '));
      return false;
    } catch {
      return true;
    }
  });
}

/** Asserts that `view` answers every question exactly as URLSearchParams does for `query`. */
function assertSameAsUrlSearchParams(query: string, view: QueryView = parseQuery(query)): void {
  const reference = referenceParse(query);
  assert.deepEqual([...view.entries()], reference, `entries of ${JSON.stringify(query)}`);
  const expected = new URLSearchParams(hitsNodeFallbackBug(query) ? reference : query);
  const entries = [...expected];
  assert.deepEqual([...view.entries()], entries, `entries of ${JSON.stringify(query)}`);
  assert.equal(view.size, entries.length);
  for (const key of new Set([...expected.keys(), 'missing', '', 'a b', 'a+b'])) {
    assert.equal(view.get(key), expected.get(key), `get(${JSON.stringify(key)}) in ${query}`);
    assert.deepEqual(view.getAll(key), expected.getAll(key), `getAll(${key}) in ${query}`);
    assert.equal(view.has(key), expected.has(key), `has(${key}) in ${query}`);
  }
}

test('edge cases decode exactly as URLSearchParams does', () => {
  const cases: [query: string, entries: [string, string][]][] = [
    ['', []],
    ['?', []],
    ['?a=1', [['a', '1']]],
    ['??a=1', [['?a', '1']]],
    ['a', [['a', '']]],
    ['a=', [['a', '']]],
    ['=b', [['', 'b']]],
    ['=', [['', '']]],
    ['a=b=c', [['a', 'b=c']]],
    [
      '&&a=1&&&b&',
      [
        ['a', '1'],
        ['b', ''],
      ],
    ],
    ['q=hello+world', [['q', 'hello world']]],
    ['a+b=c+d', [['a b', 'c d']]],
    [
      'plus=%2B&amp=%26&eq=%3D',
      [
        ['plus', '+'],
        ['amp', '&'],
        ['eq', '='],
      ],
    ],
    [
      'x=%C3%A9&y=%E2%82%AC&z=%F0%9F%98%80',
      [
        ['x', 'é'],
        ['y', '€'],
        ['z', '😀'],
      ],
    ],
    ['raw=é€😀', [['raw', 'é€😀']]],
    // Malformed escapes stay as written, next to good ones.
    [
      'x=%&y=%4&z=100%&w=%zz%41',
      [
        ['x', '%'],
        ['y', '%4'],
        ['z', '100%'],
        ['w', '%zzA'],
      ],
    ],
    ['x=%E2%82%AC%ZZ+1', [['x', '€%ZZ 1']]],
    // Invalid UTF-8 after decoding becomes U+FFFD; a leading BOM is kept.
    [
      'x=%C3&y=%FF%FE&z=%C0%AF&s=%ED%A0%80',
      [
        ['x', '\uFFFD'],
        ['y', '\uFFFD\uFFFD'],
        ['z', '\uFFFD\uFFFD'],
        ['s', '\uFFFD\uFFFD\uFFFD'],
      ],
    ],
    ['%EF%BB%BFa=%EF%BB%BF', [['\uFEFFa', '\uFEFF']]],
    // Raw non-ASCII next to invalid UTF-8: the standard keeps it (Node 20's URLSearchParams does not).
    [
      'x=%FF%C3%A9é😀&%C0😀=1',
      [
        ['x', '\uFFFDéé😀'],
        ['\uFFFD😀', '1'],
      ],
    ],
  ];
  for (const [query, entries] of cases) {
    const view = parseQuery(query);
    assert.deepEqual([...view], entries, `parseQuery(${JSON.stringify(query)})`);
    assertSameAsUrlSearchParams(query, view);
  }
});

test('repeated keys: get gives the first, getAll every one, in order', () => {
  const view = parseQuery('tag=a&other=1&tag=b&t%61g=c&tag');
  assert.equal(view.get('tag'), 'a');
  assert.deepEqual(view.getAll('tag'), ['a', 'b', 'c', '']);
  assert.deepEqual([...view.keys()], ['tag', 'other', 'tag', 'tag', 'tag']);
  assert.equal(view.get('nope'), null);
  assert.deepEqual(view.getAll('nope'), []);
  assert.equal(view.has('nope'), false);
  const record = view.toMultiRecord();
  assert.deepEqual({ ...record }, { tag: ['a', 'b', 'c', ''], other: ['1'] });
});

test('values are decoded once, when first asked for, and the view never throws', () => {
  const view = parseQuery('a=%41&b=%zz');
  assert.equal(view.raw, 'a=%41&b=%zz');
  assert.equal(view.valueAt(0), 'A');
  assert.equal(view.valueAt(0), view.valueAt(0));
  assert.equal(view.valueAt(1), '%zz');
  assert.throws(() => view.valueAt(2), /index must be an integer from 0 to 1, got 2/);
  assert.throws(() => view.keyAt(-1), RangeError);
  // A key named __proto__ is data, not a prototype change.
  const record = parseQuery('__proto__=x&constructor=y').toMultiRecord();
  assert.deepEqual(Object.keys(record), ['__proto__', 'constructor']);
  assert.deepEqual(record.__proto__, ['x']);
  assert.equal(Object.getPrototypeOf(record), null);
});

test('thousands of generated queries parse exactly as URLSearchParams parses them', () => {
  // A seeded generator (mulberry32), so a failure names a query that can be replayed.
  let seed = 0x5eed;
  const random = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pieces = [
    'a',
    'b',
    'key',
    'x',
    '1',
    '42',
    ' ',
    '=',
    '=',
    '&',
    '&',
    '&',
    '+',
    '%',
    '%2',
    '%20',
    '%2B',
    '%26',
    '%3D',
    '%3d',
    '%41',
    '%C3%A9',
    '%E2%82%AC',
    '%F0%9F%98%80',
    '%E2%82',
    '%ZZ',
    '%g1',
    '%FF',
    '%C0%AF',
    '%ED%A0%80',
    '%EF%BB%BF',
    'é',
    '€',
    '😀',
    '?',
    '#',
    '/',
    ';',
    '__proto__',
  ];
  let comparedWithNode = 0;
  for (let n = 0; n < 3000; n++) {
    let query = random() < 0.1 ? '?' : '';
    const length = Math.floor(random() * 16);
    for (let i = 0; i < length; i++) query += pieces[Math.floor(random() * pieces.length)]!;
    assertSameAsUrlSearchParams(query);
    if (!hitsNodeFallbackBug(query)) comparedWithNode++;
  }
  // Most generated queries are checked against Node’s URLSearchParams itself, not only the oracle.
  assert.ok(comparedWithNode > 1500, `${comparedWithNode} of 3000 compared with URLSearchParams`);
  for (const query of SAMPLE_QUERIES) assertSameAsUrlSearchParams(query);
});

test('the micro-benchmark measures both parsers and returns positive ns/op', () => {
  const result = compareWithUrlSearchParams(2000);
  assert.equal(result.iterations, 2000);
  for (const value of [result.parseQueryNsPerOp, result.urlSearchParamsNsPerOp]) {
    assert.ok(Number.isFinite(value) && value > 0, `ns/op ${value}`);
  }
  assert.throws(() => compareWithUrlSearchParams(0), /iterations must be a positive integer/);
});

test('the route answers with the parsed query, including odd keys', async () => {
  const running = await createQueryParsingServer({ host: '127.0.0.1', port: 0 }).run();
  const base = `http://127.0.0.1:${running.port}`;
  try {
    const target = '/query?a=1&a=2&q=hello+world&empty=&flag&%ZZ=bad%&__proto__=p&name=caf%C3%A9';
    const response = await fetch(base + target);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    const body = (await response.json()) as { count: number; params: Record<string, string[]> };
    assert.equal(body.count, 8);
    assert.deepEqual(body.params, {
      a: ['1', '2'],
      q: ['hello world'],
      empty: [''],
      flag: [''],
      '%ZZ': ['bad%'],
      ['__proto__']: ['p'],
      name: ['café'],
    });
    assert.equal(queryOf(target), target.slice('/query?'.length));

    const none = (await (await fetch(`${base}/query`)).json()) as { count: number };
    assert.deepEqual(none, { count: 0, params: {} });
    assert.equal((await fetch(`${base}/nope?a=1`)).status, 404);
    assert.equal((await fetch(`${base}/query?x`, { method: 'POST' })).status, 405);
    // Still serving after the rejected requests.
    assert.equal((await fetch(`${base}/query?ok=1`)).status, 200);
  } finally {
    await running.close({ timeout: 2000 });
  }
});
