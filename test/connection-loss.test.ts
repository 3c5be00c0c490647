// RabbitMQ connection loss, made real and isolated: the app connects as a broker user of
// its own; revoking that user's permissions and closing its connection is an outage for
// this app alone (other test files share the broker). Then the permissions come back.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AmqpBus } from "../src/pubsub/amqp/amqp-bus.js";
import { CreateGroupDocument, MessageAddedDocument, SendMessageDocument } from "./gql/graphql.js";
import { mustRequest, type RunningApp, request, startApp, wsClient } from "./harness/app.js";
import { amqpUrl, uniquePrefix } from "./harness/broker.js";
import { createTestDatabase } from "./harness/database.js";
import { record, recordLive } from "./harness/subscriptions.js";
import { registerUser } from "./harness/users.js";
import { until } from "./harness/wait.js";

const run = promisify(execFile);
const ctl = async (...args: string[]) => (await run("rabbitmqctl", ["-q", ...args])).stdout;
const broker = await amqpUrl();
// Needs a local broker to administer (CI has one); a containerised one is not ours to kick.
const runnable = broker !== undefined && /@(127\.0\.0\.1|localhost)[:/]/.test(broker);

const user = `loss_${randomBytes(4).toString("hex")}`;
const password = randomBytes(8).toString("hex");
const prefix = uniquePrefix();
const serverId = `loss-${randomBytes(3).toString("hex")}`;
let app: RunningApp;

async function grant() {
  await ctl("set_permissions", "-p", "/", user, ".*", ".*", ".*");
}

async function cutOff() {
  await ctl("clear_permissions", "-p", "/", user);
  const connections = await ctl("list_connections", "pid", "client_properties");
  for (const line of connections.split("\n")) {
    if (line.includes(`"${prefix}:${serverId}"`)) {
      await ctl("close_connection", line.split("\t")[0] as string, "test: broker outage");
    }
  }
}

async function ready() {
  return (await fetch(app.url.replace("/graphql", "/ready"))).status;
}

beforeAll(async () => {
  if (!runnable) return;
  await ctl("add_user", user, password);
  await grant();
  const url = new URL(broker as string);
  url.username = user;
  url.password = password;
  app = await startApp(await createTestDatabase(), {
    AMQP_URL: url.toString(),
    NAMESPACE: prefix,
    SERVER_ID: serverId,
    COMMAND_SHARDS: "2",
  });
}, 120_000);

afterAll(async () => {
  if (!runnable) return;
  await grant().catch(() => {});
  await app?.app.stop();
  const cleanup = await AmqpBus.connect({ url: broker as string, prefix, shards: 2 });
  await cleanup.deleteTopology();
  await cleanup.close();
  await app?.database.drop();
  await ctl("delete_user", user);
});

describe.skipIf(!runnable)("losing RabbitMQ", () => {
  it("reports the outage on /ready, answers SERVICE_UNAVAILABLE, ends live streams with a resume hint, and recovers by itself", async () => {
    const [alice, bob] = (await Promise.all([registerUser(app), registerUser(app)])) as [
      Awaited<ReturnType<typeof registerUser>>,
      Awaited<ReturnType<typeof registerUser>>,
    ];
    const group = await mustRequest(
      app,
      CreateGroupDocument,
      { input: { name: "Outage", memberIds: [bob.user.id] } },
      alice.accessToken,
    );
    const channelId = group.createGroup.channels.edges[0]!.node.id;
    const client = wsClient(app, { authorization: `Bearer ${bob.accessToken}` });
    const live = await recordLive(app, client, MessageAddedDocument, { channelId });
    await mustRequest(
      app,
      SendMessageDocument,
      { input: { channelId, body: "before", clientMessageId: "b1" } },
      alice.accessToken,
    );
    await live.until((data) => data.length === 1);
    expect(await ready()).toBe(200);

    await cutOff();
    await until(async () => (await ready()) === 503, 30_000, "/ready to report the outage");
    const refused = await request(
      app,
      SendMessageDocument,
      { input: { channelId, body: "during", clientMessageId: "d1" } },
      alice.accessToken,
    );
    expect(refused.errors?.[0]?.extensions).toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      retryable: true,
    });
    await until(() => live.error !== undefined, 15_000, "the live stream to end");
    expect(JSON.stringify(live.error)).toMatch(/SERVICE_UNAVAILABLE/);
    expect(JSON.stringify(live.error)).toMatch(/afterSeq/);

    await grant();
    await until(async () => (await ready()) === 200, 30_000, "/ready to recover");
    // The retry of the refused send goes through now (same clientMessageId).
    await mustRequest(
      app,
      SendMessageDocument,
      { input: { channelId, body: "during", clientMessageId: "d1" } },
      alice.accessToken,
    );
    await mustRequest(
      app,
      SendMessageDocument,
      { input: { channelId, body: "after", clientMessageId: "a1" } },
      alice.accessToken,
    );
    const resumed = record(client, MessageAddedDocument, { channelId, afterSeq: 1 });
    const data = await resumed.until((events) => events.length === 2);
    expect(data.map((d) => [d.messageAdded.seq, d.messageAdded.body])).toEqual([
      [2, "during"],
      [3, "after"],
    ]);
    resumed.stop();
    await client.dispose();
  }, 90_000);
});
