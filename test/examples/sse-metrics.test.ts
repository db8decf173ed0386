import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetricsServer } from '../../examples/sse-metrics.js';

/** Reads SSE events from a fetch body until `count` have arrived. */
async function readEvents(
  body: ReadableStream<Uint8Array>,
  count: number,
): Promise<Record<string, string>[]> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  const events: Record<string, string>[] = [];
  let text = '';
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = text.indexOf('\n\n')) !== -1) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      const event: Record<string, string> = {};
      for (const line of block.split('\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) event[line.slice(0, colon)] = line.slice(colon + 1).trim();
      }
      events.push(event);
    }
  }
  await reader.cancel();
  return events;
}

test('the metrics stream sends real CPU and memory figures with increasing ids', async () => {
  const running = await createMetricsServer({ host: '127.0.0.1', port: 0, intervalMs: 50 }).run();
  try {
    const response = await fetch(`http://127.0.0.1:${running.port}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = await readEvents(response.body!, 3);
    assert.deepEqual(
      events.map((event) => event.id),
      ['1', '2', '3'],
    );
    for (const event of events) {
      assert.equal(event.event, 'metrics');
      const payload = JSON.parse(event.data!) as { metrics: Record<string, number> };
      assert.ok(
        payload.metrics.memoryTotal! > payload.metrics.memoryUsed! &&
          payload.metrics.memoryUsed! > 0,
      );
      assert.ok(payload.metrics.cpuUsage! >= 0 && payload.metrics.cpuUsage! <= 100);
      assert.ok(payload.metrics.processRss! > 1024 * 1024);
    }
  } finally {
    await running.close({ timeout: 2000 });
  }
});

test('a reconnecting client resumes after Last-Event-ID', async () => {
  const running = await createMetricsServer({ host: '127.0.0.1', port: 0, intervalMs: 20 }).run();
  try {
    const response = await fetch(`http://127.0.0.1:${running.port}/metrics`, {
      headers: { 'Last-Event-ID': '41' },
    });
    const events = await readEvents(response.body!, 2);
    assert.deepEqual(
      events.map((event) => event.id),
      ['42', '43'],
    );
  } finally {
    await running.close({ timeout: 2000 });
  }
});
