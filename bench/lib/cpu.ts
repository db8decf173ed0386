/**
 * CPU accounting from /proc (Linux; elsewhere every figure is simply absent). For each
 * measured window it says where the CPU went, in cores: the server (its whole process tree, so
 * cluster workers count), the load generator, and everything else. `other` is what tells a real
 * result from one disturbed by another process on a shared machine, and the server's CPU
 * seconds give requests per CPU-second, which moves far less with load than req/s does.
 * @packageDocumentation
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** CPU used during one window, in cores (1 = one core busy the whole time). */
export interface CpuShare {
  /** The target server (all its processes). */
  server: number;
  /** The load generator plus this runner (the runner's share is negligible). */
  generator: number;
  /**
   * Everything else: other processes, hypervisor steal, and softirq network work that ran
   * outside both (loopback softirq run inside a process's syscall is charged to that process).
   * Near 0 on an idle machine.
   */
  other: number;
  /** CPU seconds the server used in the window. */
  serverSeconds: number;
}

/** Other processes' CPU (in cores) above which a window is flagged as disturbed. */
export const OTHER_CPU_WARNING = 0.15;
/** Server CPU (in cores) below which, on a quiet machine, the load generator was the limit. */
export const SERVER_SATURATED = 0.85;

// /proc reports process times in USER_HZ ticks, which Linux fixes at 100 per second.
const TICKS_PER_SECOND = 100;

interface Stat {
  readonly ppid: number;
  /** utime + stime. */
  readonly own: number;
  /** cutime + cstime: children this process has reaped. */
  readonly reaped: number;
}

function readStat(pid: number | 'self'): Stat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may itself hold spaces.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(f[1]),
      own: Number(f[11]) + Number(f[12]),
      reaped: Number(f[13]) + Number(f[14]),
    };
  } catch {
    return undefined; // gone, or no /proc
  }
}

/** Ticks of `root` and all its live descendants (a cluster primary and its workers). */
function treeTicks(root: number): number {
  const byParent = new Map<number, number[]>();
  const own = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (stat === undefined) continue;
    own.set(pid, stat.own);
    const siblings = byParent.get(stat.ppid);
    if (siblings === undefined) byParent.set(stat.ppid, [pid]);
    else siblings.push(pid);
  }
  let total = 0;
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    total += own.get(pid) ?? 0;
    queue.push(...(byParent.get(pid) ?? []));
  }
  return total;
}

interface Sample {
  busy: number;
  total: number;
  server: number;
  generator: number;
}

function sample(serverPid: number, loadPid: number | undefined): Sample | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number) as number[];
    const busy = user! + nice! + system! + irq! + softirq! + (steal ?? 0);
    const self = readStat('self')!;
    const load = loadPid === undefined ? 0 : (readStat(loadPid)?.own ?? 0);
    return {
      busy,
      total: busy + idle! + iowait!,
      server: treeTicks(serverPid),
      // The runner, every child it has reaped (finished load generators), a live load process.
      generator: self.own + self.reaped + load,
    };
  } catch {
    return undefined;
  }
}

/**
 * One measured window. Call {@link CpuWindow.start} when the measured load begins and
 * {@link CpuWindow.stop} when it ends; pass the load process's pid if it is still alive then
 * (a finished one is counted through the runner's reaped children).
 */
export class CpuWindow {
  private before: Sample | undefined;
  private after: Sample | undefined;

  constructor(private readonly serverPid: number) {}

  start(loadPid?: number): void {
    this.before = sample(this.serverPid, loadPid);
  }

  stop(loadPid?: number): void {
    this.after = sample(this.serverPid, loadPid);
  }

  /** The window's CPU shares, or `undefined` without /proc or if it was never started. */
  share(): CpuShare | undefined {
    const { before, after } = this;
    if (before === undefined || after === undefined) return undefined;
    // /proc/stat counts every core, so one core's worth of elapsed ticks is total / cores.
    const elapsed = (after.total - before.total) / cpus().length;
    if (elapsed <= 0) return undefined;
    const server = (after.server - before.server) / elapsed;
    const generator = (after.generator - before.generator) / elapsed;
    const other = Math.max(0, (after.busy - before.busy) / elapsed - server - generator);
    const round = (n: number): number => Number(n.toFixed(2));
    return {
      server: round(server),
      generator: round(generator),
      other: round(other),
      serverSeconds: (after.server - before.server) / TICKS_PER_SECOND,
    };
  }
}

/**
 * Share of all cores busy over `ms`, while no load runs: anything above noise means another
 * process (a test run, a build) is competing, and numbers measured now would be off.
 */
export async function backgroundCpuLoad(ms: number): Promise<number> {
  const sum = (): { idle: number; total: number } => {
    let idle = 0;
    let total = 0;
    for (const { times } of cpus()) {
      idle += times.idle;
      total += times.user + times.nice + times.sys + times.idle + times.irq;
    }
    return { idle, total };
  };
  const before = sum();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = sum();
  const total = after.total - before.total;
  return total <= 0 ? 0 : 1 - (after.idle - before.idle) / total;
}

/**
 * Waits until other processes use less than {@link OTHER_CPU_WARNING} cores for 2 s in a row
 * (the servers are idle meanwhile, so all CPU seen is someone else's). Resolves `false` if that
 * did not happen within `maxMs`.
 */
export async function waitForQuiet(maxMs: number): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  let quietSeconds = 0;
  while (Date.now() < deadline) {
    const busyCores = (await backgroundCpuLoad(1_000)) * cpus().length;
    quietSeconds = busyCores < OTHER_CPU_WARNING ? quietSeconds + 1 : 0;
    if (quietSeconds >= 2) return true;
  }
  return false;
}
