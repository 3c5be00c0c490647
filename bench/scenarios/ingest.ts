// Scenario 5: worker ingest by channel size. Send commands for channels of 2, 50, 500 and
// 10,000 members are published straight to the broker (the api is not what is measured
// here) and the worker persists them: messages per second, and the CPU each message costs
// the worker and PostgreSQL. A message writes no row per member (receipts are members'
// positions), so the same number of messages is sent at every size: what a size costs is
// what it changes. Beside it, the database ceilings: the same rows (each message, its
// channel's head and its sender's position) written by plain pg in batches of the same
// size, one transaction each, into tables shaped like the product's: once as batched
// INSERTs, once with the messages streamed in by COPY.
import { randomUUID } from "node:crypto";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { AmqpBus } from "../../src/pubsub/amqp/amqp-bus.js";
import type { SendMessageCommand } from "../../src/pubsub/commands.js";
import type { BenchContext } from "../lib/bench-context.js";
import { type CpuUsage, measureCpu, systemParts } from "../lib/cpu-usage.js";
import { seedGroupChannel, seedOwnedGroupChannels, seedUsers } from "../lib/seed.js";
import { round } from "../lib/stats.js";

export interface IngestResult {
  members: number;
  messages: number;
  /** From the first publish until the last message was stored. */
  ms: number;
  messagesPerSecond: number;
  /** CPU per message by part (worker, postgres, …) over the ingest. */
  cpu?: CpuUsage;
  /** The same rows written by plain pg, in batches of the worker's size. */
  ceiling: { ms: number; messagesPerSecond: number };
  /** The same, with the messages written by COPY. */
  copyCeiling: { ms: number; messagesPerSecond: number };
}

/**
 * The parts whose CPU an ingest is charged: the services, and this process, which
 * publishes the commands with confirms (as the api replicas would) on the same two cores.
 */
function ingestParts(ctx: BenchContext) {
  return [...systemParts(ctx.topology, []), { name: "publisher", pids: () => [process.pid] }];
}

/** A send as the api would enqueue it. */
function sendCommand(channelId: string, senderId: string, body: string): SendMessageCommand {
  const id = randomUUID();
  return {
    type: "message.send",
    messageId: id,
    channelId,
    senderId,
    clientMessageId: id,
    body,
    createdAt: new Date().toISOString(),
  };
}

/** Worker ingest across many channels (so every shard has work) with one worker, then two. */
export interface WorkerScalingResult {
  channels: number;
  messages: number;
  /** Messages/s persisted with 1 and with 2 worker processes. */
  byWorkers: Array<{ workers: number; ms: number; messagesPerSecond: number; cpu?: CpuUsage }>;
}

/** Messages per batch in the ceiling, as the worker's default batch. */
const BATCH = 100;

export async function runIngest(
  ctx: BenchContext,
  options: { sizes: number[]; messages: number; amqpUrl: string },
): Promise<IngestResult[]> {
  const bus = await AmqpBus.connect({ url: options.amqpUrl, prefix: ctx.topology.namespace });
  const results: IngestResult[] = [];
  try {
    for (const members of options.sizes) {
      const messages = options.messages;
      const [owner, ...others] = await seedUsers(ctx.pool, members, ctx.jwtSecret);
      if (!owner) throw new Error("no users");
      const channelId = await seedGroupChannel(ctx.pool, owner, others);
      const commands = Array.from({ length: messages }, (_, i) =>
        sendCommand(channelId, owner.id, `ingest ${i}`),
      );
      const cpu = measureCpu(ingestParts(ctx));
      const started = Date.now();
      await Promise.all(commands.map((command) => bus.sendCommand(command)));
      await storedAll(ctx.pool, [channelId], messages);
      const ms = Date.now() - started;
      const usage = cpu();
      const ceiling = await insertCeiling(ctx.pool, channelId, owner.id, messages);
      const copyCeiling = await copyCeilingMs(ctx.pool, channelId, owner.id, messages);
      const perSecond = (took: number) => round((messages / took) * 1000);
      const result: IngestResult = {
        members,
        messages,
        ms,
        messagesPerSecond: perSecond(ms),
        ...(usage ? { cpu: usage } : {}),
        ceiling: { ms: ceiling, messagesPerSecond: perSecond(ceiling) },
        copyCeiling: { ms: copyCeiling, messagesPerSecond: perSecond(copyCeiling) },
      };
      ctx.log(
        `ingest ${members} members: ${messages} messages in ${ms} ms (${result.messagesPerSecond}/s; plain pg ${result.ceiling.messagesPerSecond}/s, COPY ${result.copyCeiling.messagesPerSecond}/s)`,
      );
      results.push(result);
    }
    return results;
  } finally {
    await bus.close();
  }
}

/**
 * "Two workers persist more than one": `messages` sends spread over `channels` two-member
 * channels, persisted by the topology's one worker, then again with a second one (once the
 * two have split the shards).
 */
export async function runWorkerScaling(
  ctx: BenchContext,
  options: { channels: number; messages: number; amqpUrl: string },
): Promise<WorkerScalingResult> {
  const bus = await AmqpBus.connect({ url: options.amqpUrl, prefix: ctx.topology.namespace });
  const users = await seedUsers(ctx.pool, options.channels * 2, ctx.jwtSecret);
  const groups = Array.from({ length: options.channels }, (_, i) => {
    const [owner, other] = [users[2 * i], users[2 * i + 1]];
    if (!owner || !other) throw new Error("no users");
    return { owner, members: [other] };
  });
  const channelIds = await seedOwnedGroupChannels(ctx.pool, groups);
  const channels = groups.map(({ owner }, i) => ({
    id: channelIds[i] as string,
    senderId: owner.id,
  }));
  const ids = channels.map((c) => c.id);
  const byWorkers: WorkerScalingResult["byWorkers"] = [];
  const measure = async (workers: number) => {
    const before = await countStored(ctx.pool, ids);
    const commands: SendMessageCommand[] = [];
    for (let i = 0; i < options.messages; i++) {
      const channel = channels[i % channels.length];
      if (!channel) break;
      commands.push(sendCommand(channel.id, channel.senderId, `spread ${i}`));
    }
    const cpu = measureCpu(ingestParts(ctx));
    const started = Date.now();
    await Promise.all(commands.map((command) => bus.sendCommand(command)));
    await storedAll(ctx.pool, ids, before + options.messages);
    const ms = Date.now() - started;
    const usage = cpu();
    const messagesPerSecond = round((options.messages / ms) * 1000);
    ctx.log(
      `ingest over ${options.channels} channels, ${workers} worker(s): ${options.messages} messages in ${ms} ms (${messagesPerSecond}/s)`,
    );
    byWorkers.push({ workers, ms, messagesPerSecond, ...(usage ? { cpu: usage } : {}) });
  };
  try {
    await measure(ctx.topology.workers.length);
    const second = await ctx.topology.addWorker();
    try {
      await balanced([...ctx.topology.workers]);
      await measure(ctx.topology.workers.length);
    } finally {
      await ctx.topology.stopWorker(second);
    }
  } finally {
    await bus.close();
  }
  return { channels: options.channels, messages: options.messages, byWorkers };
}

/** Until every worker consumes its share of the shards (their /metrics say so). */
async function balanced(workers: Array<{ port: number }>) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const held = await Promise.all(
      workers.map(async ({ port }) => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return Number(/^chat_worker_shards(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
      }),
    );
    const total = held.reduce((a, b) => a + b, 0);
    if (held.every((n) => n >= Math.floor(total / workers.length)) && total > 0) return;
    if (Date.now() > deadline) throw new Error(`workers never split the shards: ${held}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Messages stored in the channels: their seqs are gapless from 1, so the sum of their last
 * seqs, one primary-key probe per channel. (Counting the messages themselves, every 20 ms,
 * read up to 20,000 index entries per poll, CPU the report charged to PostgreSQL's part.)
 */
async function countStored(pool: pg.Pool, channelIds: string[]) {
  const { rows } = await pool.query<{ n: string }>(
    "SELECT coalesce(sum(last_seq), 0) AS n FROM channels WHERE id = ANY($1::uuid[])",
    [channelIds],
  );
  return Number(rows[0]?.n ?? 0);
}

/** Until the channels hold `count` messages (polled: a benchmark, not a test). */
async function storedAll(pool: pg.Pool, channelIds: string[], count: number) {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const stored = await countStored(pool, channelIds);
    if (stored >= count) return;
    if (Date.now() > deadline) throw new Error(`ingest: only ${stored} of ${count} stored`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The ceiling: the same rows by plain pg, the messages by a batched INSERT; returns ms. */
function insertCeiling(pool: pg.Pool, channelId: string, senderId: string, count: number) {
  return timedBatches(pool, "ceiling", channelId, senderId, count, (client, table, batch) =>
    client.query(
      `INSERT INTO ${table} (id, channel_id, sender_id, client_message_id, seq, body, created_at)
       SELECT id, $2, $3, id::text, $4 + n, 'ceiling', now()
         FROM unnest($1::uuid[]) WITH ORDINALITY AS m(id, n)`,
      [batch.ids, channelId, senderId, batch.from],
    ),
  );
}

/** The ceiling with COPY: the messages streamed in; returns ms. */
function copyCeilingMs(pool: pg.Pool, channelId: string, senderId: string, count: number) {
  return timedBatches(pool, "copy", channelId, senderId, count, (client, table, batch) => {
    const at = new Date().toISOString();
    return pipeline(
      (function* () {
        yield batch.ids
          .map(
            (id, i) =>
              `${id}\t${channelId}\t${senderId}\t${id}\t${batch.from + i + 1}\tceiling\t${at}\n`,
          )
          .join("");
      })(),
      client.query(
        copyFrom(
          `COPY ${table} (id, channel_id, sender_id, client_message_id, seq, body, created_at) FROM STDIN`,
        ),
      ),
    );
  });
}

/**
 * `count` messages in batches of BATCH, one transaction each: the messages written by
 * `writeMessages` into `<name>_messages` (shaped like messages), then, as the worker does,
 * the channel's head and the sender's position moved (in copies of the channel's and the
 * sender's rows); returns ms.
 */
async function timedBatches(
  pool: pg.Pool,
  name: string,
  channelId: string,
  senderId: string,
  count: number,
  writeMessages: (
    client: pg.PoolClient,
    table: string,
    batch: { ids: string[]; from: number },
  ) => Promise<unknown>,
) {
  await pool.query(`
    DROP TABLE IF EXISTS ${name}_messages, ${name}_channels, ${name}_members;
    CREATE TABLE ${name}_messages (LIKE messages INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING INDEXES);
    CREATE TABLE ${name}_channels (LIKE channels INCLUDING DEFAULTS INCLUDING INDEXES);
    CREATE TABLE ${name}_members (LIKE channel_members INCLUDING DEFAULTS INCLUDING INDEXES);
    INSERT INTO ${name}_channels SELECT * FROM channels WHERE id = '${channelId}';
    INSERT INTO ${name}_members SELECT * FROM channel_members WHERE channel_id = '${channelId}'`);
  const started = Date.now();
  const client = await pool.connect();
  try {
    for (let from = 0; from < count; from += BATCH) {
      const ids = Array.from({ length: Math.min(BATCH, count - from) }, () => randomUUID());
      const last = from + ids.length;
      await client.query("BEGIN");
      await client.query(`SELECT last_seq FROM ${name}_channels WHERE id = $1 FOR UPDATE`, [
        channelId,
      ]);
      await writeMessages(client, `${name}_messages`, { ids, from });
      await client.query(
        `WITH head AS (
           UPDATE ${name}_channels SET last_seq = $3, last_message_id = $4, last_activity_at = now()
            WHERE id = $1)
         UPDATE ${name}_members SET last_read_seq = $3, last_delivered_seq = $3
          WHERE channel_id = $1 AND user_id = $2`,
        [channelId, senderId, last, ids.at(-1)],
      );
      await client.query("COMMIT");
    }
  } finally {
    client.release();
  }
  return Date.now() - started;
}
