// The distributed topology as separate processes: two api replicas (different SERVER_IDs
// and ports) and one worker, sharing PostgreSQL and RabbitMQ and nothing else.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { CreateGroupDocument, MessageAddedDocument, SendMessageDocument } from "./gql/graphql.js";
import { mustRequest, wsClient } from "./harness/app.js";
import { brokerResources } from "./harness/broker.js";
import { dbId } from "./harness/ids.js";
import type { ServiceProcess } from "./harness/processes.js";
import { recordLive } from "./harness/subscriptions.js";
import { useTopology } from "./harness/topology.js";
import { registerUser } from "./harness/users.js";
import { eventually } from "./harness/wait.js";

const topology = await useTopology({ env: { SEND_RATE_LIMIT: "10000" } });
const { runnable, clients } = topology;
let replicaA: ServiceProcess;
let replicaB: ServiceProcess;
beforeAll(() => {
  ({ replicaA, replicaB } = topology);
});

type Session = Awaited<ReturnType<typeof registerUser>>;

function socket(target: ServiceProcess, session: Session) {
  const client = wsClient(target, { authorization: `Bearer ${session.accessToken}` });
  clients.push(client);
  return client;
}

describe.skipIf(!runnable)("two api replicas and a worker (processes)", () => {
  it("a client on replica A sends, a subscriber on replica B receives it over graphql-ws, and the row is in PostgreSQL", async () => {
    const [alice, bob] = (await Promise.all([registerUser(replicaA), registerUser(replicaB)])) as [
      Session,
      Session,
    ];
    const group = await mustRequest(
      replicaA,
      CreateGroupDocument,
      { input: { name: "Two replicas", memberIds: [bob.user.id] } },
      alice.accessToken,
    );
    const channelId = group.createGroup.channels.edges[0]!.node.id;
    const onB = await recordLive(replicaB, socket(replicaB, bob), MessageAddedDocument, {
      channelId,
    });
    const sent = await mustRequest(
      replicaA,
      SendMessageDocument,
      { input: { channelId, body: "across replicas", clientMessageId: "x1" } },
      alice.accessToken,
    );
    const [event] = await onB.until((data) => data.length === 1);
    expect(event!.messageAdded).toMatchObject({
      id: sent.sendMessage.id,
      seq: 1,
      body: "across replicas",
      sender: { id: alice.user.id },
    });
    const row = await topology.database.db.prisma.message.findUnique({
      where: { id: dbId(sent.sendMessage.id) },
    });
    expect(row).toMatchObject({
      channelId: dbId(channelId),
      seq: 1,
      body: "across replicas",
      senderId: dbId(alice.user.id),
    });
    onB.stop();
  });

  it("1,000 messages from 10 senders across 10 channels: each subscriber gets each of its channels' messages once, in seq order; PostgreSQL holds exactly them", async () => {
    const replicas = [replicaA, replicaB];
    const users = (await Promise.all(
      Array.from({ length: 10 }, (_, i) => registerUser(replicas[i % 2]!)),
    )) as Session[];
    const channelIds: string[] = [];
    for (const [i, owner] of users.entries()) {
      const others = users.filter((u) => u !== owner).map((u) => u.user.id);
      const group = await mustRequest(
        replicas[i % 2]!,
        CreateGroupDocument,
        { input: { name: `g${i}`, memberIds: others } },
        owner.accessToken,
      );
      channelIds.push(group.createGroup.channels.edges[0]!.node.id);
    }
    // Every user follows all their channels (all 10), half of them on each replica.
    const subscribers = [];
    for (const [i, user] of users.entries()) {
      const replica = replicas[i % 2]!;
      subscribers.push(await recordLive(replica, socket(replica, user), MessageAddedDocument, {}));
    }

    const sends: Array<() => Promise<unknown>> = [];
    for (let round = 0; round < 10; round++) {
      for (const [u, user] of users.entries()) {
        for (const channelId of channelIds) {
          sends.push(() =>
            mustRequest(
              replicas[(u + round) % 2]!,
              SendMessageDocument,
              { input: { channelId, body: `${u}:${round}`, clientMessageId: randomUUID() } },
              user.accessToken,
            ),
          );
        }
      }
    }
    expect(sends).toHaveLength(1000);
    // 20 requests in flight at a time
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < sends.length) await sends[next++]!();
      }),
    );

    for (const subscriber of subscribers)
      await subscriber.until((events) => events.length >= 1000, 60_000);
    // A repeat would arrive before a later message of its channel: one more in each, and
    // every subscriber waits for all ten.
    for (const channelId of channelIds)
      await mustRequest(
        replicaA,
        SendMessageDocument,
        { input: { channelId, body: "end", clientMessageId: randomUUID() } },
        users[0]!.accessToken,
      );
    for (const subscriber of subscribers) {
      const all = await subscriber.until(
        (events) => events.filter((e) => e.messageAdded.body === "end").length === 10,
        60_000,
      );
      const data = all.filter((e) => e.messageAdded.body !== "end");
      expect(data).toHaveLength(1000);
      const byChannel = new Map<string, number[]>();
      for (const { messageAdded } of data) {
        byChannel.set(messageAdded.channel.id, [
          ...(byChannel.get(messageAdded.channel.id) ?? []),
          messageAdded.seq!,
        ]);
      }
      expect([...byChannel.keys()].sort()).toEqual([...channelIds].sort());
      for (const seqs of byChannel.values())
        expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      subscriber.stop();
    }
    const prisma = topology.database.db.prisma;
    const sent = { channelId: { in: channelIds.map(dbId) }, body: { not: "end" } };
    expect(await prisma.message.count({ where: sent })).toBe(1000);
    // each channel's head moved to its last message (100 + the "end" one)
    const heads = await prisma.channel.findMany({ where: { id: { in: channelIds.map(dbId) } } });
    expect(heads.map((c) => c.lastSeq)).toEqual(channelIds.map(() => 101));
  }, 180_000);

  it("after 200 subscribe/unsubscribe cycles the replica holds no more RabbitMQ queues, bindings or channels than before", async () => {
    const [alice] = (await Promise.all([registerUser(replicaB)])) as [Session];
    const group = await mustRequest(
      replicaB,
      CreateGroupDocument,
      { input: { name: "Churn" } },
      alice.accessToken,
    );
    const channelId = group.createGroup.channels.edges[0]!.node.id;
    const connection = `${topology.namespace}:api-b`;
    const client = socket(replicaB, alice);
    // While subscribed, the channel's key is bound: one more binding of the replica's one
    // live queue, so the cycles below really bind and release.
    const held = await recordLive(replicaB, client, MessageAddedDocument, { channelId });
    const during = await brokerResources(connection);
    held.stop();
    // Until the key is released (its binding gone).
    const before = await eventually(
      () => brokerResources(connection),
      (now) => now.bindings < during.bindings,
      30_000,
    );
    expect(during.bindings).toBe(before.bindings + 1);
    expect(during.queues).toBe(before.queues);
    for (let cycle = 0; cycle < 200; cycle++) {
      // Live before it stops, so each cycle really binds and releases.
      const subscription = await recordLive(replicaB, client, MessageAddedDocument, { channelId });
      subscription.stop();
    }
    // Until the replica is back to what it held (or the bound passes: the diff shows the leak).
    const after = await eventually(
      () => brokerResources(connection),
      (now) =>
        now.queues === before.queues &&
        now.channels === before.channels &&
        now.bindings === before.bindings,
      30_000,
    );
    expect(after).toEqual(before);
  }, 120_000);
});
