// Outgoing webhooks: message created/updated/deleted and offline mentions, written with
// the change in the worker's transaction and delivered from there at least once, with
// retries and backoff, signed with HMAC-SHA256 over timestamp and body. A receiver that
// crashes mid-stream and comes back loses nothing.
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import type { WebhookBody } from "../src/worker/webhook-events.js";
import {
  DeleteMessageDocument,
  EditMessageDocument,
  MuteChannelDocument,
  PresenceDocument,
  SendMessageDocument,
} from "./gql/graphql.js";
import { mustRequest, onlineSocket, useTestApp } from "./harness/app.js";
import { sendAndStore } from "./harness/messages.js";
import {
  groupChannel,
  registerUser,
  registerUsers,
  type Session as User,
} from "./harness/users.js";
import { eventually, until } from "./harness/wait.js";
import { type ReceivedWebhook, startWebhookReceiver } from "./harness/webhook-receiver.js";

const SECRET = "webhook-secret-webhook-secret-0123456789";
const receiver = await startWebhookReceiver();
const server = useTestApp({
  WEBHOOK_URLS: receiver.url,
  WEBHOOK_SECRET: SECRET,
  WEBHOOK_RETRY_BASE_MS: "50",
  SEND_RATE_LIMIT: "10000",
});
afterAll(() => receiver.close());

/** What a receiver does, as the README says: recompute the signature and compare. */
function verified(webhook: ReceivedWebhook): boolean {
  const header = String(webhook.headers["chat-signature"] ?? "");
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!match) return false;
  const [, timestamp, mac] = match as unknown as [string, string, string];
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = createHmac("sha256", SECRET).update(`${timestamp}.${webhook.body}`).digest();
  return timingSafeEqual(expected, Buffer.from(mac, "hex"));
}

const delivered = () =>
  receiver.received
    .filter((w) => w.status === 200)
    .map((w) => ({ ...w, event: JSON.parse(w.body) as WebhookBody }));

const eventsOf = (type: string, messageId: string) =>
  delivered().filter((w) => w.event.type === type && w.event.data.message.id === messageId);

const pending = async () => {
  const [row] = await server.database.db.sql.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM webhook_deliveries WHERE failed_at IS NULL",
  );
  return Number(row?.n ?? 0);
};

describe("webhooks", () => {
  it("a message created, edited and deleted is delivered as three signed webhooks with their own ids", async () => {
    const [alice, bob] = (await registerUsers(server, 2)) as [User, User];
    const channelId = await groupChannel(server, alice, [bob], "Hooks");
    const message = await sendAndStore(server, alice, channelId, "hello hooks");
    await mustRequest(
      server,
      EditMessageDocument,
      { id: message.id, body: "edited" },
      alice.accessToken,
    );
    await until(() => eventsOf("message.updated", message.id).length > 0);
    await mustRequest(server, DeleteMessageDocument, { id: message.id }, alice.accessToken);
    await until(() => eventsOf("message.deleted", message.id).length > 0);
    const [created] = eventsOf("message.created", message.id);
    const [updated] = eventsOf("message.updated", message.id);
    const [deleted] = eventsOf("message.deleted", message.id);
    expect(created!.event.data.message).toMatchObject({
      id: message.id,
      channelId,
      body: "hello hooks",
      sender: { id: alice.user.id },
    });
    expect(updated!.event.data.message.body).toBe("edited");
    expect(deleted!.event.data.message).toMatchObject({ body: null });
    for (const webhook of [created!, updated!, deleted!]) {
      expect(verified(webhook)).toBe(true);
      expect(webhook.headers["chat-webhook-id"]).toBe(webhook.event.id);
      expect(webhook.headers["chat-webhook-event"]).toBe(webhook.event.type);
    }
    expect(new Set([created, updated, deleted].map((w) => w!.event.id)).size).toBe(3);
    // A tampered body does not verify.
    expect(verified({ ...created!, body: created!.body.replace("hello", "HELLO") })).toBe(false);
  });

  it("a receiver answering 500 gets the same webhook again, with the same id, until it answers 2xx", async () => {
    const [alice, bob] = (await registerUsers(server, 2)) as [User, User];
    const channelId = await groupChannel(server, alice, [bob], "Retries");
    receiver.failNext(2);
    const message = await sendAndStore(server, alice, channelId, "try again");
    await until(() => eventsOf("message.created", message.id).length > 0);
    const attempts = receiver.received.filter((w) => w.body.includes(message.id));
    expect(attempts.map((w) => w.status)).toEqual([500, 500, 200]);
    expect(new Set(attempts.map((w) => w.headers["chat-webhook-id"])).size).toBe(1);
  });

  it("a receiver that crashes mid-stream and comes back loses nothing", async () => {
    const [alice, bob] = (await registerUsers(server, 2)) as [User, User];
    const channelId = await groupChannel(server, alice, [bob], "Crash");
    const send = async (body: string) =>
      (
        await mustRequest(
          server,
          SendMessageDocument,
          { input: { channelId, body, clientMessageId: randomUUID() } },
          alice.accessToken,
        )
      ).sendMessage.id;
    receiver.crashOn(5);
    const before = await Promise.all(Array.from({ length: 30 }, (_, i) => send(`before ${i}`)));
    await until(() => !receiver.listening, 15_000, "the receiver to crash");
    // While it is down: more messages, and failed attempts recorded for retry.
    const during = await Promise.all(Array.from({ length: 10 }, (_, i) => send(`during ${i}`)));
    await eventually(
      () =>
        server.database.db.sql.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM webhook_deliveries WHERE attempts > 0",
        ),
      (rows) => Number(rows[0]?.n) > 0,
    );
    await receiver.restart();
    const sent = [...before, ...during];
    await until(
      () => sent.every((id) => eventsOf("message.created", id).length > 0),
      30_000,
      "every message's webhook",
    );
    for (const id of sent)
      for (const webhook of eventsOf("message.created", id)) expect(verified(webhook)).toBe(true);
    // At least once: a repeat carries the same id, so a receiver can drop it.
    const ids = sent.map((id) => eventsOf("message.created", id).map((w) => w.event.id));
    for (const copies of ids) expect(new Set(copies).size).toBe(1);
  });

  it("a mention is pushed for members who are offline (saying whether they muted the channel), not for those online", async () => {
    const alice = await registerUser(server);
    const bob = await registerUser(server);
    const carol = await registerUser(server);
    const channelId = await groupChannel(server, alice, [bob, carol], "Mentions");
    await mustRequest(
      server,
      MuteChannelDocument,
      { channelId, until: new Date(Date.now() + 3_600_000).toISOString() },
      bob.accessToken,
    );
    const socket = onlineSocket(server, carol.accessToken);
    try {
      await eventually(
        () =>
          mustRequest(server, PresenceDocument, { userIds: [carol.user.id] }, alice.accessToken),
        (answer) => answer.presence[0]?.status === "ONLINE",
      );
      const message = await sendAndStore(
        server,
        alice,
        channelId,
        `@${bob.user.username} and @${carol.user.username}: standup`,
      );
      await until(() => eventsOf("message.mentioned", message.id).length > 0);
      await until(async () => (await pending()) === 0, 15_000, "every webhook to be settled");
      const mentions = eventsOf("message.mentioned", message.id);
      expect(mentions.map((w) => w.event.data)).toEqual([
        expect.objectContaining({ userId: bob.user.id, channelMuted: true }),
      ]);
    } finally {
      await socket.dispose();
    }
  });
});
