/**
 * Batching of response writes per poll phase of the event loop.
 *
 * Under load one poll phase hands the server many readable sockets in a row. Writing each
 * response the moment it is ready wakes the client's process once per response; the
 * responses of one phase written together at its end (the check phase, right after it)
 * wake it once per batch, and the kernel's loopback and wake-up work per response falls
 * (measured in docs/performance.md). Under light load a phase holds one request, and the
 * check phase follows at once, so nothing waits.
 * @packageDocumentation
 */

/** Something holding corked writes until the end of the phase. */
export interface Corked {
  uncork(): void;
}

const pending: Corked[] = [];

function uncorkPending(): void {
  // Re-reading the length lets an uncork that corks another target still be served here.
  for (let i = 0; i < pending.length; i++) pending[i]!.uncork();
  pending.length = 0;
}

/**
 * Calls `target.uncork()` once the current poll phase of the event loop is over, with every
 * other target registered in this phase. The caller corks first and registers once.
 */
export function uncorkAfterPhase(target: Corked): void {
  if (pending.length === 0) setImmediate(uncorkPending);
  pending.push(target);
}
