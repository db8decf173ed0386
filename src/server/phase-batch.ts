/**
 * Batching of response writes per poll phase of the event loop.
 *
 * Under load one poll phase hands the server many readable sockets in a row. Writing each
 * response the moment it is ready wakes the client's process once per response, and the
 * kernel's loopback delivery and wake-up then run in ours; the responses of one phase written
 * together at its end (in the check phase, right after it) wake it once per batch (measured
 * in docs/performance.md). Under light load a phase holds one request and the check phase
 * follows at once, so nothing waits.
 * @packageDocumentation
 */

/** Something holding writes until the end of the phase. */
export interface HeldWrites {
  /** Writes what it holds (called once per registration). */
  endOfPhase(): void;
}

const pending: HeldWrites[] = [];

function endPhase(): void {
  let served = 0;
  try {
    // Re-reading the length serves a target registered while this loop runs, too.
    while (served < pending.length) pending[served++]!.endOfPhase();
  } finally {
    if (served === pending.length) pending.length = 0;
    else {
      // A target threw: the error goes on, but the targets after it must not be stranded.
      pending.splice(0, served);
      setImmediate(endPhase);
    }
  }
}

/**
 * Calls `target.endOfPhase()` once the current poll phase of the event loop is over, with
 * every other target registered in this phase. Register once until that call.
 */
export function afterPhase(target: HeldWrites): void {
  if (pending.length === 0) setImmediate(endPhase);
  pending.push(target);
}
