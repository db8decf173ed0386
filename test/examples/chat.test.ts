import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { createChatServer, MAX_CONTENT_LENGTH, type ChatMessage } from '../../examples/chat.js';

/** A chat client that records every message it receives. */
function connect(port: number, user: string): Promise<{ socket: WebSocket; inbox: ChatMessage[] }> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/chat?user=${user}`);
  const inbox: ChatMessage[] = [];
  socket.on('message', (data) => inbox.push(JSON.parse(String(data)) as ChatMessage));
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket, inbox }));
    socket.once('error', reject);
  });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('joins are announced, messages are sanitized, capped and broadcast to everyone', async () => {
  const running = await createChatServer({ host: '127.0.0.1', port: 0 }).run();
  try {
    const alice = await connect(running.port, 'alice');
    await until(() => alice.inbox.length === 1, 'alice join');
    assert.equal(alice.inbox[0]!.message_type, 'System');
    assert.equal(alice.inbox[0]!.content, 'User alice joined the chat');

    const bob = await connect(running.port, 'bob');
    await until(() => alice.inbox.length === 2 && bob.inbox.length === 1, 'bob join');
    assert.equal(alice.inbox[1]!.content, 'User bob joined the chat');

    alice.socket.send('not json');
    alice.socket.send(JSON.stringify({ username: 'Alice', content: '<b>hi</b> & bye' }));
    bob.socket.send(JSON.stringify({ content: 'x'.repeat(5000), message_type: 'Text' }));
    await until(() => alice.inbox.length === 4 && bob.inbox.length === 3, 'two chat messages');

    for (const inbox of [alice.inbox.slice(2), bob.inbox.slice(1)]) {
      const [fromAlice, fromBob] = inbox;
      assert.equal(fromAlice!.content, '&lt;b&gt;hi&lt;/b&gt; &amp; bye');
      assert.equal(fromAlice!.user_id, 'alice');
      assert.equal(fromAlice!.username, 'Alice');
      assert.equal(fromBob!.content.length, MAX_CONTENT_LENGTH);
      assert.equal(fromBob!.user_id, 'bob');
    }
    alice.socket.close();
    bob.socket.close();
  } finally {
    await running.close({ timeout: 2000 });
  }
});

test('fifty clients all receive each other’s messages in order', async () => {
  const running = await createChatServer({ host: '127.0.0.1', port: 0 }).run();
  try {
    const clients = await Promise.all(
      Array.from({ length: 50 }, (_, i) => connect(running.port, `u${i}`)),
    );
    await until(
      () => clients.every((client) => client.inbox.length >= 50 - clients.indexOf(client)),
      'joins',
    );
    const before = clients.map((client) => client.inbox.length);
    for (let n = 0; n < 20; n++) clients[0]!.socket.send(JSON.stringify({ content: `m${n}` }));
    await until(
      () => clients.every((client, i) => client.inbox.length === before[i]! + 20),
      'messages',
    );
    for (const [i, client] of clients.entries()) {
      const contents = client.inbox.slice(before[i]).map((message) => message.content);
      assert.deepEqual(
        contents,
        Array.from({ length: 20 }, (_, n) => `m${n}`),
      );
    }
    for (const client of clients) client.socket.close();
  } finally {
    await running.close({ timeout: 2000 });
  }
});
