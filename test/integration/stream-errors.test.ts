/** A stream cut short by an error must not look complete to the client. */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { Server, TEXT_EVENT_STREAM } from '../../src/index.js';

function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.write(request);
  });
}

test('an error thrown after a stream started drops the connection without the final chunk', async () => {
  const server = new Server({ host: '127.0.0.1', port: 0 });
  const seen: unknown[] = [];
  server.errorHook((_ctx, error) => {
    seen.push(error);
  });
  server.get('/stream', async (ctx) => {
    ctx.setResponseHeader('content-type', TEXT_EVENT_STREAM);
    await ctx.send();
    await ctx.setResponseBody('data: one\n\n').sendBody();
    throw new Error('database went away');
  });
  server.get('/ok', (ctx) => {
    ctx.setResponseBody('still serving');
  });
  const running = await server.run();
  try {
    const text = await rawExchange(running.port, 'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /transfer-encoding: chunked\r\n/);
    assert.ok(text.includes('data: one'), 'the first event arrived');
    assert.ok(
      !text.endsWith('0\r\n\r\n'),
      'no terminating chunk: the client can tell it was cut short',
    );
    assert.equal(seen.length, 1);
    const live = await fetch(`http://127.0.0.1:${running.port}/ok`);
    assert.equal(await live.text(), 'still serving');
  } finally {
    await running.close({ timeout: 1000 });
  }
});
