// The example clients (examples/) against a running server, as a frontend team would use
// them: urql with Graphcache and Apollo Client keep a normalized cache of every type
// without warnings, and every mutation updates what the screens show without a refetch.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Operation } from "@urql/core";
import { buildSchema, isObjectType } from "graphql";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createApolloChat } from "../examples/apollo/client.js";
import { addToHistory, sendOptimistically } from "../examples/apollo/send.js";
import * as ops from "../examples/operations.js";
import { signIn } from "../examples/session.js";
import { PAGE } from "../examples/urql/cache.js";
import { createChatClient } from "../examples/urql/client.js";
import { runDemo } from "../examples/urql/demo.js";
import { EMBEDDED_TYPES } from "../examples/urql/embedded-types.js";
import {
  AddContactDocument,
  AddReactionDocument,
  CreateChannelDocument,
  CreateGroupDocument,
  MarkReadDocument,
  SendMessageDocument,
  SetTypingDocument,
} from "./gql/graphql.js";
import { mustRequest, onlineSocket, useTestApp } from "./harness/app.js";
import { sendAndStore } from "./harness/messages.js";
import { registerUser, TEST_PASSWORD } from "./harness/users.js";
import { until } from "./harness/wait.js";

const server = useTestApp({ SEND_RATE_LIMIT: "10000" });
type User = Awaited<ReturnType<typeof registerUser>>;
let alice: User;
let bob: User;
let carol: User;
let groupId: string;
let general: string;
let random: string;

beforeAll(async () => {
  [alice, bob, carol] = (await Promise.all([
    registerUser(server),
    registerUser(server),
    registerUser(server),
  ])) as [User, User, User];
  const created = await mustRequest(
    server,
    CreateGroupDocument,
    { input: { name: "Example", memberIds: [bob.user.id, carol.user.id] } },
    alice.accessToken,
  );
  groupId = created.createGroup.id;
  general = created.createGroup.channels.edges[0]!.node.id;
  random = (
    await mustRequest(
      server,
      CreateChannelDocument,
      { input: { groupId, name: "random" } },
      alice.accessToken,
    )
  ).createChannel.id;
  await mustRequest(server, AddContactDocument, { userId: bob.user.id }, alice.accessToken);
});

describe("the examples' schema knowledge", () => {
  it("the embedded types (Graphcache keys: null), in the example and the README, are exactly the object types without an id", () => {
    const schema = buildSchema(readFileSync(new URL("../schema.graphql", import.meta.url), "utf8"));
    const roots = ["Query", "Mutation", "Subscription"];
    const idless = Object.values(schema.getTypeMap())
      .filter(isObjectType)
      .filter((type) => !type.name.startsWith("__") && !roots.includes(type.name))
      .filter((type) => !/PageInfo|(Connection|Edge)$/.test(type.name))
      .filter((type) => !("id" in type.getFields()))
      .map((type) => type.name)
      .sort();
    expect([...EMBEDDED_TYPES].sort()).toEqual(idless);
    // The README's "For frontend teams" gives the same list.
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const listed = /keys: Object\.fromEntries\(\[([^\]]+)\]/.exec(readme)?.[1] ?? "";
    expect([...listed.matchAll(/"(\w+)"/g)].map((match) => match[1]).sort()).toEqual(idless);
  });
});

/** Keeps a query live, as a screen does, and remembers its latest data. */
function watch<D>(source: {
  subscribe(onResult: (result: { data?: D; error?: unknown }) => void): { unsubscribe(): void };
}) {
  const screen = {
    data: undefined as D | undefined,
    /** Every state it showed, in order. */
    shown: [] as D[],
    error: undefined as unknown,
    stop: () => {},
  };
  screen.stop = source.subscribe((result) => {
    screen.data = result.data ?? screen.data;
    if (result.data) screen.shown.push(result.data);
    screen.error = result.error ?? screen.error;
  }).unsubscribe;
  return screen;
}

describe("urql with Graphcache (examples/urql)", () => {
  const warnings: string[] = [];
  const network: Operation[] = [];
  let chat: ReturnType<typeof createChatClient>;

  beforeAll(async () => {
    const session = await signIn(server.url, alice.user.username, TEST_PASSWORD);
    chat = createChatClient({
      url: server.url,
      wsUrl: server.wsUrl,
      session,
      onCacheWarning: (message) => warnings.push(message),
      onNetwork: (operation) => network.push(operation),
    });
  });
  afterAll(() => chat.close());

  it("keeps every screen current from answers and events alone: no warnings, no refetch", async () => {
    const { client } = chat;
    const screens = {
      inbox: watch(client.query(ops.Inbox, { first: PAGE.inbox })),
      history: watch(client.query(ops.History, { channelId: general, first: PAGE.history })),
      groups: watch(client.query(ops.Groups, { first: PAGE.groups })),
      contacts: watch(client.query(ops.Contacts, { first: PAGE.contacts })),
      presence: watch(client.query(ops.Presence, { userIds: [bob.user.id] })),
      members: watch(client.query(ops.ChannelMembers, { channelId: random, first: 50 })),
    };
    const live = [
      watch(client.subscription(ops.MessageAdded, {})),
      watch(client.subscription(ops.ReceiptUpdated, {})),
      watch(client.subscription(ops.PresenceChanged, {})),
      watch(client.subscription(ops.MessageUpdated, {})),
      watch(client.subscription(ops.ReactionChanged, {})),
    ];
    const typing = watch(client.subscription(ops.Typing, { channelId: general }));
    await until(() => Object.values(screens).every((screen) => screen.data !== undefined));
    const queriesSent = () => network.filter((operation) => operation.kind === "query").length;
    expect(queriesSent()).toBe(6);
    const inboxNode = (id: string) =>
      screens.inbox.data?.channels.edges.find((edge) => edge.node.id === id)?.node;
    const historyNodes = () =>
      screens.history.data?.channel?.messages.edges.map((e) => e.node) ?? [];
    // Subscriptions are live once the server has them (a message from bob shows up).
    await until(async () => {
      await mustRequest(
        server,
        SendMessageDocument,
        { input: { channelId: general, body: "hello alice", clientMessageId: randomUUID() } },
        bob.accessToken,
      );
      return historyNodes().some((m) => m.body === "hello alice");
    }, 15_000);

    // Sending: PENDING at once (optimistic), then stored (seq, SENT) as the same one message.
    const clientMessageId = randomUUID();
    const sending = client
      .mutation(ops.SendMessage, { input: { channelId: general, body: "hi bob", clientMessageId } })
      .toPromise();
    const mine = () => historyNodes().filter((m) => m.clientMessageId === clientMessageId);
    expect((await sending).data?.sendMessage.status).toBe("PENDING");
    await until(() => mine()[0]?.status === "SENT");
    // What the history screen showed of it, state by state: the optimistic copy first.
    const states = screens.history.shown
      .map((data) => data.channel?.messages.edges.map((e) => e.node) ?? [])
      .map((nodes) => nodes.filter((m) => m.clientMessageId === clientMessageId))
      .filter((copies) => copies.length > 0);
    expect(states.every((copies) => copies.length === 1)).toBe(true);
    expect(states[0]?.[0]).toMatchObject({ status: "PENDING", seq: null, body: "hi bob" });
    expect(states[0]?.[0]?.id).toMatch(/^optimistic:/);
    expect(mine()).toHaveLength(1);
    expect(mine()[0]?.seq).toBeGreaterThan(0);
    const sentId = mine()[0]!.id;
    const status = await client
      .query(ops.SendStatus, { clientMessageId }, { requestPolicy: "network-only" })
      .toPromise();
    expect(status.data?.sendStatus).toMatchObject({ state: "STORED", message: { id: sentId } });
    expect(inboxNode(general)?.lastMessage?.id).toBe(sentId);
    expect(screens.inbox.data?.channels.edges[0]?.node.id).toBe(general);

    // Bob's messages raised the unread count; markRead's answer brings it to 0.
    await until(() => (inboxNode(general)?.unreadCount ?? 0) > 0);
    const lastSeq = inboxNode(general)!.lastMessage!.seq!;
    await client.mutation(ops.MarkRead, { channelId: general, upToSeq: lastSeq }).toPromise();
    expect(inboxNode(general)).toMatchObject({ unreadCount: 0, viewerReadUpToSeq: lastSeq });

    // Everyone reads alice's message: its status in the history becomes READ from receipts.
    for (const reader of [bob, carol])
      await mustRequest(
        server,
        MarkReadDocument,
        { channelId: general, upToSeq: lastSeq },
        reader.accessToken,
      );
    await until(() => historyNodes().find((m) => m.id === sentId)?.status === "READ");

    // Reactions and pins: answers and reactionChanged update the message in place.
    const bobs = () => historyNodes().find((m) => m.body === "hello alice");
    const bobsId = bobs()!.id;
    await client.mutation(ops.AddReaction, { messageId: bobsId, emoji: "👍" }).toPromise();
    expect(bobs()?.reactions).toEqual([
      expect.objectContaining({ emoji: "👍", count: 1, viewerHasReacted: true }),
    ]);
    await mustRequest(
      server,
      AddReactionDocument,
      { messageId: bobsId, emoji: "🎉" },
      bob.accessToken,
    );
    await until(() =>
      Boolean(
        bobs()?.reactions.some((r) => r.emoji === "🎉" && r.count === 1 && !r.viewerHasReacted),
      ),
    );
    await client.mutation(ops.RemoveReaction, { messageId: bobsId, emoji: "👍" }).toPromise();
    await until(
      () =>
        bobs()
          ?.reactions.map((r) => r.emoji)
          .join() === "🎉",
    );
    await client.mutation(ops.PinMessage, { id: bobsId }).toPromise();
    expect(bobs()?.pinnedAt).not.toBeNull();

    // Edits and deletions: the answer (and messageUpdated) update the message in place.
    await client.mutation(ops.EditMessage, { id: sentId, body: "hi, bob" }).toPromise();
    expect(historyNodes().find((m) => m.id === sentId)?.body).toBe("hi, bob");
    await client.mutation(ops.DeleteMessage, { id: sentId }).toPromise();
    expect(historyNodes().find((m) => m.id === sentId)).toMatchObject({ body: null });
    await client.mutation(ops.MarkDelivered, { messageIds: [sentId] }).toPromise();

    // Typing is an event (embedded, not cached): it arrives and warns about nothing.
    await client.mutation(ops.SetTyping, { channelId: general, isTyping: true }).toPromise();
    const bobOnline = onlineSocket(server, bob.accessToken);
    await mustRequest(
      server,
      SetTypingDocument,
      { channelId: general, isTyping: true },
      bob.accessToken,
    );
    await until(() => typing.data?.typing.user.id === bob.user.id);
    // Presence: bob's socket made him ONLINE in the cached presence screen.
    await until(() => screens.presence.data?.presence[0]?.status === "ONLINE", 15_000);
    await bobOnline.dispose();

    // Contacts: add, remove, block (the contact goes, the user shows the block), unblock.
    const contactIds = () => screens.contacts.data?.contacts.edges.map((e) => e.node.user.id) ?? [];
    await client.mutation(ops.AddContact, { userId: carol.user.id }).toPromise();
    expect(contactIds()).toEqual(expect.arrayContaining([carol.user.id, bob.user.id]));
    await client.mutation(ops.RemoveContact, { userId: carol.user.id }).toPromise();
    expect(contactIds()).not.toContain(carol.user.id);
    const blocked = await client.mutation(ops.BlockUser, { userId: bob.user.id }).toPromise();
    expect(blocked.data?.blockUser.user.isBlockedByViewer).toBe(true);
    expect(contactIds()).not.toContain(bob.user.id);
    await client.mutation(ops.UnblockUser, { userId: bob.user.id }).toPromise();

    // Groups: a role change, a removal, a channel left, a group created and left.
    const group = () => screens.groups.data?.groups.edges.find((e) => e.node.id === groupId)?.node;
    const roleOf = (user: User) =>
      group()?.members.edges.find((e) => e.node.user.id === user.user.id)?.node.role;
    await client
      .mutation(ops.SetGroupMemberRole, { groupId, userId: bob.user.id, role: "ADMIN" })
      .toPromise();
    expect(roleOf(bob)).toBe("ADMIN");
    await client.mutation(ops.RemoveGroupMember, { groupId, userId: carol.user.id }).toPromise();
    expect(roleOf(carol)).toBeUndefined();
    expect(group()?.members.totalCount).toBe(2);
    expect(inboxNode(random)).toBeDefined();
    await client.mutation(ops.LeaveChannel, { channelId: random }).toPromise();
    expect(inboxNode(random)).toBeUndefined();
    await client.mutation(ops.JoinChannel, { channelId: random }).toPromise();
    expect(inboxNode(random)).toBeDefined();
    const channelMembers = () =>
      screens.members.data?.channel?.members.edges.map((e) => e.node.user.id) ?? [];
    await client
      .mutation(ops.AddChannelMembers, { channelId: random, userIds: [bob.user.id] })
      .toPromise();
    expect(channelMembers()).toEqual(expect.arrayContaining([alice.user.id, bob.user.id]));
    const created = await client
      .mutation(ops.CreateChannel, { input: { groupId, name: "design" } })
      .toPromise();
    expect(inboxNode(created.data!.createChannel.id)).toBeDefined();
    const direct = await client.mutation(ops.DirectChannel, { userId: carol.user.id }).toPromise();
    expect(inboxNode(direct.data!.directChannel.id)?.peer?.id).toBe(carol.user.id);
    await client.mutation(ops.AddGroupMembers, { groupId, userIds: [carol.user.id] }).toPromise();
    expect(roleOf(carol)).toBe("MEMBER");
    expect(group()?.members.totalCount).toBe(3);
    await client.mutation(ops.UpdateGroup, { groupId, input: { name: "Renamed" } }).toPromise();
    expect(group()?.name).toBe("Renamed");
    await client.mutation(ops.UpdateProfile, { input: { displayName: "Alice A." } }).toPromise();
    expect(historyNodes().find((m) => m.sender.id === alice.user.id)?.sender.displayName).toBe(
      "Alice A.",
    );
    const solo = await client.mutation(ops.CreateGroup, { input: { name: "Solo" } }).toPromise();
    const soloId = solo.data!.createGroup.id;
    const soloGeneral = solo.data!.createGroup.channels.edges[0]!.node.id;
    expect(group()).toBeDefined();
    expect(screens.groups.data?.groups.edges.some((e) => e.node.id === soloId)).toBe(true);
    expect(inboxNode(soloGeneral)).toBeDefined();
    const left = await client.mutation(ops.LeaveGroup, { groupId: soloId }).toPromise();
    expect(left.data?.leaveGroup.groupExists).toBe(false);
    expect(screens.groups.data?.groups.edges.some((e) => e.node.id === soloId)).toBe(false);
    expect(inboxNode(soloGeneral)).toBeUndefined();

    // What the screens showed came from answers and events: one query each, ever (and
    // the one sendStatus asked on purpose).
    expect(queriesSent()).toBe(7);
    expect(warnings).toEqual([]);
    for (const screen of [...Object.values(screens), ...live, typing]) {
      expect(screen.error).toBeUndefined();
      screen.stop();
    }
  }, 60_000);
});

describe("Apollo Client (examples/apollo)", () => {
  it("normalizes every type by id, merges connection pages, and updates from answers and events without a refetch or a warning", async () => {
    const warn = vi.spyOn(console, "warn");
    const error = vi.spyOn(console, "error");
    const sentOverHttp: string[] = [];
    const session = await signIn(server.url, bob.user.username, TEST_PASSWORD);
    const { client, close } = createApolloChat({
      url: server.url,
      wsUrl: server.wsUrl,
      session,
      onHttp: (name) => sentOverHttp.push(name),
    });
    try {
      await mustRequest(server, AddContactDocument, { userId: alice.user.id }, bob.accessToken);
      // Enough channels for three pages of two.
      for (const name of ["one", "two", "three", "four"])
        await mustRequest(
          server,
          CreateGroupDocument,
          { input: { name, memberIds: [alice.user.id] } },
          bob.accessToken,
        );
      const first = await client.query({ query: ops.Inbox, variables: { first: 2 } });
      // The next page, as fetchMore asks for it (past the cache, which already answers
      // `channels` from the merged list).
      const more = await client.query({
        query: ops.Inbox,
        variables: { first: 2, after: first.data!.channels.pageInfo.endCursor },
        fetchPolicy: "network-only",
      });
      // What the query answers is the merged list, as fetchMore's screen shows it.
      expect(more.data!.channels.edges).toHaveLength(4);
      // relayStylePagination keeps one list: the first page's query now reads all four.
      const merged = client.readQuery({ query: ops.Inbox, variables: { first: 2 } });
      const ids = merged!.channels.edges.map((edge) => edge.node.id);
      expect(ids).toHaveLength(4);
      expect(new Set(ids).size).toBe(4);

      // Every type a screen shows is its own normalized entry, keyed by its global id.
      const channelId = general;
      const sent = await mustRequest(
        server,
        SendMessageDocument,
        { input: { channelId, body: "for apollo", clientMessageId: randomUUID() } },
        bob.accessToken,
      );
      const messageId = sent.sendMessage.id;
      await until(async () => {
        const status = await client.query({
          query: ops.SendStatus,
          variables: { clientMessageId: sent.sendMessage.clientMessageId },
          fetchPolicy: "network-only",
        });
        return status.data?.sendStatus.state === "STORED";
      });
      await client.mutate({
        mutation: ops.MarkDelivered,
        variables: { messageIds: [messageId] },
      });
      for (const [query, variables] of [
        [ops.Groups, { first: 20 }],
        [ops.Contacts, { first: 50 }],
        [ops.Presence, { userIds: [alice.user.id] }],
        [ops.ChannelMembers, { channelId, first: 10 }],
        [ops.History, { channelId, first: 10 }],
      ] as const)
        await client.query({ query: query as never, variables: variables as never });
      const receipts = await client.query({
        query: ops.MessageReceipts,
        variables: { id: messageId },
        fetchPolicy: "network-only",
      });
      expect(receipts.error).toBeUndefined();
      const snapshot = client.cache.extract() as Record<string, Record<string, unknown>>;
      const stored = Object.keys(snapshot);
      const types = new Set(stored.map((key) => key.split(":")[0]));
      for (const type of [
        "User",
        "Group",
        "GroupMember",
        "Channel",
        "ChannelMember",
        "Message",
        "Contact",
        "Presence",
      ])
        expect(types, type).toContain(type);

      // markRead's answer carries the channel: the cached inbox entry updates, nothing is
      // refetched.
      const inbox = await client.query({
        query: ops.Inbox,
        variables: { first: 20 },
        fetchPolicy: "network-only",
      });
      const channelEntry = () =>
        (client.cache.extract() as Record<string, Record<string, unknown>>)[`Channel:${channelId}`];
      const lastSeq = inbox.data!.channels.edges.find((edge) => edge.node.id === channelId)!.node
        .lastMessage!.seq!;
      await mustRequest(
        server,
        SendMessageDocument,
        { input: { channelId, body: "unread", clientMessageId: randomUUID() } },
        alice.accessToken,
      );
      await client.query({
        query: ops.Inbox,
        variables: { first: 20 },
        fetchPolicy: "network-only",
      });
      await until(async () => {
        await client.query({
          query: ops.Inbox,
          variables: { first: 20 },
          fetchPolicy: "network-only",
        });
        return (channelEntry()?.unreadCount as number) > 0;
      });
      const before = sentOverHttp.length;
      await client.mutate({
        mutation: ops.MarkRead,
        variables: { channelId, upToSeq: lastSeq + 1 },
      });
      expect(channelEntry()).toMatchObject({ unreadCount: 0, viewerReadUpToSeq: lastSeq + 1 });
      expect(sentOverHttp.slice(before)).toEqual(["MarkRead"]);

      // A live message over graphql-ws lands in the cache as its Message entry.
      const arrived: string[] = [];
      const live = client.subscribe({ query: ops.MessageAdded }).subscribe({
        next: (result) => {
          if (!result.data) return;
          arrived.push(result.data.messageAdded.id);
          addToHistory(client.cache, result.data.messageAdded);
        },
      });
      // Sent until one arrives: the first may be stored before the stream is live.
      const sentIds: string[] = [];
      await until(async () => {
        const again = await mustRequest(
          server,
          SendMessageDocument,
          { input: { channelId, body: "live for apollo", clientMessageId: randomUUID() } },
          alice.accessToken,
        );
        sentIds.push(again.sendMessage.id);
        return sentIds.some((id) => arrived.includes(id));
      }, 15_000);
      const later = sentIds.find((id) => arrived.includes(id));
      // Optimistic sending keyed by clientMessageId: PENDING at once under a temporary id,
      // then the server's id, then SENT with its seq from messageAdded: one entry throughout.
      const clientMessageId = randomUUID();
      const viewer = { id: bob.user.id, displayName: bob.user.displayName };
      const historyOf = (optimistic: boolean) =>
        client
          .readQuery({ query: ops.History, variables: { channelId, first: 10 }, optimistic })!
          .channel!.messages.edges.map((edge) => edge.node)
          .filter((message) => message.clientMessageId === clientMessageId);
      const sending = sendOptimistically(client, viewer, {
        channelId,
        body: "optimistic apollo",
        clientMessageId,
      });
      expect(historyOf(true)).toEqual([
        expect.objectContaining({
          id: `optimistic:${clientMessageId}`,
          status: "PENDING",
          seq: null,
        }),
      ]);
      const answered = (await sending).data!.sendMessage;
      expect(historyOf(false)).toEqual([
        expect.objectContaining({ id: answered.id, status: "PENDING" }),
      ]);
      await until(() => arrived.includes(answered.id), 15_000);
      expect(historyOf(false)).toEqual([
        expect.objectContaining({ id: answered.id, status: "SENT", seq: expect.any(Number) }),
      ]);
      live.unsubscribe();
      const after = client.cache.extract() as Record<string, Record<string, unknown>>;
      expect(after[`Message:${later}`]).toMatchObject({ body: "live for apollo" });
      expect(receipts.data?.message?.receipts.length).toBeGreaterThan(0);
      expect(Object.keys(after).some((key) => key.startsWith("Receipt:"))).toBe(true);
      expect(warn).not.toHaveBeenCalled();
      expect(error).not.toHaveBeenCalled();
    } finally {
      close();
      warn.mockRestore();
      error.mockRestore();
    }
  }, 60_000);
});

describe("the urql example program (examples/urql/main.ts)", () => {
  it("signs in, lists the inbox, sends optimistically, and prints live messages, receipts, typing and presence", async () => {
    const [dave, erin] = (await Promise.all([registerUser(server), registerUser(server)])) as [
      User,
      User,
    ];
    const group = await mustRequest(
      server,
      CreateGroupDocument,
      { input: { name: "Demo", memberIds: [erin.user.id] } },
      dave.accessToken,
    );
    const channelId = group.createGroup.channels.edges[0]!.node.id;
    await mustRequest(server, AddContactDocument, { userId: erin.user.id }, dave.accessToken);
    const lines: string[] = [];
    const demo = await runDemo({
      url: server.url,
      wsUrl: server.wsUrl,
      login: dave.user.username,
      password: TEST_PASSWORD,
      print: (line) => lines.push(line),
    });
    try {
      expect(lines).toEqual([
        `signed in as ${dave.user.displayName}`,
        "inbox: #general (0 unread) ",
        "sent: PENDING",
      ]);
      const printed = (start: string) => lines.some((line) => line.startsWith(start));
      // Each event is caused again until it shows: the demo's subscriptions start while
      // it sends, and the first of each may come before its stream is live.
      const stored = async (from: User, body: string) =>
        (await sendAndStore(server, from, channelId, body)).seq!;
      const seqs: number[] = [];
      await until(async () => {
        seqs.push(await stored(erin, "hi dave"));
        return seqs.some((seq) =>
          printed(`message in general #${seq} from ${erin.user.displayName}: hi dave`),
        );
      });
      // A receipt reaches the sender of what it covers: erin reads a new message of dave's.
      const read: number[] = [];
      await until(async () => {
        const seq = await stored(dave, "read me");
        await mustRequest(server, MarkReadDocument, { channelId, upToSeq: seq }, erin.accessToken);
        read.push(seq);
        return read.some((upTo) =>
          printed(`receipt: ${erin.user.displayName} READ up to #${upTo}`),
        );
      });
      let typing = false;
      await until(async () => {
        typing = !typing;
        await mustRequest(
          server,
          SetTypingDocument,
          { channelId, isTyping: typing },
          erin.accessToken,
        );
        return printed(`typing: ${erin.user.displayName} is typing in general`);
      });
      // Presence last, when the demo's socket has shown its streams are live: erin's first
      // socket is a transition to ONLINE that happens once.
      const erinOnline = onlineSocket(server, erin.accessToken);
      await until(() => printed(`presence: ${erin.user.displayName} ONLINE`));
      await erinOnline.dispose();
      expect(lines.filter((line) => line.startsWith("cache warning"))).toEqual([]);
    } finally {
      demo.stop();
    }
  }, 60_000);
});
