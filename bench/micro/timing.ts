/**
 * Timing for the micro-benchmarks: a warm-up, then seven timed runs, best and median printed.
 * @packageDocumentation
 */

/**
 * Runs `work(count)` once (a fifth of it) to warm up, then seven times timed, and prints the
 * nanoseconds per unit of work. `work` may be asynchronous, when the event loop must turn.
 */
export async function runTimed(
  label: string,
  count: number,
  work: (count: number) => void | Promise<void>,
): Promise<void> {
  await work(count / 5);
  const runs: number[] = [];
  for (let run = 0; run < 7; run++) {
    const start = process.hrtime.bigint();
    await work(count);
    runs.push(Number(process.hrtime.bigint() - start) / count);
  }
  runs.sort((a, b) => a - b);
  console.log(`${label}: ${runs[0]!.toFixed(0)} ns best, ${runs[3]!.toFixed(0)} ns median`);
}
