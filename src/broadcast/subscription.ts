import { HyperlaneError } from '../error/hyperlane-error.js';

/** What a waiting reader is handed: a message, or the end of the subscription. */
type Waiter<T> = (result: IteratorResult<T, undefined>) => void;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/** `Hub.take()` results other than a message; symbols, so any `T` (even `undefined`) is a message. */
const EMPTY: unique symbol = Symbol('broadcast.empty');
const END: unique symbol = Symbol('broadcast.end');
type Taken<T> = T | typeof EMPTY | typeof END;

/**
 * One receiver's position in a {@link Hub}. Kept apart from {@link Subscription} so the hub can
 * work on plain fields while the public object exposes only the user-facing surface.
 */
class Cursor<T> {
  /** Sequence number of the next message this receiver wants. */
  next: number;
  lagged = 0;
  closed = false;
  waiter: Waiter<T> | null = null;
  /** Index in the hub's waiting list, or -1; lets the hub drop a waiter in O(1). */
  waitIndex = -1;

  constructor(next: number) {
    this.next = next;
  }
}

/**
 * The shared ring behind one broadcast channel (a `Broadcast`, or one key of a `BroadcastMap`).
 *
 * Like tokio's broadcast channel, every message is stored once in a ring of `capacity` slots and
 * each receiver only keeps a cursor, so memory is bounded by capacity however many receivers
 * there are and however far behind they fall. Each slot also counts the receivers that still
 * have to read it, so a message is released as soon as the last of them has, instead of living
 * until the ring wraps. Receivers parked in `recv()` are handed the message directly by `send()`.
 *
 * Internal: not re-exported from the package.
 */
export class Hub<T> {
  readonly capacity: number;
  /** Sequence number the next sent message gets; the ring holds `[head - capacity, head)`. */
  #head = 0;
  // Grown by one slot per message until full, so an idle or small channel stays small.
  #values: (T | undefined)[] = [];
  #remaining: number[] = [];
  readonly #cursors = new Set<Cursor<T>>();
  readonly #waiting: Cursor<T>[] = [];
  readonly #onEmpty: (() => void) | undefined;
  #closed = false;

  /**
   * @param capacity - slots in the ring; a receiver further behind loses the oldest messages
   * @param onEmpty - called when the last receiver leaves (a `BroadcastMap` drops the key)
   */
  constructor(capacity: number, onEmpty?: () => void) {
    this.capacity = capacity;
    this.#onEmpty = onEmpty;
  }

  /** Receivers attached right now. */
  get receiverCount(): number {
    return this.#cursors.size;
  }

  /** `true` once `close()` ended every receiver. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** A new receiver that sees messages sent from now on. */
  subscribe(): Subscription<T> {
    return new Subscription(this);
  }

  /** @internal Used by the Subscription constructor. */
  attach(): Cursor<T> {
    const cursor = new Cursor<T>(this.#head);
    if (this.#closed) cursor.closed = true;
    else this.#cursors.add(cursor);
    return cursor;
  }

  /** Stores `message` for every receiver and wakes the waiting ones; returns the receiver count. */
  send(message: T): number {
    const receivers = this.#cursors.size;
    // Nobody to number messages for: skip the ring so an unheard channel costs nothing.
    if (receivers === 0) return 0;
    const seq = this.#head++;
    const slot = seq % this.capacity;
    const waiting = this.#waiting;
    const remaining = receivers - waiting.length;
    // Writing undefined when everybody is waiting still matters: it drops the message that slot
    // held a lap ago.
    this.#values[slot] = remaining > 0 ? message : undefined;
    this.#remaining[slot] = remaining;
    if (waiting.length > 0) {
      // A waiter has read everything (it would not wait otherwise), so this message is its next.
      const result: IteratorYieldResult<T> = { done: false, value: message };
      for (let i = 0; i < waiting.length; i++) {
        const cursor = waiting[i]!;
        const resolve = cursor.waiter!;
        cursor.waiter = null;
        cursor.waitIndex = -1;
        cursor.next = seq + 1;
        resolve(result);
      }
      waiting.length = 0;
    }
    return receivers;
  }

  /**
   * Messages `cursor` lost: those already skipped plus those overwritten since, so the count is
   * right even for a receiver that has stopped reading.
   */
  lagged(cursor: Cursor<T>): number {
    if (cursor.closed) return cursor.lagged;
    return cursor.lagged + Math.max(0, this.#head - this.capacity - cursor.next);
  }

  /** Messages `cursor` can still read (never more than capacity). */
  buffered(cursor: Cursor<T>): number {
    if (cursor.closed) return 0;
    return Math.min(this.#head - cursor.next, this.capacity);
  }

  /**
   * Takes the next message for `cursor` if one is buffered, first skipping (and counting) those
   * the ring has already overwritten. `EMPTY` means nothing is buffered yet, `END` that the
   * cursor is closed. No allocation, so `tryRecv()` and a busy `recv()` cost nothing extra.
   */
  take(cursor: Cursor<T>): Taken<T> {
    if (cursor.closed) return END;
    const oldest = this.#head - this.capacity;
    if (cursor.next < oldest) {
      cursor.lagged += oldest - cursor.next;
      cursor.next = oldest;
    }
    if (cursor.next === this.#head) return EMPTY;
    const slot = cursor.next++ % this.capacity;
    const value = this.#values[slot] as T;
    if (--this.#remaining[slot]! === 0) this.#values[slot] = undefined;
    return value;
  }

  /** Parks `cursor` until the next message or the end; only one waiter per cursor. */
  wait(cursor: Cursor<T>, waiter: Waiter<T>): void {
    if (cursor.waiter !== null) {
      throw new HyperlaneError(
        'HL_ERR_SERVER_STATE',
        'Subscription.recv() called while another recv() or iteration step is still pending; ' +
          'await the pending one first (a subscription has one reader)',
      );
    }
    cursor.waiter = waiter;
    cursor.waitIndex = this.#waiting.length;
    this.#waiting.push(cursor);
  }

  /** Removes one receiver, releasing its share of the buffered messages. */
  detach(cursor: Cursor<T>): void {
    if (cursor.closed) return;
    cursor.closed = true;
    this.#unwait(cursor);
    this.#cursors.delete(cursor);
    // Release the slots this receiver still held, so they do not wait for a lap of the ring.
    const start = Math.max(cursor.next, this.#head - this.capacity);
    for (let seq = start; seq < this.#head; seq++) {
      const slot = seq % this.capacity;
      if (--this.#remaining[slot]! === 0) this.#values[slot] = undefined;
    }
    if (this.#cursors.size === 0) {
      // Nothing is held for anybody now: start over small, and from sequence 0 so the ring
      // refills from slot 0 (a packed array, not a holey one).
      this.#head = 0;
      this.#values = [];
      this.#remaining = [];
      this.#onEmpty?.();
    }
  }

  /** Ends every receiver at once; buffered messages are dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const cursor of this.#cursors) {
      cursor.closed = true;
      const waiter = cursor.waiter;
      cursor.waiter = null;
      cursor.waitIndex = -1;
      waiter?.(DONE);
    }
    this.#cursors.clear();
    this.#waiting.length = 0;
    this.#values = [];
    this.#remaining = [];
  }

  #unwait(cursor: Cursor<T>): void {
    const waiter = cursor.waiter;
    if (waiter === null) return;
    // Swap-remove keeps closing many parked receivers linear instead of quadratic.
    const waiting = this.#waiting;
    const last = waiting.pop()!;
    if (last !== cursor) {
      waiting[cursor.waitIndex] = last;
      last.waitIndex = cursor.waitIndex;
    }
    cursor.waiter = null;
    cursor.waitIndex = -1;
    waiter(DONE);
  }
}

/**
 * One receiver of a `Broadcast` (or of one `BroadcastMap` key): read it with `for await`,
 * `recv()` or `tryRecv()`. It sees the messages sent after it subscribed, in order; if it falls
 * more than `capacity` behind, the oldest are dropped and counted in {@link Subscription.lagged}.
 * One reader at a time: a second `recv()` while one is pending rejects.
 */
export class Subscription<T> implements AsyncIterable<T> {
  readonly #hub: Hub<T>;
  readonly #cursor: Cursor<T>;

  /** @internal Created by `Broadcast.subscribe()` / `BroadcastMap.subscribe()`. */
  constructor(hub: Hub<T>) {
    this.#hub = hub;
    this.#cursor = hub.attach();
  }

  /** How many messages this receiver lost by falling more than `capacity` behind. */
  get lagged(): number {
    return this.#hub.lagged(this.#cursor);
  }

  /** Messages waiting to be read by this receiver right now (at most `capacity`). */
  get buffered(): number {
    return this.#hub.buffered(this.#cursor);
  }

  /** `true` once this subscription or its broadcast has been closed. */
  get isClosed(): boolean {
    return this.#cursor.closed;
  }

  /**
   * The next message; waits for one if none is buffered. Resolves `undefined` once the
   * subscription or its broadcast is closed (so do not broadcast `undefined` itself).
   */
  recv(): Promise<T | undefined> {
    const taken = this.#hub.take(this.#cursor);
    if (taken === END) return Promise.resolve(undefined);
    if (taken !== EMPTY) return Promise.resolve(taken);
    return new Promise<T | undefined>((resolve, reject) => {
      try {
        this.#hub.wait(this.#cursor, (result) => resolve(result.value));
      } catch (error) {
        reject(error);
      }
    });
  }

  /** The next buffered message without waiting, or `undefined` if there is none (or closed). */
  tryRecv(): T | undefined {
    const taken = this.#hub.take(this.#cursor);
    return taken === EMPTY || taken === END ? undefined : taken;
  }

  /** Unsubscribes: a pending `recv()` resolves `undefined`, iteration ends. Idempotent. */
  close(): void {
    this.#hub.detach(this.#cursor);
  }

  /** Same as {@link Subscription.close}, for `await using sub = hub.subscribe()`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  /**
   * Iterates messages until the subscription or its broadcast closes. Leaving the loop early
   * (`break`, `return`, a throw) closes the subscription, as with Node's stream iterators.
   */
  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    const hub = this.#hub;
    const cursor = this.#cursor;
    return {
      next: (): Promise<IteratorResult<T, undefined>> => {
        const taken = hub.take(cursor);
        if (taken === END) return Promise.resolve(DONE);
        if (taken !== EMPTY) return Promise.resolve({ done: false, value: taken });
        return new Promise<IteratorResult<T, undefined>>((resolve, reject) => {
          try {
            hub.wait(cursor, resolve);
          } catch (error) {
            reject(error);
          }
        });
      },
      return: (): Promise<IteratorResult<T, undefined>> => {
        hub.detach(cursor);
        return Promise.resolve(DONE);
      },
    };
  }
}

/** An already-ended subscription, handed out by a closed broadcast. Internal. */
export function closedSubscription<T>(): Subscription<T> {
  const hub = new Hub<T>(1);
  hub.close();
  return hub.subscribe();
}
