/** ctx.wsMessages(): one reader per connection. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { serve } from '../helpers/serve.js';

test(
  'a second concurrent wsMessages() reader is refused; the first keeps receiving',
  { timeout: 5000 },
  async (t) => {
    const outcome: { secondError?: string; received: string[] } = { received: [] };
    const { url } = await serve(t, (server) => {
      server.get('/loop', async (ctx) => {
        const first = ctx.wsMessages()[Symbol.asyncIterator]();
        const pendingFirst = first.next();
        try {
          await ctx.wsMessages()[Symbol.asyncIterator]().next();
        } catch (error) {
          outcome.secondError = (error as Error).message;
        }
        const message = await pendingFirst;
        if (!message.done) outcome.received.push(message.value.text());
        await ctx.setResponseBody(`got ${outcome.received.join(',')}`).sendBody();
      });
      server.disableWsHook('/loop');
    });
    const socket = new WebSocket(url('/loop'));
    const reply = await new Promise<string>((resolve, reject) => {
      socket.on('open', () => setTimeout(() => socket.send('hello'), 50));
      socket.on('message', (data) => resolve(String(data)));
      socket.on('error', reject);
    });
    socket.close();
    assert.equal(reply, 'got hello');
    assert.match(outcome.secondError ?? '', /already being read/);
  },
);
