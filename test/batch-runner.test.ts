// The worker's retry policy as pure logic (the persist step and the health probe are
// stand-ins here; the worker and fault suites run it against the real services).
import { describe, expect, it } from "vitest";
import type { Command, SendMessageCommand } from "../src/pubsub/commands.js";
import { runBatch } from "../src/worker/batch-runner.js";

const commands = (n: number): Command[] =>
  Array.from(
    { length: n },
    (_, i): SendMessageCommand => ({
      type: "message.send",
      messageId: String(i),
      channelId: "c",
      senderId: "s",
      clientMessageId: String(i),
      body: `m${i}`,
      createdAt: "2026-01-01T00:00:00.000Z",
    }),
  );

const id = (c: Command) => (c as SendMessageCommand).messageId;
const fast = { minBackoffMs: 1, maxBackoffMs: 2 };
const pgError = (code: string) =>
  Object.assign(new Error(`postgres ${code}`), {
    code: "P2010",
    meta: { driverAdapterError: { cause: { code } } },
  });

describe("runBatch", () => {
  it("splits a batch to find the one command that fails on its own; the others persist in order", async () => {
    const persisted: string[] = [];
    const refused = await runBatch(commands(8), new AbortController().signal, {
      ...fast,
      healthy: async () => true,
      persist: async (batch) => {
        if (batch.some((c) => id(c) === "5")) throw pgError("22021");
        persisted.push(...batch.map(id));
      },
    });
    expect(refused).toEqual([{ index: 5, reason: "could not be stored (22021)" }]);
    expect(persisted).toEqual(["0", "1", "2", "3", "4", "6", "7"]);
  });

  it("a command whose data cannot be stored (SQLSTATE class 22 or 23) is retried once alone at once, then refused: no backoff holds its shard", async () => {
    const alone: string[] = [];
    const refused = await runBatch(commands(4), new AbortController().signal, {
      // A backoff this long would time the test out if it were slept even once.
      minBackoffMs: 60_000,
      maxBackoffMs: 60_000,
      healthy: async () => true,
      persist: async (batch) => {
        if (batch.length === 1) alone.push(id(batch[0] as Command));
        if (batch.some((c) => id(c) === "1")) throw pgError("22021");
        if (batch.some((c) => id(c) === "2")) throw pgError("23505");
      },
    });
    expect(refused.map((r) => r.index)).toEqual([1, 2]);
    expect(alone.filter((x) => x === "1" || x === "2")).toEqual(["1", "1", "2", "2"]);
  });

  it("a unique violation that the immediate retry resolves (a race) refuses nothing", async () => {
    let failures = 1;
    const refused = await runBatch(commands(1), new AbortController().signal, {
      minBackoffMs: 60_000,
      maxBackoffMs: 60_000,
      healthy: async () => true,
      persist: async () => {
        if (failures-- > 0) throw pgError("23505");
      },
    });
    expect(refused).toEqual([]);
  });

  it("a command failing alone for a reason that does not say is tried a few times before it is refused", async () => {
    let attempts = 0;
    const refused = await runBatch(commands(1), new AbortController().signal, {
      ...fast,
      attemptsAlone: 3,
      healthy: async () => true,
      persist: async () => {
        attempts++;
        throw new Error("something we cannot classify");
      },
    });
    expect(refused).toHaveLength(1);
    expect(attempts).toBe(3);
  });

  it("an outage (any error while the probe fails) waits with the same batch: nothing refused, nothing split", async () => {
    const calls: number[] = [];
    let failures = 6;
    const waiting: boolean[] = [];
    const refused = await runBatch(commands(4), new AbortController().signal, {
      ...fast,
      // Down for the first six attempts, as the probe sees it right after each.
      healthy: async () => calls.length > 6,
      onOutage: (isWaiting) => waiting.push(isWaiting),
      persist: async (batch) => {
        calls.push(batch.length);
        if (failures > 0) {
          failures--;
          throw new Error("something we cannot classify");
        }
      },
    });
    expect(refused).toEqual([]);
    expect(calls).toEqual([4, 4, 4, 4, 4, 4, 4]);
    expect(waiting).toEqual([true, false]);
  });

  it("a read-only transaction (a failover reached a standby) is an outage, not poison", async () => {
    let failures = 3;
    const refused = await runBatch(commands(1), new AbortController().signal, {
      ...fast,
      healthy: async () => true,
      persist: async () => {
        if (failures-- > 0) throw pgError("25006");
      },
    });
    expect(refused).toEqual([]);
  });

  it("one command that keeps timing out while the services answer is refused in the end, not retried forever", async () => {
    let attempts = 0;
    const refused = await runBatch(commands(1), new AbortController().signal, {
      ...fast,
      healthy: async () => true,
      persist: async () => {
        attempts++;
        throw pgError("57014");
      },
    });
    expect(refused).toEqual([{ index: 0, reason: "could not be stored (57014)" }]);
    expect(attempts).toBe(25);
  });

  it("stops when aborted (the shard is handed over) and settles nothing", async () => {
    const abort = new AbortController();
    const run = runBatch(commands(2), abort.signal, {
      ...fast,
      healthy: async () => false,
      persist: async () => {
        abort.abort();
        throw new Error("down");
      },
    });
    await expect(run).rejects.toThrow();
  });
});
