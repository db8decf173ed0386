/**
 * `npm run bench:ws`: the suite's WebSocket scenarios (echo and idle memory, hyperlane against
 * bare `ws`). The older `WS_BENCH_*` variables still work: they map to the suite's.
 * `WS_BENCH_ONLY` is `echo` or `memory` to run one of the two.
 * @packageDocumentation
 */
import { main } from '../suite.js';

const RENAMED: Record<string, string> = {
  WS_BENCH_CLIENTS: 'BENCH_WS_CLIENTS',
  WS_BENCH_WINDOW: 'BENCH_WS_WINDOW',
  WS_BENCH_SECONDS: 'BENCH_DURATION',
  WS_BENCH_ROUNDS: 'BENCH_ROUNDS',
  WS_BENCH_IDLE: 'BENCH_IDLE',
  WS_BENCH_WARM: 'BENCH_IDLE_BASE',
};
for (const [old, current] of Object.entries(RENAMED)) {
  const value = process.env[old];
  if (value !== undefined && process.env[current] === undefined) process.env[current] = value;
}
const only = { echo: 'ws-echo', memory: 'memory-ws' }[process.env.WS_BENCH_ONLY ?? ''] ?? 'ws';
main(['--only', only, ...process.argv.slice(2)]);
