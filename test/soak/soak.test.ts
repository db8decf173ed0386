/**
 * The CI slice of the soak (issue 8): 60 seconds of mixed traffic — keep-alive GETs,
 * pipelining, POST bodies, WebSocket churn, SSE clients coming and going — against one server
 * in a child process. `npm run soak` runs the same engine for 10 minutes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSoak, summarize } from './soak.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);

test(
  `a ${SECONDS}-second soak: no failed request, flat RSS and fds, no leaked connection`,
  { timeout: (SECONDS + 120) * 1000 },
  async (t) => {
    const report = await runSoak({ durationMs: SECONDS * 1000 });
    const summary = summarize(report);
    for (const line of summary.split('\n')) t.diagnostic(line);

    assert.ok(report.totalOperations > 0, 'traffic got through');
    for (const kind of ['get', 'pipeline', 'post', 'agent', 'ws', 'sse'] as const)
      assert.ok(report.operations[kind] > 0, `some ${kind} traffic completed`);
    assert.equal(report.failures, 0, `every request answered correctly:\n${summary}`);
    assert.equal(report.end.connections, 0, 'no connection left once the clients are gone');
    assert.equal(report.end.webSockets, 0, 'no WebSocket left once the clients are gone');
    assert.equal(report.end.contextsOpen, 0, 'every Context finished');
    assert.deepEqual(report.exit, { code: 0, signal: null }, 'the server process exits 0');
    assert.deepEqual(report.problems, [], summary);
  },
);
