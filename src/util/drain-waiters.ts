/** A settled promise shared by every send that needs no waiting; one per send would be garbage. */
export const RESOLVED: Promise<void> = Promise.resolve();

/** Does nothing: for listeners and callbacks whose outcome is handled elsewhere. */
export function noop(): void {}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Writers waiting for a socket to drain. One per connection, made when a writer first has to
 * wait: settled all at once on `'drain'`, or rejected when the peer goes away.
 */
export class DrainWaiters {
  private waiters: Waiter[] = [];

  /** A promise that settles at the next `resolveAll()` or `rejectAll()`. */
  wait(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
    });
  }

  /** The socket drained: every waiter may write again. */
  resolveAll(): void {
    const waiters = this.waiters;
    if (waiters.length === 0) return;
    this.waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /** Whether a writer is waiting. */
  get pending(): boolean {
    return this.waiters.length > 0;
  }

  /** The peer is gone: every waiter learns it. */
  rejectAll(error: Error): void {
    const waiters = this.waiters;
    if (waiters.length === 0) return;
    this.waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }
}
