// `npm run bench:statements`: where a worker batch's time goes, statement by statement.
// Persists batches of sends into one group channel through the worker's own persistBatch
// on the configured PostgreSQL (a database of its own, dropped after), and times each
// statement's round trip, BEGIN (with the shard's lock), COMMIT and the worker's own work
// between them; prints the mean per batch. It is the profile behind the README's worker
// ingest row: the ingest scenario of `npm run bench` measures the rate, this says which
// step of a batch takes it. The worker's code runs here through tsx, in this process.
//
//   npm run bench:statements -- --members 10000 --batches 60 --size 100
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type pg from "pg";
import { pgSql, type Sql } from "../src/db/sql.js";
import type { SendMessageCommand } from "../src/pubsub/commands.js";
import { advisoryKey } from "../src/worker/outbox.js";
import { persistBatch } from "../src/worker/persist-batch.js";
import { isMain } from "./baselines/cli.js";
import { seedGroupChannel, seedUsers } from "./lib/seed.js";
import { createDatabase, servicesFromEnv } from "./lib/services.js";

export interface StatementTimings {
  /** Batches measured (after `warmUp` more that were not). */
  batches: number;
  /** Each step's mean milliseconds per batch, in the order first seen. */
  steps: Array<{ step: string; msPerBatch: number; perBatch: number }>;
  /** A whole batch's mean milliseconds, BEGIN to COMMIT. */
  msPerBatch: number;
}

/** A statement's name in the report: its first words, whitespace folded. */
const labelOf = (text: string) => text.replace(/\s+/g, " ").trim().slice(0, 70);

export async function timeBatchStatements(
  pool: pg.Pool,
  options: { members: number; batches: number; size: number; warmUp: number },
): Promise<StatementTimings> {
  const [owner, ...others] = await seedUsers(pool, options.members, randomUUID());
  if (!owner) throw new Error("no users");
  const channelId = await seedGroupChannel(pool, owner, others);
  const totals = new Map<string, { ms: number; count: number }>();
  let measuring = false;
  const add = (step: string, ms: number) => {
    if (!measuring) return;
    const total = totals.get(step) ?? { ms: 0, count: 0 };
    total.ms += ms;
    total.count += 1;
    totals.set(step, total);
  };
  const sql = pgSql(pool);
  // The worker's Sql, each statement timed: what runs between two of them is the worker's.
  const timed: Sql = {
    query: sql.query,
    async transaction(work, transactionOptions) {
      const started = performance.now();
      let last = started;
      /** The time from `last` until now goes to `step`; now is the new `last`. */
      const lap = (step: string) => {
        const now = performance.now();
        add(step, now - last);
        last = now;
      };
      const own = "the worker's own work between statements";
      const result = await sql.transaction(async (tx) => {
        lap("BEGIN, the shard's lock");
        const around =
          <T>(run: (text: string, params?: unknown[]) => Promise<T>) =>
          async (text: string, params?: unknown[]) => {
            lap(own);
            const out = await run(text, params);
            lap(labelOf(text));
            return out;
          };
        const out = await work({ query: around(tx.query) as never, execute: around(tx.execute) });
        lap(own);
        return out;
      }, transactionOptions);
      lap("COMMIT");
      add("the whole batch", last - started);
      return result;
    },
  };
  const lock = [advisoryKey("bench-statements"), 0] as const;
  let previous: string[] = [];
  for (let batch = 0; batch < options.warmUp + options.batches; batch++) {
    measuring = batch >= options.warmUp;
    const sends = Array.from(
      { length: options.size },
      (_, i): SendMessageCommand => ({
        type: "message.send",
        messageId: randomUUID(),
        channelId,
        senderId: owner.id,
        clientMessageId: randomUUID(),
        body: `ingest ${batch * options.size + i}`,
        createdAt: new Date().toISOString(),
      }),
    );
    // As the worker does: the previous batch's outbox rows are being published meanwhile;
    // here they are deleted, as its publish would, before the next batch commits.
    const written = await persistBatch(timed, 0, sends, lock, [], previous);
    await pool.query("DELETE FROM outbox_events WHERE id = ANY($1::bigint[])", [written.ids]);
    previous = written.ids;
  }
  const whole = totals.get("the whole batch");
  totals.delete("the whole batch");
  return {
    batches: options.batches,
    steps: [...totals].map(([step, total]) => ({
      step,
      msPerBatch: total.ms / options.batches,
      perBatch: total.count / options.batches,
    })),
    msPerBatch: (whole?.ms ?? 0) / options.batches,
  };
}

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  const option = (name: string, fallback: number) => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 ? Number(argv[at + 1]) : fallback;
  };
  const options = {
    members: option("members", 10_000),
    batches: option("batches", 60),
    size: option("size", 100),
    warmUp: option("warm-up", 10),
  };
  const database = await createDatabase(servicesFromEnv().postgresUrl);
  try {
    const timings = await timeBatchStatements(database.pool, options);
    const round = (ms: number) => ms.toFixed(2);
    console.log(
      `${options.batches} batches of ${options.size} sends in a channel of ${options.members} members (after ${options.warmUp} unmeasured):\n`,
    );
    console.log("| step | ms per batch | times per batch |\n| --- | --- | --- |");
    for (const { step, msPerBatch, perBatch } of timings.steps)
      console.log(`| ${step} | ${round(msPerBatch)} | ${round(perBatch)} |`);
    console.log(`| a whole batch, BEGIN to COMMIT | ${round(timings.msPerBatch)} | 1 |`);
  } finally {
    await database.drop();
  }
}
