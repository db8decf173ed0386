/**
 * ctx.getRequestForm() (API.md "Context: request") over real sockets: urlencoded bodies from
 * fetch, multipart from fetch FormData and curl -F, and hostile multipart bytes over raw
 * node:net (no boundary, truncated, huge part headers, many parts, every limit), wrong content
 * types, bodyLimit. After every bad input the server must still answer.
 *
 * The route has no errorHook, so a thrown HttpError becomes its status with a JSON body.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Context } from '../../src/index.js';
import { parseRequestForm, type RequestFormOptions } from '../../src/context/request-form.js';
import { HttpError } from '../../src/error/http-error.js';
import {
  RawConnection,
  finalResponses,
  type ParsedResponse,
  type SendMode,
} from '../helpers/raw-client.js';
import { serve, type Served } from '../helpers/serve.js';
import { curl } from '../helpers/curl.js';

// ---- server and clients ---------------------------------------------------------------------

interface FileSummary {
  field: string;
  filename: string;
  type: string;
  size: number;
  sha256: string;
}

interface FormReply {
  fields: Record<string, string>;
  values: Record<string, string[]>;
  files: FileSummary[];
  /** Own keys of `fields`, to see `__proto__` survive as data. */
  fieldNames: string[];
}

interface ErrorReply {
  error: string;
  message: string;
  code?: string;
}

const LIMIT_NAMES = ['maxFileSize', 'maxFiles', 'maxFields', 'maxFieldSize', 'maxParts'] as const;

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Limits come from the query, so one route serves every test. */
function limitsFrom(ctx: Context): RequestFormOptions {
  const options: RequestFormOptions = {};
  for (const name of LIMIT_NAMES) {
    const value = ctx.getRequestQuery(name);
    if (value !== undefined) options[name] = Number(value);
  }
  return options;
}

interface FormServer extends Served {
  /** How many times the form route ran. */
  handled(): number;
}

async function formServer(t: TestContext, bodyLimit?: number): Promise<FormServer> {
  let handled = 0;
  const served = await serve(
    t,
    (server) => {
      server.post('/form', async (ctx) => {
        handled++;
        const form = await ctx.getRequestForm(limitsFrom(ctx));
        const reply: FormReply = {
          fields: form.fields,
          values: form.values,
          files: form.files.map((file) => ({
            field: file.field,
            filename: file.filename,
            type: file.type,
            size: file.data.length,
            sha256: sha256(file.data),
          })),
          fieldNames: Object.keys(form.fields),
        };
        ctx.setResponseBodyJson(reply);
      });
      server.get('/alive', (ctx) => {
        ctx.setResponseBody('alive');
      });
    },
    bodyLimit === undefined ? {} : { bodyLimit },
  );
  return { ...served, handled: () => handled };
}

/** A fresh connection still gets an answer: the server survived whatever came before. */
async function assertAlive(base: string): Promise<void> {
  const res = await fetch(`${base}/alive`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'alive');
}

async function postForm(
  url: string,
  body: RequestInit['body'],
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers,
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as unknown };
}

/** Sends one raw POST to /form and reads exactly one response (fails the test on a hang). */
async function rawPost(
  port: number,
  contentType: string | undefined,
  body: Buffer | string,
  options: { query?: string; mode?: SendMode } = {},
): Promise<ParsedResponse> {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  const head =
    `POST /form${options.query ?? ''} HTTP/1.1\r\nHost: x\r\n` +
    (contentType === undefined ? '' : `Content-Type: ${contentType}\r\n`) +
    `Content-Length: ${bytes.length}\r\n\r\n`;
  const conn = await RawConnection.connect(port);
  try {
    await conn.write(Buffer.concat([Buffer.from(head, 'latin1'), bytes]), {
      mode: options.mode ?? 'whole',
      seed: 7,
    });
    const finals = finalResponses(await conn.readResponses(1, 5000));
    assert.equal(finals.length, 1, 'the server answered (no hang, no silent close)');
    return finals[0]!;
  } finally {
    conn.destroy();
  }
}

function assertError(res: ParsedResponse, status: number, messagePart?: RegExp): ErrorReply {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text()}`);
  const reply = res.json<ErrorReply>();
  if (messagePart !== undefined) assert.match(reply.message, messagePart);
  return reply;
}

// ---- multipart builder ----------------------------------------------------------------------

const BOUNDARY = '----hyperlane-form-test-7MA4YWxkTrZu0gW';
const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;

interface Part {
  headers: string[];
  body: string | Buffer;
}

function field(name: string, value: string): Part {
  return { headers: [`Content-Disposition: form-data; name="${name}"`], body: value };
}

function file(
  name: string,
  filename: string,
  data: Buffer,
  type = 'application/octet-stream',
): Part {
  return {
    headers: [
      `Content-Disposition: form-data; name="${name}"; filename="${filename}"`,
      `Content-Type: ${type}`,
    ],
    body: data,
  };
}

/** A multipart body: each part framed by the boundary, the closing delimiter unless `final` is false. */
function multipart(parts: Part[], final = true, boundary = BOUNDARY): Buffer {
  const pieces: Buffer[] = [];
  for (const part of parts) {
    pieces.push(Buffer.from(`--${boundary}\r\n${part.headers.join('\r\n')}\r\n\r\n`, 'utf8'));
    pieces.push(typeof part.body === 'string' ? Buffer.from(part.body, 'utf8') : part.body);
    pieces.push(Buffer.from('\r\n'));
  }
  if (final) pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(pieces);
}

function bytes(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x >> 16;
  }
  return out;
}

// ---- urlencoded -----------------------------------------------------------------------------

test('urlencoded (fetch URLSearchParams): first value in fields, all in values, decoding', async (t) => {
  const { base } = await formServer(t);
  const params = new URLSearchParams();
  params.append('a', '1');
  params.append('a', '2');
  params.append('name', 'Zoë & co = 100%');
  params.append('emoji', '😀');
  params.append('empty', '');
  params.append('__proto__', 'data, not a prototype');
  const res = await postForm(`${base}/form`, params);
  assert.equal(res.status, 200);
  const reply = res.json as FormReply;
  assert.deepEqual(reply.fields, {
    a: '1',
    name: 'Zoë & co = 100%',
    emoji: '😀',
    empty: '',
    ['__proto__']: 'data, not a prototype',
  });
  assert.deepEqual(reply.values.a, ['1', '2']);
  assert.deepEqual(reply.values.name, ['Zoë & co = 100%']);
  assert.ok(reply.fieldNames.includes('__proto__'), '__proto__ is an own field');
  assert.deepEqual(reply.files, []);
  await assertAlive(base);
});

test('urlencoded: charset=utf-8 and an empty body are fine; another charset → 415', async (t) => {
  const { base, port } = await formServer(t);
  const utf8 = await rawPost(
    port,
    'Application/X-WWW-Form-Urlencoded; charset=UTF-8',
    Buffer.from('k=v%C3%A9&plus=a+b'),
  );
  assert.equal(utf8.status, 200, utf8.text());
  assert.deepEqual(utf8.json<FormReply>().fields, { k: 'vé', plus: 'a b' });

  const empty = await rawPost(port, 'application/x-www-form-urlencoded', '');
  assert.equal(empty.status, 200);
  assert.deepEqual(empty.json<FormReply>().fields, {});

  const latin1 = await rawPost(
    port,
    'application/x-www-form-urlencoded; charset=iso-8859-1',
    'k=v',
  );
  assertError(latin1, 415, /iso-8859-1/);
  await assertAlive(base);
});

test('urlencoded limits: maxFields and maxFieldSize are inclusive, over them → 413', async (t) => {
  const { base, port } = await formServer(t);
  const ct = 'application/x-www-form-urlencoded';
  const three = 'a=1&b=2&c=3';
  assert.equal((await rawPost(port, ct, three, { query: '?maxFields=3' })).status, 200);
  assertError(await rawPost(port, ct, three, { query: '?maxFields=2' }), 413, /more than 2 fields/);
  const big = `v=${'x'.repeat(100)}`;
  assert.equal((await rawPost(port, ct, big, { query: '?maxFieldSize=100' })).status, 200);
  assertError(await rawPost(port, ct, big, { query: '?maxFieldSize=99' }), 413, /larger than 99/);
  await assertAlive(base);
});

// ---- multipart from real clients ------------------------------------------------------------

test('multipart (fetch FormData): text fields, Blob files, a unicode filename, binary bytes', async (t) => {
  const { base } = await formServer(t);
  const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const big = bytes(200_000);
  const form = new FormData();
  form.append('title', 'Grüße, 世界');
  form.append('tag', 'one');
  form.append('tag', 'two');
  form.append('multi\r\nline', 'line 1\r\nline 2\n');
  form.append('doc', new Blob([binary], { type: 'application/x-test' }), 'résumé 📄.bin');
  form.append('big', new Blob([big]), 'big.dat');
  form.append('empty', new Blob([]), 'empty.txt');
  const res = await postForm(`${base}/form`, form);
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const reply = res.json as FormReply;
  assert.equal(reply.fields.title, 'Grüße, 世界');
  assert.deepEqual(reply.values.tag, ['one', 'two']);
  assert.equal(reply.fields.tag, 'one');
  // undici normalises line breaks in values to CRLF and percent-escapes CR/LF in names.
  assert.equal(reply.fields['multi%0D%0Aline'], 'line 1\r\nline 2\r\n');
  assert.deepEqual(
    reply.files.map((f) => [f.field, f.filename, f.type, f.size, f.sha256]),
    [
      ['doc', 'résumé 📄.bin', 'application/x-test', 256, sha256(binary)],
      ['big', 'big.dat', 'application/octet-stream', big.length, sha256(big)],
      ['empty', 'empty.txt', 'application/octet-stream', 0, sha256(Buffer.alloc(0))],
    ],
  );
  await assertAlive(base);
});

test('multipart (curl -F): a real temp file and a text field', async (t) => {
  const { base } = await formServer(t);
  const dir = await mkdtemp(path.join(tmpdir(), 'hl-form-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const data = bytes(50_000, 3);
  const filePath = path.join(dir, 'report.csv');
  await writeFile(filePath, data);
  const res = await curl([
    '-F',
    'note=hello from curl',
    '-F',
    `upload=@${filePath};type=text/csv`,
    `${base}/form`,
  ]);
  assert.equal(res.status, 200, res.text());
  const reply = res.json<FormReply>();
  assert.deepEqual(reply.fields, { note: 'hello from curl' });
  assert.deepEqual(reply.files, [
    {
      field: 'upload',
      filename: 'report.csv',
      type: 'text/csv',
      size: data.length,
      sha256: sha256(data),
    },
  ]);
  await assertAlive(base);
});

test('multipart filenames: client directories dropped (busboy), filename* decoded, octet-stream without a name', async (t) => {
  const { base, port } = await formServer(t);
  const body = multipart([
    file('a', '../../etc/passwd', Buffer.from('x')),
    file('b', 'C:\\Users\\me\\photo.jpg', Buffer.from('y'), 'image/jpeg'),
    {
      headers: [
        `Content-Disposition: form-data; name="c"; filename="fallback.txt"; filename*=UTF-8''%E2%82%AC%20rates.txt`,
      ],
      body: 'z',
    },
    {
      headers: [
        'Content-Disposition: form-data; name="d"',
        'Content-Type: application/octet-stream',
      ],
      body: 'w',
    },
  ]);
  const res = await rawPost(port, MULTIPART, body);
  assert.equal(res.status, 200, res.text());
  assert.deepEqual(
    res.json<FormReply>().files.map((f) => [f.field, f.filename, f.type]),
    [
      ['a', 'passwd', 'application/octet-stream'],
      ['b', 'photo.jpg', 'image/jpeg'],
      ['c', '€ rates.txt', 'text/plain'],
      ['d', '', 'application/octet-stream'],
    ],
  );
  await assertAlive(base);
});

test('multipart arriving byte by byte and in random pieces parses the same', async (t) => {
  const { base, port } = await formServer(t);
  const data = bytes(3000, 9);
  const body = multipart([field('x', 'é'), file('f', 'f.bin', data)]);
  for (const mode of ['bytes', 'random'] as const) {
    const res = await rawPost(port, MULTIPART, body, { mode });
    assert.equal(res.status, 200, `${mode}: ${res.text()}`);
    const reply = res.json<FormReply>();
    assert.deepEqual(reply.fields, { x: 'é' });
    assert.equal(reply.files[0]?.sha256, sha256(data));
  }
  await assertAlive(base);
});

// ---- content type ---------------------------------------------------------------------------

test('wrong or missing content type → 415 naming both accepted types', async (t) => {
  const { base, port } = await formServer(t);
  const accepted = /application\/x-www-form-urlencoded or multipart\/form-data/;
  const json = await postForm(`${base}/form`, '{"a":1}', { 'content-type': 'application/json' });
  assert.equal(json.status, 415);
  assert.match((json.json as ErrorReply).message, accepted);
  assert.equal((json.json as ErrorReply).code, 'FORM_CONTENT_TYPE');
  assertError(await rawPost(port, 'text/plain', 'a=1'), 415, accepted);
  assertError(await rawPost(port, undefined, 'a=1'), 415, accepted);
  assertError(await rawPost(port, 'multipart/mixed; boundary=x', '--x--\r\n'), 415, accepted);
  assertError(await rawPost(port, '', 'a=1'), 415, accepted);
  await assertAlive(base);
});

// ---- hostile multipart ----------------------------------------------------------------------

test('multipart without a usable boundary → 400', async (t) => {
  const { base, port } = await formServer(t);
  const body = multipart([field('a', '1')]);
  for (const ct of [
    'multipart/form-data',
    'multipart/form-data;',
    'multipart/form-data; boundary=',
    'multipart/form-data; boundary=""',
    `multipart/form-data; boundary=${'b'.repeat(71)}`,
    'multipart/form-data; boundary=a b',
    'multipart/form-data; charset=utf-8',
  ]) {
    const reply = assertError(await rawPost(port, ct, body), 400);
    assert.equal(reply.code, 'FORM_MALFORMED', ct);
    await assertAlive(base);
  }
  // A boundary that the body does not use: no closing delimiter is ever found.
  assertError(await rawPost(port, 'multipart/form-data; boundary=other', body), 400);
  // A quoted boundary is fine, and 70 characters is the most allowed.
  const long = 'q'.repeat(70);
  const ok = await rawPost(
    port,
    `multipart/form-data; boundary="${long}"`,
    multipart([field('a', '1')], true, long),
  );
  assert.equal(ok.status, 200, ok.text());
  await assertAlive(base);
});

test('truncated multipart bodies → 400, never a hang', async (t) => {
  const { base, port } = await formServer(t);
  const full = multipart([field('a', 'hello'), file('f', 'f.bin', bytes(500))]);
  const cuts: Array<[string, Buffer]> = [
    ['empty body', Buffer.alloc(0)],
    ['only a preamble', Buffer.from('just some text, no delimiter at all')],
    ['inside the first delimiter', full.subarray(0, 10)],
    ['inside part headers', full.subarray(0, BOUNDARY.length + 20)],
    ['inside a field value', full.subarray(0, full.indexOf('hello') + 3)],
    ['inside the file', full.subarray(0, full.length - 200)],
    ['missing the closing delimiter', multipart([field('a', 'hello')], false)],
    ['closing delimiter cut short', full.subarray(0, full.length - 5)],
  ];
  for (const [label, body] of cuts) {
    const res = await rawPost(port, MULTIPART, body);
    assertError(res, 400);
    assert.equal(res.json<ErrorReply>().code, 'FORM_MALFORMED', label);
    await assertAlive(base);
  }
});

test('garbage part headers and a 20 KiB part header line → 400', async (t) => {
  const { base, port } = await formServer(t);
  const bodies: Array<[string, Buffer]> = [
    ['no colon', multipart([{ headers: ['this is not a header'], body: 'x' }])],
    ['empty name', multipart([{ headers: [': value'], body: 'x' }])],
    [
      'NUL in value',
      multipart([{ headers: ['Content-Disposition: form-data; name="a\u0000"'], body: 'x' }]),
    ],
    [
      'LF-only line ends',
      Buffer.from(
        `--${BOUNDARY}\nContent-Disposition: form-data; name="a"\n\nx\n--${BOUNDARY}--\n`,
      ),
    ],
    [
      'huge header line',
      multipart([
        {
          headers: [`Content-Disposition: form-data; name="a"; x="${'h'.repeat(20 * 1024)}"`],
          body: 'x',
        },
      ]),
    ],
    [
      'many header lines',
      multipart([{ headers: Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`), body: 'x' }]),
    ],
    [
      'a field without a name',
      multipart([{ headers: ['Content-Disposition: form-data'], body: 'x' }]),
    ],
    [
      'a file without a field name',
      multipart([{ headers: ['Content-Disposition: form-data; filename="a.txt"'], body: 'x' }]),
    ],
  ];
  for (const [label, body] of bodies) {
    const res = await rawPost(port, MULTIPART, body);
    assert.equal(res.status, 400, `${label}: ${res.status} ${res.text()}`);
    await assertAlive(base);
  }
});

test('a part in an unknown charset → 415; parts that are not form-data are skipped', async (t) => {
  const { base, port } = await formServer(t);
  const unknown = multipart([
    {
      headers: [
        'Content-Disposition: form-data; name="a"',
        'Content-Type: text/plain; charset=x-klingon',
      ],
      body: 'x',
    },
  ]);
  assertError(
    await rawPost(port, MULTIPART, unknown),
    415,
    /field "a" is in a charset that is not supported/,
  );
  const skipped = multipart([
    { headers: ['Content-Type: text/plain'], body: 'no disposition' },
    { headers: ['Content-Disposition: attachment; name="b"'], body: 'not form-data' },
    field('kept', 'yes'),
  ]);
  const res = await rawPost(port, MULTIPART, skipped);
  assert.equal(res.status, 200, res.text());
  assert.deepEqual(res.json<FormReply>().fields, { kept: 'yes' });
  await assertAlive(base);
});

test('1000 tiny parts: accepted at the default field limit; 1001 fields or too many skipped parts → 413', async (t) => {
  const { base, port } = await formServer(t);
  const tiny = (n: number): Part[] =>
    Array.from({ length: n }, (_, i) => field(`f${i}`, String(i)));
  const thousand = await rawPost(port, MULTIPART, multipart(tiny(1000)));
  assert.equal(thousand.status, 200, thousand.text());
  assert.equal(Object.keys(thousand.json<FormReply>().fields).length, 1000);

  assertError(await rawPost(port, MULTIPART, multipart(tiny(1001))), 413, /more than 1000 fields/);
  await assertAlive(base);

  // Parts with no Content-Disposition are neither fields nor files; only maxParts stops them.
  const blank = (n: number): Part[] =>
    Array.from({ length: n }, () => ({ headers: ['X-A: b'], body: '' }));
  assertError(
    await rawPost(port, MULTIPART, multipart(blank(1000)), { query: '?maxParts=100' }),
    413,
    /more than 100 parts/,
  );
  assertError(await rawPost(port, MULTIPART, multipart(blank(2000))), 413, /more than 1010 parts/);
  assert.equal(
    (await rawPost(port, MULTIPART, multipart(blank(100)), { query: '?maxParts=100' })).status,
    200,
  );
  await assertAlive(base);
});

test('maxFileSize: a file exactly at the limit is kept; one byte over → 413', async (t) => {
  const { base, port } = await formServer(t);
  const at = bytes(4096, 5);
  const ok = await rawPost(port, MULTIPART, multipart([file('f', 'a.bin', at)]), {
    query: '?maxFileSize=4096',
  });
  assert.equal(ok.status, 200, ok.text());
  assert.equal(ok.json<FormReply>().files[0]?.sha256, sha256(at));

  const over = multipart([file('f', 'a.bin', bytes(4097, 5)), field('after', 'x')]);
  const reply = assertError(
    await rawPost(port, MULTIPART, over, { query: '?maxFileSize=4096' }),
    413,
    /larger than 4096/,
  );
  assert.equal(reply.code, 'FORM_LIMIT');
  await assertAlive(base);

  // The default (10 MiB) lets anything within bodyLimit through.
  const big = bytes(900_000, 6);
  const def = await rawPost(port, MULTIPART, multipart([file('f', 'big.bin', big)]));
  assert.equal(def.status, 200);
  assert.equal(def.json<FormReply>().files[0]?.size, big.length);
  await assertAlive(base);
});

test('maxFiles: exactly at the limit is fine; one more file → 413', async (t) => {
  const { base, port } = await formServer(t);
  const files = (n: number): Part[] =>
    Array.from({ length: n }, (_, i) => file(`f${i}`, `${i}.txt`, Buffer.from(`${i}`)));
  const three = await rawPost(port, MULTIPART, multipart(files(3)), { query: '?maxFiles=3' });
  assert.equal(three.status, 200, three.text());
  assert.equal(three.json<FormReply>().files.length, 3);
  assertError(
    await rawPost(port, MULTIPART, multipart(files(4)), { query: '?maxFiles=3' }),
    413,
    /more than 3 files/,
  );
  await assertAlive(base);
  assertError(await rawPost(port, MULTIPART, multipart(files(11))), 413, /more than 10 files/);
  assertError(await rawPost(port, MULTIPART, multipart(files(1)), { query: '?maxFiles=0' }), 413);
  await assertAlive(base);
});

test('maxFieldSize: a multipart field exactly at the limit is kept; over it → 413', async (t) => {
  const { base, port } = await formServer(t);
  const ok = await rawPost(port, MULTIPART, multipart([field('v', 'x'.repeat(64))]), {
    query: '?maxFieldSize=64',
  });
  assert.equal(ok.status, 200);
  assert.equal(ok.json<FormReply>().fields.v?.length, 64);
  assertError(
    await rawPost(port, MULTIPART, multipart([field('v', 'x'.repeat(65))]), {
      query: '?maxFieldSize=64',
    }),
    413,
    /larger than 64 bytes/,
  );
  await assertAlive(base);
});

test('a body over bodyLimit → 413 from the engine; the form handler never runs', async (t) => {
  const server = await formServer(t, 8 * 1024);
  const body = multipart([file('f', 'big.bin', bytes(16 * 1024))]);
  const conn = await RawConnection.connect(server.port);
  try {
    // Only the head: the engine must refuse on Content-Length alone.
    await conn.write(
      `POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: ${MULTIPART}\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    const finals = finalResponses(await conn.readResponses(1, 5000));
    assert.equal(finals[0]?.status, 413);
  } finally {
    conn.destroy();
  }
  const fetched = await postForm(`${server.base}/form`, new Blob([body]), {
    'content-type': MULTIPART,
  });
  assert.equal(fetched.status, 413);
  assert.equal(server.handled(), 0, 'the handler never ran');
  await assertAlive(server.base);
});

// ---- the parser on its own: every prefix settles, nothing throws ----------------------------

test(
  'parseRequestForm settles for every prefix of a multipart body and never throws',
  { timeout: 60_000 },
  async () => {
    const full = multipart([field('a', 'é'), file('f', 'f.bin', bytes(300)), field('b', '2')]);
    let ok = 0;
    for (let n = 0; n <= full.length; n++) {
      try {
        await parseRequestForm(full.subarray(0, n), MULTIPART, {});
        ok++;
      } catch (error) {
        assert.ok(error instanceof HttpError, `prefix ${n}: ${String(error)}`);
        assert.equal(error.status, 400, `prefix ${n}`);
      }
    }
    // Only the complete body, or one that lacks just the trailing CRLF, is a whole form.
    assert.ok(ok >= 1 && ok <= 3, `complete prefixes: ${ok}`);

    const badOptions = parseRequestForm(Buffer.alloc(0), MULTIPART, { maxFiles: -1 });
    await assert.rejects(badOptions, { code: 'HL_ERR_CONFIG', message: /maxFiles/ });
    await assert.rejects(
      parseRequestForm(Buffer.from('x'), 'multipart/form-data; boundary="unterminated', {}),
      {
        status: 400,
      },
    );
  },
);
