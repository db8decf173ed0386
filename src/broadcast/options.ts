import { HyperlaneError } from '../error/hyperlane-error.js';
import type { BroadcastAdapter } from './adapter.js';

/** Default ring size per channel: how far a receiver may fall behind before losing messages. */
export const DEFAULT_BROADCAST_CAPACITY = 1024;

/** Default adapter channel of a `Broadcast`; a `BroadcastMap` key uses `<channel>:<key>`. */
export const DEFAULT_BROADCAST_CHANNEL = 'hyperlane:broadcast';

/** Options of `new Broadcast()` and `new BroadcastMap()`. */
export interface BroadcastOptions {
  /** Messages a receiver may fall behind before it loses the oldest (default 1024). */
  capacity?: number;
  /** Carries messages to and from other processes; closed by the broadcast's `close()`. */
  adapter?: BroadcastAdapter;
  /** Adapter channel (default `'hyperlane:broadcast'`); a `BroadcastMap` key uses `<channel>:<key>`. */
  channel?: string;
  /**
   * Told about adapter trouble: `publish`/`subscribe` throwing, a message JSON cannot encode, an
   * incoming payload that is not ours to decode. `send()` never throws for these; local delivery
   * goes on. Default: one process warning per broadcast, then silence.
   */
  onAdapterError?: (error: unknown, channel: string) => void;
}

/** Options with defaults applied and values checked. */
export interface ResolvedBroadcastOptions {
  readonly capacity: number;
  readonly adapter: BroadcastAdapter | undefined;
  readonly channel: string;
  readonly onAdapterError: ((error: unknown, channel: string) => void) | undefined;
}

/** Applies defaults and rejects values that cannot work, naming them. */
export function resolveBroadcastOptions(options: BroadcastOptions): ResolvedBroadcastOptions {
  const capacity = options.capacity ?? DEFAULT_BROADCAST_CAPACITY;
  if (!Number.isSafeInteger(capacity) || capacity < 1) {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `Broadcast capacity must be a positive integer, got ${String(capacity)}`,
    );
  }
  const channel = options.channel ?? DEFAULT_BROADCAST_CHANNEL;
  if (typeof channel !== 'string' || channel === '') {
    throw new HyperlaneError(
      'HL_ERR_CONFIG',
      `Broadcast channel must be a non-empty string, got ${JSON.stringify(channel)}`,
    );
  }
  return {
    capacity,
    adapter: options.adapter,
    channel,
    onAdapterError: options.onAdapterError,
  };
}
