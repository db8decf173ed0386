/**
 * Carries serialized broadcast messages between processes or machines (Redis pub/sub, say).
 * One adapter serves one `Broadcast` or `BroadcastMap`, which closes it when it closes.
 *
 * The broadcast does the rest: it delivers locally itself, tags each payload with its own
 * origin id and drops payloads carrying that id, so an adapter may (like Redis does) echo a
 * publisher's own messages back to it. An adapter must deliver the payloads of one publisher on
 * one channel in the order they were published.
 */
export interface BroadcastAdapter {
  /** Sends `payload` to every subscriber of `channel`; fire-and-forget, must not throw. */
  publish(channel: string, payload: string): void;
  /** Starts calling `onMessage` for each payload published on `channel` (one handler per channel). */
  subscribe(channel: string, onMessage: (payload: string) => void): void;
  /** Stops delivery for `channel`. */
  unsubscribe(channel: string): void;
  /** Releases the adapter's connections; the adapter is unusable afterwards. */
  close(): Promise<void>;
  /** Optional label (e.g. `host:pid`) prefixed to the broadcast's origin id, for tracing. */
  readonly origin?: string;
}

/**
 * An in-process message bus standing in for Redis: every adapter made by {@link MemoryBus.adapter}
 * sees the messages the others publish, asynchronously and in order, as separate processes
 * would. Useful for tests and for several broadcasts in one process that should share traffic.
 */
export class MemoryBus {
  readonly #channels = new Map<string, Set<MemoryAdapter>>();

  /** A new endpoint on this bus (one per `Broadcast` / `BroadcastMap`, like one connection). */
  adapter(options: { origin?: string } = {}): BroadcastAdapter {
    return new MemoryAdapter(this, options.origin);
  }

  /** How many endpoints are subscribed to `channel` right now. */
  subscriberCount(channel: string): number {
    return this.#channels.get(channel)?.size ?? 0;
  }

  /** Channels with at least one subscribed endpoint. */
  channels(): string[] {
    return [...this.#channels.keys()];
  }

  /** @internal */
  publish(channel: string, payload: string): void {
    const endpoints = this.#channels.get(channel);
    if (endpoints === undefined) return;
    // Who receives is fixed at publish time, like a broker; delivery is a later microtask, like a
    // network hop, and microtasks run in order, which keeps each publisher's order.
    // The handler is captured too, so a subscription made after this publish (even on the same
    // endpoint, after an unsubscribe) does not receive it.
    const targets = [...endpoints].map((endpoint) => endpoint.subscription(channel));
    queueMicrotask(() => {
      for (const target of targets) {
        try {
          target?.deliver(payload);
        } catch (error) {
          // One failing subscriber must not starve the others; surface the failure on its own.
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    });
  }

  /** @internal */
  join(channel: string, endpoint: MemoryAdapter): void {
    let endpoints = this.#channels.get(channel);
    if (endpoints === undefined) this.#channels.set(channel, (endpoints = new Set()));
    endpoints.add(endpoint);
  }

  /** @internal */
  leave(channel: string, endpoint: MemoryAdapter): void {
    const endpoints = this.#channels.get(channel);
    if (endpoints === undefined) return;
    endpoints.delete(endpoint);
    // Drop empty channels so churn of keys does not grow the bus.
    if (endpoints.size === 0) this.#channels.delete(channel);
  }
}

/** One `subscribe()` of an endpoint; ended subscriptions drop payloads still in flight. */
class ChannelSubscription {
  #onMessage: ((payload: string) => void) | null;

  constructor(onMessage: (payload: string) => void) {
    this.#onMessage = onMessage;
  }

  deliver(payload: string): void {
    this.#onMessage?.(payload);
  }

  end(): void {
    this.#onMessage = null;
  }
}

/** One endpoint of a {@link MemoryBus}. */
class MemoryAdapter implements BroadcastAdapter {
  readonly origin: string | undefined;
  readonly #bus: MemoryBus;
  readonly #handlers = new Map<string, ChannelSubscription>();
  #closed = false;

  constructor(bus: MemoryBus, origin: string | undefined) {
    this.#bus = bus;
    this.origin = origin;
  }

  publish(channel: string, payload: string): void {
    if (!this.#closed) this.#bus.publish(channel, payload);
  }

  subscribe(channel: string, onMessage: (payload: string) => void): void {
    if (this.#closed) return;
    this.#handlers.get(channel)?.end();
    this.#handlers.set(channel, new ChannelSubscription(onMessage));
    this.#bus.join(channel, this);
  }

  unsubscribe(channel: string): void {
    const subscription = this.#handlers.get(channel);
    if (subscription === undefined) return;
    subscription.end();
    this.#handlers.delete(channel);
    this.#bus.leave(channel, this);
  }

  close(): Promise<void> {
    this.#closed = true;
    for (const [channel, subscription] of this.#handlers) {
      subscription.end();
      this.#bus.leave(channel, this);
    }
    this.#handlers.clear();
    return Promise.resolve();
  }

  /** @internal The live subscription to `channel`, captured by the bus when publishing. */
  subscription(channel: string): ChannelSubscription | undefined {
    return this.#handlers.get(channel);
  }
}

/** An adapter on `bus`; shorthand for `bus.adapter()`. */
export function memoryAdapter(bus: MemoryBus, options: { origin?: string } = {}): BroadcastAdapter {
  return bus.adapter(options);
}
