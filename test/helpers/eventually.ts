/** Polling for conditions that become true asynchronously (a message arrives, a hook runs). */
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `pred` every `stepMs` until it holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(
  pred: () => boolean | Promise<boolean>,
  timeoutMs = 3000,
  stepMs = 10,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() >= deadline) return false;
    await sleep(stepMs);
  }
  return true;
}
