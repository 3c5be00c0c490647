// The fault suite: two api replicas and two workers as processes, senders sending at a
// steady rate and retrying with the same clientMessageId, resuming readers, and ONE
// fault injected mid-stream per scenario. After each: every accepted message is in
// PostgreSQL exactly once, seq gapless, each channel in accept order; every reader has
// every message once, in order; every send got an answer; nothing was refused (so no
// dead-lettered send went unreported); no queue or consumer leaked (asked of the broker).
import { readdirSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { dbId, globalId } from "../harness/ids.js";
import { subscriptionsStarted } from "../harness/subscriptions.js";
import { until } from "../harness/wait.js";
import { startWebhookReceiver } from "../harness/webhook-receiver.js";
import {
  type Conversation,
  conversations,
  createWorld,
  type Follower,
  follow,
  refusedCount,
  register,
  replicaLiveResources,
  residentBytes,
  runService,
  type SenderReport,
  sendSteadily,
  shardConsumers,
  stalledReader,
  storedMessages,
  type World,
} from "./harness.js";

/** Per scenario: CHANNELS senders x PER_CHANNEL messages, one every INTERVAL_MS each. */
const CHANNELS = Number(process.env.FAULT_CHANNELS ?? 20);
const PER_CHANNEL = Number(process.env.FAULT_MESSAGES_PER_CHANNEL ?? 100);
const INTERVAL_MS = Number(process.env.FAULT_INTERVAL_MS ?? 150);
/** What a replica may grow by while one reader stalls (its streams are bounded queues). */
const MEMORY_BOUND_BYTES = 150 * 2 ** 20;

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function topology(env: Record<string, string> = {}) {
  world = await createWorld(env);
  await Promise.all([
    world.start("api", "api-a"),
    world.start("api", "api-b"),
    world.start("worker", "worker-1"),
    world.start("worker", "worker-2"),
  ]);
  return world;
}

async function storedIds(w: World) {
  const client = new pg.Client({ connectionString: w.database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>("SELECT id::text FROM messages");
    return rows.map((row) => row.id);
  } finally {
    await client.end();
  }
}

async function storedSoFar(w: World, conversationsList: Conversation[]) {
  const client = new pg.Client({ connectionString: w.database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM messages WHERE channel_id = ANY($1::uuid[])",
      [conversationsList.map((c) => dbId(c.channelId))],
    );
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}

/**
 * Runs the load, injects `fault` once a quarter of the messages are stored, and checks
 * every promise afterwards.
 */
async function scenario(
  w: World,
  fault: () => Promise<void>,
  options: { alsoIn?: string[]; beforeChecks?: () => Promise<void> } = {},
) {
  const list = await conversations(w, CHANNELS, options.alsoIn);
  // Readers and senders spread over the replicas (a reader and its sender on different ones).
  const followers: Follower[] = list.map((c, i) => follow(w, c, i));
  const sending: Promise<SenderReport[]> = Promise.all(
    list.map((c, i) => sendSteadily(w, c, PER_CHANNEL, INTERVAL_MS, i + 1)),
  );
  const total = CHANNELS * PER_CHANNEL;
  await until(async () => (await storedSoFar(w, list)) >= total / 4, 120_000, "a quarter stored");
  await fault();
  // No sender is left without an answer: every send resolves (its retries included).
  const reports = await sending;
  await until(async () => (await storedSoFar(w, list)) >= total, 120_000, "every message stored");
  await until(
    () => followers.every((f) => (f.seqs.at(-1) ?? 0) >= PER_CHANNEL),
    120_000,
    "every reader caught up",
  );
  for (const follower of followers) follower.stop();
  await options.beforeChecks?.();

  for (const [i, conversation] of list.entries()) {
    const stored = await storedMessages(w, conversation.channelId);
    // Exactly once, gapless, in the order the api accepted them.
    expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: PER_CHANNEL }, (_, k) => k + 1));
    expect(stored.map((m) => m.client_message_id)).toEqual(reports[i]?.accepted);
    // Every reader has every message once, in order, across its resumptions.
    expect(followers[i]?.seqs).toEqual(Array.from({ length: PER_CHANNEL }, (_, k) => k + 1));
    expect(followers[i]?.bodies).toEqual(stored.map((m) => m.body));
  }
  expect(await refusedCount(w)).toBe(0);
  // Nothing leaked: each shard has exactly one consumer, and the replicas' bindings go
  // with the streams that used them (each replica keeps its one live queue).
  await until(
    async () => (await shardConsumers(w)).every((n) => n === 1),
    30_000,
    "one consumer per shard",
  );
  await until(
    async () => {
      const live = await replicaLiveResources(w);
      return live.bindings === 0 && live.queues === live.connections;
    },
    30_000,
    "replica bindings released, one live queue per replica",
  );
  const slowest = Math.max(...reports.map((r) => r.slowestAnswerMs));
  const resumes = followers.reduce((sum, f) => sum + f.resumes, 0);
  console.log(`  ${total} messages; slowest answer ${slowest} ms; ${resumes} resumptions`);
  return followers;
}

/** How many shards each worker consumes (its /metrics), sorted. */
async function workerShards(w: World, ids: string[]) {
  const counts = await Promise.all(
    ids.map(async (id) => {
      const service = w.services.get(id);
      const text = await (await fetch(`http://127.0.0.1:${service?.port}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith("chat_worker_shards"));
      return Number(line?.split(" ").at(-1) ?? -1);
    }),
  );
  return counts.sort();
}

const postgresVersion = () => readdirSync("/etc/postgresql").sort().at(-1) as string;

describe("faults", () => {
  it("three workers split the shards; one SIGKILLed mid-batch: its shards move to the others, nothing lost or reordered", async () => {
    const w = await topology();
    await w.start("worker", "worker-3");
    const workers = ["worker-1", "worker-2", "worker-3"];
    await until(
      async () => JSON.stringify(await workerShards(w, workers)) === JSON.stringify([1, 1, 2]),
      30_000,
      "4 shards split 2/1/1 between three workers",
    );
    await scenario(w, async () => {
      await w.kill("worker-1");
      await until(
        async () =>
          JSON.stringify(await workerShards(w, ["worker-2", "worker-3"])) ===
          JSON.stringify([2, 2]),
        30_000,
        "the two survivors to hold 2 shards each",
      );
    });
  });

  it("the database refusing connections for 10 s: shards pause and resume in order", async () => {
    const w = await topology();
    const name = new URL(w.database.url as string).pathname.slice(1);
    await scenario(w, async () => {
      const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await admin.connect();
      try {
        await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
        await admin.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
          [name],
        );
        // The fault lasts 10 s (its length, not a wait for a condition); meanwhile every
        // worker says it is not ready.
        const ends = Date.now() + 10_000;
        const workers = ["worker-1", "worker-2"].map((id) => w.services.get(id));
        await until(
          async () => {
            const answers = await Promise.all(
              workers.map((s) => fetch(`http://127.0.0.1:${s?.port}/ready`).then((r) => r.status)),
            );
            return answers.every((status) => status === 503);
          },
          9_000,
          "the workers' /ready to answer 503",
        );
        await sleep(Math.max(0, ends - Date.now()));
      } finally {
        await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
        await admin.end();
      }
      // And ready again once it is over.
      for (const id of ["worker-1", "worker-2"]) {
        const service = w.services.get(id);
        await until(
          async () => (await fetch(`http://127.0.0.1:${service?.port}/ready`)).status === 200,
          30_000,
          `${id} ready again`,
        );
      }
    });
  });

  it("a PostgreSQL restart, with webhooks: every stored message's webhook still arrives", async () => {
    const receiver = await startWebhookReceiver();
    try {
      const w = await topology({
        WEBHOOK_URLS: receiver.url,
        WEBHOOK_SECRET: "fault-suite-webhook-secret-0123456789",
        WEBHOOK_RETRY_BASE_MS: "200",
      });
      // The message ids whose message.created webhook arrived, read as they come.
      const announced = new Set<string>();
      let read = 0;
      const readNew = () => {
        for (; read < receiver.received.length; read++) {
          const webhook = receiver.received[read];
          if (webhook?.status !== 200) continue;
          const body = JSON.parse(webhook.body) as {
            type: string;
            data: { message: { id: string } };
          };
          if (body.type === "message.created") announced.add(body.data.message.id);
        }
      };
      await scenario(
        w,
        () =>
          runService(
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            postgresVersion(),
            "main",
            "restart",
          ),
        {
          beforeChecks: async () => {
            const stored = (await storedIds(w)).map((id) => globalId("Message", id));
            await until(
              () => {
                readNew();
                return stored.every((id) => announced.has(id));
              },
              120_000,
              "every stored message's webhook",
            );
          },
        },
      );
    } finally {
      await receiver.close();
    }
  });

  it("a RabbitMQ restart", async () => {
    const w = await topology();
    await scenario(w, async () => {
      await runService("rabbitmqctl", "-q", "stop_app");
      await runService("rabbitmqctl", "-q", "start_app");
      await runService("rabbitmqctl", "-q", "await_startup");
    });
  });

  it("an api replica SIGKILLed: its readers resume on the other, its senders retry there", async () => {
    const w = await topology();
    const followers = await scenario(w, () => w.kill("api-a"));
    // Half the readers were on the killed replica: they had to resume.
    expect(followers.filter((f) => f.resumes > 0).length).toBeGreaterThanOrEqual(CHANNELS / 2);
  });

  it("a reader that stops reading: its replica's memory stays bounded, it is closed at the next unanswered ping, and every other reader gets everything", async () => {
    const w = await topology({ WS_PING_INTERVAL_SECONDS: "2" });
    const slow = await register(w);
    const replica = w.services.get("api-a") as NonNullable<ReturnType<World["services"]["get"]>>;
    let stalled: Awaited<ReturnType<typeof stalledReader>> | undefined;
    let before = 0;
    await scenario(
      w,
      async () => {
        before = residentBytes(replica);
        const started = await subscriptionsStarted(replica);
        stalled = await stalledReader(replica, slow.token);
        await until(
          async () => (await subscriptionsStarted(replica)) > started,
          15_000,
          "the stalled reader subscribed",
        );
      },
      {
        alsoIn: [slow.id],
        beforeChecks: async () => {
          const grown = residentBytes(replica) - before;
          console.log(`  the stalled reader's replica grew by ${Math.round(grown / 2 ** 20)} MiB`);
          expect(grown).toBeLessThan(MEMORY_BOUND_BYTES);
          // It never answered a ping: the replica let it go (and what its streams held).
          await until(
            () => replica.output().includes("no answer to the last ping"),
            15_000,
            "the replica to close the stalled socket",
          );
          stalled?.close();
        },
      },
    );
  });

  it("a Memcached restart", async () => {
    const w = await topology();
    await scenario(w, () => w.memcached.restart());
  });
});
