/**
 * A real-socket slice of the parser fuzz campaign: SOCKET_FUZZ_CASES (default 2,000) cases of
 * ./generators.ts (server limits) sent over raw `node:net` to a hyperlane echo server on port 0.
 *
 * Each input is sent whole and split at seeded random points, then the client half-closes (so
 * an input that is only a prefix is answered too). Every exchange must end in well-framed
 * responses (assertWellFramed) and a close, and must be exactly what the parser predicts for
 * the same bytes (./harness.ts `feed`): one 200 echo per request handed over, with its method,
 * target, headers and body; nothing after a request that asked to close; then the refusal's
 * status, or 400 for a request cut short by the half-close. A liveness request every 250 cases
 * and at the end checks the server still serves.
 *
 * The same inputs go through the differential against node:http (./oracle.ts, the rules of
 * differential.test.ts): acceptance and parsed fields must agree unless a listed rule excuses it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_CONFIG } from '../../src/index.js';
import {
  RawConnection,
  assertServing,
  assertWellFramed,
  finalResponses,
  showBytes,
  type SendMode,
} from '../helpers/raw-client.js';
import { DEFAULT_LIMITS, generateCase, type FuzzCase } from './generators.js';
import { FuzzFailure, describeOutcome, feed, type Outcome } from './harness.js';
import {
  compare,
  confirmAlone,
  describeSide,
  kindAt,
  pool,
  report,
  run,
  startHyperlane,
  startNodeOracle,
  type Echo,
  type EchoServer,
} from './oracle.js';
import { isExplainedByOpenBug, isKnownOpen } from './regressions.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 0x5eed2025) ^ 0x50c4e7;
const CASES = Number(process.env['SOCKET_FUZZ_CASES'] ?? 2000);
const CONCURRENCY = Number(process.env['FUZZ_CONCURRENCY'] ?? 16);
const LIVENESS_EVERY = 250;

// The echo server runs with the default config: the cases must be generated for its limits.
assert.equal(DEFAULT_LIMITS.maxHeadSize, DEFAULT_CONFIG.httpBufferSize);
assert.equal(DEFAULT_LIMITS.maxBodySize, DEFAULT_CONFIG.bodyLimit);

interface Expected {
  status: number;
  echo?: Echo;
}

/** Join repeated header lines as the echo app's getRequestHeaders() does. */
function joinHeaders(names: readonly string[], values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  names.forEach((name, i) => {
    const v = values[i]!;
    out[name] = name in out ? `${out[name]}${name === 'cookie' ? '; ' : ', '}${v}` : v;
  });
  return out;
}

/** The final responses the server must send for bytes the parser reads as `model`. */
function expectedResponses(model: Outcome): Expected[] {
  const out: Expected[] = [];
  for (const r of model.requests) {
    out.push({
      status: 200,
      echo: {
        method: r.method,
        url: r.target,
        headers: joinHeaders(r.headerNames, r.headerValues),
        body: Buffer.from(r.body, 'latin1').toString('base64'),
      },
    });
    // The request asked to close: nothing after it is read.
    if (!r.keepAlive) return out;
  }
  if (model.end.kind === 'error') out.push({ status: model.end.status });
  else if (model.end.midRequest) out.push({ status: 400 });
  return out;
}

/** Send `input` in `mode`, half-close, and check the exchange against the parser's model. */
async function checkExchange(
  port: number,
  c: FuzzCase,
  model: Outcome,
  mode: SendMode,
): Promise<string | undefined> {
  const conn = await RawConnection.connect(port);
  try {
    await conn.write(c.input, { mode, seed: c.splitSeed });
    if (conn.writable) conn.socket.end();
    const closed = await conn.waitClosed(5000);
    const heads = model.requests.map((r) => r.method === 'HEAD');
    const parsed = conn.parse({ isHead: (i) => heads[i] ?? false });
    const where = `${mode}: ${showBytes(conn.received, 600)}`;
    if (!closed) return `no close within 5 s (${where})`;
    if (parsed.error) return `malformed response: ${parsed.error} (${where})`;
    if (parsed.rest.length > 0) return `bytes after the last response (${where})`;
    const finals = finalResponses(parsed.responses);
    const want = expectedResponses(model);
    for (const res of finals) {
      try {
        assertWellFramed(res, mode);
      } catch (error) {
        return (error as Error).message;
      }
    }
    const got = finals.map((r) => r.status);
    const statuses = want.map((w) => w.status);
    if (got.join() !== statuses.join())
      return `statuses [${got.join(', ')}], the parser predicts [${statuses.join(', ')}] (${where})`;
    for (let i = 0; i < want.length; i++) {
      const echo = want[i]!.echo;
      // A HEAD response has no body to echo in; its status and framing were checked above.
      if (!echo || heads[i]) continue;
      let actual: Echo;
      try {
        actual = finals[i]!.json<Echo>();
      } catch {
        return `response #${i} is not the JSON echo (${where})`;
      }
      try {
        assert.deepEqual({ ...actual, headers: { ...actual.headers } }, echo);
      } catch {
        return `response #${i}: app saw ${JSON.stringify(actual)}, the parser predicts ${JSON.stringify(echo)}`;
      }
    }
    return undefined;
  } finally {
    conn.destroy();
  }
}

describe(
  `socket fuzz: ${CASES} generated requests over raw sockets (seed ${SEED})`,
  { timeout: 300_000 },
  () => {
    let oracle: EchoServer;
    let hyper: EchoServer;
    const cases: FuzzCase[] = [];
    const models = new Map<number, Outcome>();
    let knownOpen = 0;

    before(async () => {
      [oracle, hyper] = await Promise.all([startNodeOracle(), startHyperlane()]);
      for (let i = 0; i < CASES; i++) {
        const c = generateCase(SEED, i, { limits: DEFAULT_LIMITS });
        try {
          models.set(i, feed([c.input], DEFAULT_LIMITS));
          cases.push(c);
        } catch (error) {
          // A parser finding: parser-fuzz.test.ts reports it; known open bugs are left out here.
          if (
            error instanceof FuzzFailure &&
            isKnownOpen({ kind: error.kind, detail: error.message })
          ) {
            knownOpen++;
            continue;
          }
          throw error;
        }
      }
    });

    after(async () => {
      await Promise.all([oracle?.close(), hyper?.close()]);
    });

    test('every input, whole and split, gets well-framed responses and a close, as the parser predicts', async (t) => {
      const failures: string[] = [];
      const started = Date.now();
      let done = 0;
      await pool(cases, CONCURRENCY, async (c) => {
        const model = models.get(c.index)!;
        for (const mode of ['whole', 'random'] as const) {
          const bad = await checkExchange(hyper.port, c, model, mode);
          if (bad)
            failures.push(
              `✗ case ${c.index} [${c.steps.join(' → ')}] ${showBytes(c.input, 1000)}\n  parser: ${describeOutcome(model)}\n  ${bad}`,
            );
        }
        if (++done % LIVENESS_EVERY === 0) await assertServing(hyper.port);
      });
      await assertServing(hyper.port);
      t.diagnostic(
        `${cases.length} inputs × 2 (whole, split) in ${Date.now() - started} ms` +
          (knownOpen > 0 ? `; ${knownOpen} left out (known open parser bugs)` : ''),
      );
      assert.equal(
        failures.length,
        0,
        `${failures.length} failure(s):\n\n${failures.slice(0, 20).join('\n\n')}`,
      );
    });

    test('differential against node:http on acceptance and parsed fields (rules of ./oracle.ts)', async (t) => {
      const started = Date.now();
      const suspects: FuzzCase[] = [];
      const outcomes = new Map<string, number>();
      const excused = new Map<string, number>();
      // The oracle's exchange reads responses without knowing which answer HEAD (no body).
      const diffable = cases.filter((c) => !c.input.includes('HEAD '));
      await pool(diffable, CONCURRENCY * 2, async (c) => {
        const [node, hl] = await Promise.all([run(oracle, c.input), run(hyper, c.input)]);
        const key = `node ${kindAt(node, 0)} / hyperlane ${kindAt(hl, 0)}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        const v = await compare(c.input, node, hl, oracle);
        if (!v.ok) suspects.push(c);
        else for (const id of v.rules) excused.set(id, (excused.get(id) ?? 0) + 1);
      });
      const failures: string[] = [];
      let explained = 0;
      // A mismatch under load may be timing: confirm each one alone, with more patience.
      for (const c of suspects) {
        const { node, hl, verdict } = await confirmAlone(oracle, hyper, c.input);
        if (verdict.ok) continue;
        if (isExplainedByOpenBug(models.get(c.index)!, c.input)) {
          explained++;
          continue;
        }
        failures.push(
          report(`case ${c.index} [${c.steps.join(' → ')}]`, c.input, node, hl, verdict.reason),
        );
        t.diagnostic(
          `mismatch: ${showBytes(c.input, 300)} node ${describeSide(node).slice(0, 200)}`,
        );
      }
      await assertServing(hyper.port);
      t.diagnostic(
        `${diffable.length} inputs in ${Date.now() - started} ms (${cases.length - diffable.length} with HEAD left out)`,
      );
      for (const [k, n] of [...outcomes].sort()) t.diagnostic(`${k}: ${n}`);
      for (const [k, n] of [...excused].sort()) t.diagnostic(`excused by ${k}: ${n}`);
      if (explained > 0)
        t.diagnostic(`${explained} mismatch(es) explained by open entries of regressions.ts`);
      assert.equal(
        failures.length,
        0,
        `${failures.length} mismatch(es) not covered by a listed rule:\n\n${failures.slice(0, 25).join('\n\n')}`,
      );
    });
  },
);
