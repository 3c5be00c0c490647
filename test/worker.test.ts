// The worker against real PostgreSQL and RabbitMQ: idempotent redelivery, membership
// re-checked at persist time, and a poison command dead-lettered while its shard flows.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AmqpBus } from "../src/pubsub/amqp/amqp-bus.js";
import type { Bus } from "../src/pubsub/bus.js";
import type { Command, SendMessageCommand } from "../src/pubsub/commands.js";
import type { BusEvent } from "../src/pubsub/events.js";
import { LocalBus } from "../src/pubsub/local-bus.js";
import { createCommandHandler } from "../src/worker/index.js";
import { amqpUrl, drainQueue, uniquePrefix } from "./harness/broker.js";
import { createTestDatabase, type TestDatabase } from "./harness/database.js";

const url = await amqpUrl();
let database: TestDatabase;
let bus: Bus;
let channelId: string;
let alice: string;
let bob: string;
const MAX_ATTEMPTS = 3;

beforeAll(async () => {
  database = await createTestDatabase();
  bus = url
    ? await AmqpBus.connect({ url, prefix: uniquePrefix(), shards: 2, maxAttempts: MAX_ATTEMPTS })
    : new LocalBus({ shards: 2, maxAttempts: MAX_ATTEMPTS });
  const prisma = database.db.prisma;
  const users = await Promise.all(
    ["alice", "bob"].map((name) =>
      prisma.user.create({
        data: {
          email: `${name}-${randomUUID()}@x.test`,
          username: `${name}_${randomUUID().slice(0, 8)}`,
          displayName: name,
          passwordHash: "x",
        },
      }),
    ),
  );
  [alice, bob] = users.map((u) => u.id) as [string, string];
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

function send(
  senderId: string,
  body: string,
  messageId: string = randomUUID(),
): SendMessageCommand {
  return {
    type: "message.send",
    messageId,
    channelId,
    senderId,
    clientMessageId: messageId,
    body,
    createdAt: new Date().toISOString(),
  };
}

async function until(condition: () => Promise<boolean> | boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await sleep(25);
  }
}

describe(`worker on ${url ? "RabbitMQ" : "the in-process bus"}`, () => {
  it("a command redelivered after the worker failed between commit and ack yields one message, announced again", async () => {
    const events: BusEvent[] = [];
    const stopListening = await bus.listen(`channel.${channelId}`, (event) => events.push(event));
    const handler = createCommandHandler({ db: database.db, bus });
    let crashed = false;
    const stop = await bus.consumeCommands(async (commands: Command[]) => {
      await handler(commands);
      if (!crashed) {
        crashed = true; // committed and published, then "crash" before the ack
        throw new Error("worker died before ack");
      }
    });
    const command = send(alice, "exactly once");
    await bus.sendCommand(command);
    await until(() => events.length >= 2);
    await stop();
    await stopListening();
    expect(await database.db.prisma.message.count({ where: { id: command.messageId } })).toBe(1);
    const seqs = events.flatMap((e) =>
      e.type === "message.created" ? e.messages.map((m) => m.seq) : [],
    );
    expect(new Set(seqs)).toEqual(new Set([1]));
  });

  it("drops a message whose sender is not a member, whatever the api let through (the worker re-checks membership)", async () => {
    const outsider = (
      await database.db.prisma.user.create({
        data: {
          email: `o-${randomUUID()}@x.test`,
          username: `o_${randomUUID().slice(0, 8)}`,
          displayName: "o",
          passwordHash: "x",
        },
      })
    ).id;
    const stop = await bus.consumeCommands(createCommandHandler({ db: database.db, bus }));
    const intruder = send(outsider, "sneaky");
    const legit = send(bob, "legit");
    await bus.sendCommand(intruder);
    await bus.sendCommand(legit);
    await until(
      async () =>
        (await database.db.prisma.message.count({ where: { id: legit.messageId } })) === 1,
    );
    await stop();
    expect(await database.db.prisma.message.count({ where: { id: intruder.messageId } })).toBe(0);
  });

  it("dead-letters a malformed command after bounded attempts while its shard keeps flowing", async () => {
    const stop = await bus.consumeCommands(createCommandHandler({ db: database.db, bus }));
    const poison = { ...send(alice, "bad"), messageId: "not-a-uuid" };
    await bus.sendCommand(poison);
    const after = Array.from({ length: 10 }, (_, i) => send(bob, `after ${i}`));
    for (const command of after) await bus.sendCommand(command);
    await until(
      async () =>
        (await database.db.prisma.message.count({
          where: { id: { in: after.map((c) => c.messageId) } },
        })) === 10,
    );
    let dead: Command[] = [];
    await until(async () => {
      dead = await deadLetters();
      return dead.length > 0;
    });
    await stop();
    expect(dead.map((c) => (c as SendMessageCommand).messageId)).toEqual(["not-a-uuid"]);
    // seqs stayed gapless: the poison took none
    const rows = await database.db.prisma.message.findMany({
      where: { channelId },
      orderBy: { seq: "asc" },
      select: { seq: true },
    });
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: rows.length }, (_, i) => i + 1));
  });
});

async function deadLetters(): Promise<Command[]> {
  if (bus instanceof LocalBus) return bus.deadLetters;
  return drainQueue<Command>(url as string, (bus as AmqpBus).names.deadLetterQueue);
}
