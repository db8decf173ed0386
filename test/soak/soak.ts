/**
 * The soak engine: one hyperlane-ts server in a child process (`fixtures/server.ts`), mixed
 * traffic from this process for a while, and the server's memory, file descriptors,
 * connections and Contexts sampled all along.
 *
 * Traffic, each kind from its own concurrent workers, every answer checked byte for byte:
 * - `get`: raw keep-alive connections sending GETs one after another (some end with
 *   `Connection: close`);
 * - `pipeline`: raw connections writing 2–16 requests (GETs and small POSTs) in one go;
 * - `post`: bodies of random sizes up to 512 KiB, with Content-Length or chunked, answered
 *   with their length and SHA-256;
 * - `agent`: node:http's own client through a keep-alive Agent;
 * - `ws`: WebSocket churn — connect, exchange text and binary echoes, close (some abruptly);
 * - `sse`: event streams read to their end, or left half way.
 *
 * Verdict (see {@link SoakReport.problems}): no failed request; after warm-up (the first 20%
 * of the run) RSS and the file descriptors not held by connections stay within 10% of their
 * post-warm-up level; once the clients are gone the server has no connection, WebSocket,
 * open Context or extra fd left; and it closes and exits 0.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { sseEvent } from '../../src/index.js';
import { parseResponses, type ParsedResponse } from '../helpers/raw-client.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import {
  startFixture,
  type FixtureExit,
  type FixtureProcess,
  type FixtureStats,
} from './fixture-process.js';

/** The kinds of traffic, each run by its own workers. */
export type WorkerKind = 'get' | 'pipeline' | 'post' | 'agent' | 'ws' | 'sse';

export const WORKER_KINDS: readonly WorkerKind[] = [
  'get',
  'pipeline',
  'post',
  'agent',
  'ws',
  'sse',
];

/** Workers per kind unless told otherwise: sized for a 2-core machine shared with the server. */
export const DEFAULT_WORKERS: Readonly<Record<WorkerKind, number>> = {
  get: 3,
  pipeline: 2,
  post: 2,
  agent: 1,
  ws: 2,
  sse: 2,
};

// node:http Agent sockets per `agent` worker.
const AGENT_SOCKETS = 2;
// One request or exchange taking longer than this counts as a failure (a hung server).
const OP_TIMEOUT_MS = 30_000;

/** How to soak. */
export interface SoakOptions {
  /** Traffic time, warm-up included. */
  durationMs: number;
  /** Time between samples (default: a 30th of the run, within 2–10 s). */
  sampleEveryMs?: number;
  /** Share of the run treated as warm-up (JIT, heap growth) before the baseline (default 0.2). */
  warmupFraction?: number;
  /** Allowed growth of RSS and of fds beyond connections after warm-up (default 0.10). */
  tolerance?: number;
  /** Seed for sizes, counts and choices (default 1). */
  seed?: number;
  /** Workers per kind (default {@link DEFAULT_WORKERS}). */
  workers?: Partial<Record<WorkerKind, number>>;
  /** Progress lines (one per sample). */
  log?: (line: string) => void;
}

/** One sample of the server. */
export interface SoakSample extends FixtureStats {
  /** Milliseconds since traffic started (negative: before). */
  t: number;
  /** Operations completed so far, all kinds. */
  operations: number;
}

/** A baseline-versus-final comparison. */
export interface Drift {
  baseline: number;
  final: number;
  /** final / baseline − 1. */
  growth: number;
}

/** What a soak measured and what it found wrong. */
export interface SoakReport {
  durationMs: number;
  seed: number;
  workers: Record<WorkerKind, number>;
  /** Requests, messages and streams answered correctly, by kind. */
  operations: Record<WorkerKind, number>;
  /** All of them. */
  totalOperations: number;
  /** SSE streams the client left on purpose half way (not failures). */
  sseLeft: number;
  /** WebSockets the client dropped without a close frame on purpose (not failures). */
  wsTerminated: number;
  failures: number;
  /** The first few failures, as messages. */
  failureExamples: string[];
  /** Before traffic, after a warm-up round, all clients gone. */
  idle: SoakSample;
  /** During traffic. */
  samples: SoakSample[];
  /** After traffic, once every client has gone. */
  end: SoakSample;
  rss: Drift;
  heapUsed: Drift;
  /** File descriptors not held by client connections (fds − connections). */
  fdsBeyondConnections: Drift;
  /** Most connections the server held at a sample. */
  maxConnections: number;
  /** Milliseconds from `close()` to the child's exit, or -1 if it did not exit in time. */
  exitMs: number;
  exit: FixtureExit | null;
  /** Criteria that failed; empty means the soak passed. */
  problems: string[];
}

// ---- a small raw keep-alive HTTP client ------------------------------------------------------

/** One raw connection that sends requests and reads exactly the responses it expects. */
class RawHttp {
  private buffer: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  ended = false;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.signal();
    });
    const ended = (): void => {
      this.ended = true;
      this.signal();
    };
    socket.on('end', ended);
    socket.on('close', ended);
    socket.on('error', ended);
  }

  static open(port: number): Promise<RawHttp> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawHttp(socket));
      });
    });
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Writes `data` and resolves with the next `count` final responses. */
  async exchange(data: string | Buffer, count: number): Promise<ParsedResponse[]> {
    if (this.ended) throw new Error('connection already closed');
    this.socket.write(data);
    const deadline = Date.now() + OP_TIMEOUT_MS;
    for (;;) {
      const parsed = parseResponses(this.buffer, { eof: this.ended });
      if (parsed.error !== undefined) throw new Error(`unparsable response: ${parsed.error}`);
      const finals = parsed.responses.filter((r) => r.status >= 200);
      if (finals.length >= count) {
        if (finals.length > count || parsed.rest.length > 0)
          throw new Error(`${finals.length} responses and extra bytes for ${count} requests`);
        this.buffer = Buffer.alloc(0);
        return finals;
      }
      if (this.ended) throw new Error(`closed after ${finals.length} of ${count} responses`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response in ${OP_TIMEOUT_MS} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Resolves once the server has closed its side. */
  async waitEnded(): Promise<void> {
    const deadline = Date.now() + OP_TIMEOUT_MS;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('server did not close after Connection: close');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

function expectResponse(res: ParsedResponse, status: number, body: string, what: string): void {
  if (res.status !== status || res.text() !== body) {
    throw new Error(
      `${what}: expected ${status} ${JSON.stringify(body)}, got ${res.status} ${JSON.stringify(res.text().slice(0, 200))}`,
    );
  }
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---- the traffic -----------------------------------------------------------------------------

/** Shared state of one soak run. */
class Traffic {
  stop = false;
  readonly operations: Record<WorkerKind, number> = {
    get: 0,
    pipeline: 0,
    post: 0,
    agent: 0,
    ws: 0,
    sse: 0,
  };
  failures = 0;
  readonly failureExamples: string[] = [];
  sseLeft = 0;
  wsTerminated = 0;
  private readonly pool = randomBytes(1024 * 1024);
  private readonly agents: http.Agent[] = [];
  private readonly open = new Set<{ close(): void }>();

  constructor(readonly port: number) {}

  get total(): number {
    let sum = 0;
    for (const kind of WORKER_KINDS) sum += this.operations[kind];
    return sum;
  }

  fail(kind: WorkerKind, error: unknown): void {
    this.failures++;
    if (this.failureExamples.length < 20) {
      this.failureExamples.push(
        `${kind}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  /** Runs one worker of `kind` until `stop`; `once` runs a single session (warm-up). */
  async worker(kind: WorkerKind, rng: SeededRandom, once = false): Promise<void> {
    const agent = kind === 'agent' ? this.makeAgent() : null;
    do {
      try {
        if (kind === 'get') await this.getSession(rng);
        else if (kind === 'pipeline') await this.pipelineSession(rng);
        else if (kind === 'post') await this.postSession(rng);
        else if (kind === 'agent') await this.agentSession(rng, agent!);
        else if (kind === 'ws') await this.wsSession(rng);
        else await this.sseSession(rng);
      } catch (error) {
        this.fail(kind, error);
        await sleep(50); // do not spin on a server that refuses everything
      }
    } while (!once && !this.stop);
  }

  /** Destroys whatever clients are still open (after the workers stopped). */
  closeAll(): void {
    for (const agent of this.agents) agent.destroy();
    for (const client of this.open) client.close();
    this.open.clear();
  }

  private makeAgent(): http.Agent {
    const agent = new http.Agent({ keepAlive: true, maxSockets: AGENT_SOCKETS });
    this.agents.push(agent);
    return agent;
  }

  private async withConnection(body: (conn: RawHttp) => Promise<void>): Promise<void> {
    const conn = await within(RawHttp.open(this.port), OP_TIMEOUT_MS, 'connect');
    this.open.add(conn);
    try {
      await body(conn);
    } finally {
      conn.close();
      this.open.delete(conn);
    }
  }

  private body(size: number, rng: SeededRandom): Buffer {
    const offset = rng.int(0, this.pool.length - size);
    return this.pool.subarray(offset, offset + size);
  }

  private bodySize(rng: SeededRandom): number {
    const bucket = rng.next();
    if (bucket < 0.4) return rng.int(0, 1024);
    if (bucket < 0.8) return rng.int(1025, 64 * 1024);
    return rng.int(64 * 1024 + 1, 512 * 1024);
  }

  private async getSession(rng: SeededRandom): Promise<void> {
    await this.withConnection(async (conn) => {
      const requests = rng.int(5, 100);
      const closeAtEnd = rng.chance(0.3);
      for (let i = 0; i < requests && !this.stop; i++) {
        const n = rng.int(0, 1e9);
        const last = closeAtEnd && i === requests - 1;
        const head = `GET /hello?n=${n} HTTP/1.1\r\nHost: soak\r\n${last ? 'Connection: close\r\n' : ''}\r\n`;
        const [res] = await conn.exchange(head, 1);
        expectResponse(res!, 200, `hello ${n}`, 'keep-alive GET');
        this.operations.get++;
        if (last) await conn.waitEnded();
      }
    });
  }

  private async pipelineSession(rng: SeededRandom): Promise<void> {
    await this.withConnection(async (conn) => {
      const batches = rng.int(2, 20);
      for (let b = 0; b < batches && !this.stop; b++) {
        const count = rng.int(2, 16);
        const parts: Buffer[] = [];
        const expected: Array<{ body: string; what: string }> = [];
        for (let i = 0; i < count; i++) {
          if (rng.chance(0.25)) {
            const payload = this.body(rng.int(0, 2048), rng);
            parts.push(
              Buffer.from(
                `POST /upload HTTP/1.1\r\nHost: soak\r\nContent-Length: ${payload.length}\r\n\r\n`,
              ),
              payload,
            );
            expected.push({ body: uploadAnswer(payload), what: 'pipelined POST' });
          } else {
            const id = rng.int(0, 1e6);
            parts.push(Buffer.from(`GET /p/${id} HTTP/1.1\r\nHost: soak\r\n\r\n`));
            expected.push({ body: `p${id}`, what: 'pipelined GET' });
          }
        }
        const responses = await conn.exchange(Buffer.concat(parts), count);
        for (let i = 0; i < count; i++) {
          expectResponse(responses[i]!, 200, expected[i]!.body, expected[i]!.what);
          this.operations.pipeline++;
        }
      }
    });
  }

  private async postSession(rng: SeededRandom): Promise<void> {
    await this.withConnection(async (conn) => {
      const requests = rng.int(3, 30);
      for (let i = 0; i < requests && !this.stop; i++) {
        const payload = this.body(this.bodySize(rng), rng);
        let message: Buffer;
        if (rng.chance(0.25)) {
          // Chunked, in a few random pieces.
          const pieces: Buffer[] = [
            Buffer.from(
              'POST /upload HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n',
            ),
          ];
          let at = 0;
          while (at < payload.length) {
            const size = Math.min(payload.length - at, rng.int(1, 128 * 1024));
            pieces.push(Buffer.from(`${size.toString(16)}\r\n`), payload.subarray(at, at + size));
            pieces.push(Buffer.from('\r\n'));
            at += size;
          }
          pieces.push(Buffer.from('0\r\n\r\n'));
          message = Buffer.concat(pieces);
        } else {
          message = Buffer.concat([
            Buffer.from(
              `POST /upload HTTP/1.1\r\nHost: soak\r\nContent-Type: application/octet-stream\r\nContent-Length: ${payload.length}\r\n\r\n`,
            ),
            payload,
          ]);
        }
        const [res] = await conn.exchange(message, 1);
        expectResponse(res!, 200, uploadAnswer(payload), `POST of ${payload.length} bytes`);
        this.operations.post++;
      }
    });
  }

  private async agentSession(rng: SeededRandom, agent: http.Agent): Promise<void> {
    const parallel: Promise<void>[] = [];
    for (let i = 0; i < AGENT_SOCKETS * 4; i++) {
      const n = rng.int(0, 1e9);
      parallel.push(
        within(agentGet(this.port, agent, `/json?n=${n}`), OP_TIMEOUT_MS, 'agent GET').then(
          ({ status, body }) => {
            const expected = JSON.stringify({ n, ok: true });
            if (status !== 200 || body !== expected)
              throw new Error(`agent GET: expected 200 ${expected}, got ${status} ${body}`);
            this.operations.agent++;
          },
        ),
      );
    }
    const results = await Promise.allSettled(parallel);
    for (const result of results)
      if (result.status === 'rejected') this.fail('agent', result.reason);
  }

  private async wsSession(rng: SeededRandom): Promise<void> {
    const ws = new WebSocket(`ws://127.0.0.1:${this.port}/ws`, { perMessageDeflate: false });
    const client = { close: () => ws.terminate() };
    this.open.add(client);
    const inbox: Array<{ data: Buffer; binary: boolean }> = [];
    let wake: (() => void) | null = null;
    let closeCode = -1;
    const closed = new Promise<void>((resolve) => {
      ws.on('close', (code) => {
        closeCode = code;
        resolve();
        wake?.();
      });
    });
    ws.on('message', (data: Buffer, binary: boolean) => {
      inbox.push({ data, binary });
      wake?.();
    });
    ws.on('error', () => {}); // 'close' follows and tells what happened
    try {
      await within(
        new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve());
          ws.once('close', () => reject(new Error('WebSocket closed before open')));
        }),
        OP_TIMEOUT_MS,
        'WebSocket open',
      );
      const messages = rng.int(1, 20);
      for (let i = 0; i < messages && !this.stop; i++) {
        const binary = rng.chance(0.5);
        const payload = binary
          ? this.body(rng.int(0, 16 * 1024), rng)
          : Buffer.from(this.body(rng.int(0, 1500), rng).toString('base64'));
        ws.send(binary ? payload : payload.toString(), { binary });
        const deadline = Date.now() + OP_TIMEOUT_MS;
        while (inbox.length === 0) {
          if (closeCode !== -1) throw new Error(`WebSocket closed (${closeCode}) mid-exchange`);
          if (Date.now() > deadline) throw new Error('no WebSocket echo in time');
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 1000);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        const echo = inbox.shift()!;
        if (echo.binary !== binary || !echo.data.equals(payload))
          throw new Error(`WebSocket echo differs (${payload.length} bytes, binary ${binary})`);
        this.operations.ws++;
      }
      if (rng.chance(0.15)) {
        ws.terminate(); // leave without a close frame
        this.wsTerminated++;
        return;
      }
      ws.close(1000, 'bye');
      await within(closed, OP_TIMEOUT_MS, 'WebSocket close');
      if (closeCode !== 1000) throw new Error(`WebSocket closed with ${closeCode}, expected 1000`);
    } finally {
      ws.terminate();
      this.open.delete(client);
    }
  }

  private async sseSession(rng: SeededRandom): Promise<void> {
    const count = rng.int(3, 30);
    const interval = rng.int(0, 20);
    const leaveAfter = rng.chance(0.3) ? rng.int(1, count - 1) : -1;
    let expected = '';
    for (let i = 0; i < count; i++) expected += sseEvent({ id: i, data: `tick ${i}` });
    await within(
      new Promise<void>((resolve, reject) => {
        const req = http.get(
          {
            host: '127.0.0.1',
            port: this.port,
            path: `/sse?count=${count}&interval=${interval}`,
            agent: false,
          },
          (res) => {
            if (res.statusCode !== 200 || res.headers['content-type'] !== 'text/event-stream') {
              res.resume();
              reject(new Error(`SSE: got ${res.statusCode} ${res.headers['content-type']}`));
              return;
            }
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              text += chunk;
              if (leaveAfter >= 0 && text.split('\n\n').length - 1 >= leaveAfter) {
                this.sseLeft++;
                req.destroy();
                resolve();
              }
            });
            res.on('end', () => {
              // (After leaving on purpose the promise is settled and this changes nothing.)
              if (text === expected) {
                this.operations.sse++;
                resolve();
              } else {
                reject(new Error(`SSE stream differs: ${JSON.stringify(text.slice(-120))}`));
              }
            });
            res.on('error', (error) => {
              if (leaveAfter < 0) reject(error);
            });
          },
        );
        const client = { close: () => req.destroy() };
        this.open.add(client);
        req.on('close', () => this.open.delete(client));
        req.on('error', (error) => {
          if (leaveAfter < 0 || !req.destroyed) reject(error);
        });
      }),
      OP_TIMEOUT_MS,
      'SSE stream',
    );
  }
}

function uploadAnswer(payload: Buffer): string {
  return JSON.stringify({
    length: payload.length,
    sha256: createHash('sha256').update(payload).digest('hex'),
  });
}

function agentGet(
  port: number,
  agent: http.Agent,
  path: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

// ---- measuring -------------------------------------------------------------------------------

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function drift(baseline: number[], final: number[]): Drift {
  const b = median(baseline);
  const f = median(final);
  return { baseline: b, final: f, growth: b > 0 ? f / b - 1 : 0 };
}

const MB = 1024 * 1024;

/** A one-line summary of a sample. */
export function describeSample(s: SoakSample): string {
  return (
    `t=${(s.t / 1000).toFixed(0)}s rss=${(s.rss / MB).toFixed(1)}MB heap=${(s.heapUsed / MB).toFixed(1)}MB ` +
    `ext=${(s.external / MB).toFixed(1)}MB fds=${s.fds} conns=${s.connections} ws=${s.webSockets} ` +
    `ctxOpen=${s.contextsOpen} ctxLive=${s.contextsLive} ops=${s.operations}`
  );
}

async function waitQuiet(fixture: FixtureProcess, timeoutMs: number): Promise<FixtureStats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await fixture.stats(true);
    const quiet =
      stats.connections === 0 &&
      stats.webSockets === 0 &&
      stats.contextsOpen === 0 &&
      stats.wsHooksOpen === 0 &&
      stats.sseOpen === 0;
    if (quiet || Date.now() > deadline) return stats;
    await sleep(200);
  }
}

/** Runs a soak and reports what it measured; never throws for a failed criterion. */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const durationMs = options.durationMs;
  const sampleEveryMs =
    options.sampleEveryMs ?? Math.min(10_000, Math.max(2_000, Math.round(durationMs / 30)));
  const warmupMs = durationMs * (options.warmupFraction ?? 0.2);
  const tolerance = options.tolerance ?? 0.1;
  const seed = options.seed ?? 1;
  const workers = { ...DEFAULT_WORKERS, ...options.workers };
  const log = options.log ?? (() => {});
  const rng = new SeededRandom(seed);
  const problems: string[] = [];

  const fixture = await startFixture();
  const traffic = new Traffic(fixture.port);
  try {
    // A warm-up round of every kind, so what the server opens lazily is in the idle baseline.
    await Promise.all(WORKER_KINDS.map((kind) => traffic.worker(kind, rng.fork(), true)));
    traffic.closeAll();
    const idleStats = await waitQuiet(fixture, 20_000);
    const idle: SoakSample = { ...idleStats, t: 0, operations: traffic.total };
    log(`idle ${describeSample(idle)}`);

    const started = Date.now();
    const running: Promise<void>[] = [];
    for (const kind of WORKER_KINDS) {
      for (let i = 0; i < workers[kind]; i++) running.push(traffic.worker(kind, rng.fork()));
    }
    const samples: SoakSample[] = [];
    while (Date.now() - started < durationMs) {
      await sleep(Math.min(sampleEveryMs, durationMs - (Date.now() - started)));
      const stats = await fixture.stats(true, 30_000);
      const sample: SoakSample = { ...stats, t: Date.now() - started, operations: traffic.total };
      samples.push(sample);
      log(`${describeSample(sample)} failures=${traffic.failures}`);
    }
    traffic.stop = true;
    await Promise.all(running);
    traffic.closeAll();

    const endStats = await waitQuiet(fixture, 20_000);
    const end: SoakSample = { ...endStats, t: Date.now() - started, operations: traffic.total };
    log(`end  ${describeSample(end)}`);

    // Baseline: the first three samples after warm-up; final: the last three.
    const after = samples.filter((s) => s.t >= warmupMs);
    const baseline = after.slice(0, 3);
    const final = after.slice(-3);
    const rss = drift(
      baseline.map((s) => s.rss),
      final.map((s) => s.rss),
    );
    const heapUsed = drift(
      baseline.map((s) => s.heapUsed),
      final.map((s) => s.heapUsed),
    );
    const fdsBeyondConnections = drift(
      baseline.map((s) => s.fds - s.connections),
      final.map((s) => s.fds - s.connections),
    );
    const maxConnections = Math.max(0, ...samples.map((s) => s.connections));

    if (traffic.failures > 0)
      problems.push(`${traffic.failures} failed requests, e.g. ${traffic.failureExamples[0]}`);
    if (traffic.total === 0) problems.push('no traffic got through');
    if (after.length < 4) problems.push(`only ${after.length} samples after warm-up; run longer`);
    if (rss.growth > tolerance)
      problems.push(
        `RSS grew ${(rss.growth * 100).toFixed(1)}% after warm-up (${(rss.baseline / MB).toFixed(1)} → ${(rss.final / MB).toFixed(1)} MB)`,
      );
    // fds are few: a 10% band around ~20 would be 2, within the noise of sockets closing
    // between the two counts, so allow at least 3.
    const fdSlack = Math.max(3, fdsBeyondConnections.baseline * tolerance);
    if (fdsBeyondConnections.final - fdsBeyondConnections.baseline > fdSlack)
      problems.push(
        `fds beyond connections grew ${fdsBeyondConnections.baseline} → ${fdsBeyondConnections.final}`,
      );
    const clientSockets =
      workers.get +
      workers.pipeline +
      workers.post +
      workers.agent * AGENT_SOCKETS +
      workers.ws +
      workers.sse;
    if (maxConnections > clientSockets * 3 + 10)
      problems.push(
        `${maxConnections} connections at a sample for ${clientSockets} client sockets`,
      );
    if (end.connections !== 0)
      problems.push(`${end.connections} connections left after the clients went`);
    if (end.webSockets !== 0)
      problems.push(`${end.webSockets} WebSockets left after the clients went`);
    if (end.wsHooksOpen !== 0)
      problems.push(`onWsClosed missing for ${end.wsHooksOpen} WebSockets`);
    if (end.contextsOpen !== 0) problems.push(`${end.contextsOpen} Contexts never finished`);
    if (end.sseOpen !== 0) problems.push(`${end.sseOpen} SSE handlers still running`);
    if (end.fds > idle.fds + 2)
      problems.push(`fds ${idle.fds} idle → ${end.fds} after the clients went`);
    if (end.contextsLive >= 0 && end.contextsLive > idle.contextsLive + 20)
      problems.push(
        `${end.contextsLive} Contexts still in memory after a full GC (idle: ${idle.contextsLive})`,
      );

    const closeStarted = Date.now();
    await fixture.close(5_000);
    const exit = await Promise.race([fixture.exited, sleep(15_000, null, { ref: false })]);
    const exitMs = exit === null ? -1 : Date.now() - closeStarted;
    if (exit === null) problems.push('the server process did not exit within 15 s of close()');
    else if (exit.code !== 0)
      problems.push(`the server process exited with ${JSON.stringify(exit)}`);

    return {
      durationMs,
      seed,
      workers,
      operations: { ...traffic.operations },
      totalOperations: traffic.total,
      sseLeft: traffic.sseLeft,
      wsTerminated: traffic.wsTerminated,
      failures: traffic.failures,
      failureExamples: [...traffic.failureExamples],
      idle,
      samples,
      end,
      rss,
      heapUsed,
      fdsBeyondConnections,
      maxConnections,
      exitMs,
      exit,
      problems,
    };
  } finally {
    traffic.stop = true;
    traffic.closeAll();
    fixture.kill();
  }
}

/** A human summary of a report. */
export function summarize(report: SoakReport): string {
  const pct = (d: Drift): string => `${d.growth >= 0 ? '+' : ''}${(d.growth * 100).toFixed(1)}%`;
  const lines = [
    `soak: ${(report.durationMs / 1000).toFixed(0)} s, seed ${report.seed}`,
    `operations: ${report.totalOperations} (${WORKER_KINDS.map((k) => `${k} ${report.operations[k]}`).join(', ')}); ` +
      `SSE left early ${report.sseLeft}, WebSockets dropped ${report.wsTerminated}`,
    `failures: ${report.failures}${report.failureExamples.length > 0 ? ` (${report.failureExamples.slice(0, 3).join(' | ')})` : ''}`,
    `RSS: ${(report.rss.baseline / MB).toFixed(1)} → ${(report.rss.final / MB).toFixed(1)} MB (${pct(report.rss)})`,
    `heap used: ${(report.heapUsed.baseline / MB).toFixed(1)} → ${(report.heapUsed.final / MB).toFixed(1)} MB (${pct(report.heapUsed)})`,
    `fds beyond connections: ${report.fdsBeyondConnections.baseline} → ${report.fdsBeyondConnections.final} (${pct(report.fdsBeyondConnections)}); ` +
      `fds idle ${report.idle.fds}, after ${report.end.fds}; max connections ${report.maxConnections}`,
    `after: connections ${report.end.connections}, WebSockets ${report.end.webSockets}, open Contexts ${report.end.contextsOpen}, ` +
      `Contexts in memory ${report.end.contextsLive} (idle ${report.idle.contextsLive}) of ${report.end.contextsCreated} created`,
    `exit: ${report.exit === null ? 'none' : JSON.stringify(report.exit)} ${report.exitMs} ms after close()`,
    report.problems.length === 0 ? 'PASS' : `FAIL:\n  ${report.problems.join('\n  ')}`,
  ];
  return lines.join('\n');
}
