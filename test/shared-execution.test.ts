// A live event is executed once for all the subscribers that asked the same thing of it,
// unless what they asked depends on who is asking (issue 10: per-subscriber execution was
// the largest cost of fanning a message out). Counted on the replica's /metrics.
import { randomUUID } from "node:crypto";
import type { Client } from "graphql-ws";
import { afterEach, describe, expect, it } from "vitest";
import {
  CreateGroupDocument,
  MarkReadDocument,
  MessageAddedDocument,
  MessageAddedWithUnreadDocument,
  SendMessageDocument,
} from "./gql/graphql.js";
import { mustRequest, useTestApp, wsClient } from "./harness/app.js";
import { liveEventCounts, type Recording, recordLive } from "./harness/subscriptions.js";
import { registerUser } from "./harness/users.js";

const server = useTestApp();
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.dispose()));
});

const MEMBERS = 6;

async function group() {
  const [owner, ...members] = await Promise.all(
    Array.from({ length: MEMBERS + 1 }, () => registerUser(server)),
  );
  if (!owner) throw new Error("no owner");
  const created = await mustRequest(
    server,
    CreateGroupDocument,
    { input: { name: `g-${randomUUID().slice(0, 8)}`, memberIds: members.map((m) => m.user.id) } },
    owner.accessToken,
  );
  const channelId = created.createGroup.channels.edges[0]?.node.id as string;
  const send = async (body: string) =>
    (
      await mustRequest(
        server,
        SendMessageDocument,
        { input: { channelId, body, clientMessageId: randomUUID() } },
        owner.accessToken,
      )
    ).sendMessage.id;
  return { owner, members, channelId, send };
}

async function subscribeEach<R>(
  tokens: string[],
  subscribe: (client: Client) => Promise<Recording<R>>,
) {
  const recordings: Array<Recording<R>> = [];
  for (const token of tokens) {
    const client = wsClient(server, { authorization: `Bearer ${token}` });
    clients.push(client);
    recordings.push(await subscribe(client));
  }
  return recordings;
}

describe("live events are executed once per request, not once per subscriber", () => {
  it("subscribers asking the same selection of a message share one execution and get the same result", async () => {
    const { members, channelId, send } = await group();
    const streams = await subscribeEach(
      members.map((m) => m.accessToken),
      (client) => recordLive(server, client, MessageAddedDocument, { channelId }),
    );
    const before = await liveEventCounts(server);
    const id = await send("one for all");
    for (const stream of streams) await stream.until((data) => data.length === 1);
    const after = await liveEventCounts(server);

    expect(after.results - before.results).toBe(MEMBERS);
    expect(after.executions - before.executions).toBe(1);
    const [first, ...rest] = streams.map((s) => s.data[0]?.messageAdded);
    expect(first).toMatchObject({
      id,
      body: "one for all",
      status: "SENT",
      channel: { id: channelId },
    });
    for (const other of rest) expect(other).toEqual(first);
  });

  it("a selection that reads the viewer's own state is executed for each subscriber, each getting their own", async () => {
    const { members, channelId, send } = await group();
    const streams = await subscribeEach(
      members.map((m) => m.accessToken),
      (client) => recordLive(server, client, MessageAddedWithUnreadDocument, { channelId }),
    );
    await send("first");
    for (const stream of streams) await stream.until((data) => data.length === 1);
    // One member reads the first message; the others have not.
    const [reader] = members;
    if (!reader) throw new Error("no reader");
    await mustRequest(server, MarkReadDocument, { channelId, upToSeq: 1 }, reader.accessToken);

    const before = await liveEventCounts(server);
    await send("second");
    for (const stream of streams) await stream.until((data) => data.length === 2);
    const after = await liveEventCounts(server);

    expect(after.results - before.results).toBe(MEMBERS);
    expect(after.executions - before.executions).toBe(MEMBERS);
    const unread = streams.map((s) => s.data[1]?.messageAdded.channel.unreadCount);
    expect(unread).toEqual([1, ...Array(MEMBERS - 1).fill(2)]);
  });
});
