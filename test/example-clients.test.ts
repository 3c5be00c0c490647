// The example clients (examples/) against a running server, as a frontend team would use
// them: urql with Graphcache and Apollo Client keep a normalized cache of every type
// without warnings, and every mutation updates what the screens show without a refetch.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Operation } from "@urql/core";
import { buildSchema, isObjectType } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as ops from "../examples/operations.js";
import { PAGE } from "../examples/urql/cache.js";
import { createChatClient, signIn } from "../examples/urql/client.js";
import { EMBEDDED_TYPES } from "../examples/urql/embedded-types.js";
import {
  AddContactDocument,
  CreateChannelDocument,
  CreateGroupDocument,
  MarkReadDocument,
  SendMessageDocument,
  SetTypingDocument,
} from "./gql/graphql.js";
import { mustRequest, onlineSocket, useTestApp } from "./harness/app.js";
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
  it("the embedded types (Graphcache keys: null) are exactly the object types without an id", () => {
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
    };
    const live = [
      watch(client.subscription(ops.MessageAdded, {})),
      watch(client.subscription(ops.ReceiptUpdated, {})),
      watch(client.subscription(ops.PresenceChanged, {})),
      watch(client.subscription(ops.MessageUpdated, {})),
    ];
    const typing = watch(client.subscription(ops.Typing, { channelId: general }));
    await until(() => Object.values(screens).every((screen) => screen.data !== undefined));
    const queriesSent = () => network.filter((operation) => operation.kind === "query").length;
    expect(queriesSent()).toBe(5);
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
    expect(queriesSent()).toBe(6);
    expect(warnings).toEqual([]);
    for (const screen of [...Object.values(screens), ...live, typing]) {
      expect(screen.error).toBeUndefined();
      screen.stop();
    }
  }, 60_000);
});
