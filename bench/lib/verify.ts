/**
 * Checks a target's answers before it is loaded: status, media type, body and required headers
 * of every case, over a raw socket so that pipelining (all answers, in order) and
 * `Connection: close` (the server says so and closes) are checked as the load generator will
 * exercise them. A fast wrong answer would make every ratio meaningless.
 * @packageDocumentation
 */
import { connect } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import type { BenchCase } from '../app.js';

/** One parsed response. */
interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** The request bytes of a case. */
export function requestText(benchCase: BenchCase, port: number): string {
  const headers: Record<string, string> = {
    host: `127.0.0.1:${port}`,
    ...benchCase.requestHeaders,
    ...(benchCase.body === undefined
      ? {}
      : { 'content-length': String(Buffer.byteLength(benchCase.body)) }),
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `${benchCase.method} ${benchCase.path} HTTP/1.1\r\n${lines.join('')}\r\n${benchCase.body ?? ''}`;
}

/**
 * Parses the complete responses at the start of `buf` (Content-Length or chunked bodies).
 * Returns them and the number of bytes they used.
 */
function parseResponses(buf: Buffer): { responses: RawResponse[]; used: number } {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n', at);
    if (headEnd === -1) break;
    const [statusLine, ...lines] = buf.toString('latin1', at, headEnd).split('\r\n');
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
    }
    let pos = headEnd + 4;
    let body: Buffer;
    if (headers.get('transfer-encoding')?.toLowerCase() === 'chunked') {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', pos);
        if (lineEnd === -1) return { responses, used: at };
        const size = parseInt(buf.toString('latin1', pos, lineEnd), 16);
        if (buf.length < lineEnd + 2 + size + 2) return { responses, used: at };
        parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        pos = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(parts);
    } else {
      const length = Number(headers.get('content-length') ?? 0);
      if (buf.length < pos + length) break;
      body = buf.subarray(pos, pos + length);
      pos += length;
    }
    responses.push({
      status: Number(statusLine!.split(' ')[1]),
      headers,
      body: body.toString('utf8'),
    });
    at = pos;
  }
  return { responses, used: at };
}

/** How long a close case waits for the server to close once the answer is complete. */
const CLOSE_WAIT_MS = 1_000;

/** Sends `count` copies of the case's request in one write and collects as many responses. */
function exchange(
  port: number,
  benchCase: BenchCase,
  count: number,
): Promise<{ responses: RawResponse[]; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const answerTimer = setTimeout(() => {
      socket.destroy();
      // Usually a wrong Content-Length, or a response that never ends.
      reject(new Error(`no complete answer within 5 s (got ${responses.length} of ${count})`));
    }, 5_000);
    let closeTimer: NodeJS.Timeout | undefined;
    const responses: RawResponse[] = [];
    let pending = Buffer.alloc(0);
    let closedByServer = false;
    socket.on('connect', () => socket.write(requestText(benchCase, port).repeat(count)));
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      const parsed = parseResponses(pending);
      responses.push(...parsed.responses);
      pending = pending.subarray(parsed.used);
      if (responses.length < count || closeTimer !== undefined) return;
      clearTimeout(answerTimer);
      // A keep-alive case stops at the last answer; a close case waits a little for the server
      // to close, and stops without it (which verifyCase reports) rather than time out.
      if (benchCase.responseHeaders?.connection !== 'close') socket.destroy();
      else closeTimer = setTimeout(() => socket.destroy(), CLOSE_WAIT_MS);
    });
    socket.on('end', () => {
      closedByServer = true;
      socket.destroy();
    });
    socket.on('error', (error) => {
      clearTimeout(answerTimer);
      clearTimeout(closeTimer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(answerTimer);
      clearTimeout(closeTimer);
      resolve({ responses, closedByServer });
    });
  });
}

function normalize(value: string): string {
  // Header values compared case-insensitively, and a CSP's "a; b" equal to "a;b".
  return value.toLowerCase().replace(/\s*;\s*/g, ';');
}

/** What is wrong with one response to `benchCase` (empty when it is right). */
function problemsOf(response: RawResponse, benchCase: BenchCase): string[] {
  const problems: string[] = [];
  if (response.status !== 200) problems.push(`status ${response.status}, expected 200`);
  const type = response.headers.get('content-type') ?? '';
  if (type.split(';')[0]!.trim().toLowerCase() !== benchCase.contentType) {
    problems.push(`content-type ${JSON.stringify(type)}, expected ${benchCase.contentType}`);
  }
  let body: unknown = response.body;
  if (typeof benchCase.expected !== 'string') {
    try {
      body = JSON.parse(response.body);
    } catch {
      body = Symbol('invalid JSON');
    }
  }
  if (!isDeepStrictEqual(body, benchCase.expected)) {
    const shown = response.body.length > 80 ? `${response.body.slice(0, 80)}…` : response.body;
    problems.push(`body ${JSON.stringify(shown)} is not the expected one`);
  }
  for (const [name, value] of Object.entries(benchCase.responseHeaders ?? {})) {
    const actual = response.headers.get(name);
    if (actual === undefined || actual === '') problems.push(`no ${name} header`);
    else if (value !== null && normalize(actual) !== normalize(value)) {
      problems.push(`${name}: ${JSON.stringify(actual)}, expected ${JSON.stringify(value)}`);
    }
  }
  return problems;
}

/** Throws, naming every problem, unless the target answers `benchCase` right. */
export async function verifyCase(port: number, benchCase: BenchCase): Promise<void> {
  // Keep-alive cases send at least two requests on one connection, so a server whose framing
  // is off after the first (a body not consumed, say) fails here rather than under load.
  const keepAlive = benchCase.responseHeaders?.connection !== 'close';
  const count = Math.max(benchCase.pipelining ?? 1, keepAlive ? 2 : 1);
  const what = `${benchCase.name} (${benchCase.method} ${benchCase.path} ×${count})`;
  let result: Awaited<ReturnType<typeof exchange>>;
  try {
    result = await exchange(port, benchCase, count);
  } catch (error) {
    throw new Error(`${what}: ${(error as Error).message}`);
  }
  const problems: string[] = [];
  if (result.responses.length !== count) {
    problems.push(`${result.responses.length} responses, expected ${count}`);
  }
  const first = result.responses.find((r) => problemsOf(r, benchCase).length > 0);
  if (first !== undefined) problems.push(...problemsOf(first, benchCase));
  if (benchCase.responseHeaders?.connection === 'close' && !result.closedByServer) {
    problems.push('the server kept the connection open after Connection: close');
  }
  if (problems.length > 0) throw new Error(`${what}: ${problems.join('; ')}`);
}
