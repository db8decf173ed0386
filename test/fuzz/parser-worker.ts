/**
 * A worker thread of a parser fuzz campaign (see runCampaign in ./harness.ts): runs its slice of
 * cases, beating a shared heartbeat before each, and posts findings and its counts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { HEARTBEAT, runSlice, type Finding } from './harness.js';
import { isKnownOpen } from './regressions.js';

interface Data {
  seed: number;
  from: number;
  step: number;
  maxCases: number;
  deadline: number;
  heartbeat: SharedArrayBuffer;
  minimizeMs: number;
  reportKnown: boolean;
}

const data = workerData as Data;
const hb = new Int32Array(data.heartbeat);
const port = parentPort!;

const stats = runSlice({
  seed: data.seed,
  from: data.from,
  step: data.step,
  maxCases: data.maxCases,
  deadline: data.deadline,
  minimizeMs: data.minimizeMs,
  ...(data.reportKnown ? {} : { ignore: isKnownOpen }),
  onCase: (index, done) => {
    Atomics.store(hb, HEARTBEAT.INDEX, index);
    Atomics.store(hb, HEARTBEAT.DONE, done);
    Atomics.add(hb, HEARTBEAT.TICKS, 1);
  },
  onFinding: (finding: Finding) => port.postMessage({ type: 'finding', finding }),
});
port.postMessage({ type: 'done', stats });
