// Baseline: the chat message pipeline with no GraphQL, no Prisma and no product rules, as
// the ceiling the product's sendMessage -> worker -> live event path is compared with.
//
// It does the same durable work per message as the product, with the thinnest code:
// a persistent command, confirmed by the broker, on a durable quorum queue (as the
// product's shards); a consumer that persists the deliveries that arrive together as one
// batch in one transaction (multi-row INSERTs over unnest arrays into tables shaped like
// messages and channel_members, with the same keys: each message, and its sender's
// receipt position moved past it), publishes one confirmed event
// per message to a topic exchange, then acks; and a listener on that exchange. Latency is
// command sentAt -> event received (one process, so Date.now() on both ends). Left out,
// so this is an upper bound: authentication, membership checks, the per-channel row lock
// and seq bookkeeping in the database, the outbox table, shard leases and GraphQL.
// With persist: false it leaves the database out too: the broker's share of the ceiling.
//
//   npx tsx bench/baselines/raw-pipeline.ts '{"amqpUrl":"amqp://guest:guest@127.0.0.1:5672",
//     "databaseUrl":"postgresql://postgres@127.0.0.1:5432/test","messages":2000}'

import { randomBytes, randomUUID } from "node:crypto";
import amqp, { type ConsumeMessage } from "amqplib";
import pg from "pg";
import { ascending, percentile } from "../lib/stats.js";
import { isMain, runCli } from "./cli.js";

export interface RawPipelineOptions {
  amqpUrl: string;
  databaseUrl: string;
  messages: number;
  /** Open loop: commands per second, spread evenly. Without it: closed loop. */
  rate?: number;
  /** Closed loop: commands sent but whose event has not arrived yet, at most (default 64). */
  maxInFlight?: number;
  /**
   * Sent first, in the same loop, and left out of every figure: the process's code warms up
   * (V8 optimizes what runs hot) before the measured `messages`, as the product's do.
   */
  warmUp?: number;
  /** The consumer's prefetch, so the largest batch (default 100). */
  batchSize?: number;
  /**
   * false: the broker alone, the same commands, events and acks with no database write
   * (what is left of the ceiling when PostgreSQL costs nothing). Default true.
   */
  persist?: boolean;
}

export interface RawPipelineResult {
  sent: number;
  received: number;
  durationMs: number;
  perSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

interface SendCommand {
  id: string;
  /** Its place in the run: the first `warmUp` are not measured. */
  n: number;
  channelId: string;
  senderId: string;
  body: string;
  sentAt: number;
}

interface MessageEvent {
  id: string;
  n: number;
  channelId: string;
  seq: number;
  sentAt: number;
}

/** Channels the commands are spread over, each with one sender and one other member. */
const CHANNELS = 8;
/** The open loop's timer: each tick sends the commands that have come due. */
const TICK_MS = 5;
const JSON_PROPS = { contentType: "application/json", persistent: true } as const;

export async function runRawPipeline(o: RawPipelineOptions): Promise<RawPipelineResult> {
  const batchSize = o.batchSize ?? 100;
  const maxInFlight = o.maxInFlight ?? 64;
  const warmUp = o.rate ? 0 : (o.warmUp ?? 0);
  const total = warmUp + o.messages;
  // Expected duration: messages / rate when open loop, else 1 ms a message.
  const expectedMs = o.rate ? (o.messages / o.rate) * 1000 : total;
  const timeoutMs = Math.max(30_000, 10 * expectedMs);

  const tag = randomBytes(4).toString("hex");
  const commandQueue = `bench-raw-${tag}.commands`;
  const eventQueue = `bench-raw-${tag}.events`;
  const exchange = `bench-raw-${tag}.events`;
  const channels = Array.from({ length: CHANNELS }, () => ({
    id: randomUUID(),
    senderId: randomUUID(),
  }));

  // Undone in reverse order at the end, whatever happened.
  const cleanup: Array<() => Promise<unknown>> = [];
  let fail: (error: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => {});
  const connect = async () => {
    const connection = await amqp.connect(o.amqpUrl);
    connection.on("error", fail);
    cleanup.push(() => connection.close());
    return connection;
  };

  try {
    // The database's part: the tables, and a transaction per batch (none without persist).
    let persist: ((rows: PersistedRow[]) => Promise<void>) | undefined;
    if (o.persist !== false) {
      const db = new pg.Client({ connectionString: o.databaseUrl });
      await db.connect();
      db.on("error", fail);
      cleanup.push(() => db.end());
      const tables = { messages: `raw_messages_${tag}`, positions: `raw_positions_${tag}` };
      await createTables(db, tables, channels);
      cleanup.push(() => db.query(`DROP TABLE ${tables.messages}, ${tables.positions}`));
      persist = (rows) => persistBatch(db, tables, rows);
    }

    // Publisher: its own connection, a confirm channel. It also owns the topology.
    const publisherConnection = await connect();
    const commands = await publisherConnection.createConfirmChannel();
    commands.on("error", fail);
    await commands.assertQueue(commandQueue, {
      durable: true,
      arguments: { "x-queue-type": "quorum" },
    });
    cleanup.push(() => commands.deleteQueue(commandQueue));
    await commands.assertExchange(exchange, "topic", { durable: true });
    cleanup.push(() => commands.deleteExchange(exchange));

    // Listener: its own connection; records each event's latency.
    const latencies: number[] = [];
    /** Events received, the warm-up's included. */
    let received = 0;
    let firstSentAt = 0;
    let lastReceivedAt = 0;
    let onEvent = () => {};
    const listenerConnection = await connect();
    const listener = await listenerConnection.createChannel();
    listener.on("error", fail);
    await listener.assertQueue(eventQueue, { exclusive: true, autoDelete: true, durable: false });
    await listener.bindQueue(eventQueue, exchange, "channel.*");
    await listener.consume(
      eventQueue,
      (delivery) => {
        if (!delivery) return;
        const now = Date.now();
        const event = JSON.parse(delivery.content.toString()) as MessageEvent;
        received++;
        if (event.n >= warmUp) {
          latencies.push(now - event.sentAt);
          lastReceivedAt = now;
        }
        onEvent();
      },
      { noAck: true },
    );

    // Consumer: its own connection; persists what arrives together, announces, acks.
    const consumerConnection = await connect();
    const inbox = await consumerConnection.createChannel();
    inbox.on("error", fail);
    await inbox.prefetch(batchSize);
    const outbox = await consumerConnection.createConfirmChannel();
    outbox.on("error", fail);
    const lastSeq = new Map<string, number>();
    const settle = async (batch: ConsumeMessage[]) => {
      const rows = batch.map((delivery) => {
        const command = JSON.parse(delivery.content.toString()) as SendCommand;
        const seq = (lastSeq.get(command.channelId) ?? 0) + 1;
        lastSeq.set(command.channelId, seq);
        return { ...command, seq };
      });
      if (persist) await persist(rows);
      for (const r of rows) {
        const event: MessageEvent = {
          id: r.id,
          n: r.n,
          channelId: r.channelId,
          seq: r.seq,
          sentAt: r.sentAt,
        };
        outbox.publish(
          exchange,
          `channel.${r.channelId}`,
          Buffer.from(JSON.stringify(event)),
          JSON_PROPS,
        );
      }
      await outbox.waitForConfirms();
      inbox.ack(batch[batch.length - 1] as ConsumeMessage, true);
    };
    const buffer: ConsumeMessage[] = [];
    let flushing: Promise<void> | undefined;
    const flush = async () => {
      while (buffer.length > 0) await settle(buffer.splice(0, batchSize));
    };
    await inbox.consume(commandQueue, (delivery) => {
      if (!delivery) return fail(new Error("the broker cancelled the command consumer"));
      buffer.push(delivery);
      // Deliveries that arrive together are persisted together, as in the worker.
      if (flushing) return;
      flushing = new Promise<void>((resolve) => setImmediate(resolve))
        .then(flush)
        .catch(fail)
        .finally(() => {
          flushing = undefined;
        });
    });

    // The load: every command confirmed by the broker (a refusal fails the run).
    let sent = 0;
    const send = () => {
      const channel = channels[sent % CHANNELS] as (typeof channels)[number];
      const command: SendCommand = {
        id: randomUUID(),
        n: sent,
        channelId: channel.id,
        senderId: channel.senderId,
        body: `benchmark message ${sent} `.padEnd(40, "."),
        sentAt: Date.now(),
      };
      if (sent === warmUp) firstSentAt = command.sentAt;
      sent++;
      commands.sendToQueue(
        commandQueue,
        Buffer.from(JSON.stringify(command)),
        JSON_PROPS,
        (error) => {
          if (error) fail(new Error(`command not confirmed: ${error}`));
        },
      );
    };
    let ticker: NodeJS.Timeout | undefined;
    let timeout: NodeJS.Timeout | undefined;
    const finished = new Promise<void>((resolve) => {
      timeout = setTimeout(resolve, timeoutMs);
      const closedLoop = () => {
        while (sent < total && sent - received < maxInFlight) send();
      };
      onEvent = () => {
        if (received >= total) resolve();
        else if (!o.rate) closedLoop();
      };
      const rate = o.rate;
      if (!rate) return closedLoop();
      const start = Date.now();
      const tick = () => {
        const due = Math.min(o.messages, Math.floor(((Date.now() - start) * rate) / 1000) + 1);
        while (sent < due) send();
        if (sent >= o.messages) clearInterval(ticker);
      };
      ticker = setInterval(tick, TICK_MS);
      tick();
    });
    try {
      await Promise.race([finished, failed]);
    } finally {
      clearInterval(ticker);
      clearTimeout(timeout);
    }

    const measured = latencies.length;
    const durationMs = measured > 0 ? lastReceivedAt - firstSentAt : 0;
    const sorted = ascending(latencies);
    return {
      sent: sent - warmUp,
      received: measured,
      durationMs,
      perSecond: durationMs > 0 ? Math.round((measured / durationMs) * 1000) : 0,
      p50Ms: percentile(sorted, 50),
      p95Ms: percentile(sorted, 95),
      p99Ms: percentile(sorted, 99),
    };
  } finally {
    for (const undo of cleanup.reverse()) {
      await undo().catch((error: unknown) => console.error("raw-pipeline cleanup:", error));
    }
  }
}

interface RawTables {
  messages: string;
  positions: string;
}

type PersistedRow = SendCommand & { seq: number };

/** Tables shaped like messages and channel_members, with the same keys. */
async function createTables(
  db: pg.Client,
  tables: RawTables,
  channels: Array<{ id: string; senderId: string }>,
) {
  await db.query(
    `CREATE TABLE ${tables.messages} (
       id uuid PRIMARY KEY, channel_id uuid NOT NULL, sender_id uuid NOT NULL, seq int NOT NULL,
       body text NOT NULL, client_message_id text NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now(),
       UNIQUE (channel_id, seq), UNIQUE (sender_id, client_message_id))`,
  );
  await db.query(
    `CREATE TABLE ${tables.positions} (
       channel_id uuid NOT NULL, user_id uuid NOT NULL, last_read_seq int NOT NULL DEFAULT 0,
       last_delivered_seq int NOT NULL DEFAULT 0, PRIMARY KEY (channel_id, user_id))`,
  );
  await db.query(
    `INSERT INTO ${tables.positions} (channel_id, user_id) SELECT * FROM unnest($1::uuid[], $2::uuid[])`,
    [channels.map((c) => c.id), channels.map((c) => c.senderId)],
  );
}

/** A batch in one transaction: its messages, and each sender's position moved past them. */
async function persistBatch(db: pg.Client, tables: RawTables, rows: PersistedRow[]) {
  await db.query("BEGIN");
  try {
    await db.query(
      `INSERT INTO ${tables.messages} (id, channel_id, sender_id, seq, body, client_message_id)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::text[])`,
      [
        rows.map((r) => r.id),
        rows.map((r) => r.channelId),
        rows.map((r) => r.senderId),
        rows.map((r) => r.seq),
        rows.map((r) => r.body),
        rows.map((r) => r.id),
      ],
    );
    await db.query(
      `UPDATE ${tables.positions} p SET last_read_seq = v.seq, last_delivered_seq = v.seq
         FROM (SELECT c, u, max(s) AS seq FROM unnest($1::uuid[], $2::uuid[], $3::int[]) AS r(c, u, s)
               GROUP BY c, u) v
        WHERE p.channel_id = v.c AND p.user_id = v.u`,
      [rows.map((r) => r.channelId), rows.map((r) => r.senderId), rows.map((r) => r.seq)],
    );
    await db.query("COMMIT");
  } catch (error) {
    await db.query("ROLLBACK");
    throw error;
  }
}

if (isMain(import.meta.url)) runCli(runRawPipeline);
