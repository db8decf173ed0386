import { resolveBroadcastOptions, type BroadcastOptions } from './options.js';
import { Relay } from './relay.js';
import { Hub, type Subscription } from './subscription.js';

/**
 * A one-to-many channel: every `send()` reaches every current subscription, in order.
 *
 * ```ts
 * const hub = new Broadcast<string>();
 * const sub = hub.subscribe();
 * hub.send('hello');             // → 1 receiver
 * for await (const msg of sub) { … }
 * ```
 *
 * The sender never waits: a receiver more than `capacity` messages behind loses the oldest ones
 * (see `Subscription.lagged`), and all receivers share one ring of `capacity` messages, so memory
 * stays bounded however many subscribe. With an `adapter`, messages also travel to and from
 * broadcasts in other processes on the same `channel`.
 */
export class Broadcast<T> {
  readonly #hub: Hub<T>;
  readonly #relay: Relay | undefined;
  readonly #channel: string;
  #closing: Promise<void> | undefined;

  /** @param options - capacity (default 1024), adapter, channel (default `'hyperlane:broadcast'`) */
  constructor(options: BroadcastOptions = {}) {
    const resolved = resolveBroadcastOptions(options);
    this.#hub = new Hub<T>(resolved.capacity);
    this.#channel = resolved.channel;
    if (resolved.adapter !== undefined) {
      this.#relay = new Relay(resolved.adapter, resolved.onAdapterError);
      // Remote messages are delivered like local ones but not published again. The payload is
      // trusted to be a T: every broadcast on the channel is expected to carry the same type.
      this.#relay.subscribe(this.#channel, (message) => this.#hub.send(message as T));
    }
  }

  /** A new receiver of the messages sent from now on. After `close()` it is already ended. */
  subscribe(): Subscription<T> {
    return this.#hub.subscribe();
  }

  /**
   * Delivers `message` to every local receiver and publishes it through the adapter, if any.
   * Synchronous; never blocks and never throws because of the adapter. Returns the number of
   * local receivers (0 after `close()`). Do not send `undefined`: `recv()` uses it for "closed".
   */
  send(message: T): number {
    if (this.#closing !== undefined) return 0;
    const receivers = this.#hub.send(message);
    this.#relay?.publish(this.#channel, message);
    return receivers;
  }

  /** Local receivers subscribed right now. */
  receiverCount(): number {
    return this.#hub.receiverCount;
  }

  /** Messages a receiver may fall behind before losing the oldest. */
  get capacity(): number {
    return this.#hub.capacity;
  }

  /** Adapter-level identity of this broadcast (present only with an adapter). */
  get origin(): string | undefined {
    return this.#relay?.origin;
  }

  /** `true` once `close()` has been called. */
  get isClosed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Ends every subscription at once (iterations finish, `recv()` resolves `undefined`, buffered
   * messages are dropped) and closes the adapter. Idempotent; resolves when the adapter is closed.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#hub.close();
      this.#closing = this.#relay?.close() ?? Promise.resolve();
    }
    return this.#closing;
  }
}
