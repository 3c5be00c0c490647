// Shard leases on real PostgreSQL: N workers split the shards evenly (none holds more
// than one over its share), no shard is ever held by two, and a dead worker's shards
// move to the living within seconds. The consumers here only record which shards they
// were given: what consuming means is the bus contract's business.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CommandConsumer } from "../src/pubsub/bus.js";
import { advisoryKey } from "../src/worker/outbox.js";
import { ShardLeases } from "../src/worker/shard-leases.js";
import { uniquePrefix } from "./harness/broker.js";
import { createTestDatabase, type TestDatabase } from "./harness/database.js";
import { until } from "./harness/wait.js";

const SHARDS = 8;
let database: TestDatabase;
const running: ShardLeases[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
}, 120_000);

afterAll(async () => {
  for (const leases of running) await leases.stop();
  await database?.drop();
});

class RecordingConsumer implements CommandConsumer {
  readonly #shards = new Set<number>();
  get shards(): ReadonlySet<number> {
    return new Set(this.#shards);
  }
  async add(shard: number) {
    this.#shards.add(shard);
  }
  async remove(shard: number) {
    this.#shards.delete(shard);
  }
  async stop() {
    this.#shards.clear();
  }
}

function startWorkers(namespace: string, count: number, shards = SHARDS) {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const consumer = new RecordingConsumer();
      const leases = new ShardLeases({
        url: database.url as string,
        namespace,
        shards,
        consumer,
        intervalMs: 200,
      });
      running.push(leases);
      await leases.start();
      return { consumer, leases };
    }),
  );
}

type Worker = Awaited<ReturnType<typeof startWorkers>>[number];

/** Every shard consumed by exactly one worker, and each worker within one of its share. */
function balanced(workers: Worker[], shards = SHARDS) {
  const counts = workers.map((w) => w.consumer.shards.size);
  const all = workers.flatMap((w) => [...w.consumer.shards]);
  const share = Math.ceil(shards / workers.length);
  return (
    all.length === shards &&
    new Set(all).size === shards &&
    counts.every((n) => n <= share && n >= share - 1)
  );
}

describe.runIf(process.env.TEST_DATABASE_URL || process.env.TEST_REQUIRE_SERVICES === "1")(
  "shard leases",
  () => {
    it.each([2, 3])(
      "%i workers split 8 shards evenly, each shard consumed by exactly one",
      async (n) => {
        const workers = await startWorkers(uniquePrefix(), n);
        await until(() => balanced(workers), 15_000, "balanced shards");
        const counts = workers.map((w) => w.consumer.shards.size).sort();
        expect(counts).toEqual(n === 2 ? [4, 4] : [2, 3, 3]);
        // Consuming matches holding: the consumer has exactly the leased shards.
        for (const w of workers)
          expect([...w.consumer.shards].sort()).toEqual([...w.leases.held].sort());
        for (const w of workers) await w.leases.stop();
      },
    );

    it("a worker that dies (its database connection gone) has its shards taken over by the others within seconds", async () => {
      const namespace = uniquePrefix();
      const workers = await startWorkers(namespace, 3);
      await until(() => balanced(workers), 15_000, "balanced shards");
      const [victim, ...survivors] = workers as [Worker, Worker, Worker];
      // Kill the victim's lease connection the way a crashed process loses it.
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      const victimShards = [...victim.consumer.shards];
      const { rowCount } = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND objsubid = 2
            AND classid = $1::bigint::oid AND objid = $2::bigint::oid`,
        [advisoryKey(`${namespace}:shards`), victimShards[0]],
      );
      expect(rowCount).toBe(1);
      await admin.end();
      // It stops consuming at once (its locks are gone) ...
      await until(
        () => victim.consumer.shards.size === 0 || victim.leases.lost,
        10_000,
        "the victim to let go",
      );
      await victim.leases.stop();
      // ... and the two others take everything, evenly.
      const start = Date.now();
      await until(() => balanced(survivors), 10_000, "the survivors to take over");
      expect(Date.now() - start).toBeLessThan(10_000);
      expect(survivors.map((w) => w.consumer.shards.size).sort()).toEqual([4, 4]);
    });

    it("a stopped worker hands its shards back, and a worker joining later gets its share", async () => {
      const namespace = uniquePrefix();
      const [first] = (await startWorkers(namespace, 1)) as [Worker];
      await until(() => first.consumer.shards.size === SHARDS);
      const [second] = (await startWorkers(namespace, 1)) as [Worker];
      await until(() => balanced([first, second]), 15_000, "the newcomer's share");
      await second.leases.stop();
      expect(second.consumer.shards.size).toBe(0);
      await until(() => first.consumer.shards.size === SHARDS, 15_000, "the shards back");
    });

    it("a third worker joining two that split 4 shards 2/2 gets one: 2/1/1, not 2/2/0", async () => {
      const namespace = uniquePrefix();
      const first = await startWorkers(namespace, 2, 4);
      await until(() => balanced(first, 4), 15_000, "2/2");
      const [third] = (await startWorkers(namespace, 1, 4)) as [Worker];
      const all = [...first, third];
      await until(() => balanced(all, 4), 15_000, "2/1/1");
      expect(all.map((w) => w.consumer.shards.size).sort()).toEqual([1, 1, 2]);
    });
  },
);
