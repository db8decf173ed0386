import { randomUUID } from 'node:crypto';
import type { BroadcastAdapter } from './adapter.js';

/**
 * The bridge between one broadcast and its adapter: wraps each message in a JSON envelope
 * `{"o": origin, "m": message}`, drops envelopes carrying our own origin (the adapter may echo
 * them, and they were already delivered locally), and keeps adapter failures away from callers.
 *
 * Internal: not re-exported from the package.
 */
export class Relay {
  /** Unique per broadcast instance, so two broadcasts in one process still hear each other. */
  readonly origin: string;
  readonly #adapter: BroadcastAdapter;
  readonly #onError: ((error: unknown, channel: string) => void) | undefined;
  #warned = false;
  #closing: Promise<void> | undefined;

  constructor(
    adapter: BroadcastAdapter,
    onError: ((error: unknown, channel: string) => void) | undefined,
  ) {
    this.#adapter = adapter;
    this.#onError = onError;
    const label = adapter.origin;
    this.origin = label === undefined || label === '' ? randomUUID() : `${label}:${randomUUID()}`;
  }

  /** Encodes and publishes `message`; never throws. */
  publish(channel: string, message: unknown): void {
    if (this.#closing !== undefined) return;
    let payload: string;
    try {
      // Build the envelope by hand: the origin is already a safe JSON string, and this avoids
      // an intermediate object per message. stringify throws on BigInt and cycles.
      const encoded: string | undefined = JSON.stringify(message);
      if (encoded === undefined) {
        throw new TypeError(`broadcast message of type ${typeof message} cannot be sent as JSON`);
      }
      payload = `{"o":${JSON.stringify(this.origin)},"m":${encoded}}`;
      this.#adapter.publish(channel, payload);
    } catch (error) {
      this.#report(error, channel);
    }
  }

  /** Calls `deliver` with each message published on `channel` by another broadcast. */
  subscribe(channel: string, deliver: (message: unknown) => void): void {
    if (this.#closing !== undefined) return;
    try {
      this.#adapter.subscribe(channel, (payload) => {
        let envelope: unknown;
        try {
          envelope = JSON.parse(payload);
        } catch (error) {
          this.#report(error, channel);
          return;
        }
        if (!isEnvelope(envelope)) {
          this.#report(new TypeError('broadcast payload is not a {"o","m"} envelope'), channel);
          return;
        }
        if (envelope.o === this.origin) return;
        deliver(envelope.m);
      });
    } catch (error) {
      this.#report(error, channel);
    }
  }

  /** Stops remote delivery on `channel`; never throws. */
  unsubscribe(channel: string): void {
    if (this.#closing !== undefined) return;
    try {
      this.#adapter.unsubscribe(channel);
    } catch (error) {
      this.#report(error, channel);
    }
  }

  /** Closes the adapter once; later calls share the first call's promise. */
  close(): Promise<void> {
    // A synchronous throw from close() becomes a rejection, like every other close failure.
    this.#closing ??= Promise.resolve().then(() => this.#adapter.close());
    return this.#closing;
  }

  #report(error: unknown, channel: string): void {
    if (this.#onError !== undefined) {
      try {
        this.#onError(error, channel);
      } catch {
        // The reporter is the caller's code; a failure there must not break send() either.
      }
      return;
    }
    if (this.#warned) return;
    // Warn once: an adapter that fails usually fails on every message, and a warning per send
    // would flood the log. Pass onAdapterError to see every failure.
    this.#warned = true;
    const reason = error instanceof Error ? error.message : String(error);
    process.emitWarning(`broadcast adapter failure on channel "${channel}": ${reason}`, {
      code: 'HL_BROADCAST_ADAPTER',
    });
  }
}

function isEnvelope(value: unknown): value is { o: string; m: unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { o?: unknown }).o === 'string' &&
    'm' in value
  );
}
