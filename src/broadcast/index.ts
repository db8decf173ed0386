/** Broadcast hub: one-to-many channels with bounded memory, optionally spanning processes. */
export { Broadcast } from './broadcast.js';
export { BroadcastMap } from './broadcast-map.js';
export type { Subscription } from './subscription.js';
export { MemoryBus, memoryAdapter, type BroadcastAdapter } from './adapter.js';
export {
  DEFAULT_BROADCAST_CAPACITY,
  DEFAULT_BROADCAST_CHANNEL,
  type BroadcastOptions,
} from './options.js';
