// Direct conversations and the inbox: one 1:1 channel per pair under concurrency,
// blocks, stable pagination, and a query count that does not grow with the inbox.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import {
  BlockUserDocument,
  CreateChannelDocument,
  CreateGroupDocument,
  DirectChannelDocument,
  InboxDocument,
  MessageRejectedDocument,
  SendMessageDocument,
} from "./gql/graphql.js";
import { mustRequest, request, useTestApp, wsClient } from "./harness/app.js";
import { dbId, unknownId } from "./harness/ids.js";
import { recordLive } from "./harness/subscriptions.js";
import { registerUser } from "./harness/users.js";

const server = useTestApp();

async function until(condition: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition()) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 25));
}
type Session = Awaited<ReturnType<typeof registerUser>>;
let alice: Session;
let bob: Session;

beforeAll(async () => {
  [alice, bob] = (await Promise.all([registerUser(server), registerUser(server)])) as [
    Session,
    Session,
  ];
});

describe("directChannel", () => {
  it("20 parallel calls from both users yield exactly one channel", async () => {
    const calls = Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0
        ? mustRequest(server, DirectChannelDocument, { userId: bob.user.id }, alice.accessToken)
        : mustRequest(server, DirectChannelDocument, { userId: alice.user.id }, bob.accessToken),
    );
    const results = await Promise.all(calls);
    const ids = new Set(results.map((r) => r.directChannel.id));
    expect(ids.size).toBe(1);
    const rows = await server.database.db.prisma.channel.findMany({
      where: { kind: "DIRECT", members: { some: { userId: dbId(alice.user.id) } } },
      include: { members: true },
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]?.members.map((m) => m.userId).sort()).toEqual(
      [alice.user.id, bob.user.id].map(dbId).sort(),
    );
    // each side sees the other as the peer
    expect(results[0]?.directChannel).toMatchObject({
      kind: "DIRECT",
      name: null,
      memberCount: 2,
      peer: { id: bob.user.id },
    });
    expect(results[1]?.directChannel.peer?.id).toBe(alice.user.id);
  });

  it("yourself, unknown and malformed users are typed errors", async () => {
    const self = await request(
      server,
      DirectChannelDocument,
      { userId: alice.user.id },
      alice.accessToken,
    );
    expect(self.errors?.[0]?.extensions).toEqual({ code: "BAD_USER_INPUT", field: "userId" });
    const unknown = await request(
      server,
      DirectChannelDocument,
      { userId: unknownId("User") },
      alice.accessToken,
    );
    expect(unknown.errors?.[0]?.extensions).toEqual({ code: "NOT_FOUND", field: "userId" });
    const malformed = await request(
      server,
      DirectChannelDocument,
      { userId: "x" },
      alice.accessToken,
    );
    expect(malformed.errors?.[0]?.extensions).toEqual({ code: "BAD_USER_INPUT", field: "userId" });
  });

  it("blocked users cannot open one, from either side", async () => {
    const [carol, dave] = (await Promise.all([registerUser(server), registerUser(server)])) as [
      Session,
      Session,
    ];
    await mustRequest(server, BlockUserDocument, { userId: dave.user.id }, carol.accessToken);
    for (const [from, to] of [
      [carol, dave],
      [dave, carol],
    ] as const) {
      const result = await request(
        server,
        DirectChannelDocument,
        { userId: to.user.id },
        from.accessToken,
      );
      expect(result.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    }
    expect(
      await server.database.db.prisma.channel.count({
        where: { directKey: { contains: carol.user.id } },
      }),
    ).toBe(0);
  });
});

describe("blocks in an existing direct conversation", () => {
  it("stop new messages in it, from either side", async () => {
    const [erin, frank] = (await Promise.all([registerUser(server), registerUser(server)])) as [
      Session,
      Session,
    ];
    const channel = await mustRequest(
      server,
      DirectChannelDocument,
      { userId: frank.user.id },
      erin.accessToken,
    );
    const channelId = channel.directChannel.id;
    const send = (from: Session, body: string) =>
      mustRequest(
        server,
        SendMessageDocument,
        { input: { channelId, body, clientMessageId: randomUUID() } },
        from.accessToken,
      );
    await send(erin, "before");
    await until(
      async () =>
        (await server.database.db.prisma.message.count({
          where: { channelId: dbId(channelId) },
        })) === 1,
    );
    await mustRequest(server, BlockUserDocument, { userId: erin.user.id }, frank.accessToken);
    const rejections = await recordLive(
      server,
      wsClient(server, { authorization: `Bearer ${erin.accessToken}` }),
      MessageRejectedDocument,
      {},
    );
    const refused = await send(erin, "after, from the blocked");
    await send(frank, "after, from the blocker");
    const marker = await send(erin, "marker");
    // The marker is the last of the three in the channel (same shard): once it has been
    // refused, the worker has dealt with the other two.
    await rejections.until((data) =>
      data.some((d) => d.messageRejected.messageId === marker.sendMessage.id),
    );
    const bodies = (
      await server.database.db.prisma.message.findMany({ where: { channelId: dbId(channelId) } })
    ).map((m) => m.body);
    expect(bodies).toEqual(["before"]);
    // the sender is told, so the message does not stay "sending" forever
    const [rejection] = await rejections.until((data) => data.length >= 1);
    expect(rejection!.messageRejected).toMatchObject({
      messageId: refused.sendMessage.id,
      clientMessageId: refused.sendMessage.clientMessageId,
      channelId,
      reason: "blocked in this direct conversation",
    });
    rejections.stop();
  });
});

/** Gives `owner` a group with `count` channels in all (#general plus count - 1). */
async function channelsFor(owner: Session, count: number) {
  const group = await mustRequest(
    server,
    CreateGroupDocument,
    { input: { name: "Many" } },
    owner.accessToken,
  );
  const groupId = group.createGroup.id;
  for (let i = 1; i < count; i++) {
    await mustRequest(
      server,
      CreateChannelDocument,
      { input: { groupId, name: `c-${i}` } },
      owner.accessToken,
    );
  }
  return groupId;
}

/** Stores one message per channel directly (the send pipeline is a later step). */
async function seedLastMessages(senderId: string, groupId: string) {
  const prisma = server.database.db.prisma;
  const channels = await prisma.channel.findMany({
    where: { groupId: dbId(groupId) },
    select: { id: true },
  });
  for (const [i, channel] of channels.entries()) {
    const id = randomUUID();
    await prisma.message.create({
      data: {
        id,
        channelId: channel.id,
        senderId: dbId(senderId),
        clientMessageId: randomUUID(),
        seq: 1,
        body: `hello ${i}`,
      },
    });
    await prisma.channel.update({
      where: { id: channel.id },
      data: { lastSeq: 1, lastMessageId: id, lastActivityAt: new Date(Date.now() + i) },
    });
  }
}

describe("the inbox", () => {
  it("120 channels page through with first: 50 with no duplicates or gaps", async () => {
    const owner = await registerUser(server);
    await channelsFor(owner, 120);
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let after: string | null | undefined;
    do {
      const page = await mustRequest(
        server,
        InboxDocument,
        { first: 50, after },
        owner.accessToken,
      );
      pageSizes.push(page.channels.edges.length);
      seen.push(...page.channels.edges.map((e) => e.node.id));
      after = page.channels.pageInfo.hasNextPage ? page.channels.pageInfo.endCursor : undefined;
    } while (after);
    expect(pageSizes).toEqual([50, 50, 20]);
    expect(new Set(seen).size).toBe(120);
    const stored = await server.database.db.prisma.channelMember.findMany({
      where: { userId: dbId(owner.user.id) },
      select: { channelId: true },
    });
    expect(seen.map(dbId).sort()).toEqual(stored.map((row) => row.channelId).sort());
  });

  it("is most recently active first, with last message, unread count and member count", async () => {
    const owner = await registerUser(server);
    const groupId = await channelsFor(owner, 3);
    await seedLastMessages(bob.user.id, groupId);
    const inbox = await mustRequest(server, InboxDocument, { first: 10 }, owner.accessToken);
    const nodes = inbox.channels.edges.map((e) => e.node);
    expect(nodes.map((n) => n.lastMessage?.body)).toEqual(["hello 2", "hello 1", "hello 0"]);
    for (const node of nodes) {
      expect(node).toMatchObject({
        unreadCount: 1,
        memberCount: 1,
        lastMessage: { seq: 1, sender: { id: bob.user.id } },
      });
    }
  });

  it("listing 50 channels with last messages and member counts takes as many SQL statements as listing 5", async () => {
    const small = await registerUser(server);
    const large = await registerUser(server);
    await seedLastMessages(bob.user.id, await channelsFor(small, 5));
    await seedLastMessages(bob.user.id, await channelsFor(large, 50));
    const statements = server.database.statements;

    const count = async (who: Session) => {
      // The same request just before: the per-minute caches (the token's user exists, the
      // membership cache) are warm for both, so only the listing itself is counted.
      await mustRequest(server, InboxDocument, { first: 50 }, who.accessToken);
      // The app's own background work (the worker's outbox sweep, the access poll) shares
      // the database and may land inside one request: the fewest of three is the listing's.
      const runs: Array<{ statements: number; channels: number }> = [];
      for (let run = 0; run < 3; run++) {
        statements.length = 0;
        const inbox = await mustRequest(server, InboxDocument, { first: 50 }, who.accessToken);
        runs.push({ statements: statements.length, channels: inbox.channels.edges.length });
      }
      return runs.reduce((fewest, run) => (run.statements < fewest.statements ? run : fewest));
    };
    const few = await count(small);
    const many = await count(large);
    expect(few.channels).toBe(5);
    expect(many.channels).toBe(50);
    expect(many.statements).toBe(few.statements);
    expect(many.statements).toBeLessThanOrEqual(10);
  });
});
