// The message pipeline in one process (embedded bus): send -> worker -> PostgreSQL ->
// subscriptions, history, edits and deletions, idempotency and bad input.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CreateGroupDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  HistoryDocument,
  MessageAddedDocument,
  MessageByIdDocument,
  MessageUpdatedDocument,
  RemoveGroupMemberDocument,
  SendMessageDocument,
  SendStatusDocument,
} from "./gql/graphql.js";
import { mustRequest, request, useTestApp, wsClient } from "./harness/app.js";
import { dbId, unknownId } from "./harness/ids.js";
import { record, recordLive } from "./harness/subscriptions.js";
import { registerUser } from "./harness/users.js";
import { until } from "./harness/wait.js";

// Generous: these tests send in bursts; the limit itself is tested on `limited`.
const server = useTestApp({ SEND_RATE_LIMIT: "10000" });
const limited = useTestApp({ SEND_RATE_LIMIT: "5" });
type Session = Awaited<ReturnType<typeof registerUser>>;
let alice: Session;
let bob: Session;
let outsider: Session;
const clients: Array<{ dispose(): void | Promise<void> }> = [];

beforeAll(async () => {
  [alice, bob, outsider] = (await Promise.all([
    registerUser(server),
    registerUser(server),
    registerUser(server),
  ])) as [Session, Session, Session];
});
afterAll(async () => {
  for (const client of clients) await client.dispose();
});

function socket(session: Session) {
  const client = wsClient(server, { authorization: `Bearer ${session.accessToken}` });
  clients.push(client);
  return client;
}

async function newChannel() {
  const group = await mustRequest(
    server,
    CreateGroupDocument,
    { input: { name: "Chat", memberIds: [bob.user.id] } },
    alice.accessToken,
  );
  return { groupId: group.createGroup.id, channelId: group.createGroup.channels.edges[0]!.node.id };
}

function send(
  session: Session,
  channelId: string,
  body: string,
  clientMessageId: string = randomUUID(),
) {
  return mustRequest(
    server,
    SendMessageDocument,
    { input: { channelId, body, clientMessageId } },
    session.accessToken,
  );
}

function sendStatusOf(session: Session, clientMessageId: string) {
  return mustRequest(server, SendStatusDocument, { clientMessageId }, session.accessToken);
}

describe("sending", () => {
  it("answers PENDING at once, then the message arrives on messageAdded with seq 1, 2, 3 and is stored", async () => {
    const { channelId } = await newChannel();
    const live = await recordLive(server, socket(bob), MessageAddedDocument, { channelId });
    const accepted = await send(alice, channelId, "hello");
    expect(accepted.sendMessage).toMatchObject({
      status: "PENDING",
      seq: null,
      body: "hello",
      sender: { id: alice.user.id },
    });
    await send(alice, channelId, "second");
    await send(alice, channelId, "third");
    const events = await live.until((data) => data.length === 3);
    expect(
      events.map((e) => [e.messageAdded.seq, e.messageAdded.body, e.messageAdded.status]),
    ).toEqual([
      [1, "hello", "SENT"],
      [2, "second", "SENT"],
      [3, "third", "SENT"],
    ]);
    expect(events[0]!.messageAdded.id).toBe(accepted.sendMessage.id);
    expect(events[0]!.messageAdded.sender.username).toBe(alice.user.username);
    const rows = await server.database.db.prisma.message.findMany({
      where: { channelId: dbId(channelId) },
      orderBy: { seq: "asc" },
    });
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3]);
    // No row per recipient: bob's receipt positions have not moved, the sender's are past
    // what she sent.
    const positions = await server.database.db.prisma.channelMember.findMany({
      where: { channelId: dbId(channelId) },
      select: { userId: true, lastReadSeq: true, lastDeliveredSeq: true },
    });
    expect(positions).toHaveLength(2);
    expect(positions.find((p) => p.userId === dbId(bob.user.id))).toMatchObject({
      lastReadSeq: 0,
      lastDeliveredSeq: 0,
    });
    expect(positions.find((p) => p.userId === dbId(alice.user.id))).toMatchObject({
      lastReadSeq: 3,
      lastDeliveredSeq: 3,
    });
    live.stop();
  });

  it("the same clientMessageId sent 5 times yields one message", async () => {
    const { channelId } = await newChannel();
    const live = await recordLive(server, socket(bob), MessageAddedDocument, { channelId });
    const key = randomUUID();
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => send(alice, channelId, "once", key)),
    );
    expect(new Set(answers.map((a) => a.sendMessage.id)).size).toBe(1);
    await send(alice, channelId, "after");
    const events = await live.until((data) => data.some((e) => e.messageAdded.body === "after"));
    expect(events.map((e) => e.messageAdded.body)).toEqual(["once", "after"]);
    expect(
      await server.database.db.prisma.message.count({ where: { channelId: dbId(channelId) } }),
    ).toBe(2);
    live.stop();
  });

  it("a retry after the message is stored answers the stored message (seq, SENT, original time); sendStatus says STORED", async () => {
    const { channelId } = await newChannel();
    const key = randomUUID();
    const first = await send(alice, channelId, "stored once", key);
    expect(first.sendMessage.status).toBe("PENDING");
    const prisma = server.database.db.prisma;
    await until(
      async () => (await prisma.message.count({ where: { id: dbId(first.sendMessage.id) } })) === 1,
    );
    const retry = await send(alice, channelId, "stored once", key);
    expect(retry.sendMessage).toMatchObject({
      id: first.sendMessage.id,
      seq: 1,
      status: "SENT",
      body: "stored once",
    });
    const stored = await prisma.message.findUniqueOrThrow({
      where: { id: dbId(first.sendMessage.id) },
    });
    expect(retry.sendMessage.createdAt).toBe(stored.createdAt.toISOString());
    const status = await mustRequest(
      server,
      SendStatusDocument,
      { clientMessageId: key },
      alice.accessToken,
    );
    expect(status.sendStatus).toMatchObject({
      state: "STORED",
      reason: null,
      message: { id: first.sendMessage.id, seq: 1 },
    });
    // Keys are per sender: the same key is unknown (PENDING) for someone else.
    const other = await mustRequest(
      server,
      SendStatusDocument,
      { clientMessageId: key },
      bob.accessToken,
    );
    expect(other.sendStatus).toMatchObject({ state: "PENDING", message: null });
  });

  it("a clientMessageId reused for a different body or channel is BAD_USER_INPUT naming the field", async () => {
    const { channelId } = await newChannel();
    const { channelId: otherChannel } = await newChannel();
    const key = randomUUID();
    const first = await send(alice, channelId, "original", key);
    const prisma = server.database.db.prisma;
    await until(
      async () => (await prisma.message.count({ where: { id: dbId(first.sendMessage.id) } })) === 1,
    );
    for (const [channel, body] of [
      [channelId, "something else"],
      [otherChannel, "original"],
    ] as const) {
      const result = await request(
        server,
        SendMessageDocument,
        { input: { channelId: channel, body, clientMessageId: key } },
        alice.accessToken,
      );
      expect(result.errors?.[0]?.extensions).toMatchObject({
        code: "BAD_USER_INPUT",
        field: "input.clientMessageId",
      });
    }
    expect(await prisma.message.count({ where: { clientMessageId: key } })).toBe(1);
  });

  it("a send refused by the worker (the sender left before it was stored) is REFUSED with its reason on sendStatus", async () => {
    const { channelId } = await newChannel();
    const prisma = server.database.db.prisma;
    // Bob is removed straight in the database: the api's membership cache still says yes.
    await send(bob, channelId, "warm the membership cache");
    await prisma.channelMember.delete({
      where: { channelId_userId: { channelId: dbId(channelId), userId: dbId(bob.user.id) } },
    });
    const key = randomUUID();
    const accepted = await send(bob, channelId, "too late", key);
    expect(accepted.sendMessage.status).toBe("PENDING");
    let status: Awaited<ReturnType<typeof sendStatusOf>> | undefined;
    await until(async () => {
      status = await sendStatusOf(bob, key);
      return status.sendStatus.state !== "PENDING";
    });
    expect(status?.sendStatus).toMatchObject({
      state: "REFUSED",
      reason: "sender is not a member of the channel",
      message: null,
    });
  });

  it("rejects bad input with typed errors and enqueues nothing", async () => {
    const { channelId } = await newChannel();
    const cases = [
      [{ channelId, body: "   ", clientMessageId: "a" }, "BAD_USER_INPUT", "input.body"],
      [{ channelId, body: "x".repeat(4001), clientMessageId: "a" }, "BAD_USER_INPUT", "input.body"],
      [
        { channelId, body: "hi", clientMessageId: "has spaces!" },
        "BAD_USER_INPUT",
        "input.clientMessageId",
      ],
      [{ channelId, body: "hi", clientMessageId: "" }, "BAD_USER_INPUT", "input.clientMessageId"],
      [
        { channelId: unknownId("Channel"), body: "hi", clientMessageId: "a" },
        "NOT_FOUND",
        "input.channelId",
      ],
      [
        { channelId: "nope", body: "hi", clientMessageId: "a" },
        "BAD_USER_INPUT",
        "input.channelId",
      ],
    ] as const;
    for (const [input, code, field] of cases) {
      const result = await request(server, SendMessageDocument, { input }, alice.accessToken);
      expect(result.errors?.[0]?.extensions).toMatchObject({ code, field });
    }
    const outsiders = await request(
      server,
      SendMessageDocument,
      { input: { channelId, body: "hi", clientMessageId: "z" } },
      outsider.accessToken,
    );
    expect(outsiders.errors?.[0]?.extensions).toMatchObject({
      code: "NOT_FOUND",
      field: "input.channelId",
    });
    // A valid one after them in the same channel (same shard): once it is stored, anything
    // enqueued before it would be too.
    await send(alice, channelId, "ok");
    await until(
      async () =>
        (await server.database.db.prisma.message.count({
          where: { channelId: dbId(channelId) },
        })) >= 1,
      15_000,
      "the valid message stored",
    );
    expect(
      await server.database.db.prisma.message.count({ where: { channelId: dbId(channelId) } }),
    ).toBe(1);
  });
});

describe("rate limit", () => {
  it("a user sending faster than SEND_RATE_LIMIT per 10 s gets RATE_LIMITED; nothing of the refused is enqueued", async () => {
    const [owner, other] = (await Promise.all([registerUser(limited), registerUser(limited)])) as [
      Session,
      Session,
    ];
    const group = await mustRequest(
      limited,
      CreateGroupDocument,
      { input: { name: "Busy", memberIds: [other.user.id] } },
      owner.accessToken,
    );
    const channelId = group.createGroup.channels.edges[0]!.node.id;
    const results = [];
    for (let i = 0; i < 7; i++) {
      results.push(
        await request(
          limited,
          SendMessageDocument,
          { input: { channelId, body: `m${i}`, clientMessageId: `k${i}` } },
          owner.accessToken,
        ),
      );
    }
    expect(results.slice(0, 5).every((r) => r.data?.sendMessage.status === "PENDING")).toBe(true);
    // The advised wait: until the 6 (then 7) counted have slid down to room for one more
    // under the 10 s sliding window: about 14 s, then 15 s.
    expect(results.slice(5).map((r) => r.errors?.[0]?.extensions)).toEqual([
      { code: "RATE_LIMITED", retryAfter: expect.toSatisfy((s: number) => s > 10 && s <= 20) },
      { code: "RATE_LIMITED", retryAfter: expect.toSatisfy((s: number) => s > 10 && s <= 20) },
    ]);
    // the other user is not affected
    await mustRequest(
      limited,
      SendMessageDocument,
      { input: { channelId, body: "hi", clientMessageId: "o1" } },
      other.accessToken,
    );
    // The other user's message was sent after the refused ones, in the same channel (same
    // shard): once it is stored, a refused one that had been enqueued would be stored too.
    await until(
      async () =>
        (await limited.database.db.prisma.message.count({
          where: { channelId: dbId(channelId), clientMessageId: "o1" },
        })) === 1,
      15_000,
      "the other user's message stored",
    );
    expect(
      await limited.database.db.prisma.message.count({ where: { channelId: dbId(channelId) } }),
    ).toBe(6);
  });
});

describe("history", () => {
  it("pages newest first with first/after and forward with last/before", async () => {
    const { channelId } = await newChannel();
    const live = await recordLive(server, socket(alice), MessageAddedDocument, { channelId });
    for (let i = 1; i <= 7; i++) await send(bob, channelId, `m${i}`);
    await live.until((data) => data.length === 7);
    live.stop();
    const first = await mustRequest(
      server,
      HistoryDocument,
      { channelId, first: 3 },
      alice.accessToken,
    );
    const page1 = first.channel!.messages;
    expect(page1.edges.map((e) => e.node.seq)).toEqual([7, 6, 5]);
    const second = await mustRequest(
      server,
      HistoryDocument,
      { channelId, first: 3, after: page1.pageInfo.endCursor },
      alice.accessToken,
    );
    expect(second.channel!.messages.edges.map((e) => e.node.seq)).toEqual([4, 3, 2]);
    const back = await mustRequest(
      server,
      HistoryDocument,
      { channelId, last: 2, before: second.channel!.messages.pageInfo.startCursor },
      alice.accessToken,
    );
    expect(back.channel!.messages.edges.map((e) => e.node.seq)).toEqual([6, 5]);
    const message = await mustRequest(
      server,
      MessageByIdDocument,
      { id: page1.edges[0]!.node.id },
      bob.accessToken,
    );
    expect(message.message?.body).toBe("m7");
    const hidden = await request(
      server,
      MessageByIdDocument,
      { id: page1.edges[0]!.node.id },
      outsider.accessToken,
    );
    expect(hidden.errors?.[0]?.extensions).toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("edits and deletions", () => {
  it("the sender edits, an admin deletes, both arrive on messageUpdated; others are FORBIDDEN", async () => {
    const { channelId } = await newChannel();
    const added = await recordLive(server, socket(alice), MessageAddedDocument, { channelId });
    const updated = await recordLive(server, socket(alice), MessageUpdatedDocument, { channelId });
    const sent = await send(bob, channelId, "tpyo");
    await added.until((data) => data.length === 1);
    const id = sent.sendMessage.id;
    const notSender = await request(
      server,
      EditMessageDocument,
      { id, body: "hijack" },
      alice.accessToken,
    );
    expect(notSender.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    await mustRequest(server, EditMessageDocument, { id, body: "typo" }, bob.accessToken);
    const edits = await updated.until((data) => data.length === 1);
    expect(edits[0]!.messageUpdated).toMatchObject({ id, body: "typo", seq: 1 });
    expect(edits[0]!.messageUpdated.editedAt).not.toBeNull();
    // alice owns the group: she may delete bob's message
    await mustRequest(server, DeleteMessageDocument, { id }, alice.accessToken);
    const all = await updated.until((data) => data.length === 2);
    expect(all[1]!.messageUpdated).toMatchObject({ id, body: null });
    expect(all[1]!.messageUpdated.deletedAt).not.toBeNull();
    const stored = await mustRequest(server, MessageByIdDocument, { id }, bob.accessToken);
    expect(stored.message).toMatchObject({ body: null });
    added.stop();
    updated.stop();
  });
});

describe("subscriptions", () => {
  it("resume: after a disconnect, afterSeq replays exactly the missed messages in order, then continues live", async () => {
    const { channelId } = await newChannel();
    const first = await recordLive(server, socket(bob), MessageAddedDocument, { channelId });
    await send(alice, channelId, "before");
    const seen = await first.until((data) => data.length === 1);
    const lastSeq = seen[0]!.messageAdded.seq!;
    first.stop();
    for (let i = 1; i <= 50; i++) await send(alice, channelId, `missed ${i}`);
    await until(
      async () =>
        (await server.database.db.prisma.message.count({
          where: { channelId: dbId(channelId) },
        })) === 51,
      15_000,
      "the worker stored them all",
    );
    const resumed = record(socket(bob), MessageAddedDocument, { channelId, afterSeq: lastSeq });
    const replayed = await resumed.until((data) => data.length === 50);
    expect(replayed.map((e) => e.messageAdded.body)).toEqual(
      Array.from({ length: 50 }, (_, i) => `missed ${i + 1}`),
    );
    await send(alice, channelId, "live again");
    const all = await resumed.until((data) => data.length === 51);
    expect(all.map((e) => e.messageAdded.seq)).toEqual(
      Array.from({ length: 51 }, (_, i) => lastSeq + i + 1),
    );
    resumed.stop();
  });

  it("resume while messages keep coming: the seam between replay and live has no gap and no repeat", async () => {
    const { channelId } = await newChannel();
    for (let i = 1; i <= 30; i++) await send(alice, channelId, `old ${i}`);
    await until(
      async () =>
        (await server.database.db.prisma.message.count({
          where: { channelId: dbId(channelId) },
        })) === 30,
      15_000,
      "the first 30 stored",
    );
    // 30 more are sent while the subscription replays the first ones
    const sending = (async () => {
      for (let i = 1; i <= 30; i++) await send(alice, channelId, `new ${i}`);
    })();
    const resumed = record(socket(bob), MessageAddedDocument, { channelId, afterSeq: 0 });
    await sending;
    await resumed.until((data) => data.length >= 60);
    // A repeat would arrive before a later message of the same channel: send one and wait.
    await send(alice, channelId, "witness");
    const all = await resumed.until((data) => data.some((d) => d.messageAdded.body === "witness"));
    expect(all.map((d) => d.messageAdded.seq)).toEqual(Array.from({ length: 61 }, (_, i) => i + 1));
    resumed.stop();
  });

  it("without channelId: every channel of the viewer, including one joined while subscribed", async () => {
    const { channelId: first } = await newChannel();
    const everything = await recordLive(server, socket(bob), MessageAddedDocument, {});
    // bob is added to the new group's #general; the stream has no gap after a join, so the
    // message sent right away must arrive too.
    const { channelId: second } = await newChannel();
    await send(alice, first, "in first");
    await send(alice, second, "in second");
    const events = await everything.until((data) => data.length === 2);
    expect(events.map((e) => [e.messageAdded.channel.id, e.messageAdded.body]).sort()).toEqual(
      [
        [first, "in first"],
        [second, "in second"],
      ].sort(),
    );
    everything.stop();
  });

  it("a member removed from the channel stops receiving at once; an outsider cannot subscribe", async () => {
    const { groupId, channelId } = await newChannel();
    const bobs = await recordLive(server, socket(bob), MessageAddedDocument, { channelId });
    await send(alice, channelId, "while member");
    await bobs.until((data) => data.length === 1);
    await mustRequest(
      server,
      RemoveGroupMemberDocument,
      { groupId, userId: bob.user.id },
      alice.accessToken,
    );
    await send(alice, channelId, "after removal");
    const alices = record(socket(alice), MessageAddedDocument, { channelId, afterSeq: 1 });
    await alices.until((data) => data.length === 1);
    // bob's stream has ended: nothing can arrive on it any more.
    await until(() => bobs.error !== undefined || bobs.completed, 15_000, "bob's stream to end");
    expect(bobs.data.map((d) => d.messageAdded.body)).toEqual(["while member"]);
    expect(JSON.stringify(bobs.error)).toMatch(/FORBIDDEN/);

    const intruder = record(socket(outsider), MessageAddedDocument, { channelId });
    await until(
      () => intruder.error !== undefined || intruder.completed || intruder.data.length > 0,
      15_000,
      "the outsider's subscription to be answered",
    );
    expect(JSON.stringify(intruder.error)).toMatch(/NOT_FOUND/);
    expect(intruder.data).toEqual([]);
  });
});
