// Scenario 5: worker ingest by channel size. Send commands for channels of 2, 50, 500 and
// 10,000 members are published straight to the broker (the api is not what is measured
// here) and the worker persists them: messages and recipient rows per second, and the
// CPU each message costs the worker and PostgreSQL. Beside it, the database ceilings: the
// same rows (messages, one recipient row per other member) written by plain pg in
// batches of the same size, one transaction each, into tables shaped like the product's:
// once as batched INSERTs (the recipient rows made by a join in the database, as the
// worker makes them), once with the recipient rows streamed in by COPY.
import { randomUUID } from "node:crypto";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { AmqpBus } from "../../src/pubsub/amqp/amqp-bus.js";
import type { SendMessageCommand } from "../../src/pubsub/commands.js";
import type { BenchContext } from "../lib/bench-context.js";
import { type CpuUsage, measureCpu, systemParts } from "../lib/cpu-usage.js";
import { seedGroupChannel, seedUsers } from "../lib/seed.js";
import { round } from "../lib/stats.js";

export interface IngestResult {
  members: number;
  messages: number;
  /** From the first publish until the last message was stored. */
  ms: number;
  messagesPerSecond: number;
  recipientRowsPerSecond: number;
  /** CPU per message by part (worker, postgres, …) over the ingest. */
  cpu?: CpuUsage;
  /** The same rows inserted by plain pg, in batches of the worker's size. */
  ceiling: { ms: number; recipientRowsPerSecond: number };
  /** The same, with the recipient rows written by COPY. */
  copyCeiling: { ms: number; recipientRowsPerSecond: number };
}

/** Messages per batch in the ceiling, as the worker's default batch. */
const BATCH = 100;

export async function runIngest(
  ctx: BenchContext,
  options: { sizes: number[]; recipientRows: number; maxMessages: number; amqpUrl: string },
): Promise<IngestResult[]> {
  const bus = await AmqpBus.connect({ url: options.amqpUrl, prefix: ctx.topology.namespace });
  const results: IngestResult[] = [];
  try {
    for (const members of options.sizes) {
      // About the same number of recipient rows at every size, within a number of messages.
      const messages = Math.min(
        options.maxMessages,
        Math.max(5, Math.round(options.recipientRows / (members - 1))),
      );
      const [owner, ...others] = await seedUsers(ctx.pool, members, ctx.jwtSecret);
      if (!owner) throw new Error("no users");
      const channelId = await seedGroupChannel(ctx.pool, owner, others);
      const commands: SendMessageCommand[] = Array.from({ length: messages }, (_, i) => {
        const id = randomUUID();
        return {
          type: "message.send",
          messageId: id,
          channelId,
          senderId: owner.id,
          clientMessageId: id,
          body: `ingest ${i}`,
          createdAt: new Date().toISOString(),
        };
      });
      const cpu = measureCpu(systemParts(ctx.topology, []));
      const started = Date.now();
      await Promise.all(commands.map((command) => bus.sendCommand(command)));
      await storedAll(ctx.pool, channelId, messages);
      const ms = Date.now() - started;
      const usage = cpu();
      const ceiling = await insertCeiling(ctx.pool, channelId, owner.id, messages);
      const copyCeiling = await copyCeilingMs(ctx.pool, channelId, owner.id, messages);
      const rows = messages * (members - 1);
      const result: IngestResult = {
        members,
        messages,
        ms,
        messagesPerSecond: round((messages / ms) * 1000),
        recipientRowsPerSecond: round((rows / ms) * 1000),
        ...(usage ? { cpu: usage } : {}),
        ceiling: { ms: ceiling, recipientRowsPerSecond: round((rows / ceiling) * 1000) },
        copyCeiling: {
          ms: copyCeiling,
          recipientRowsPerSecond: round((rows / copyCeiling) * 1000),
        },
      };
      ctx.log(
        `ingest ${members} members: ${messages} messages in ${ms} ms (${result.recipientRowsPerSecond} recipient rows/s; plain pg ${result.ceiling.recipientRowsPerSecond}/s, COPY ${result.copyCeiling.recipientRowsPerSecond}/s)`,
      );
      results.push(result);
    }
    return results;
  } finally {
    await bus.close();
  }
}

/** Until the channel holds `count` messages (polled: a benchmark, not a test). */
async function storedAll(pool: pg.Pool, channelId: string, count: number) {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const { rows } = await pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM messages WHERE channel_id = $1",
      [channelId],
    );
    if (Number(rows[0]?.n) >= count) return;
    if (Date.now() > deadline) throw new Error(`ingest: only ${rows[0]?.n} of ${count} stored`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The ceiling: the same messages and recipient rows by plain pg (INSERT … SELECT); returns ms. */
function insertCeiling(pool: pg.Pool, channelId: string, senderId: string, count: number) {
  return timedBatches(pool, "ceiling", channelId, senderId, count, (client, table, ids) =>
    client.query(
      `INSERT INTO ${table} (message_id, user_id)
       SELECT m.id, cm.user_id FROM unnest($1::uuid[]) AS m(id)
         JOIN channel_members cm ON cm.channel_id = $2 AND cm.user_id <> $3`,
      [ids, channelId, senderId],
    ),
  );
}

/** The ceiling with COPY: the recipient rows streamed in; returns ms. */
async function copyCeilingMs(pool: pg.Pool, channelId: string, senderId: string, count: number) {
  const { rows: members } = await pool.query<{ user_id: string }>(
    "SELECT user_id::text FROM channel_members WHERE channel_id = $1 AND user_id <> $2",
    [channelId, senderId],
  );
  return timedBatches(pool, "copy", channelId, senderId, count, (client, table, ids) =>
    pipeline(
      (function* () {
        for (const id of ids) yield members.map((m) => `${id}\t${m.user_id}\n`).join("");
      })(),
      client.query(copyFrom(`COPY ${table} (message_id, user_id) FROM STDIN`)),
    ),
  );
}

/**
 * `count` messages in batches of BATCH, one transaction each, into `<name>_messages` (shaped
 * like messages), their recipient rows written by `writeRecipients` into
 * `<name>_recipients` (shaped like message_recipients); returns ms.
 */
async function timedBatches(
  pool: pg.Pool,
  name: string,
  channelId: string,
  senderId: string,
  count: number,
  writeRecipients: (client: pg.PoolClient, table: string, ids: string[]) => Promise<unknown>,
) {
  await pool.query(`
    CREATE TABLE IF NOT EXISTS ${name}_messages (LIKE messages INCLUDING DEFAULTS INCLUDING INDEXES);
    CREATE TABLE IF NOT EXISTS ${name}_recipients (LIKE message_recipients INCLUDING DEFAULTS INCLUDING INDEXES)`);
  const started = Date.now();
  const client = await pool.connect();
  try {
    for (let from = 0; from < count; from += BATCH) {
      const ids = Array.from({ length: Math.min(BATCH, count - from) }, () => randomUUID());
      await client.query("BEGIN");
      await client.query(
        `INSERT INTO ${name}_messages (id, channel_id, sender_id, client_message_id, seq, body, created_at)
         SELECT id, $2, $3, id::text, $4 + n, 'ceiling', now()
           FROM unnest($1::uuid[]) WITH ORDINALITY AS m(id, n)`,
        [ids, channelId, senderId, from],
      );
      await writeRecipients(client, `${name}_recipients`, ids);
      await client.query("COMMIT");
    }
  } finally {
    client.release();
  }
  return Date.now() - started;
}
