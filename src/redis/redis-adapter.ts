import { hostname } from 'node:os';
import type { Redis as RedisClient, RedisOptions } from 'ioredis';
import type { BroadcastAdapter } from '../broadcast/adapter.js';
import { DEFAULT_BROADCAST_CHANNEL } from '../broadcast/options.js';
import { HyperlaneError } from '../error/hyperlane-error.js';
import {
  checkFunction,
  checkMs,
  checkReconnect,
  checkRedisOptions,
  checkString,
  checkUrl,
  endConnection,
  openConnection,
  reasonOf,
  redactUrl,
  type ReconnectOptions,
} from './client.js';

/** Options of {@link redisAdapter}. */
export interface RedisAdapterOptions {
  /** `redis://[user:password@]host:port[/db]`, `rediss://…` for TLS (default `redis://127.0.0.1:6379`). */
  url?: string;
  /**
   * The Redis channel of a broadcast that names no `channel` of its own (such a broadcast uses
   * `'hyperlane:broadcast'`); a `BroadcastMap` key then travels on `<channel>:<key>`. A broadcast's
   * own `channel` option wins over this one.
   */
  channel?: string;
  /** Prepended to every Redis channel, to keep apps sharing one Redis apart (default `''`). */
  prefix?: string;
  /** Label in each message's origin id, for tracing (default `<hostname>:<pid>`). */
  origin?: string;
  /**
   * Told when the connection to Redis is lost (once per outage) and about other failures
   * (a refused SUBSCRIBE, a failing PUBLISH). Default: one process warning per outage.
   */
  onError?: (error: Error) => void;
  /**
   * Publishes awaiting Redis's answer at most (default 10,000); while Redis is slow or hung,
   * messages beyond it are dropped (and counted) instead of queuing in memory.
   */
  maxPending?: number;
  /** How long a command may wait for Redis before it fails (default 2,000 ms). */
  commandTimeoutMs?: number;
  /** Reconnect backoff: doubling from `minDelayMs` (100) to `maxDelayMs` (3,000), with jitter. */
  reconnect?: ReconnectOptions;
  /** Further ioredis options (TLS, sentinels…); the adapter's own settings override them. */
  redisOptions?: RedisOptions;
}

/** What {@link RedisAdapter.stats} reports. */
export interface RedisAdapterStats {
  /** Messages that could not be published (Redis unreachable, too slow, or `maxPending` hit). */
  dropped: number;
  /** Times the adapter came back after losing Redis. */
  reconnects: number;
  /** Both connections are up and every channel is subscribed again. */
  connected: boolean;
}

/** A {@link BroadcastAdapter} over Redis pub/sub, with its health. */
export interface RedisAdapter extends BroadcastAdapter {
  /** Counters and state, for health checks and metrics. */
  stats(): RedisAdapterStats;
  /**
   * Resolves once connected (at once if connected now); rejects if the adapter is closed first.
   * Messages sent before that are delivered locally but not to other processes.
   */
  ready(): Promise<void>;
}

const WHO = 'redisAdapter';
const DEFAULT_MAP_PREFIX = `${DEFAULT_BROADCAST_CHANNEL}:`;

type ConnectionRole = 'publisher' | 'subscriber';

/** Waiters of `ready()`. */
interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Carries a `Broadcast`'s or `BroadcastMap`'s messages between processes and machines over Redis
 * pub/sub, with one connection publishing and one subscribing. Pass one adapter per broadcast:
 *
 * ```ts
 * import { redisAdapter } from 'hyperlane-ts/redis';
 * const chat = new Broadcast<Message>({ adapter: redisAdapter({ url, channel: 'chat' }) });
 * ```
 *
 * A broadcast on channel `c` uses Redis channel `c` exactly (a `BroadcastMap` key `k`: `c:k`,
 * subscribed while the key has local receivers). Each process delivers its own messages locally
 * at once and never a second time; messages from one process arrive everywhere in the order sent.
 * If Redis goes away, `send()` still delivers locally and never throws, messages meanwhile are
 * dropped and counted (`stats()`), the outage is reported to `onError`, and the adapter
 * reconnects with backoff and subscribes again. `close()` (called by the broadcast's `close()`)
 * releases both connections.
 *
 * @throws HyperlaneError `HL_ERR_CONFIG` naming the option that is wrong
 */
export function redisAdapter(options: RedisAdapterOptions = {}): RedisAdapter {
  return new RedisBroadcastAdapter(options);
}

class RedisBroadcastAdapter implements RedisAdapter {
  readonly origin: string;
  readonly #url: string;
  readonly #channel: string | undefined;
  readonly #prefix: string;
  readonly #maxPending: number;
  readonly #onError: ((error: Error) => void) | undefined;
  readonly #publisher: RedisClient;
  readonly #subscriber: RedisClient;
  /** Message handlers by Redis channel: what we want subscribed, whatever Redis has now. */
  readonly #handlers = new Map<string, (payload: string) => void>();
  readonly #waiters: Waiter[] = [];
  #pending = 0;
  #dropped = 0;
  #reconnects = 0;
  /** The subscriber connection is up and has been sent SUBSCRIBE for every handler. */
  #live = false;
  /** ...and Redis has confirmed that SUBSCRIBE. */
  #subscribed = false;
  /** Bumped on every subscriber `ready`, so a stale SUBSCRIBE answer is recognised. */
  #epoch = 0;
  #connected = false;
  #everConnected = false;
  #outage = false;
  #publishFailing = false;
  #warned = false;
  #lastError: { publisher: Error | undefined; subscriber: Error | undefined } = {
    publisher: undefined,
    subscriber: undefined,
  };
  #closing: Promise<void> | undefined;
  // The last channel name mapped, since a Broadcast publishes on one channel only.
  #lastChannel = '';
  #lastRedisChannel = '';

  constructor(options: RedisAdapterOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new HyperlaneError('HL_ERR_CONFIG', `${WHO}: options must be an object`);
    }
    this.#url = checkUrl(WHO, options.url);
    const channel = options.channel;
    this.#channel =
      channel === undefined ? undefined : checkString(WHO, 'channel', channel, '', false);
    this.#prefix = checkString(WHO, 'prefix', options.prefix, '', true);
    this.origin = checkString(WHO, 'origin', options.origin, `${hostname()}:${process.pid}`, true);
    this.#onError = checkFunction(WHO, 'onError', options.onError);
    const maxPending = options.maxPending ?? 10_000;
    if (!Number.isSafeInteger(maxPending) || maxPending < 1) {
      throw new HyperlaneError(
        'HL_ERR_CONFIG',
        `${WHO}: maxPending must be a positive integer, got ${String(maxPending)}`,
      );
    }
    this.#maxPending = maxPending;
    const commandTimeoutMs = checkMs(WHO, 'commandTimeoutMs', options.commandTimeoutMs, 2000);
    const reconnect = checkReconnect(WHO, options.reconnect);
    const redisOptions = checkRedisOptions(WHO, options.redisOptions);

    this.#publisher = openConnection(this.#url, {
      name: 'hyperlane-broadcast-pub',
      commandTimeoutMs,
      reconnect,
      redisOptions,
    });
    this.#subscriber = openConnection(this.#url, {
      name: 'hyperlane-broadcast-sub',
      commandTimeoutMs,
      reconnect,
      redisOptions,
    });
    this.#watch(this.#publisher, 'publisher');
    this.#watch(this.#subscriber, 'subscriber');
    this.#subscriber.on('message', (channel: string, payload: string) => {
      const handler = this.#handlers.get(channel);
      if (handler === undefined) return;
      try {
        handler(payload);
      } catch (error) {
        this.#report(asError(error));
      }
    });
  }

  publish(channel: string, payload: string): void {
    if (this.#closing !== undefined) return;
    if (this.#publisher.status !== 'ready' || this.#pending >= this.#maxPending) {
      this.#dropped++;
      return;
    }
    this.#pending++;
    this.#publisher
      .publish(this.#redisChannel(channel), payload)
      .then(this.#onPublished, this.#onPublishFailed);
  }

  subscribe(channel: string, onMessage: (payload: string) => void): void {
    if (this.#closing !== undefined) return;
    const name = this.#redisChannel(channel);
    const isNew = !this.#handlers.has(name);
    this.#handlers.set(name, onMessage);
    // Not connected (connecting, or Redis is away): the next `ready` subscribes everything.
    // Connected: commands on one connection run in order, so this one lands after the
    // SUBSCRIBE sent on `ready`, even when that is not answered yet.
    if (!isNew || !this.#live) return;
    const epoch = this.#epoch;
    // A lost connection shows as an outage and is made good by the next `ready`; only a refusal
    // from Redis itself is worth telling.
    this.#subscriber.subscribe(name).catch((error: unknown) => {
      if (this.#isLive(epoch) && isReplyError(error)) this.#report(error);
    });
  }

  unsubscribe(channel: string): void {
    if (this.#closing !== undefined) return;
    const name = this.#redisChannel(channel);
    if (!this.#handlers.delete(name) || !this.#live) return;
    const epoch = this.#epoch;
    this.#subscriber.unsubscribe(name).catch((error: unknown) => {
      if (this.#isLive(epoch) && isReplyError(error)) this.#report(error);
    });
  }

  stats(): RedisAdapterStats {
    return { dropped: this.#dropped, reconnects: this.#reconnects, connected: this.#connected };
  }

  ready(): Promise<void> {
    if (this.#closing !== undefined) return Promise.reject(closedError());
    if (this.#connected) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#handlers.clear();
      this.#connected = false;
      this.#live = false;
      this.#subscribed = false;
      for (const waiter of this.#waiters.splice(0)) waiter.reject(closedError());
      this.#closing = Promise.all([
        endConnection(this.#publisher),
        endConnection(this.#subscriber),
      ]).then(() => undefined);
    }
    return this.#closing;
  }

  // Bound once, so a publish allocates no closure for its outcome.
  readonly #onPublished = (): void => {
    this.#pending--;
    this.#publishFailing = false;
  };

  readonly #onPublishFailed = (error: unknown): void => {
    this.#pending--;
    this.#dropped++;
    // Connection trouble (unwritable, timed out, aborted) is reported once, as an outage; what
    // Redis itself refused (an ACL, say) is reported once per streak of failures.
    if (this.#publishFailing || this.#closing !== undefined || !isReplyError(error)) return;
    this.#publishFailing = true;
    this.#report(error);
  };

  /** The Redis channel of a broadcast channel: the adapter's `channel` and `prefix` applied. */
  #redisChannel(channel: string): string {
    if (channel === this.#lastChannel) return this.#lastRedisChannel;
    let name = channel;
    if (this.#channel !== undefined) {
      if (channel === DEFAULT_BROADCAST_CHANNEL) name = this.#channel;
      else if (channel.startsWith(DEFAULT_MAP_PREFIX)) {
        name = this.#channel + channel.slice(DEFAULT_BROADCAST_CHANNEL.length);
      }
    }
    name = this.#prefix + name;
    this.#lastChannel = channel;
    this.#lastRedisChannel = name;
    return name;
  }

  #watch(client: RedisClient, role: ConnectionRole): void {
    client.on('error', (error: Error) => {
      // Errors on a live connection precede its `close`, which reports them; errors between
      // attempts (refused, timed out) start or continue an outage.
      this.#lastError[role] = error;
      if (client.status !== 'ready') this.#lost(role);
    });
    client.on('close', () => this.#lost(role));
    client.on('ready', () => {
      this.#lastError[role] = undefined;
      if (role === 'subscriber') this.#resubscribe();
      else this.#update();
    });
  }

  /** On a (re)connected subscriber: subscribe every channel with a handler, in one command. */
  #resubscribe(): void {
    const epoch = ++this.#epoch;
    this.#live = true;
    const channels = [...this.#handlers.keys()];
    if (channels.length === 0) {
      this.#subscribed = true;
      this.#update();
      return;
    }
    this.#subscriber.subscribe(...channels).then(
      () => {
        if (!this.#isLive(epoch)) return;
        this.#subscribed = true;
        this.#update();
      },
      (error: unknown) => {
        // A connection lost meanwhile is handled by its `close` and the next `ready`.
        if (!this.#isLive(epoch) || !isReplyError(error)) return;
        // Redis refused (ACL, say): other channels may still work, so carry on and tell.
        this.#report(error);
        this.#subscribed = true;
        this.#update();
      },
    );
  }

  /** Whether the subscriber connection of `epoch` is still the live one. */
  #isLive(epoch: number): boolean {
    return (
      this.#closing === undefined && epoch === this.#epoch && this.#subscriber.status === 'ready'
    );
  }

  #lost(role: ConnectionRole): void {
    if (this.#closing !== undefined) return;
    if (role === 'subscriber') {
      this.#live = false;
      this.#subscribed = false;
    }
    this.#update();
    if (this.#outage) return;
    this.#outage = true;
    const cause = this.#lastError[role];
    const verb = this.#everConnected ? 'lost the connection to' : 'cannot connect to';
    this.#report(
      new Error(
        `${WHO}: ${verb} Redis at ${redactUrl(this.#url)} (${role}${cause === undefined ? '' : `: ${cause.message}`}); ` +
          'reconnecting, messages sent meanwhile reach only this process',
        { cause },
      ),
      true,
    );
  }

  #update(): void {
    const connected =
      this.#closing === undefined && this.#subscribed && this.#publisher.status === 'ready';
    if (connected === this.#connected) return;
    this.#connected = connected;
    if (!connected) return;
    if (this.#everConnected && this.#outage) this.#reconnects++;
    this.#everConnected = true;
    this.#outage = false;
    this.#warned = false;
    for (const waiter of this.#waiters.splice(0)) waiter.resolve();
  }

  #report(error: Error, isOutage = false): void {
    if (this.#onError !== undefined) {
      try {
        this.#onError(error);
      } catch {
        // The reporter is the caller's code; its failure must not break the connection logic.
      }
      return;
    }
    // Without a handler: one warning per outage, so a long one does not flood the log.
    if (this.#warned && !isOutage) return;
    this.#warned = true;
    process.emitWarning(error.message, { code: 'HL_REDIS_ADAPTER' });
  }
}

function closedError(): HyperlaneError {
  return new HyperlaneError('HL_ERR_SERVER_STATE', `${WHO}: the adapter is closed`);
}

/** An error answer from Redis itself, as opposed to a failure to reach it. */
function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError';
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(reasonOf(error));
}
