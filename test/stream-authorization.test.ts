// Authorization per event, for every stream: a member removed (even without any
// membership event: the row is deleted straight in PostgreSQL) stops receiving within
// ACCESS_MAX_STALENESS_MS, single-channel streams end with FORBIDDEN; across a block (also
// written straight in PostgreSQL) nothing of the other person reaches a direct channel's
// streams, and a blocker's presence no longer reaches the blocked user. Events "already
// on their way" are published on the bus directly, in one call, so their order is known.

import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "graphql-ws";
import { beforeAll, describe, expect, it } from "vitest";
import type { BusEvent, MessagePayload, PublicUserPayload } from "../src/pubsub/events.js";
import { ACCESS_MAX_STALENESS_MS } from "../src/resolvers/streams/access-watch.js";
import {
  AddContactDocument,
  BlockUserDocument,
  CreateChannelDocument,
  CreateGroupDocument,
  DirectChannelDocument,
  EditMessageDocument,
  JoinChannelDocument,
  LeaveChannelDocument,
  MarkDeliveredDocument,
  MessageAddedDocument,
  MessageAddedEverywhereDocument,
  MessageReceiptsDocument,
  MessageUpdatedDocument,
  PresenceChangedDocument,
  ReceiptUpdatedDocument,
  SendMessageDocument,
  SetTypingDocument,
  TypingDocument,
  UnblockUserDocument,
} from "./gql/graphql.js";
import { mustRequest, request, useTestApp, wsClient } from "./harness/app.js";
import { dbId } from "./harness/ids.js";
import { record } from "./harness/subscriptions.js";
import { registerUser } from "./harness/users.js";
import { until } from "./harness/wait.js";

const server = useTestApp({ SEND_RATE_LIMIT: "10000" });
type Session = Awaited<ReturnType<typeof registerUser>>;
let alice: Session;
let bob: Session;
/** Every user of this file: recipients of the messages published straight on the bus. */
const everyone: string[] = [];

async function newUser() {
  const session = await registerUser(server);
  everyone.push(session.user.id);
  return session;
}

beforeAll(async () => {
  [alice, bob] = (await Promise.all([newUser(), newUser()])) as [Session, Session];
});

const watch = () => server.app.services.accessWatch;
const prisma = () => server.database.db.prisma;

/** Two new users and their direct channel. */
async function directPair() {
  const [carol, dave] = (await Promise.all([newUser(), newUser()])) as [Session, Session];
  const direct = await mustRequest(
    server,
    DirectChannelDocument,
    { userId: dave.user.id },
    carol.accessToken,
  );
  return { carol, dave, channelId: direct.directChannel.id };
}

function socket(session: Session): Client {
  return wsClient(server, { authorization: `Bearer ${session.accessToken}` });
}

async function groupChannel(owner: Session, members: Session[]) {
  const group = await mustRequest(
    server,
    CreateGroupDocument,
    { input: { name: "A", memberIds: members.map((m) => m.user.id) } },
    owner.accessToken,
  );
  return { groupId: group.createGroup.id, channelId: group.createGroup.channels.edges[0]!.node.id };
}

async function sendStored(from: Session, channelId: string, body: string) {
  const sent = await mustRequest(
    server,
    SendMessageDocument,
    { input: { channelId, body, clientMessageId: randomUUID() } },
    from.accessToken,
  );
  await until(
    async () => (await prisma().message.count({ where: { id: dbId(sent.sendMessage.id) } })) > 0,
  );
  return sent.sendMessage.id;
}

function profile(session: Session): PublicUserPayload {
  return {
    id: dbId(session.user.id),
    username: session.user.username,
    displayName: session.user.displayName,
    avatarUrl: null,
    bio: null,
    createdAt: new Date().toISOString(),
    lastSeenAt: null,
  };
}

/** A stored message's payload, as the worker publishes it (row ids, not API ids). */
function payload(channelId: string, from: Session, seq: number, body: string): MessagePayload {
  return {
    id: randomUUID(),
    channelId: dbId(channelId),
    senderId: dbId(from.user.id),
    clientMessageId: randomUUID(),
    seq,
    body,
    createdAt: new Date().toISOString(),
    editedAt: null,
    deletedAt: null,
    pinnedAt: null,
    pinnedById: null,
    sender: profile(from),
  };
}

/** Every kind of channel event, as if `from` acted in `channelId` (`tag` in each body). */
function channelEvents(apiChannelId: string, from: Session, seq: number, tag: string): BusEvent[] {
  const at = new Date().toISOString();
  const channelId = dbId(apiChannelId);
  return [
    { type: "message.created", channelId, messages: [payload(apiChannelId, from, seq, tag)] },
    { type: "message.updated", channelId, message: payload(apiChannelId, from, 1, tag) },
    {
      type: "receipts.updated",
      channelId,
      receipts: [
        {
          messageId: randomUUID(),
          channelId,
          seq,
          status: "READ",
          at,
          user: { ...profile(from), username: tag },
          readByAllUpToSeq: 0,
          deliveredToAllUpToSeq: 0,
        },
      ],
    },
    { type: "typing", channelId, user: { ...profile(from), displayName: tag }, isTyping: true, at },
  ];
}

function publish(events: Array<{ key: string; event: BusEvent }>) {
  return server.app.services.bus.publishEvents(
    events.map(({ key, event }) => ({ routingKey: key, event })),
  );
}

/**
 * Publishes `events` until every stream has delivered something: the first delivery is
 * what shows a stream is live (repeats are harmless: the later assertions look for tags).
 */
async function prime(
  streams: Array<{ data: unknown[] }>,
  events: () => Array<{ key: string; event: BusEvent }>,
) {
  await until(async () => {
    await publish(events());
    await sleep(50);
    return streams.every((stream) => stream.data.length > 0);
  });
}

const onChannel = (channelId: string) => (event: BusEvent) => ({
  key: `channel.${dbId(channelId)}`,
  event,
});

describe("a member removed without any membership event", () => {
  it("single-channel messageAdded, messageUpdated, receiptUpdated and typing end with FORBIDDEN within the bound", async () => {
    const { channelId } = await groupChannel(alice, [bob]);
    const client = socket(bob);
    const added = record(client, MessageAddedDocument, { channelId });
    const updated = record(client, MessageUpdatedDocument, { channelId });
    const receipts = record(client, ReceiptUpdatedDocument, { channelId });
    const typing = record(client, TypingDocument, { channelId });
    // While a member, each stream delivers (which also shows it is live).
    await prime([added, updated, receipts, typing], () =>
      channelEvents(channelId, alice, 1, "while member").map(onChannel(channelId)),
    );

    await prisma().channelMember.delete({
      where: { channelId_userId: { channelId: dbId(channelId), userId: dbId(bob.user.id) } },
    });
    const removedAt = Date.now();
    const streams = [added, updated, receipts, typing];
    await until(() => streams.every((s) => s.error !== undefined));
    expect(Date.now() - removedAt).toBeLessThan(ACCESS_MAX_STALENESS_MS + 1000);
    for (const stream of streams) {
      expect(JSON.stringify(stream.error)).toMatch(/FORBIDDEN/);
      expect(JSON.stringify(stream.data)).toMatch(/while member/);
    }
    await client.dispose();
  });

  it("all-channels messageAdded, messageUpdated and receiptUpdated stop following that channel and keep the others", async () => {
    const first = await groupChannel(alice, [bob]);
    const second = await groupChannel(alice, [bob]);
    const client = socket(bob);
    const added = record(client, MessageAddedEverywhereDocument, {});
    const updated = record(client, MessageUpdatedDocument, {});
    const receipts = record(client, ReceiptUpdatedDocument, {});
    await prime([added, updated, receipts], () =>
      channelEvents(first.channelId, alice, 1, "while member").map(onChannel(first.channelId)),
    );

    await prisma().channelMember.delete({
      where: { channelId_userId: { channelId: dbId(first.channelId), userId: dbId(bob.user.id) } },
    });
    const took = await until(() => !watch().isMember(dbId(first.channelId), dbId(bob.user.id)));
    expect(took).toBeLessThan(ACCESS_MAX_STALENESS_MS + 1000);
    await publish([
      ...channelEvents(first.channelId, alice, 2, "after removal").map(onChannel(first.channelId)),
      ...channelEvents(second.channelId, alice, 1, "other channel").map(
        onChannel(second.channelId),
      ),
    ]);
    const later = (d: unknown[]) => JSON.stringify(d).includes("other channel");
    for (const stream of [added, updated, receipts]) {
      await stream.until((d) => later(d));
      expect(JSON.stringify(stream.data)).not.toMatch(/after removal/);
      expect(stream.error).toBeUndefined();
    }
    await client.dispose();
  });

  it("with the membership event (leaveChannel): the all-channels streams stop following at once", async () => {
    const { groupId, channelId: general } = await groupChannel(alice, [bob]);
    const created = await mustRequest(
      server,
      CreateChannelDocument,
      { input: { groupId, name: `side-${Date.now()}` } },
      alice.accessToken,
    );
    const side = created.createChannel.id;
    await mustRequest(server, JoinChannelDocument, { channelId: side }, bob.accessToken);
    const client = socket(bob);
    const updated = record(client, MessageUpdatedDocument, {});
    await prime([updated], () =>
      channelEvents(side, alice, 1, "while member").map(onChannel(side)),
    );
    await mustRequest(server, LeaveChannelDocument, { channelId: side }, bob.accessToken);
    expect(watch().isMember(dbId(side), dbId(bob.user.id))).toBe(false);
    await publish([
      ...channelEvents(side, alice, 2, "after leaving").map(onChannel(side)),
      ...channelEvents(general, alice, 1, "still here").map(onChannel(general)),
    ]);
    await updated.until((d) => JSON.stringify(d).includes("still here"));
    expect(JSON.stringify(updated.data)).not.toMatch(/after leaving/);
    await client.dispose();
  });
});

describe("across a block written without any event", () => {
  async function block(owner: Session, target: Session) {
    await prisma().contact.upsert({
      where: {
        ownerId_contactId: { ownerId: dbId(owner.user.id), contactId: dbId(target.user.id) },
      },
      create: { ownerId: dbId(owner.user.id), contactId: dbId(target.user.id), blocked: true },
      update: { blocked: true },
    });
  }
  async function unblock(owner: Session, target: Session) {
    await prisma().contact.deleteMany({
      where: { ownerId: dbId(owner.user.id), contactId: dbId(target.user.id), blocked: true },
    });
  }

  it("a direct channel's messageAdded (single and all channels), messageUpdated, receiptUpdated and typing deliver nothing of the blocker", async () => {
    const { carol, dave, channelId } = await directPair();
    const client = socket(dave);
    const streams = {
      added: record(client, MessageAddedDocument, { channelId }),
      everywhere: record(client, MessageAddedEverywhereDocument, {}),
      updated: record(client, MessageUpdatedDocument, { channelId }),
      receipts: record(client, ReceiptUpdatedDocument, { channelId }),
      typing: record(client, TypingDocument, { channelId }),
    };
    const all = Object.values(streams);
    const asCarol = (seq: number, tag: string) =>
      channelEvents(channelId, carol, seq, tag).map(onChannel(channelId));
    await prime(all, () => asCarol(1, "before the block"));

    await block(carol, dave);
    const took = await until(() => watch().blockedIn(dbId(channelId), dbId(dave.user.id)));
    expect(took).toBeLessThan(ACCESS_MAX_STALENESS_MS + 1000);
    // Carol's events already on their way (persisted just before the block), and a stop.
    await publish([
      ...asCarol(2, "across the block"),
      onChannel(channelId)({
        type: "typing",
        channelId: dbId(channelId),
        user: profile(carol),
        isTyping: false,
        at: new Date().toISOString(),
      }),
    ]);
    await unblock(carol, dave);
    await until(() => !watch().blockedIn(dbId(channelId), dbId(dave.user.id)));
    await publish([
      ...asCarol(3, "after unblocking"),
      onChannel(channelId)({
        type: "typing",
        channelId: dbId(channelId),
        user: { ...profile(carol), displayName: "after unblocking" },
        isTyping: false,
        at: new Date().toISOString(),
      }),
    ]);
    for (const stream of all) {
      await stream.until((d) => JSON.stringify(d).includes("after unblocking"));
      expect(JSON.stringify(stream.data)).not.toMatch(/across the block/);
      expect(stream.error).toBeUndefined();
    }
    // Typing: the start before the block, then the stop after unblocking (had the stop
    // across the block passed, the later one would not be a change and never arrive).
    expect(streams.typing.data.map((d) => [d.typing.isTyping, d.typing.user.displayName])).toEqual([
      [true, "before the block"],
      [false, "after unblocking"],
    ]);
    await client.dispose();
  });

  it("presenceChanged: a user who blocked the viewer is no longer shown, and is again after unblocking", async () => {
    const [viewer, subject] = (await Promise.all([newUser(), newUser()])) as [Session, Session];
    await mustRequest(server, AddContactDocument, { userId: subject.user.id }, viewer.accessToken);
    const client = socket(viewer);
    const changes = record(client, PresenceChangedDocument, { userIds: [subject.user.id] });
    const presence = (status: "ONLINE" | "OFFLINE") => ({
      key: `presence.${dbId(subject.user.id)}`,
      event: {
        type: "presence.changed" as const,
        userId: dbId(subject.user.id),
        user: profile(subject),
        status,
        lastSeenAt: null,
        at: new Date().toISOString(),
      },
    });
    await prime([changes], () => [presence("ONLINE")]);

    await block(subject, viewer);
    const took = await until(
      () => !watch().canSeePresence(dbId(viewer.user.id), dbId(subject.user.id)),
    );
    expect(took).toBeLessThan(ACCESS_MAX_STALENESS_MS + 1000);
    // The blocker disappears: shown OFFLINE with no last seen, not frozen at ONLINE.
    await changes.until((d) => d.length === 2);
    expect(changes.data[1]?.presenceChanged).toMatchObject({ status: "OFFLINE", lastSeenAt: null });
    await publish([presence("ONLINE"), presence("OFFLINE"), presence("ONLINE")]);
    await unblock(subject, viewer);
    await until(() => watch().canSeePresence(dbId(viewer.user.id), dbId(subject.user.id)));
    await publish([presence("ONLINE")]);
    await changes.until((d) => d.length === 3);
    // Nothing of the blocked time came through; the first after unblocking did.
    expect(changes.data.map((d) => d.presenceChanged.status)).toEqual([
      "ONLINE",
      "OFFLINE",
      "ONLINE",
    ]);
    await client.dispose();
  });

  it("blockUser through the API acts on this replica's streams at once; real typing and edits stop crossing", async () => {
    const { carol, dave, channelId } = await directPair();
    const messageId = await sendStored(carol, channelId, "hello");
    const client = socket(dave);
    const typing = record(client, TypingDocument, { channelId });
    const updated = record(client, MessageUpdatedDocument, { channelId });
    await prime([typing, updated], () =>
      channelEvents(channelId, carol, 1, "before the block")
        .filter((e) => e.type === "typing" || e.type === "message.updated")
        .map(onChannel(channelId)),
    );
    await mustRequest(server, BlockUserDocument, { userId: carol.user.id }, dave.accessToken);
    await until(() => watch().blockedIn(dbId(channelId), dbId(dave.user.id)));
    await mustRequest(
      server,
      EditMessageDocument,
      { id: messageId, body: "edited across" },
      carol.accessToken,
    );
    // Typing across a block is refused at the API now (and would not be delivered).
    const typed = await request(
      server,
      SetTypingDocument,
      { channelId, isTyping: false },
      carol.accessToken,
    );
    expect(typed.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    await until(
      async () =>
        (await prisma().message.findUnique({ where: { id: dbId(messageId) } }))?.body ===
        "edited across",
    );
    await mustRequest(server, UnblockUserDocument, { userId: carol.user.id }, dave.accessToken);
    await until(() => !watch().blockedIn(dbId(channelId), dbId(dave.user.id)));
    await mustRequest(
      server,
      EditMessageDocument,
      { id: messageId, body: "edited after" },
      carol.accessToken,
    );
    await updated.until((d) => d.some((e) => e.messageUpdated.body === "edited after"));
    expect(
      updated.data.map((e) => e.messageUpdated.body).filter((b) => b !== "before the block"),
    ).toEqual(["edited after"]);
    expect(typing.data.map((d) => d.typing.isTyping)).toEqual([true]);
    await client.dispose();
  });
});

describe("receipts", () => {
  it("reach the sender of what they cover and the reader's other devices, not the other members; a group member outside the channel cannot read them", async () => {
    const third = await newUser();
    const { groupId, channelId: general } = await groupChannel(alice, [bob, third]);
    const clients = [socket(alice), socket(bob), socket(third)] as const;
    const streams = {
      sender: record(clients[0], ReceiptUpdatedDocument, { channelId: general }),
      reader: record(clients[1], ReceiptUpdatedDocument, { channelId: general }),
      other: record(clients[2], ReceiptUpdatedDocument, { channelId: general }),
    };
    await prime(Object.values(streams), () =>
      channelEvents(general, alice, 1, "probe")
        .filter((e) => e.type === "receipts.updated")
        .map(onChannel(general)),
    );
    const sent = await sendStored(alice, general, "to everyone");
    await mustRequest(server, MarkDeliveredDocument, { messageIds: [sent] }, bob.accessToken);
    const bobs = (d: { receiptUpdated: { messageId: string; user: { id: string } } }) =>
      d.receiptUpdated.messageId === sent && d.receiptUpdated.user.id === bob.user.id;
    for (const stream of [streams.sender, streams.reader]) {
      const events = await stream.until((d) => d.some(bobs));
      expect(events.find(bobs)!.receiptUpdated).toMatchObject({
        messageId: sent,
        status: "DELIVERED",
        user: { id: bob.user.id },
      });
    }
    // Third's own receipt, published after bob's on the same replica queue, reaches third:
    // bob's would have arrived before it.
    await mustRequest(server, MarkDeliveredDocument, { messageIds: [sent] }, third.accessToken);
    const thirds = await streams.other.until((d) =>
      d.some((e) => e.receiptUpdated.user.id === third.user.id),
    );
    expect(thirds.some(bobs)).toBe(false);
    // Both are delivered now: alice's receipts say so.
    const all = await streams.sender.until((d) =>
      d.some((e) => e.receiptUpdated.user.id === third.user.id),
    );
    expect(all.at(-1)!.receiptUpdated).toMatchObject({
      user: { id: third.user.id },
      deliveredToAllUpToSeq: 1,
      readByAllUpToSeq: 0,
    });
    await Promise.all(clients.map((client) => client.dispose()));

    // A public channel bob can see (he is in the group) but has not joined.
    const created = await mustRequest(
      server,
      CreateChannelDocument,
      { input: { groupId, name: `r-${Date.now()}` } },
      alice.accessToken,
    );
    const messageId = await sendStored(alice, created.createChannel.id, "not joined");
    const outsider = await request(
      server,
      MessageReceiptsDocument,
      { id: messageId },
      bob.accessToken,
    );
    expect(outsider.errors?.[0]?.extensions).toMatchObject({ code: "FORBIDDEN" });
    const outsiderStream = record(socket(bob), ReceiptUpdatedDocument, {
      channelId: created.createChannel.id,
    });
    await until(() => outsiderStream.error !== undefined);
    expect(JSON.stringify(outsiderStream.error)).toMatch(/FORBIDDEN/);
    const owner = await mustRequest(
      server,
      MessageReceiptsDocument,
      { id: messageId },
      alice.accessToken,
    );
    expect(owner.message?.receipts).toEqual([]);
  });
});
