// One contract, two adapters: the in-process bus and RabbitMQ must behave the same for
// what the pipeline relies on: every command settled once, each channel's in the order
// sent, whatever fails and is handed out again; refused commands dead-lettered with
// their reason to the dead-letter consumer; events fanned out by routing key.
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { AmqpBus } from "../src/pubsub/amqp/amqp-bus.js";
import type { BatchContext, Bus, CommandConsumer } from "../src/pubsub/bus.js";
import type { Command, SendMessageCommand } from "../src/pubsub/commands.js";
import type { BusEvent } from "../src/pubsub/events.js";
import { LocalBus } from "../src/pubsub/local-bus.js";
import { amqpUrl, uniquePrefix } from "./harness/broker.js";
import { eventually, until } from "./harness/wait.js";

const url = await amqpUrl();
const SHARDS = 4;

interface Adapter {
  name: string;
  make(): Promise<Bus>;
  /** How many routing keys the process has bound. */
  boundKeys(bus: Bus): Promise<number>;
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const adapters: Adapter[] = [
  {
    name: "in-process",
    make: async () => {
      const bus = new LocalBus({ shards: SHARDS });
      cleanups.push(() => bus.close());
      return bus;
    },
    boundKeys: async (bus) => (bus as LocalBus).boundKeys,
  },
];
if (url) {
  adapters.push({
    name: "RabbitMQ",
    async make() {
      const bus = await AmqpBus.connect({ url, prefix: uniquePrefix(), shards: SHARDS });
      cleanups.push(async () => {
        await bus.deleteTopology();
        await bus.close();
      });
      return bus;
    },
    async boundKeys(bus) {
      // Each bound key is one binding of this connection's one live queue: ask the broker.
      const { brokerResources } = await import("./harness/broker.js");
      return (await brokerResources((bus as AmqpBus).names.commands)).bindings;
    },
  });
} else {
  // Not silently green: without TEST_REQUIRE_SERVICES the RabbitMQ half is reported skipped.
  describe.skip("RabbitMQ adapter (no TEST_AMQP_URL and no Docker engine)", () => {
    it("runs the same contract", () => {});
  });
}

function sendCommand(channelId: string, n: number): SendMessageCommand {
  return {
    type: "message.send",
    messageId: randomUUID(),
    channelId,
    senderId: randomUUID(),
    clientMessageId: String(n),
    body: `message ${n}`,
    createdAt: new Date().toISOString(),
  };
}

const numberOf = (command: Command) => Number((command as SendMessageCommand).clientMessageId);

/** Records the commands a consumer of every shard settles, in order. */
async function settleInto(bus: Bus, settled: number[]) {
  await consumeAll(bus, async (batch) => {
    settled.push(...batch.map(numberOf));
    return undefined;
  });
}

async function consumeAll(
  bus: Bus,
  handler: (
    batch: Command[],
    context: BatchContext,
  ) => Promise<{ refused?: Array<{ index: number; reason: string }> } | undefined>,
  batchSize = 50,
): Promise<CommandConsumer> {
  const consumer = await bus.commandConsumer(handler, { batchSize });
  for (let shard = 0; shard < bus.shards; shard++) await consumer.add(shard);
  cleanups.push(() => consumer.stop());
  return consumer;
}

/** A consumer of every shard that refuses command #5 and settles the rest, and the dead letters it records. */
async function refusingNumberFive(bus: Bus) {
  const settled: number[] = [];
  const dead: Array<{ n: number; reason: string }> = [];
  await consumeAll(bus, async (batch) => {
    const refused: Array<{ index: number; reason: string }> = [];
    for (const [index, command] of batch.entries()) {
      if (numberOf(command) === 5) refused.push({ index, reason: "poison #5" });
      else settled.push(numberOf(command));
    }
    return { refused };
  });
  cleanups.push(
    await bus.consumeDeadLetters(async (command, reason) => {
      dead.push({ n: numberOf(command), reason });
    }),
  );
  return { settled, dead };
}

describe.each(adapters)("bus contract: $name", (adapter) => {
  it("settles every command once, each channel's in order, in batches", async () => {
    const bus = await adapter.make();
    const seen = new Map<string, number[]>();
    const batchSizes: number[] = [];
    const consumer = await consumeAll(bus, async (batch) => {
      batchSizes.push(batch.length);
      for (const command of batch)
        seen.set(command.channelId, [...(seen.get(command.channelId) ?? []), numberOf(command)]);
      return undefined;
    });
    const channels = [randomUUID(), randomUUID(), randomUUID()];
    await Promise.all(
      Array.from({ length: 300 }, (_, n) =>
        bus.sendCommand(sendCommand(channels[n % 3] as string, n)),
      ),
    );
    // One more command per channel, sent after the others: when it is seen, all are.
    for (const channelId of channels) await bus.sendCommand(sendCommand(channelId, 1000));
    await until(() => channels.every((c) => seen.get(c)?.at(-1) === 1000));
    for (const [i, channelId] of channels.entries()) {
      const expected = [...Array.from({ length: 100 }, (_, k) => k * 3 + i), 1000];
      expect(seen.get(channelId)).toEqual(expected);
    }
    expect(Math.max(...batchSizes)).toBeGreaterThan(1);
    expect(Math.max(...batchSizes)).toBeLessThanOrEqual(50);
    await consumer.stop();
  });

  it("hands a batch that was not settled (a transient failure) out again, ahead of later commands: no loss, no reorder", async () => {
    const bus = await adapter.make();
    const channelId = randomUUID();
    const settled: number[] = [];
    let failures = 0;
    await consumeAll(
      bus,
      async (batch) => {
        // The batch holding #3 fails twice (a database failover), then succeeds.
        if (batch.some((c) => numberOf(c) === 3) && failures < 2) {
          failures++;
          throw new Error("database unavailable");
        }
        settled.push(...batch.map(numberOf));
        return undefined;
      },
      2,
    );
    for (let n = 1; n <= 10; n++) await bus.sendCommand(sendCommand(channelId, n));
    await until(() => settled.includes(10));
    expect(failures).toBe(2);
    expect(settled).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it("dead-letters a refused command in the middle of a channel's stream with its reason; the others are settled in order", async () => {
    const bus = await adapter.make();
    const channelId = randomUUID();
    const { settled, dead } = await refusingNumberFive(bus);
    for (let n = 1; n <= 10; n++) await bus.sendCommand(sendCommand(channelId, n));
    await until(() => settled.includes(10) && dead.length === 1);
    expect(settled).toEqual([1, 2, 3, 4, 6, 7, 8, 9, 10]);
    expect(dead).toEqual([{ n: 5, reason: "poison #5" }]);
  });

  it("a dead letter whose handler fails is handed to it again until it succeeds", async () => {
    const bus = await adapter.make();
    let attempts = 0;
    const recorded: number[] = [];
    await consumeAll(bus, async (batch) => ({
      refused: batch.map((_, index) => ({ index, reason: "refused" })),
    }));
    cleanups.push(
      await bus.consumeDeadLetters(async (command) => {
        if (++attempts < 3) throw new Error("database unavailable");
        recorded.push(numberOf(command));
      }),
    );
    await bus.sendCommand(sendCommand(randomUUID(), 7));
    await until(() => recorded.length === 1);
    expect(recorded).toEqual([7]);
    expect(attempts).toBe(3);
  });

  it("removing a shard mid-batch aborts it and returns its commands: the next consumer of the shard gets them all, in order", async () => {
    const bus = await adapter.make();
    const channelId = randomUUID();
    const settled: number[] = [];
    let firstBatch: Promise<void> | undefined;
    let aborted = false;
    const consumer = await consumeAll(
      bus,
      async (batch, { signal }) => {
        if (!firstBatch) {
          // Hold the first batch until the shard is taken away.
          firstBatch = new Promise<void>((resolve) =>
            signal.addEventListener("abort", () => resolve()),
          );
          await firstBatch;
          aborted = signal.aborted;
          throw new Error("aborted");
        }
        settled.push(...batch.map(numberOf));
        return undefined;
      },
      3,
    );
    for (let n = 1; n <= 9; n++) await bus.sendCommand(sendCommand(channelId, n));
    await until(() => firstBatch !== undefined);
    // Remove every shard (the channel's is among them), then take them again.
    for (const each of [...consumer.shards]) await consumer.remove(each);
    expect(aborted).toBe(true);
    expect(consumer.shards.size).toBe(0);
    for (let each = 0; each < bus.shards; each++) await consumer.add(each);
    await until(() => settled.includes(9));
    expect(settled).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("fans events out to the listeners of their routing key only; a key is bound once and released with its last listener", async () => {
    const bus = await adapter.make();
    const before = await adapter.boundKeys(bus);
    const received: Array<[string, BusEvent]> = [];
    const event = (channelId: string): BusEvent => ({
      type: "channel.joined",
      channelId,
      userIds: ["u"],
    });
    const stopA1 = await bus.listen("channel.a", (e) => received.push(["a1", e]));
    const stopA2 = await bus.listen("channel.a", (e) => received.push(["a2", e]));
    const stopB = await bus.listen("channel.b", (e) => received.push(["b", e]));
    expect(await adapter.boundKeys(bus)).toBe(before + 2);
    await bus.publishEvents([
      { routingKey: "channel.a", event: event("a") },
      { routingKey: "channel.b", event: event("b") },
      { routingKey: "channel.c", event: event("c") },
    ]);
    // channel.b's event was published after channel.a's: once it is here, a's are too.
    await until(() => received.some(([who]) => who === "b") && received.length >= 3);
    expect(received.map(([who]) => who).sort()).toEqual(["a1", "a2", "b"]);
    await stopA1();
    await stopA2();
    await stopB();
    expect(await adapter.boundKeys(bus)).toBe(before);
    // A released key receives nothing: a later event on a still-bound key is the witness.
    const stopD = await bus.listen("channel.d", (e) => received.push(["d", e]));
    await bus.publishEvents([
      { routingKey: "channel.a", event: event("a") },
      { routingKey: "channel.d", event: event("d") },
    ]);
    await until(() => received.some(([who]) => who === "d"));
    expect(received.map(([who]) => who).sort()).toEqual(["a1", "a2", "b", "d"]);
    await stopD();
  });
});

describe.runIf(url)("RabbitMQ adapter only", () => {
  /** A bus of one shard on a topology of its own, deleted after the file. */
  async function oneShardBus(options: { maxDeliveries?: number } = {}) {
    const bus = await AmqpBus.connect({
      url: url as string,
      prefix: uniquePrefix(),
      shards: 1,
      ...options,
    });
    cleanups.push(async () => {
      await bus.deleteTopology().catch(() => {});
      await bus.close();
    });
    return bus;
  }

  /** Messages waiting in the bus's only shard queue (no consumer yet). */
  async function waitingMessages(bus: AmqpBus) {
    const { default: amqp } = await import("amqplib");
    const admin = await amqp.connect(url as string);
    try {
      const channel = await admin.createChannel();
      return (await channel.checkQueue(bus.names.shardQueue(0))).messageCount;
    } finally {
      await admin.close();
    }
  }

  it("a shard's commands sent in one turn travel as one message each 100; the consumer settles every one, in order, in batches of its size", async () => {
    const bus = await oneShardBus();
    const channelId = randomUUID();
    await Promise.all(
      Array.from({ length: 250 }, (_, n) => bus.sendCommand(sendCommand(channelId, n))),
    );
    // Commands sent in a later turn go in a message of their own.
    await bus.sendCommand(sendCommand(channelId, 250));
    expect(await waitingMessages(bus)).toBe(4);
    const settled: number[] = [];
    const batchSizes: number[] = [];
    const consumer = await consumeAll(
      bus,
      async (batch) => {
        batchSizes.push(batch.length);
        settled.push(...batch.map(numberOf));
        return undefined;
      },
      40,
    );
    await until(() => settled.length >= 251);
    expect(settled).toEqual(Array.from({ length: 251 }, (_, n) => n));
    expect(Math.max(...batchSizes)).toBe(40);
    // Every message was acked: a consumer after this one gets a later command, and
    // nothing of the bundles again (what comes back is handed out ahead of it).
    await consumer.stop();
    await consumeAll(bus, async (batch) => {
      settled.push(...batch.map(numberOf));
      return undefined;
    });
    await bus.sendCommand(sendCommand(channelId, 251));
    await until(() => settled.includes(251));
    expect(settled).toEqual(Array.from({ length: 252 }, (_, n) => n));
  });

  it("a command refused inside a bundle is dead-lettered alone with its reason; the bundle's others are settled once", async () => {
    const bus = await oneShardBus();
    const channelId = randomUUID();
    const { settled, dead } = await refusingNumberFive(bus);
    await Promise.all(
      Array.from({ length: 10 }, (_, n) => bus.sendCommand(sendCommand(channelId, n))),
    );
    // A later command on the same shard: once it is settled, the bundle before it was.
    await bus.sendCommand(sendCommand(channelId, 10));
    await until(() => settled.includes(10) && dead.length === 1);
    expect(settled).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9, 10]);
    expect(dead).toEqual([{ n: 5, reason: "poison #5" }]);
  });

  it("a bundle the broker gives up on (its delivery limit) is handed to the dead-letter consumer command by command", async () => {
    const bus = await oneShardBus({ maxDeliveries: 1 });
    const channelId = randomUUID();
    const dead: Array<{ n: number; reason: string }> = [];
    cleanups.push(
      await bus.consumeDeadLetters(async (command, reason) => {
        dead.push({ n: numberOf(command), reason });
      }),
    );
    let attempts = 0;
    // A worker that never settles this bundle: its one delivery is all the limit allows.
    const consumer = await consumeAll(bus, async () => {
      attempts++;
      throw new Error("crashes every worker");
    });
    await Promise.all([0, 1, 2].map((n) => bus.sendCommand(sendCommand(channelId, n))));
    await until(() => dead.length === 3);
    await consumer.stop();
    expect(attempts).toBe(1);
    expect(dead.map((d) => d.n)).toEqual([0, 1, 2]);
    expect(dead.every((d) => d.reason.startsWith("given up by the broker"))).toBe(true);
  });

  it("a run of one key's events travels as one message and reaches its listeners as the events, in order", async () => {
    const bus = await oneShardBus();
    const got: string[] = [];
    const stop = await bus.listen("channel.run", (event) =>
      got.push((event as { channelId: string }).channelId),
    );
    const { default: amqp } = await import("amqplib");
    const admin = await amqp.connect(url as string);
    cleanups.push(() => admin.close());
    // A second listener of the exchange, raw: counts the messages on the wire.
    const raw = await admin.createChannel();
    const { queue } = await raw.assertQueue("", { exclusive: true });
    await raw.bindQueue(queue, bus.names.events, "channel.run");
    const wire: unknown[] = [];
    await raw.consume(
      queue,
      (message) => message && wire.push(JSON.parse(message.content.toString())),
      {
        noAck: true,
      },
    );
    const event = (n: number): BusEvent => ({
      type: "channel.joined",
      channelId: `e${n}`,
      userIds: ["u"],
    });
    await bus.publishEvents(
      [0, 1, 2, 3].map((n) => ({ routingKey: "channel.run", event: event(n) })),
    );
    await until(() => got.length === 4 && wire.length === 1);
    expect(got).toEqual(["e0", "e1", "e2", "e3"]);
    expect(wire).toEqual([[0, 1, 2, 3].map(event)]);
    await stop();
  });

  it("an unroutable command is an error, not a silent drop", async () => {
    const bus = await oneShardBus();
    const { default: amqp } = await import("amqplib");
    const admin = await amqp.connect(url as string);
    const channel = await admin.createChannel();
    await channel.deleteQueue(bus.names.shardQueue(0));
    await admin.close();
    await expect(bus.sendCommand(sendCommand(randomUUID(), 1))).rejects.toThrow(/no queue took/);
  });

  it("starts on shard queues an older build declared with other arguments, and uses them", async () => {
    const prefix = uniquePrefix();
    const { default: amqp } = await import("amqplib");
    const admin = await amqp.connect(url as string);
    const channel = await admin.createChannel();
    await channel.assertQueue(`${prefix}.commands.0`, {
      durable: true,
      arguments: {
        "x-queue-type": "quorum",
        "x-single-active-consumer": true,
        "x-delivery-limit": 4,
      },
    });
    await admin.close();
    const warnings: string[] = [];
    const bus = await AmqpBus.connect({
      url: url as string,
      prefix,
      shards: 1,
      log: (message) => warnings.push(message),
    });
    cleanups.push(async () => {
      await bus.deleteTopology();
      await bus.close();
    });
    expect(warnings.some((w) => w.includes("exists with other arguments"))).toBe(true);
    const settled: number[] = [];
    await settleInto(bus, settled);
    await bus.sendCommand(sendCommand(randomUUID(), 1));
    await until(() => settled.includes(1));
  });

  it("a process follows any number of keys with one queue: a binding per key", async () => {
    const bus = await oneShardBus();
    const { brokerResources } = await import("./harness/broker.js");
    const before = await brokerResources(bus.names.commands);
    const keys = Array.from({ length: 50 }, (_, i) => `channel.k${i}`);
    const got = new Set<string>();
    const stops = await Promise.all(
      keys.map((key) =>
        bus.listen(key, (event) => got.add((event as { channelId: string }).channelId)),
      ),
    );
    const during = await brokerResources(bus.names.commands);
    expect(during.queues).toBe(before.queues);
    expect(during.bindings).toBe(before.bindings + keys.length);
    await bus.publishEvents(
      keys.map((key) => ({
        routingKey: key,
        event: { type: "channel.joined", channelId: key, userIds: ["u"] },
      })),
    );
    await until(() => got.size === keys.length);
    await Promise.all(stops.map((stop) => stop()));
    expect(await brokerResources(bus.names.commands)).toEqual(before);
  });

  it("a shard's consumer channel closed by the broker consumes again", async () => {
    const bus = await oneShardBus();
    const settled: number[] = [];
    await settleInto(bus, settled);
    await bus.sendCommand(sendCommand(randomUUID(), 1));
    await until(() => settled.includes(1));
    // Close the consumer's channel from the broker's side (what a channel error does).
    const { execFile } = await import("node:child_process");
    const { promisify } = await import("node:util");
    const run = promisify(execFile);
    // The broker's listing can lag behind a consumer that already delivered: ask until it
    // shows (a one-shot read failed CI once under load).
    const listed = async () =>
      (await run("rabbitmqctl", ["-q", "list_consumers", "queue_name", "channel_pid"])).stdout
        .split("\n")
        .filter((line) => line.startsWith(bus.names.shardQueue(0)));
    const consumers = await eventually(listed, (lines) => lines.length > 0, 20_000);
    expect(consumers).toHaveLength(1);
    const channelPid = consumers[0]?.split("\t")[1] as string;
    await run("rabbitmqctl", [
      "-q",
      "eval",
      `exit(list_to_pid("${channelPid.trim()}"), kill).`,
    ]).catch(() => {});
    await bus.sendCommand(sendCommand(randomUUID(), 2));
    await until(() => settled.includes(2), 20_000);
    expect(settled).toEqual([1, 2]);
  });
});
