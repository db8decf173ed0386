/**
 * HTTP load from a separate process: wrk when it is installed (C, so it needs far less CPU for
 * the same load, which matters when it shares 2 cores with the server), else autocannon from
 * npm. Both run keep-alive connections; POST bodies and pipelining go through a generated Lua
 * script for wrk and through flags for autocannon.
 * @packageDocumentation
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { CpuWindow } from './cpu.js';
import type { Outcome } from './measure.js';
import type { Settings } from './options.js';
import { runProcess } from './proc.js';

/** The request a load run repeats. */
export interface HttpLoad {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Requests in flight per connection. */
  readonly pipelining: number;
}

/**
 * Runs `load` for `seconds`. With a window, the CPU is accounted from just before the
 * generator starts until it has exited (so its own CPU is in the runner's reaped children).
 */
export async function runLoad(
  settings: Settings,
  load: HttpLoad,
  seconds: number,
  window?: CpuWindow,
): Promise<Outcome> {
  window?.start();
  try {
    return settings.loadGenerator === 'wrk'
      ? await runWrk(settings, load, seconds)
      : await runAutocannon(settings, load, seconds);
  } finally {
    window?.stop();
  }
}

function luaString(text: string): string {
  // A long bracket whose level is not in the text: no escaping needed.
  let level = '';
  while (text.includes(`]${level}]`)) level += '=';
  return `[${level}[${text}]${level}]`;
}

/** The wrk script for a load: method, headers and body, and the pipelined batch if any. */
function wrkScript(load: HttpLoad): string {
  const lines = [`wrk.method = ${luaString(load.method)}`];
  for (const [name, value] of Object.entries(load.headers)) {
    lines.push(`wrk.headers[ ${luaString(name)} ] = ${luaString(value)}`);
  }
  if (load.body !== undefined) lines.push(`wrk.body = ${luaString(load.body)}`);
  if (load.pipelining > 1) {
    // As wrk's own scripts/pipeline.lua: one write carries the whole batch; wrk counts each
    // response as it parses it.
    lines.push(
      'local batch',
      'init = function(args)',
      '  local r = {}',
      `  for i = 1, ${load.pipelining} do r[i] = wrk.format() end`,
      '  batch = table.concat(r)',
      'end',
      'request = function() return batch end',
    );
  }
  return `${lines.join('\n')}\n`;
}

const WRK_LATENCY_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

async function runWrk(settings: Settings, load: HttpLoad, seconds: number): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'hyperlane-bench-'));
  const script = join(dir, 'load.lua');
  writeFileSync(script, wrkScript(load));
  try {
    const { stdout, stderr } = await runProcess('wrk', [
      '-t',
      String(settings.threads),
      '-c',
      String(settings.connections),
      '-d',
      `${seconds}s`,
      '-s',
      script,
      load.url,
    ]);
    // wrk reports a broken script on stderr and then runs a plain GET instead: never count that.
    if (stderr.trim() !== '') throw new Error(`wrk: ${stderr.trim()}`);
    return parseWrk(stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Parses wrk's text report (its format has been stable since wrk 4). */
function parseWrk(output: string): Outcome {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  if (rps === null) throw new Error(`no "Requests/sec" in wrk output:\n${output}`);
  const latency = /Latency\s+([\d.]+)(us|ms|s|m)\b/.exec(output);
  const total = /(\d+) requests in/.exec(output);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    output,
  );
  return {
    rate: Number(rps[1]),
    count: total === null ? NaN : Number(total[1]),
    ...(latency === null
      ? {}
      : { latencyMs: Number(latency[1]) * WRK_LATENCY_UNITS[latency[2]!]! }),
    bad: non2xx === null ? 0 : Number(non2xx[1]),
    errors: socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0),
  };
}

interface AutocannonJson {
  requests: { total: number };
  latency: { average: number };
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

function autocannonCli(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('autocannon/package.json')), 'autocannon.js');
}

async function runAutocannon(
  settings: Settings,
  load: HttpLoad,
  seconds: number,
): Promise<Outcome> {
  // autocannon's CLI in its own Node process, so it never shares an event loop with a server.
  const { stdout } = await runProcess(process.execPath, [
    autocannonCli(),
    '--json',
    '--connections',
    String(settings.connections),
    '--pipelining',
    String(load.pipelining),
    '--duration',
    String(seconds),
    '--method',
    load.method,
    ...(load.body === undefined ? [] : ['--body', load.body]),
    ...Object.entries(load.headers).flatMap(([name, value]) => ['--headers', `${name}=${value}`]),
    load.url,
  ]);
  const json = JSON.parse(stdout) as AutocannonJson;
  return {
    // total/duration rather than the per-second average, which drops the partial last second.
    rate: json.requests.total / json.duration,
    count: json.requests.total,
    latencyMs: json.latency.average,
    bad: json.non2xx,
    errors: json.errors + json.timeouts,
  };
}
