// The worker's retry policy for one shard's batch. Transient is not poison:
// - an outage (the database or broker is down, slow or failing over) pauses the shard
//   and retries the same batch, in order, with capped exponential backoff, for as long as
//   it lasts, spending none of the commands' deliveries;
// - any other failure splits the batch in halves, settled one after the other (so order
//   holds), until the command that fails on its own is found; it is refused while the
//   services answer (a health probe): after one immediate retry when its data cannot be
//   stored (a NUL byte, a violated constraint), after a few with backoff when the failure
//   does not say, and
//   everything else is persisted. A flood of poison then costs its shard a few
//   transactions per command, never seconds of backoff.
import { setTimeout as sleep } from "node:timers/promises";
import { isDataFault, isOutage } from "../outages.js";
import type { RefusedCommand } from "../pubsub/bus.js";
import type { Command } from "../pubsub/commands.js";

export interface BatchRunnerOptions {
  /** Persists commands in one transaction (all or nothing). */
  persist(commands: Command[], signal: AbortSignal): Promise<void>;
  /** Resolves when the database and the broker answer. */
  healthy(): Promise<boolean>;
  /** Told when the shard starts or stops waiting for an outage to end. */
  onOutage?(waiting: boolean, error?: unknown): void;
  /** First pause of an outage (default 100 ms); doubles up to maxBackoffMs. */
  minBackoffMs?: number;
  /** Longest pause between retries of an outage (default 5000 ms). */
  maxBackoffMs?: number;
  /** Attempts of a command failing alone (services healthy) before it is refused (default 3). */
  attemptsAlone?: number;
}

/** Outage-looking failures of one batch, with the services healthy, before it is split (a timeout of a batch too big). */
const OUTAGE_FAILURES_BEFORE_SPLIT = 3;
/**
 * Outage-looking failures of ONE command while the services answer, before it is refused
 * (a receipt over a range that always times out): about two minutes at the longest
 * backoff. A shard never waits forever on a command the world is not to blame for.
 */
const OUTAGE_FAILURES_ALONE = 25;

/**
 * Settles `commands`: resolves with the ones refused (by index) once all others are
 * persisted. Rejects only when `signal` aborts (nothing more is settled; the bus hands
 * the batch out again).
 */
export async function runBatch(
  commands: Command[],
  signal: AbortSignal,
  options: BatchRunnerOptions,
): Promise<RefusedCommand[]> {
  const refused: RefusedCommand[] = [];
  const minBackoff = options.minBackoffMs ?? 100;
  const maxBackoff = options.maxBackoffMs ?? 5000;
  const attemptsAlone = options.attemptsAlone ?? 3;

  const pause = (ms: number) => sleep(ms, undefined, { signal });

  async function settle(items: Array<{ index: number; command: Command }>): Promise<void> {
    let backoff = minBackoff;
    let outageFailures = 0;
    let failuresAlone = 0;
    let waiting = false;
    for (;;) {
      signal.throwIfAborted();
      try {
        await options.persist(
          items.map((item) => item.command),
          signal,
        );
        if (waiting) options.onOutage?.(false);
        return;
      } catch (error) {
        signal.throwIfAborted();
        const outage = isOutage(error);
        // A data fault says whose failure it is; only an error that does not say needs
        // the services asked (a probe costs round trips while the shard waits).
        const dataFault = !outage && isDataFault(error);
        const healthy = dataFault || (await options.healthy().catch(() => false));
        if (outage && healthy) outageFailures++;
        const waitItOut =
          !healthy ||
          (outage &&
            outageFailures <
              (items.length === 1 ? OUTAGE_FAILURES_ALONE : OUTAGE_FAILURES_BEFORE_SPLIT));
        if (waitItOut) {
          // The world's failure: wait it out with the same batch.
          if (!waiting) options.onOutage?.(true, error);
          waiting = true;
          await pause(backoff + Math.random() * backoff * 0.2);
          backoff = Math.min(backoff * 2, maxBackoff);
          continue;
        }
        if (waiting) options.onOutage?.(false);
        waiting = false;
        if (items.length > 1) {
          const half = Math.ceil(items.length / 2);
          await settle(items.slice(0, half));
          await settle(items.slice(half));
          return;
        }
        // Alone, with the services answering: this command's own failure. A data fault
        // gets one immediate second try (a unique or foreign-key violation can be a race
        // that the re-read of a retry resolves); any other failure, a few with backoff.
        failuresAlone++;
        if (dataFault && failuresAlone < 2) continue;
        if (!outage && !dataFault && failuresAlone < attemptsAlone) {
          await pause(minBackoff * 2 ** failuresAlone);
          continue;
        }
        refused.push({ index: items[0]?.index ?? 0, reason: describeFailure(error) });
        return;
      }
    }
  }

  await settle(commands.map((command, index) => ({ index, command })));
  return refused;
}

/** A reason safe to show the sender: the kind of failure, never internals. */
function describeFailure(error: unknown): string {
  const e = error as {
    code?: unknown;
    meta?: { driverAdapterError?: { cause?: { code?: unknown } } };
  } | null;
  // PostgreSQL's SQLSTATE says most (22021: a byte sequence it cannot store), else Prisma's code.
  const code = e?.meta?.driverAdapterError?.cause?.code ?? e?.code;
  return `could not be stored${typeof code === "string" ? ` (${code})` : ""}`;
}
