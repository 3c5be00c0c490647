// The worker against real PostgreSQL and RabbitMQ: outages wait, poison is refused alone,
// events are never lost after commit (outbox), redeliveries are idempotent, refusals are
// recorded and told to their senders.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Sql } from "../src/db/sql.js";
import { AmqpBus } from "../src/pubsub/amqp/amqp-bus.js";
import { type Bus, BusUnavailableError } from "../src/pubsub/bus.js";
import type { Command, SendMessageCommand } from "../src/pubsub/commands.js";
import type { BusEvent } from "../src/pubsub/events.js";
import { LocalBus } from "../src/pubsub/local-bus.js";
import { createWorker, type RunningWorker, startWorker } from "../src/worker/index.js";
import { Outbox } from "../src/worker/outbox.js";
import { persistBatch } from "../src/worker/persist-batch.js";
import { amqpUrl, uniquePrefix } from "./harness/broker.js";
import { createTestDatabase, type TestDatabase } from "./harness/database.js";
import { eventually, until } from "./harness/wait.js";

const url = await amqpUrl();
const SHARDS = 2;
let database: TestDatabase;
let bus: Bus;
let namespace: string;
let channelId: string;
let alice: string;
let bob: string;
/** Workers and listeners of the current test, stopped after it. */
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

beforeAll(async () => {
  database = await createTestDatabase();
  namespace = uniquePrefix();
  bus = url
    ? await AmqpBus.connect({ url, prefix: namespace, shards: SHARDS })
    : new LocalBus({ shards: SHARDS });
  const prisma = database.db.prisma;
  const users = await Promise.all(["alice", "bob"].map((name) => createUser(name)));
  [alice, bob] = users as [string, string];
  const channel = await prisma.channel.create({
    data: { kind: "GROUP", name: "w", members: { create: [{ userId: alice }, { userId: bob }] } },
  });
  channelId = channel.id;
}, 120_000);

afterAll(async () => {
  if (bus instanceof AmqpBus) await bus.deleteTopology();
  await bus?.close();
  await database?.drop();
});

async function createUser(name: string) {
  const user = await database.db.prisma.user.create({
    data: {
      email: `${name}-${randomUUID()}@x.test`,
      username: `${name}_${randomUUID().slice(0, 8)}`,
      displayName: name,
      passwordHash: "x",
    },
  });
  return user.id;
}

function send(senderId: string, body: string, channel = channelId): SendMessageCommand {
  const messageId = randomUUID();
  return {
    type: "message.send",
    messageId,
    channelId: channel,
    senderId,
    clientMessageId: messageId,
    body,
    createdAt: new Date().toISOString(),
  };
}

/** The bus with some methods replaced (a broker that fails in a chosen way). */
function withOverrides(target: Bus, overrides: Partial<Bus>): Bus {
  return new Proxy(target, {
    get(object, property) {
      if (property in overrides) return overrides[property as keyof Bus];
      const value = Reflect.get(object, property, object);
      return typeof value === "function" ? value.bind(object) : value;
    },
  });
}

/** Starts a worker on `workerBus` (default the file's bus) with short outage backoffs. */
async function worker(workerBus: Bus = bus): Promise<RunningWorker> {
  const running = await startWorker({
    db: database.db,
    bus: workerBus,
    namespace,
    databaseUrl: database.url,
    minBackoffMs: 50,
    maxBackoffMs: 500,
    log: process.env.TEST_WORKER_LOG ? (m, e) => console.log(m, e ?? "") : undefined,
  });
  stops.push(() => running.stop());
  return running;
}

/** Everything published on these keys, in the order it arrived (one replica queue: publish order). */
async function listen(...routingKeys: string[]) {
  const events: BusEvent[] = [];
  for (const routingKey of routingKeys)
    stops.push(await bus.listen(routingKey, (event) => events.push(event)));
  return events;
}

const createdSeqs = (events: BusEvent[]) =>
  events.flatMap((e) => (e.type === "message.created" ? e.messages.map((m) => m.body) : []));

/** A new group channel with Alice as its one member. */
async function channelOfAlice(name: string) {
  const channel = await database.db.prisma.channel.create({
    data: { kind: "GROUP", name, members: { create: [{ userId: alice }] } },
  });
  return channel.id;
}

async function bodies(channel = channelId) {
  const rows = await database.db.prisma.message.findMany({
    where: { channelId: channel },
    orderBy: { seq: "asc" },
    select: { seq: true, body: true },
  });
  expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1)); // gapless
  return rows.map((r) => r.body);
}

describe(`worker on ${url ? "RabbitMQ" : "the in-process bus"} and PostgreSQL`, () => {
  it("a database that refuses connections for seconds pauses the shard: every message is stored once, in order, none refused", async () => {
    if (!database.url) return expect(database.url).toBeUndefined(); // PGlite cannot go away
    const running = await worker();
    const channel = await channelOfAlice("outage");
    const dbName = new URL(database.url).pathname.slice(1);
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    try {
      for (let n = 1; n <= 5; n++) await bus.sendCommand(send(alice, `before ${n}`, channel));
      await until(
        async () =>
          (await database.db.prisma.message.count({ where: { channelId: channel } })) === 5,
      );
      await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS false`);
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        [dbName],
      );
      for (let n = 1; n <= 30; n++) await bus.sendCommand(send(alice, `during ${n}`, channel));
      // The shard notices and waits (it does not refuse anything).
      await until(() => running.status().paused, 15_000, "the worker to pause");
      await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
    } finally {
      await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    await until(
      async () =>
        (await database.db.prisma.message.count({ where: { channelId: channel } })) === 35,
      30_000,
    );
    expect(await bodies(channel)).toEqual([
      ...Array.from({ length: 5 }, (_, i) => `before ${i + 1}`),
      ...Array.from({ length: 30 }, (_, i) => `during ${i + 1}`),
    ]);
    expect(await database.db.prisma.refusedCommand.count()).toBe(0);
    await until(() => !running.status().paused, 15_000, "the worker to resume");
  });

  it("events committed but never published (the worker died while the broker failed) are published by the next worker, before its own; deletes and receipts included", async () => {
    // Receipts go to the reader's key (and the senders' of what they cover).
    const events = await listen(`channel.${channelId}`, `user.${bob}`);
    const first = await worker();
    const message = send(alice, "deleted after an outage");
    await bus.sendCommand(message);
    await until(() => createdSeqs(events).includes("deleted after an outage"));
    await first.stop();
    // Queued while no worker runs, so the next one takes both in one batch.
    await bus.sendCommand({
      type: "message.delete",
      messageId: message.messageId,
      channelId,
      actorId: alice,
      at: new Date().toISOString(),
    });
    await bus.sendCommand({
      type: "receipt.read",
      channelId,
      userId: bob,
      upToSeq: 1_000_000,
      at: new Date().toISOString(),
    });
    // This worker commits the batch but cannot announce it, and waits.
    const failing = await worker(
      withOverrides(bus, {
        publishEvents: async () => {
          throw new BusUnavailableError("broker unavailable (test)");
        },
      }),
    );
    const prisma = database.db.prisma;
    // Bob's read position moved (to the channel's last message: a receipt never reaches past it).
    const lastSeq = async () =>
      (await prisma.channel.findUniqueOrThrow({ where: { id: channelId } })).lastSeq;
    const bobsPosition = async () =>
      (
        await prisma.channelMember.findUniqueOrThrow({
          where: { channelId_userId: { channelId, userId: bob } },
        })
      ).lastReadSeq;
    await until(async () => (await bobsPosition()) === (await lastSeq()));
    expect(
      (await prisma.message.findUnique({ where: { id: message.messageId } }))?.deletedAt,
    ).not.toBeNull();
    expect(await prisma.outboxEvent.count()).toBeGreaterThanOrEqual(2);
    // It dies: the commands come back to the next worker, which finds nothing left to
    // change; the announcements come from the outbox.
    await failing.stop();
    await worker();
    const later = send(bob, "after the outage");
    await bus.sendCommand(later);
    await until(() => createdSeqs(events).includes("after the outage"));
    await until(() => events.some((e) => e.type === "receipts.updated"));
    const types = events.map((e) => e.type);
    expect(types.filter((t) => t === "message.deleted")).toHaveLength(1);
    expect(types.filter((t) => t === "receipts.updated")).toHaveLength(1);
    expect(types.indexOf("message.deleted")).toBeLessThan(types.indexOf("receipts.updated"));
    // What waited in the outbox leaves before what the next batch writes.
    const laterAt = events.findIndex(
      (e) => e.type === "message.created" && e.messages.some((m) => m.body === "after the outage"),
    );
    expect(types.indexOf("receipts.updated")).toBeLessThan(laterAt);
    await until(async () => (await prisma.outboxEvent.count()) === 0);
  });

  it("a batch's new messages wait in the outbox by reference and a flush announces them from the database as the batch did, as they are by then", async () => {
    const events = await listen(`channel.${channelId}`);
    const outbox = new Outbox(database.db.sql, bus, namespace);
    const shard = 0;
    const persist = async (commands: Command[]) =>
      (await persistBatch(database.db.sql, shard, commands, outbox.lockOf(shard))).entries;
    // Two batches committed and not published (the broker failed after each commit): the
    // second adds two messages, one of them a reply in the first one's thread.
    const root = send(alice, "a thread's root");
    const [first] = await persist([root]);
    const plain = send(bob, "in the same batch");
    const reply = {
      ...send(bob, "a reply in the thread"),
      replyToId: root.messageId,
      inThread: true,
    };
    const [second] = await persist([plain, reply]);
    const created = (entry: typeof first) =>
      entry?.event.type === "message.created" ? entry.event : expect.fail("not message.created");
    expect(created(first).messages).toHaveLength(1);
    expect(created(second).messages).toHaveLength(2);
    // Kept as where the messages are, not as the messages.
    const rows = await database.db.sql.query<{ event: string }>(
      "SELECT event::text AS event FROM outbox_events WHERE shard = $1 ORDER BY id",
      [shard],
    );
    const [firstSeq, secondSeq] = [created(first).messages[0]!.seq, created(second).messages];
    expect(rows.map((row) => JSON.parse(row.event))).toEqual([
      { type: "message.created", channelId, seqs: [firstSeq, firstSeq] },
      { type: "message.created", channelId, seqs: [secondSeq[0]!.seq, secondSeq[1]!.seq] },
    ]);
    expect(Math.max(...rows.map((row) => row.event.length))).toBeLessThan(200);

    await outbox.flush(shard);
    await until(() => events.filter((e) => e.type === "message.created").length === 2);
    const announced = events.filter((e) => e.type === "message.created");
    // The later batch's messages exactly as it made them; the root as it is now: its
    // thread has the reply (announced after it).
    expect(announced[1]).toEqual(created(second));
    const [rootNow] = created(second).messages.filter((m) => m.id === reply.messageId);
    expect(announced[0]).toEqual({
      ...created(first),
      messages: [
        {
          ...created(first).messages[0],
          threadReplyCount: 1,
          threadLastReplyAt: rootNow?.createdAt,
        },
      ],
    });
    expect(await outbox.backlog()).toBe(0);
  });

  it("a channel deleted between a batch's check and its write fails the batch: nothing of it is written or announced", async () => {
    const doomed = await channelOfAlice("doomed");
    const sql = database.db.sql;
    // The channel goes, on another connection, right after the batch has checked its sends.
    const deletingAfterCheck: Sql = {
      query: sql.query,
      transaction: (work, options) =>
        sql.transaction(
          (tx) =>
            work({
              execute: tx.execute,
              query: async <Row>(text: string, params?: unknown[]) => {
                const rows = await tx.query<Row>(text, params);
                if (text.includes("existing_channel"))
                  await database.db.prisma.channel.delete({ where: { id: doomed } });
                return rows;
              },
            }),
          options,
        ),
    };
    const outbox = new Outbox(sql, bus, namespace);
    const lost = send(alice, "into a channel that is gone", doomed);
    await expect(persistBatch(deletingAfterCheck, 1, [lost], outbox.lockOf(1))).rejects.toThrow(
      `channel ${doomed} is gone`,
    );
    expect(await database.db.prisma.message.count({ where: { id: lost.messageId } })).toBe(0);
    expect(await outbox.backlog()).toBe(0);
  });

  it("a batch's events are published while the next batch is persisted, and the next batch's leave after them", async () => {
    const channel = await channelOfAlice("overlap");
    const events = await listen(`channel.${channel}`);
    // The first publish hangs until released.
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let publishes = 0;
    await worker(
      withOverrides(bus, {
        publishEvents: async (batch) => {
          if (++publishes === 1) await released;
          return bus.publishEvents(batch);
        },
      }),
    );
    await bus.sendCommand(send(alice, "first", channel));
    await until(async () => (await bodies(channel)).length === 1 && publishes === 1);
    // The first batch's events are still on their way; the next batch is stored anyway.
    await bus.sendCommand(send(alice, "second", channel));
    await until(async () => (await bodies(channel)).length === 2);
    expect(createdSeqs(events)).toEqual([]);
    release();
    await until(() => createdSeqs(events).length === 2);
    expect(createdSeqs(events)).toEqual(["first", "second"]);
    await until(async () => (await database.db.prisma.outboxEvent.count()) === 0);
  });

  it("a batch whose publish fails waits out the broker's outage with the shard, and its events and the next batch's then leave in order, once each", async () => {
    const channel = await channelOfAlice("failed publish");
    const events = await listen(`channel.${channel}`);
    let failing = true;
    let failures = 0;
    await worker(
      withOverrides(bus, {
        publishEvents: async (batch) => {
          if (failing) {
            failures++;
            throw new BusUnavailableError("broker unavailable (test)");
          }
          return bus.publishEvents(batch);
        },
      }),
    );
    await bus.sendCommand(send(alice, "first", channel));
    // The publish and a flush after it have failed: the outage is being waited out.
    await until(async () => (await bodies(channel)).length === 1 && failures >= 2);
    // The next batch is stored meanwhile; its events wait behind the first's.
    await bus.sendCommand(send(alice, "second", channel));
    await until(async () => (await bodies(channel)).length === 2);
    expect(createdSeqs(events)).toEqual([]);
    failing = false;
    await until(async () => (await database.db.prisma.outboxEvent.count()) === 0);
    await until(() => createdSeqs(events).length >= 2);
    // A later message on the same path: anything repeated would have arrived before it.
    await bus.sendCommand(send(alice, "third", channel));
    await until(() => createdSeqs(events).includes("third"));
    expect(createdSeqs(events)).toEqual(["first", "second", "third"]);
  });

  it("a batch settles once committed; the worker reports its events published (what a stop and a hand-over wait for) only once they are", async () => {
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const order: string[] = [];
    const { handleBatch, published } = createWorker({
      db: database.db,
      bus: withOverrides(bus, {
        publishEvents: async (batch) => {
          await released;
          await bus.publishEvents(batch);
          order.push("published");
        },
      }),
      namespace,
    });
    const shard = 1;
    const outcome = await handleBatch([send(alice, "settled before it is published")], {
      shard,
      signal: new AbortController().signal,
    });
    expect(outcome?.refused).toEqual([]);
    expect(order).toEqual([]);
    const waited = published(shard).then(() => order.push("waited"));
    release();
    await waited;
    expect(order).toEqual(["published", "waited"]);
    expect(await database.db.prisma.outboxEvent.count()).toBe(0);
  });

  it("a command handed out again after its batch committed yields one message and one announcement", async () => {
    const events = await listen(`channel.${channelId}`);
    const first = send(alice, "exactly once");
    // The first batch commits, then the worker "dies" before the ack: handed out again.
    let crashed = false;
    const crashing = withOverrides(bus, {
      commandConsumer: (handler, options) =>
        bus.commandConsumer(async (commands, context) => {
          const outcome = await handler(commands, context);
          if (!crashed) {
            crashed = true;
            throw new Error("worker died before the ack");
          }
          return outcome;
        }, options),
    });
    await worker(crashing);
    await bus.sendCommand(first);
    await until(() => crashed);
    const later = send(bob, "a later message on the same path");
    await bus.sendCommand(later);
    await until(() => createdSeqs(events).includes("a later message on the same path"));
    expect(await database.db.prisma.message.count({ where: { id: first.messageId } })).toBe(1);
    expect(createdSeqs(events).filter((body) => body === "exactly once")).toHaveLength(1);
  });

  it("a message's event is as large in a channel of 2,000 members as in one of 2, and it writes no row per member", async () => {
    const prisma = database.db.prisma;
    const ids = Array.from({ length: 2_000 }, () => randomUUID());
    await prisma.user.createMany({
      data: ids.map((id) => ({
        id,
        email: `${id}@x.test`,
        username: `m${id.replaceAll("-", "").slice(0, 16)}`,
        displayName: "member",
        passwordHash: "x",
      })),
    });
    const big = await prisma.channel.create({ data: { kind: "GROUP", name: "big" } });
    await prisma.channelMember.createMany({
      data: [alice, ...ids].map((userId) => ({ channelId: big.id, userId })),
    });
    const smallEvents = await listen(`channel.${channelId}`);
    const bigEvents = await listen(`channel.${big.id}`);
    await worker();
    const body = "the same body";
    await bus.sendCommand(send(alice, body));
    await bus.sendCommand(send(alice, body, big.id));
    const created = (events: BusEvent[]) => events.find((e) => e.type === "message.created");
    await until(() => created(smallEvents) !== undefined && created(bigEvents) !== undefined);
    // The same fields (ids of equal length): the sizes differ by nothing the members add.
    const size = (event: BusEvent | undefined) => JSON.stringify(event).length;
    expect(size(created(bigEvents))).toBe(size(created(smallEvents)));
    // Receipts are members' positions: the members' rows are as they were, but the
    // sender's, which moved past what they sent.
    const stored = (created(bigEvents) as Extract<BusEvent, { type: "message.created" }>)
      .messages[0]!;
    const moved = await prisma.channelMember.findMany({
      where: {
        channelId: big.id,
        OR: [{ lastReadSeq: { gt: 0 } }, { lastDeliveredSeq: { gt: 0 } }],
      },
      select: { userId: true, lastReadSeq: true, lastDeliveredSeq: true },
    });
    expect(moved).toEqual([
      { userId: alice, lastReadSeq: stored.seq, lastDeliveredSeq: stored.seq },
    ]);
  });

  it("refuses a send whose sender is not a member: recorded with its reason and told to the sender", async () => {
    const outsider = await createUser("outsider");
    const told = await listen(`user.${outsider}`);
    await worker();
    const intruder = send(outsider, "sneaky");
    const legit = send(bob, "legit");
    await bus.sendCommand(intruder);
    await bus.sendCommand(legit);
    await until(() => told.length === 1);
    await until(
      async () =>
        (await database.db.prisma.message.count({ where: { id: legit.messageId } })) === 1,
    );
    expect(await database.db.prisma.message.count({ where: { id: intruder.messageId } })).toBe(0);
    expect(told[0]).toMatchObject({
      type: "message.rejected",
      messageId: intruder.messageId,
      reason: "sender is not a member of the channel",
    });
    const record = await database.db.prisma.refusedCommand.findUnique({
      where: { id: intruder.messageId },
    });
    expect(record).toMatchObject({
      userId: outsider,
      reason: "sender is not a member of the channel",
    });
  });

  it("a command that fails on its own is found by splitting its batch, dead-lettered, recorded and told; its neighbours are stored in order", async () => {
    const told = await listen(`user.${alice}`);
    await worker();
    const channel = await channelOfAlice("poison");
    const sends = Array.from({ length: 9 }, (_, i) => send(alice, `m${i + 1}`, channel));
    // A body PostgreSQL cannot store (a NUL byte) in the middle of the stream.
    const poison = { ...send(alice, "bad\u0000body", channel) };
    for (const command of [...sends.slice(0, 4), poison, ...sends.slice(4)])
      await bus.sendCommand(command);
    await until(
      () => told.some((e) => e.type === "message.rejected" && e.messageId === poison.messageId),
      30_000,
    );
    // The neighbours after it may still be on their way: wait for all nine, then the order.
    const stored = await eventually(
      () => bodies(channel),
      (b) => b.length >= sends.length,
    );
    expect(stored).toEqual(sends.map((s) => s.body));
    const record = await database.db.prisma.refusedCommand.findUnique({
      where: { id: poison.messageId },
    });
    expect(record?.reason).toMatch(/could not be stored/);
    const rejections = told.filter(
      (e) => e.type === "message.rejected" && e.messageId === poison.messageId,
    );
    expect(rejections).toHaveLength(1);
  });

  it("a malformed command is refused and recorded while its shard keeps flowing", async () => {
    await worker();
    const malformed = { ...send(alice, "bad"), messageId: "not-a-uuid" } as Command;
    await bus.sendCommand(malformed);
    const after = send(bob, "after the malformed one");
    await bus.sendCommand(after);
    await until(
      async () =>
        (await database.db.prisma.refusedCommand.count({ where: { id: "not-a-uuid" } })) === 1,
      30_000,
    );
    await until(
      async () =>
        (await database.db.prisma.message.count({ where: { id: after.messageId } })) === 1,
    );
  });

  it("a message accepted earlier but stored later never moves the channel's last activity backwards", async () => {
    await worker();
    const prisma = database.db.prisma;
    const channel = (
      await prisma.channel.create({
        data: { kind: "GROUP", name: "activity", members: { create: [{ userId: alice }] } },
      })
    ).id;
    const fresh = send(alice, "newer", channel);
    await bus.sendCommand(fresh);
    await until(async () => (await prisma.message.count({ where: { id: fresh.messageId } })) === 1);
    const after = (await prisma.channel.findUniqueOrThrow({ where: { id: channel } }))
      .lastActivityAt;
    // Accepted by a replica a minute ago (its answer got lost), persisted only now.
    const late = {
      ...send(alice, "older", channel),
      createdAt: new Date(Date.now() - 60_000).toISOString(),
    };
    await bus.sendCommand(late);
    await until(async () => (await prisma.message.count({ where: { id: late.messageId } })) === 1);
    const row = await prisma.channel.findUniqueOrThrow({ where: { id: channel } });
    expect(row.lastActivityAt.getTime()).toBe(after.getTime());
    expect(row.lastSeq).toBe(2);
  });

  it("a refused send retried with the same clientMessageId is refused and told again (a sender who missed the first answer is not left waiting)", async () => {
    const outsider = await createUser("retrier");
    const told = await listen(`user.${outsider}`);
    await worker();
    const intruder = send(outsider, "let me in");
    await bus.sendCommand(intruder);
    await until(() => told.length === 1);
    await bus.sendCommand(intruder);
    await until(() => told.length === 2);
    expect(told.map((e) => e.type)).toEqual(["message.rejected", "message.rejected"]);
    expect(
      await database.db.prisma.refusedCommand.count({ where: { id: intruder.messageId } }),
    ).toBe(1);
  });

  it.runIf(url)(
    "a send the broker gave up on after it was stored is not reported as refused",
    async () => {
      const told = await listen(`user.${alice}`);
      await worker();
      const stored = send(alice, "stored, then given up by the broker");
      await bus.sendCommand(stored);
      await until(
        async () =>
          (await database.db.prisma.message.count({ where: { id: stored.messageId } })) === 1,
      );
      // The broker's copy reaches the dead letters (its ack was lost in hand-overs) ...
      await (bus as AmqpBus).deadLetter(Buffer.from(JSON.stringify(stored)), {}, "delivery_limit");
      // ... and so does a send that was never stored: the witness that letters are handled.
      const lost = send(alice, "never stored");
      await (bus as AmqpBus).deadLetter(Buffer.from(JSON.stringify(lost)), {}, "delivery_limit");
      await until(() =>
        told.some((e) => e.type === "message.rejected" && e.messageId === lost.messageId),
      );
      expect(
        told.filter((e) => e.type === "message.rejected" && e.messageId === stored.messageId),
      ).toHaveLength(0);
      expect(
        await database.db.prisma.refusedCommand.count({ where: { id: stored.messageId } }),
      ).toBe(0);
    },
  );
});
