/**
 * `npm run soak`: soaks one server with mixed traffic (10 minutes unless `--seconds N`) and
 * prints what it measured; exits 1 if any criterion failed. Options: `--seconds N`,
 * `--seed N`, `--sample-seconds N`, `--json` (the full report, samples included, on stdout).
 */
import { parseArgs } from 'node:util';
import { describeSample, runSoak, summarize } from './soak.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    seed: { type: 'string', default: '1' },
    'sample-seconds': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`--${name} must be a positive number, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

const seconds = positive('seconds', values.seconds);
const sampleSeconds = values['sample-seconds'];
const report = await runSoak({
  durationMs: seconds * 1000,
  seed: positive('seed', values.seed),
  ...(sampleSeconds === undefined
    ? {}
    : { sampleEveryMs: positive('sample-seconds', sampleSeconds) * 1000 }),
  log: (line) => console.error(line),
});
if (values.json) console.log(JSON.stringify(report, null, 2));
else {
  console.log(summarize(report));
  console.log(
    `baseline samples from t=${(seconds * 0.2).toFixed(0)}s; last: ${describeSample(report.samples.at(-1)!)}`,
  );
}
process.exitCode = report.problems.length === 0 ? 0 : 1;
