import { resolveBroadcastOptions, type BroadcastOptions } from './options.js';
import { Relay } from './relay.js';
import { Hub, closedSubscription, type Subscription } from './subscription.js';

/**
 * A `Broadcast` per key (a chat room, a user id, a topic), created on the first `subscribe(key)`
 * and removed when its last subscription closes, so keys that come and go leave nothing behind.
 * Each key has its own ring of `capacity` messages. With an adapter, key `k` travels on channel
 * `<channel>:<k>`, subscribed while the key has local receivers.
 */
export class BroadcastMap<T> {
  readonly #hubs = new Map<string, Hub<T>>();
  readonly #capacity: number;
  readonly #relay: Relay | undefined;
  readonly #channel: string;
  #closing: Promise<void> | undefined;

  /** @param options - capacity per key (default 1024), adapter, channel prefix */
  constructor(options: BroadcastOptions = {}) {
    const resolved = resolveBroadcastOptions(options);
    this.#capacity = resolved.capacity;
    this.#channel = resolved.channel;
    if (resolved.adapter !== undefined) {
      this.#relay = new Relay(resolved.adapter, resolved.onAdapterError);
    }
  }

  /** A new receiver of the messages sent to `key` from now on. After `close()` it is already ended. */
  subscribe(key: string): Subscription<T> {
    if (this.#closing !== undefined) return closedSubscription<T>();
    let hub = this.#hubs.get(key);
    if (hub === undefined) {
      const created = new Hub<T>(this.#capacity, () => this.#drop(key, created));
      hub = created;
      this.#hubs.set(key, hub);
      this.#relay?.subscribe(this.#channelOf(key), (message) => created.send(message as T));
    }
    return hub.subscribe();
  }

  /**
   * Delivers `message` to the local receivers of `key` and publishes it on the key's channel.
   * Synchronous; never blocks, never throws because of the adapter. Returns the number of local
   * receivers of `key` (0 for a key nobody here listens to, or after `close()`).
   */
  send(key: string, message: T): number {
    if (this.#closing !== undefined) return 0;
    const receivers = this.#hubs.get(key)?.send(message) ?? 0;
    this.#relay?.publish(this.#channelOf(key), message);
    return receivers;
  }

  /** Local receivers of `key` right now. */
  receiverCount(key: string): number {
    return this.#hubs.get(key)?.receiverCount ?? 0;
  }

  /** Keys with at least one local receiver (a snapshot). */
  keys(): string[] {
    return [...this.#hubs.keys()];
  }

  /** `true` if `key` has at least one local receiver. */
  has(key: string): boolean {
    return this.#hubs.has(key);
  }

  /** `true` once `close()` has been called. */
  get isClosed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Ends every subscription of every key, forgets the keys and closes the adapter. Idempotent;
   * resolves when the adapter is closed.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      // Keys are not unsubscribed one by one: closing the adapter ends them all.
      this.#closing = this.#relay?.close() ?? Promise.resolve();
      for (const hub of this.#hubs.values()) hub.close();
      this.#hubs.clear();
    }
    return this.#closing;
  }

  #drop(key: string, hub: Hub<T>): void {
    // Guard against a stale hub: the key may already belong to a newer one.
    if (this.#closing !== undefined || this.#hubs.get(key) !== hub) return;
    this.#hubs.delete(key);
    this.#relay?.unsubscribe(this.#channelOf(key));
  }

  #channelOf(key: string): string {
    return `${this.#channel}:${key}`;
  }
}
