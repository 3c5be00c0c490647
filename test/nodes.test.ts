// Global ids and the Node interface: every object a client caches has an id that names
// it alone, refetches through node(id:)/nodes(ids:) as the same object, and reveals
// nothing to a viewer who may not see it (null, as for an id of nothing).
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AddContactDocument,
  CachedObjectsDocument,
  ChannelNodeDocument,
  CreateGroupDocument,
  MarkReadDocument,
  MessageAddedDocument,
  NodeDocument,
  NodesDocument,
  SendMessageDocument,
} from "./gql/graphql.js";
import { mustRequest, request, useTestApp, wsClient } from "./harness/app.js";
import { dbId, unknownId } from "./harness/ids.js";
import { recordLive } from "./harness/subscriptions.js";
import { registerUser } from "./harness/users.js";

const server = useTestApp();
type Session = Awaited<ReturnType<typeof registerUser>>;
let alice: Session;
let bob: Session;
let outsider: Session;
let groupId: string;
let channelId: string;
let messageId: string;

beforeAll(async () => {
  [alice, bob, outsider] = (await Promise.all([
    registerUser(server),
    registerUser(server),
    registerUser(server),
  ])) as [Session, Session, Session];
  const created = await mustRequest(
    server,
    CreateGroupDocument,
    { input: { name: "Nodes", memberIds: [bob.user.id] } },
    alice.accessToken,
  );
  groupId = created.createGroup.id;
  channelId = created.createGroup.channels.edges[0]!.node.id;
  await mustRequest(server, AddContactDocument, { userId: bob.user.id }, alice.accessToken);
  const listener = await recordLive(
    server,
    wsClient(server, { authorization: `Bearer ${alice.accessToken}` }),
    MessageAddedDocument,
    { channelId },
  );
  const sent = await mustRequest(
    server,
    SendMessageDocument,
    { input: { channelId, body: "refetch me", clientMessageId: randomUUID() } },
    alice.accessToken,
  );
  messageId = sent.sendMessage.id;
  await listener.until((data) => data.some((d) => d.messageAdded.id === messageId));
  listener.stop();
  await mustRequest(server, MarkReadDocument, { channelId, upToSeq: 1 }, bob.accessToken);
});

/** Every id of every cached type that alice can see, with its type. */
async function everyCachedId() {
  const seen = await mustRequest(
    server,
    CachedObjectsDocument,
    { groupId, channelId, messageId, userId: bob.user.id },
    alice.accessToken,
  );
  const message = seen.message!;
  return [
    ["Group", seen.group!.id],
    ...seen.group!.members.edges.map((e) => ["GroupMember", e.node.id]),
    ["Channel", seen.channel!.id],
    ...seen.channel!.members.edges.map((e) => ["ChannelMember", e.node.id]),
    ["Message", message.id],
    ["Thread", seen.thread.id],
    ...message.receipts.map((r) => ["Receipt", r.id]),
    ...seen.contacts.edges.map((e) => ["Contact", e.node.id]),
    ...seen.presence.map((p) => ["Presence", p.id]),
    ["User", seen.me!.id],
  ] as Array<[string, string]>;
}

describe("global ids", () => {
  it("every cached type has an id, unique across types, that node(id:) refetches as the same object", async () => {
    const ids = await everyCachedId();
    expect(new Set(ids.map(([type]) => type)).size).toBe(10);
    // The same user's User and Presence ids differ; memberships differ from their group.
    expect(new Set(ids.map(([, id]) => id)).size).toBe(ids.length);
    for (const [type, id] of ids) {
      const { node } = await mustRequest(server, NodeDocument, { id }, alice.accessToken);
      expect(node, `${type} ${id}`).toEqual({ __typename: type, id });
    }
    const { nodes } = await mustRequest(
      server,
      NodesDocument,
      { ids: ids.map(([, id]) => id) },
      alice.accessToken,
    );
    expect(nodes).toEqual(ids.map(([type, id]) => ({ __typename: type, id })));
  });

  it("a refetched node resolves its fields (a channel's kind and members)", async () => {
    const { node } = await mustRequest(
      server,
      ChannelNodeDocument,
      { id: channelId },
      bob.accessToken,
    );
    expect(node).toMatchObject({ id: channelId, kind: "GROUP" });
    const members = node && "members" in node ? node.members.edges.map((e) => e.node.user.id) : [];
    expect(members.sort()).toEqual([alice.user.id, bob.user.id].sort());
  });

  it("what the viewer may not see is null, exactly like an id of nothing; users are public", async () => {
    const ids = await everyCachedId();
    const { nodes } = await mustRequest(
      server,
      NodesDocument,
      { ids: [...ids.map(([, id]) => id), unknownId("Channel"), unknownId("GroupMember")] },
      outsider.accessToken,
    );
    const visible = nodes.filter((node) => node !== null).map((node) => node!.__typename);
    // The outsider shares no channel with alice or bob: only the public profile is theirs to see.
    expect(visible).toEqual(["User"]);
  });

  it("an id that is not one of ours is BAD_USER_INPUT on the argument; more than 100 at once too", async () => {
    for (const id of [
      "nope",
      dbId(channelId),
      Buffer.from(`Channel:${randomUUID()}:x`).toString("base64"),
      Buffer.from(`Nope:${randomUUID()}`).toString("base64"),
    ]) {
      const result = await request(server, NodeDocument, { id }, alice.accessToken);
      expect(result.errors?.[0]?.extensions, id).toEqual({ code: "BAD_USER_INPUT", field: "id" });
    }
    const bad = await request(
      server,
      NodesDocument,
      { ids: [channelId, "nope"] },
      alice.accessToken,
    );
    expect(bad.errors?.[0]?.extensions).toEqual({ code: "BAD_USER_INPUT", field: "ids.1" });
    const many = await request(
      server,
      NodesDocument,
      { ids: Array.from({ length: 101 }, () => channelId) },
      alice.accessToken,
    );
    expect(many.errors?.[0]?.extensions).toEqual({ code: "BAD_USER_INPUT", field: "ids" });
    const anonymous = await request(server, NodeDocument, { id: channelId });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("an id of one type where another is expected is BAD_USER_INPUT, not NOT_FOUND", async () => {
    const result = await request(
      server,
      SendMessageDocument,
      { input: { channelId: groupId, body: "x", clientMessageId: randomUUID() } },
      alice.accessToken,
    );
    expect(result.errors?.[0]).toMatchObject({
      message: "input.channelId: must be the id of a Channel",
      extensions: { code: "BAD_USER_INPUT", field: "input.channelId" },
    });
  });
});
