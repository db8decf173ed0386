/**
 * What the scenarios share: picking the targets a run asked for, starting a set of servers
 * side by side (idle servers use no CPU, so only the one under load competes with the
 * generator), and measuring them interleaved.
 * @packageDocumentation
 */
import type { Sample } from '../lib/measure.js';
import type { Settings } from '../lib/options.js';
import {
  log,
  SkipError,
  startServer,
  stopServer,
  type RunningServer,
  type ServerSpec,
} from '../lib/proc.js';

/** The targets of a scenario that this run selected, in the scenario's order. */
export function selectTargets(settings: Settings, all: readonly string[]): string[] {
  return all.filter((name) => settings.targets?.has(name) ?? true);
}

/** Servers started side by side, and the targets that failed to start or to verify. */
export class ServerSet {
  readonly servers = new Map<string, RunningServer>();
  readonly failures = new Map<string, string>();

  /**
   * Starts one server per target, then runs `check` on it; a target whose start or check
   * throws is recorded as failed and stopped, and the others go on. A {@link SkipError}
   * (the script cannot run here) is rethrown.
   */
  async start(
    targets: readonly string[],
    spec: (target: string) => ServerSpec,
    check?: (server: RunningServer) => Promise<void>,
  ): Promise<void> {
    for (const target of targets) {
      let server: RunningServer | undefined;
      try {
        server = await startServer(spec(target));
        await check?.(server);
        this.servers.set(target, server);
      } catch (error) {
        if (server !== undefined) await stopServer(server);
        // A script that cannot run here skips the whole scenario rather than failing a target.
        if (error instanceof SkipError) throw error;
        this.fail(target, (error as Error).message);
      }
    }
  }

  /** Records a failure; the target is measured no further. */
  fail(target: string, message: string): void {
    log(`  FAILED: ${target}: ${message}`);
    this.failures.set(target, message);
    const server = this.servers.get(target);
    this.servers.delete(target);
    if (server !== undefined) void stopServer(server);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.servers.values()].map(stopServer));
    this.servers.clear();
  }
}

/**
 * Measures each target `settings.rounds` times, interleaved: every round visits all targets,
 * in reverse order every other round, so slow drift (thermal, neighbours) favours no one.
 */
export async function interleaved(
  settings: Settings,
  targets: readonly string[],
  measureOne: (target: string, round: number) => Promise<Sample | undefined>,
): Promise<Map<string, Sample[]>> {
  const samples = new Map<string, Sample[]>(targets.map((t) => [t, []]));
  for (let round = 0; round < settings.rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) {
      const sample = await measureOne(target, round);
      if (sample !== undefined) samples.get(target)!.push(sample);
    }
  }
  return samples;
}

/** The label progress lines start with. */
export function cellLabel(scenario: string, target: string, round: number, rounds: number): string {
  return `  ${scenario.padEnd(11)} ${target.padEnd(11)}${rounds > 1 ? ` #${round + 1}` : ''}`;
}
