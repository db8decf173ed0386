/**
 * The WebSocket chat: every client that joins is announced to all, each message is sanitized
 * (HTML-escaped, capped at 1,000 characters) and broadcast to everyone connected.
 * Run: `node .build/examples/chat.js`, then connect to ws://localhost:60002/chat?user=alice.
 */
import { randomUUID } from 'node:crypto';
import { Broadcast, Server, type Context } from '../src/index.js';
import { checkPrefix, joinPath, type MountOptions } from './mount.js';

/** Kinds of chat message. */
export type MessageType = 'Text' | 'Image' | 'File' | 'System';

/** One chat message as it travels to every client. */
export interface ChatMessage {
  id: string;
  user_id: string;
  username: string;
  content: string;
  timestamp: number;
  message_type: MessageType;
}

/** Longest message content, in characters, after sanitizing. */
export const MAX_CONTENT_LENGTH = 1000;
const MESSAGE_TYPES: ReadonlySet<string> = new Set(['Text', 'Image', 'File']);

/** HTML-escapes `content` and caps it at {@link MAX_CONTENT_LENGTH} characters. */
export function sanitizeMessageContent(content: string): string {
  const escaped = content.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return Array.from(escaped).slice(0, MAX_CONTENT_LENGTH).join('');
}

function userIdOf(ctx: Context): string {
  const given = ctx.getRequestHeader('x-user-id') ?? ctx.getRequestQuery('user');
  if (given !== undefined && /^[\w.-]{1,64}$/.test(given)) return given;
  return `anonymous_${Math.floor(Math.random() * 1e8)}`;
}

/** Parses a client's message; anything that is not `{ username?, content, message_type? }` is dropped. */
function parseIncoming(text: string, userId: string): ChatMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { username, content, message_type: type } = value as Record<string, unknown>;
  if (typeof content !== 'string' || content.length === 0) return undefined;
  return {
    id: randomUUID(),
    user_id: userId,
    username: typeof username === 'string' ? sanitizeMessageContent(username).slice(0, 64) : userId,
    content: sanitizeMessageContent(content),
    timestamp: Math.floor(Date.now() / 1000),
    message_type:
      typeof type === 'string' && MESSAGE_TYPES.has(type) ? (type as MessageType) : 'Text',
  };
}

/** Options for {@link mountChat}. */
export interface ChatMountOptions extends MountOptions {
  /** The hub all connections share; a fresh one (capacity 256) by default. */
  chat?: Broadcast<ChatMessage>;
}

/** Builds the chat server; `chat` is the hub all connections share. */
export function createChatServer(
  options: { host?: string; port?: number } & ChatMountOptions = {},
): Server {
  const server = new Server({ host: options.host ?? '0.0.0.0', port: options.port ?? 60002 });
  return mountChat(server, options);
}

/** Mounts the WebSocket chat at `{prefix}/chat`; it adds no middleware or hooks. */
export function mountChat(server: Server, options: ChatMountOptions = {}): Server {
  const path = joinPath(checkPrefix(options.prefix), '/chat');
  const chat = options.chat ?? new Broadcast<ChatMessage>({ capacity: 256 });

  server.get(path, async (ctx) => {
    const userId = userIdOf(ctx);
    const receiver = chat.subscribe();
    // Forward everything broadcast to this client while we read what it sends.
    const forwarding = (async () => {
      for await (const message of receiver) {
        await ctx.setResponseBody(JSON.stringify(message)).sendBody();
      }
    })().catch(() => receiver.close());
    chat.send({
      id: randomUUID(),
      user_id: 'system',
      username: 'System',
      content: `User ${userId} joined the chat`,
      timestamp: Math.floor(Date.now() / 1000),
      message_type: 'System',
    });
    for await (const incoming of ctx.wsMessages()) {
      const message = parseIncoming(incoming.text(), userId);
      if (message !== undefined) chat.send(message);
    }
    receiver.close();
    await forwarding;
  });
  // The handler above runs once per connection and reads messages itself.
  server.disableWsHook(path);
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const running = await createChatServer({ port: Number(process.env.PORT ?? 60002) }).run();
  console.log(`chat on ws://${running.host}:${running.port}/chat`);
}
