/**
 * A throwaway `redis-server` for one test file: started on a free loopback port with no
 * persistence, and stopped after. Tests can kill it (a crash: SIGKILL), freeze it (SIGSTOP, a
 * hung Redis that keeps its sockets open) and start it again on the same port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/** A free TCP port on 127.0.0.1, found by binding port 0. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Sends one inline command over a raw socket; resolves with the raw reply, or rejects. */
function rawCommand(port: number, command: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${command} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (reply.includes('\r\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(reply);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** One redis-server child process. */
export class RedisServer {
  readonly port: number;
  #child: ChildProcess | null = null;
  #output = '';
  #client: Redis | null = null;

  private constructor(port: number) {
    this.port = port;
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** A server for `port`, not started yet: `restart()` starts it. */
  static on(port: number): RedisServer {
    return new RedisServer(port);
  }

  /** Starts a server on a free port and waits until it answers PING. */
  static async start(): Promise<RedisServer> {
    let lastError: unknown;
    // The free port may be taken again between finding and binding it: try a few.
    for (let attempt = 0; attempt < 5; attempt++) {
      const server = new RedisServer(await freePort());
      try {
        await server.restart();
        return server;
      } catch (error) {
        lastError = error;
        await server.stop();
      }
    }
    throw lastError;
  }

  /** Starts the server (again) on its port and waits until it answers PING. */
  async restart(): Promise<void> {
    if (this.#child !== null) throw new Error('redis-server is already running');
    this.#output = '';
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    const keep = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('exit', () => {
      if (this.#child === child) this.#child = null;
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (this.#child !== child) {
        throw new Error(`redis-server exited on port ${this.port}:\n${this.#output}`);
      }
      try {
        if ((await rawCommand(this.port, 'PING')).startsWith('+PONG')) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`redis-server did not answer PING on port ${this.port}:\n${this.#output}`);
      }
      await sleep(25);
    }
  }

  /** Whether the process runs. */
  get isRunning(): boolean {
    return this.#child !== null;
  }

  /** Kills the server at once (SIGKILL), as a crash would, and waits for it to exit. */
  async kill(): Promise<void> {
    await this.#signal('SIGKILL');
  }

  /**
   * Runs one command through a plain client of the test's own (which waits out restarts), e.g.
   * `command('PUBSUB', 'CHANNELS')`.
   */
  command(name: string, ...args: (string | number)[]): Promise<unknown> {
    if (this.#client === null) {
      this.#client = new Redis(this.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 });
      this.#client.on('error', () => {});
    }
    return this.#client.call(name, ...args);
  }

  /** Channels with at least one subscriber, sorted. */
  async channels(pattern = '*'): Promise<string[]> {
    const channels = (await this.command('PUBSUB', 'CHANNELS', pattern)) as string[];
    return channels.sort();
  }

  /** Stops the server (also a frozen one) and waits for it to exit. */
  async stop(): Promise<void> {
    this.#client?.disconnect();
    this.#client = null;
    const child = this.#child;
    if (child === null) return;
    child.kill('SIGCONT');
    await this.#signal('SIGKILL');
  }

  /** Freezes the server (SIGSTOP): sockets stay open, nothing is answered. */
  freeze(): void {
    this.#child?.kill('SIGSTOP');
  }

  /** Thaws a frozen server (SIGCONT). */
  thaw(): void {
    this.#child?.kill('SIGCONT');
  }

  async #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
    this.#child = null;
  }
}
