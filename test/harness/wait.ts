// Waiting for a condition instead of sleeping: polls until it holds, or fails with a
// message after the timeout (the machines are shared and slow at times: be generous).
import { setTimeout as sleep } from "node:timers/promises";

/** Resolves to how long the condition took to hold (for bounds such as "within 2 s"). */
export async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  what = "condition",
): Promise<number> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
  return Date.now() - started;
}

/**
 * Reads until what it read satisfies `ok`, and returns it; after `timeoutMs`, returns the
 * last value read, so the test's own assertion shows what was there instead.
 */
export async function eventually<T>(
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > deadline) return value;
    await sleep(50);
  }
}
