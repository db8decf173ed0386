import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AuthenticationError,
  createErrorHandlingServer,
  DatabaseError,
  InternalError,
  isRetryableError,
  mapErrorToResponse,
  processWithRetry,
  RateLimitError,
  ValidationError,
  type ErrorHandlingOptions,
  type ErrorReport,
} from '../../examples/error-handling.js';

/** Starts a server with captured logs and monitoring, runs `body`, always closes it. */
async function withServer(
  options: ErrorHandlingOptions,
  body: (tools: {
    base: string;
    reports: ErrorReport[];
    logs: string[];
    until: (condition: () => boolean, what: string) => Promise<void>;
  }) => Promise<void>,
): Promise<void> {
  const reports: ErrorReport[] = [];
  const logs: string[] = [];
  const running = await createErrorHandlingServer({
    host: '127.0.0.1',
    port: 0,
    monitoring: (report) => {
      reports.push(report);
    },
    logger: {
      warn: (line) => logs.push(`warn ${line}`),
      error: (line) => logs.push(`error ${line}`),
    },
    ...options,
  }).run();
  const until = async (condition: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  try {
    await body({ base: `http://127.0.0.1:${running.port}`, reports, logs, until });
  } finally {
    await running.close({ timeout: 2000 });
  }
}

async function call(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers; text: string }> {
  const response = await fetch(url, init);
  const text = await response.text();
  return {
    status: response.status,
    body: JSON.parse(text) as Record<string, unknown>,
    headers: response.headers,
    text,
  };
}

test('each typed error maps to its status and the article’s JSON', () => {
  const table: [unknown, number, Record<string, string>][] = [
    [
      new DatabaseError('timeout on db-primary'),
      500,
      { error: 'Internal Server Error', message: 'Database operation failed', code: 'DB_ERROR' },
    ],
    [
      new AuthenticationError('Invalid token'),
      401,
      { error: 'Unauthorized', message: 'Invalid token', code: 'AUTH_ERROR' },
    ],
    [
      new ValidationError('email', 'not an address'),
      400,
      {
        error: 'Bad Request',
        message: 'Validation failed for field: email',
        code: 'VALIDATION_ERROR',
      },
    ],
    [
      new RateLimitError(30),
      429,
      { error: 'Too Many Requests', message: 'Rate limit exceeded', code: 'RATE_LIMIT' },
    ],
    [
      new InternalError('secret detail'),
      500,
      {
        error: 'Internal Server Error',
        message: 'An unexpected error occurred',
        code: 'INTERNAL_ERROR',
      },
    ],
    [
      new TypeError('x is undefined'),
      500,
      {
        error: 'Internal Server Error',
        message: 'An unexpected error occurred',
        code: 'INTERNAL_ERROR',
      },
    ],
    [
      'a thrown string',
      500,
      {
        error: 'Internal Server Error',
        message: 'An unexpected error occurred',
        code: 'INTERNAL_ERROR',
      },
    ],
  ];
  for (const [error, status, body] of table) {
    const response = mapErrorToResponse(error);
    assert.equal(response.status, status, String(error));
    assert.deepEqual(response.body, body);
  }
  assert.deepEqual(mapErrorToResponse(new RateLimitError(30)).headers, { 'Retry-After': '30' });
  assert.deepEqual(
    [
      new DatabaseError('x'),
      new InternalError(),
      new AuthenticationError('x'),
      new ValidationError('f'),
      new RateLimitError(1),
      new Error('x'),
    ].map(isRetryableError),
    [true, true, false, false, false, false],
  );
});

test('processWithRetry retries retryable errors with doubling delays, then succeeds', async () => {
  const delays: number[] = [];
  let calls = 0;
  const result = await processWithRetry(
    () => {
      calls++;
      if (calls < 3) throw new DatabaseError('Connection timeout');
      return 'done';
    },
    3,
    { baseDelayMs: 1, onRetry: (_attempt, _error, delayMs) => delays.push(delayMs) },
  );
  assert.deepEqual(result, { value: 'done', attempts: 3 });
  assert.deepEqual(delays, [1, 2]);

  const capped: number[] = [];
  await assert.rejects(
    processWithRetry(
      () => {
        throw new InternalError();
      },
      4,
      { baseDelayMs: 1, maxDelayMs: 5, onRetry: (_a, _e, delayMs) => capped.push(delayMs) },
    ),
    InternalError,
  );
  assert.deepEqual(capped, [1, 2, 4, 5], 'maxRetries retries, doubling, each delay capped');
});

test('processWithRetry gives up at once on errors that are not retryable', async () => {
  for (const error of [
    new ValidationError('name'),
    new AuthenticationError('no'),
    new RateLimitError(1),
    new Error('plain'),
  ]) {
    let calls = 0;
    await assert.rejects(
      processWithRetry(
        () => {
          calls++;
          throw error;
        },
        5,
        { baseDelayMs: 1 },
      ),
      (thrown) => thrown === error,
    );
    assert.equal(calls, 1, error.name);
  }
  let calls = 0;
  await assert.rejects(
    processWithRetry(() => {
      calls++;
      throw new DatabaseError('down');
    }, 0),
    DatabaseError,
  );
  assert.equal(calls, 1, 'maxRetries 0 means one attempt');
  const aborted = AbortSignal.abort();
  calls = 0;
  await assert.rejects(
    processWithRetry(
      () => {
        calls++;
        throw new DatabaseError('down');
      },
      5,
      { signal: aborted, baseDelayMs: 1 },
    ),
    DatabaseError,
  );
  assert.equal(calls, 1, 'an aborted signal stops retrying');
  await assert.rejects(
    processWithRetry(() => 1, -1),
    /maxRetries must be an integer >= 0, got -1/,
  );
});

test('error routes answer with mapped JSON; 500s hide internals and are reported', async () => {
  await withServer({}, async ({ base, reports, logs, until }) => {
    const database = await call(`${base}/errors/database`);
    assert.equal(database.status, 500);
    assert.deepEqual(database.body, {
      error: 'Internal Server Error',
      message: 'Database operation failed',
      code: 'DB_ERROR',
    });
    assert.doesNotMatch(database.text, /ECONNREFUSED|10\.0\.0\.5|db-primary/);

    const internal = await call(`${base}/errors/internal`);
    assert.equal(internal.status, 500);
    assert.equal(internal.body.code, 'INTERNAL_ERROR');
    assert.doesNotMatch(internal.text, /invariant|order 17/);

    const unexpected = await call(`${base}/errors/unexpected`);
    assert.equal(unexpected.status, 500);
    assert.deepEqual(unexpected.body, {
      error: 'Internal Server Error',
      message: 'An unexpected error occurred',
      code: 'INTERNAL_ERROR',
    });
    assert.doesNotMatch(unexpected.text, /TypeError|theme/);

    await until(() => reports.length === 3, 'three monitoring reports');
    assert.deepEqual(
      reports.map((report) => [report.code, report.status, report.path, report.name]),
      [
        ['DB_ERROR', 500, '/errors/database', 'DatabaseError'],
        ['INTERNAL_ERROR', 500, '/errors/internal', 'InternalError'],
        ['INTERNAL_ERROR', 500, '/errors/unexpected', 'TypeError'],
      ],
    );
    // Monitoring gets the detail the client was not told.
    assert.match(reports[0]!.message, /ECONNREFUSED 10\.0\.0\.5:5432/);
    assert.match(reports[1]!.message, /order 17 has no customer/);
    assert.equal(logs.filter((line) => line.startsWith('error GET /errors/')).length, 3);
  });
});

test('authentication: 401 AUTH_ERROR for missing, malformed and wrong tokens', async () => {
  await withServer({ token: 't0ken' }, async ({ base, reports, logs }) => {
    const cases: [Record<string, string>, string][] = [
      [{}, 'Missing Authorization header'],
      [{ Authorization: 'Basic dXNlcjpwYXNz' }, 'Expected a Bearer token'],
      [{ Authorization: 'Bearer wrong' }, 'Invalid token'],
    ];
    for (const [headers, message] of cases) {
      const response = await call(`${base}/protected`, { headers });
      assert.equal(response.status, 401, message);
      assert.deepEqual(response.body, { error: 'Unauthorized', message, code: 'AUTH_ERROR' });
    }
    const ok = await call(`${base}/protected`, { headers: { Authorization: 'Bearer t0ken' } });
    assert.deepEqual([ok.status, ok.body], [200, { status: 'authenticated' }]);
    assert.equal(reports.length, 0, 'client errors are logged, not reported');
    assert.equal(logs.filter((line) => line.startsWith('warn GET /protected -> 401')).length, 3);
  });
});

test('validation: 400 naming the field; malformed JSON keeps the framework’s 400', async () => {
  await withServer({}, async ({ base, reports }) => {
    const post = (body: string): Promise<Awaited<ReturnType<typeof call>>> =>
      call(`${base}/signup`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
    for (const [body, field] of [
      ['{"email":"nope","age":30}', 'email'],
      ['{"email":"a@b.co","age":7}', 'age'],
      ['{"email":"a@b.co","age":"30"}', 'age'],
      ['[1,2]', 'body'],
    ] as const) {
      const response = await post(body);
      assert.equal(response.status, 400, body);
      assert.deepEqual(response.body, {
        error: 'Bad Request',
        message: `Validation failed for field: ${field}`,
        code: 'VALIDATION_ERROR',
      });
    }
    const malformed = await post('{"email":');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error, 'Bad Request');
    assert.notEqual(malformed.body.code, 'VALIDATION_ERROR');
    const created = await post('{"email":"a@b.co","age":30}');
    assert.deepEqual(
      [created.status, created.body],
      [201, { created: { email: 'a@b.co', age: 30 } }],
    );
    assert.equal(reports.length, 0);
  });
});

test('rate limit: 429 RATE_LIMIT with Retry-After once the window is used up', async () => {
  await withServer({ rateLimit: 2, rateWindowMs: 60_000 }, async ({ base }) => {
    assert.equal((await call(`${base}/limited`)).body.remaining, 1);
    assert.equal((await call(`${base}/limited`)).body.remaining, 0);
    const limited = await call(`${base}/limited`);
    assert.equal(limited.status, 429);
    assert.deepEqual(limited.body, {
      error: 'Too Many Requests',
      message: 'Rate limit exceeded',
      code: 'RATE_LIMIT',
    });
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  });
});

test('the flaky operation is retried until it succeeds, or reported after the last retry', async () => {
  // Scripted randomness: two failures (below the 0.1 failure rate), then a success.
  const script = [0.05, 0.01, 0.5];
  await withServer(
    { random: () => script.shift() ?? 0.99, baseDelayMs: 1 },
    async ({ base, reports, logs }) => {
      const response = await call(`${base}/flaky`);
      assert.deepEqual(
        [response.status, response.body],
        [200, { status: 'success', data: 'processed', attempts: 3 }],
      );
      assert.equal(script.length, 0);
      assert.equal(logs.filter((line) => /attempt \d failed/.test(line)).length, 2);
      assert.equal(reports.length, 0);
    },
  );

  let draws = 0;
  await withServer(
    { random: () => (draws++, 0), maxRetries: 2, baseDelayMs: 1 },
    async ({ base, reports, until }) => {
      const response = await call(`${base}/flaky`);
      assert.equal(response.status, 500);
      assert.equal(response.body.code, 'DB_ERROR');
      assert.equal(draws, 3, 'one attempt plus two retries');
      await until(() => reports.length === 1, 'the report');
      assert.equal(reports[0]!.message, 'Database connection failed: Connection timeout');
    },
  );
});

test('a failing monitoring sink is logged and never breaks the answer or the server', async () => {
  await withServer(
    {
      monitoring: () => Promise.reject(new Error('sentry unreachable')),
    },
    async ({ base, logs, until }) => {
      const response = await call(`${base}/errors/database`);
      assert.equal(response.status, 500);
      assert.equal(response.body.code, 'DB_ERROR');
      await until(
        () =>
          logs.some((line) => line.includes('monitoring sink failed: Error: sentry unreachable')),
        'the sink failure log',
      );
      // Liveness after every failure above.
      assert.equal((await call(`${base}/limited`)).status, 200);
      assert.equal((await fetch(`${base}/no-such-route`)).status, 404);
    },
  );
});
