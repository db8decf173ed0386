/**
 * `npm run fuzz`: a long parser fuzz campaign (the CI slice of parser-fuzz.test.ts, for longer).
 *
 *   npm run fuzz                       10 minutes, a fresh random seed (printed)
 *   npm run fuzz -- --seconds 60       one minute
 *   npm run fuzz -- --seed 1234        replay / extend a campaign: case i of a seed is always the same
 *   npm run fuzz -- --workers 4        worker threads (default: available cores)
 *   npm run fuzz -- --report-known     also report failures of bugs still open in regressions.ts
 *
 * Prints progress every 10 s. Each failure is minimized (bytes deleted while it persists),
 * printed, and saved to test/fuzz/found/<hash>.txt with a regressions.ts entry ready to paste.
 * Exits with 1 if anything was found.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findingHash, formatFinding, runCampaign, type Finding } from './harness.js';

interface Options {
  seconds: number;
  seed: number;
  workers: number;
  reportKnown: boolean;
}

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: npm run fuzz -- [--seconds N] [--seed S] [--workers W] [--report-known]\n`,
  );
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Options {
  const opts: Options = {
    seconds: 600,
    seed: (Date.now() ^ (process.pid << 16)) >>> 0,
    workers: Math.max(1, availableParallelism()),
    reportKnown: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) usage(`${arg} needs a non-negative number`);
      return v;
    };
    if (arg === '--seconds') opts.seconds = value();
    else if (arg === '--seed') opts.seed = value() >>> 0;
    else if (arg === '--workers') opts.workers = Math.max(1, Math.floor(value()));
    else if (arg === '--report-known') opts.reportKnown = true;
    else if (arg === '--help' || arg === '-h') usage('');
    else usage(`unknown argument ${arg}`);
  }
  return opts;
}

/** test/fuzz/found/ of the repository this build came from (.build*\/test/fuzz/run.js). */
function foundDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = path.resolve(here, '../../..');
  const base = existsSync(path.join(root, 'package.json')) ? root : process.cwd();
  return path.join(base, 'test', 'fuzz', 'found');
}

function save(f: Finding): string {
  const dir = foundDir();
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${findingHash(f)}.txt`);
  writeFileSync(file, `# hyperlane-ts parser fuzz finding (npm run fuzz)\n\n${formatFinding(f)}\n`);
  return file;
}

const opts = parseArgs(process.argv.slice(2));
process.stdout.write(
  `parser fuzz: seed ${opts.seed}, ${opts.seconds} s, ${opts.workers} worker(s); ` +
    `findings go to ${path.relative(process.cwd(), foundDir()) || '.'}\n`,
);

const result = await runCampaign({
  seed: opts.seed,
  workers: opts.workers,
  maxCases: Number.MAX_SAFE_INTEGER,
  seconds: opts.seconds,
  reportKnown: opts.reportKnown,
  progressMs: 10_000,
  onProgress: ({ cases, elapsedMs }) => {
    const rate = Math.round((cases / Math.max(1, elapsedMs)) * 1000);
    process.stdout.write(`  ${Math.round(elapsedMs / 1000)} s: ${cases} cases (${rate}/s)\n`);
  },
  onFinding: (f) => {
    const file = save(f);
    process.stdout.write(`\nFOUND (${f.kind}), saved to ${file}\n${formatFinding(f)}\n\n`);
  },
});

const rate = Math.round((result.cases / Math.max(1, result.elapsedMs)) * 1000);
process.stdout.write(
  `done: ${result.cases} cases, ${result.requests} requests handed over, ` +
    `${(result.bytes / 1e6).toFixed(1)} MB in ${(result.elapsedMs / 1000).toFixed(1)} s (${rate}/s)\n` +
    `end states: ${Object.entries(result.ends)
      .sort()
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}\n` +
    (result.ignored > 0
      ? `${result.ignored} failure(s) of bugs still open in regressions.ts (--report-known to see them)\n`
      : '') +
    `${result.findings.length} finding(s)${result.findings.length > 0 ? ' (see above)' : ''}; seed ${opts.seed}\n`,
);
process.exitCode = result.findings.length > 0 ? 1 : 0;
