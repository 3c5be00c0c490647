// Receipts through the pipeline: SENT -> DELIVERED -> READ, never back; group status;
// unread counts; positions (a thousand messages read is one row); bad input.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import {
  CreateGroupDocument,
  MarkDeliveredDocument,
  MarkReadDocument,
  MessageAddedDocument,
  MessageReceiptsDocument,
  ReceiptUpdatedDocument,
  SendMessageDocument,
  UnreadCountsDocument,
} from "./gql/graphql.js";
import { mustRequest, request, useTestApp, wsClient } from "./harness/app.js";
import { dbId, globalId } from "./harness/ids.js";
import { recordLive } from "./harness/subscriptions.js";
import { registerUser } from "./harness/users.js";
import { eventually } from "./harness/wait.js";

const server = useTestApp();
type Session = Awaited<ReturnType<typeof registerUser>>;
let users: Session[];

beforeAll(async () => {
  users = await Promise.all(Array.from({ length: 5 }, () => registerUser(server)));
});

async function group(owner: Session, members: Session[]) {
  const created = await mustRequest(
    server,
    CreateGroupDocument,
    { input: { name: "R", memberIds: members.map((m) => m.user.id) } },
    owner.accessToken,
  );
  return created.createGroup.channels.edges[0]!.node.id;
}

/** Sends and waits until stored; returns the stored message (id, seq). */
async function sendStored(from: Session, channelId: string, body: string) {
  const listener = await recordLive(
    server,
    wsClient(server, { authorization: `Bearer ${from.accessToken}` }),
    MessageAddedDocument,
    { channelId },
  );
  const sent = await mustRequest(
    server,
    SendMessageDocument,
    { input: { channelId, body, clientMessageId: randomUUID() } },
    from.accessToken,
  );
  const [event] = await listener.until((data) =>
    data.some((d) => d.messageAdded.id === sent.sendMessage.id),
  );
  listener.stop();
  return { id: sent.sendMessage.id, seq: event!.messageAdded.seq! };
}

async function statusOf(session: Session, id: string) {
  return (await mustRequest(server, MessageReceiptsDocument, { id }, session.accessToken)).message!;
}

describe("receipts", () => {
  it("move SENT -> DELIVERED -> READ, reach the sender live, and a late markDelivered changes nothing", async () => {
    const [sender, reader] = users as [Session, Session];
    const channelId = await group(sender, [reader]);
    const receipts = await recordLive(
      server,
      wsClient(server, { authorization: `Bearer ${sender.accessToken}` }),
      ReceiptUpdatedDocument,
      { channelId },
    );
    const message = await sendStored(sender, channelId, "tick tick");
    expect((await statusOf(sender, message.id)).status).toBe("SENT");

    const marked = await mustRequest(
      server,
      MarkDeliveredDocument,
      { messageIds: [message.id] },
      reader.accessToken,
    );
    expect(marked.markDelivered.messages).toEqual([{ id: message.id }]);
    // Status and receipts are two reads (the channel's least advanced positions, each
    // member's): a receipt stored between them shows one before the other, so wait for both.
    const delivered = await eventually(
      () => statusOf(sender, message.id),
      (m) => m.status === "DELIVERED" && m.receipts[0]?.status === "DELIVERED",
    );
    expect(delivered.status).toBe("DELIVERED");
    expect(delivered.receipts).toMatchObject([
      { status: "DELIVERED", user: { id: reader.user.id }, readAt: null },
    ]);

    await mustRequest(
      server,
      MarkReadDocument,
      { channelId, upToSeq: message.seq },
      reader.accessToken,
    );
    const read = await eventually(
      () => statusOf(sender, message.id),
      (m) => m.status === "READ" && m.receipts[0]?.status === "READ",
    );
    expect(read.status).toBe("READ");
    expect(read.receipts[0]!.readAt).not.toBeNull();

    await mustRequest(
      server,
      MarkDeliveredDocument,
      { messageIds: [message.id] },
      reader.accessToken,
    );
    // A later command of the same channel (same shard) is processed after the late one.
    await sendStored(sender, channelId, "after the late receipt");
    expect((await statusOf(sender, message.id)).status).toBe("READ");
    expect((await statusOf(sender, message.id)).receipts[0]!.status).toBe("READ");

    const live = await receipts.until((data) => data.length >= 2);
    expect(
      live.map((d) => [
        d.receiptUpdated.messageId,
        d.receiptUpdated.status,
        d.receiptUpdated.user.id,
      ]),
    ).toEqual([
      [message.id, "DELIVERED", reader.user.id],
      [message.id, "READ", reader.user.id],
    ]);
    receipts.stop();
  });

  it("in a group of 5 a message is READ only when all 4 recipients read it; unread counts follow seq arithmetic", async () => {
    const [owner, ...others] = users as [Session, ...Session[]];
    const channelId = await group(owner, others);
    const first = await sendStored(owner, channelId, "one");
    await sendStored(others[0]!, channelId, "two");
    const third = await sendStored(owner, channelId, "three");
    for (const [i, reader] of others.entries()) {
      await mustRequest(
        server,
        MarkReadDocument,
        { channelId, upToSeq: third.seq },
        reader.accessToken,
      );
      // The status and the receipts are read by two statements of one request: wait for
      // both to show this read (a commit between them once showed 4 READ receipts beside
      // the status from before the last one).
      const expected = i === others.length - 1 ? "READ" : "SENT";
      const status = await eventually(
        () => statusOf(owner, first.id),
        (m) =>
          m.receipts.filter((r) => r.status === "READ").length === i + 1 && m.status === expected,
      );
      expect(status.status).toBe(expected);
    }
    // unread = lastSeq - read position; senders have read their own messages
    const unread = async (who: Session) =>
      (await mustRequest(server, UnreadCountsDocument, {}, who.accessToken)).channels.edges.find(
        (e) => e.node.id === channelId,
      )!.node.unreadCount;
    await sendStored(owner, channelId, "four");
    expect(await unread(owner)).toBe(0);
    expect(await unread(others[1]!)).toBe(1);
    // The answer is the channel as it now is (a cache updates without refetching), before
    // the worker has stored the position.
    const read = await mustRequest(
      server,
      MarkReadDocument,
      { channelId, upToSeq: 4 },
      others[1]!.accessToken,
    );
    expect(read.markRead.channel).toEqual({ id: channelId, unreadCount: 0, viewerReadUpToSeq: 4 });
    expect(
      await eventually(
        () => unread(others[1]!),
        (n) => n === 0,
      ),
    ).toBe(0);
  });

  it("a message read by all N members costs 2(N-1) receipt deliveries (each reader's own and the sender's), not N²", async () => {
    const owner = await registerUser(server);
    const readers = await Promise.all(Array.from({ length: 5 }, () => registerUser(server)));
    const channelId = await group(owner, readers);
    const streamOf = async (session: Session) =>
      recordLive(
        server,
        wsClient(server, { authorization: `Bearer ${session.accessToken}` }),
        ReceiptUpdatedDocument,
        {},
      );
    const ownerStream = await streamOf(owner);
    const readerStreams = await Promise.all(readers.map(streamOf));
    for (const round of [1, 2]) {
      const message = await sendStored(owner, channelId, `round ${round}`);
      for (const reader of readers)
        await mustRequest(
          server,
          MarkReadDocument,
          { channelId, upToSeq: message.seq },
          reader.accessToken,
        );
      // Each reader's own receipt of this round reaches them; one broadcast to the others
      // in round 1 would have come before their round-2 receipt (one replica queue).
      for (const [i, stream] of readerStreams.entries())
        await stream.until((d) =>
          d.some(
            (e) =>
              e.receiptUpdated.seq === message.seq &&
              e.receiptUpdated.user.id === readers[i]!.user.id,
          ),
        );
      const all = await ownerStream.until((d) => d.length >= round * readers.length);
      expect(all.at(-1)!.receiptUpdated.readByAllUpToSeq).toBe(message.seq);
    }
    for (const [i, stream] of readerStreams.entries()) {
      expect(stream.data.map((d) => d.receiptUpdated.user.id)).toEqual([
        readers[i]!.user.id,
        readers[i]!.user.id,
      ]);
      stream.stop();
    }
    // N-1 = 5 readers, 2 rounds: 10 for the sender, 2 for each reader.
    expect(ownerStream.data).toHaveLength(2 * readers.length);
    expect((await statusOf(owner, (await sendStored(owner, channelId, "unread")).id)).status).toBe(
      "SENT",
    );
    ownerStream.stop();
  });

  it("marking 1,000 messages read is one command and a bounded number of statements", async () => {
    const [owner, reader] = users as [Session, Session];
    const channelId = await group(owner, [reader]);
    // 1,000 stored messages, written directly (the send path is proven elsewhere)
    const prisma = server.database.db.prisma;
    const ids = Array.from({ length: 1000 }, () => randomUUID());
    await prisma.message.createMany({
      data: ids.map((id, i) => ({
        id,
        channelId: dbId(channelId),
        senderId: dbId(owner.user.id),
        clientMessageId: id,
        seq: i + 1,
        body: `m${i}`,
      })),
    });
    await prisma.channel.update({ where: { id: dbId(channelId) }, data: { lastSeq: 1000 } });
    // as the worker does: a sender has read, and has, what they sent
    await prisma.channelMember.update({
      where: { channelId_userId: { channelId: dbId(channelId), userId: dbId(owner.user.id) } },
      data: { lastReadSeq: 1000, lastDeliveredSeq: 1000 },
    });
    const statements = server.database.statements;
    statements.length = 0;
    await mustRequest(server, MarkReadDocument, { channelId, upToSeq: 1000 }, reader.accessToken);
    const position = () =>
      prisma.channelMember.findUniqueOrThrow({
        where: { channelId_userId: { channelId: dbId(channelId), userId: dbId(reader.user.id) } },
      });
    const moved = await eventually(position, (member) => member.lastReadSeq === 1000);
    const ran = [...statements];
    expect(moved).toMatchObject({ lastReadSeq: 1000, lastDeliveredSeq: 1000 });
    expect(moved.lastReadAt).not.toBeNull();
    // Every one of the thousand reads as READ, for the sender and in its receipts.
    expect(await statusOf(owner, globalId("Message", ids[0]!))).toMatchObject({
      status: "READ",
      receipts: [{ status: "READ", user: { id: reader.user.id } }],
    });
    expect((await statusOf(owner, globalId("Message", ids[999]!))).status).toBe("READ");
    const receiptWrites = ran.filter((sql) => /UPDATE\s+channel_members/i.test(sql));
    expect(receiptWrites).toHaveLength(1);
    expect(ran.length).toBeLessThan(30);
  });

  it("bad input and outsiders: typed errors, nothing changed", async () => {
    const [owner, member, outsider] = users as [Session, Session, Session];
    const channelId = await group(owner, [member]);
    const message = await sendStored(owner, channelId, "private");
    const foreign = await request(
      server,
      MarkDeliveredDocument,
      { messageIds: [message.id] },
      outsider.accessToken,
    );
    expect(foreign.errors?.[0]?.extensions).toMatchObject({
      code: "NOT_FOUND",
      field: "messageIds",
    });
    const foreignRead = await request(
      server,
      MarkReadDocument,
      { channelId, upToSeq: 1 },
      outsider.accessToken,
    );
    expect(foreignRead.errors?.[0]?.extensions).toMatchObject({
      code: "NOT_FOUND",
      field: "channelId",
    });
    const beyond = await request(
      server,
      MarkReadDocument,
      { channelId, upToSeq: message.seq + 1 },
      member.accessToken,
    );
    expect(beyond.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "upToSeq",
    });
    const zero = await request(
      server,
      MarkReadDocument,
      { channelId, upToSeq: 0 },
      member.accessToken,
    );
    expect(zero.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "upToSeq",
    });
    const malformed = await request(
      server,
      MarkDeliveredDocument,
      { messageIds: ["x"] },
      member.accessToken,
    );
    expect(malformed.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "messageIds.0",
    });
    // A later command of the same channel (same shard): once it is stored, anything the
    // refused calls had enqueued would have been applied.
    await sendStored(owner, channelId, "after the refused calls");
    expect((await statusOf(owner, message.id)).status).toBe("SENT");
  });

  it("receipt calls are rate limited per user (120 per 10 s)", async () => {
    const flooder = await registerUser(server); // a fresh counter
    const results = [];
    for (let i = 0; i < 125; i++) {
      results.push(
        await request(server, MarkDeliveredDocument, { messageIds: ["x"] }, flooder.accessToken),
      );
    }
    const codes = results.map((r) => r.errors?.[0]?.extensions?.code);
    expect(codes.slice(0, 120).every((code) => code === "BAD_USER_INPUT")).toBe(true);
    expect(codes.slice(120)).toEqual(Array(5).fill("RATE_LIMITED"));
  });
});
