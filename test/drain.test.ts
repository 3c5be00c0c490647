// Graceful drain: an api replica told to stop (SIGTERM) while it carries traffic stops
// accepting, closes its sockets with 1001 (clients reconnect elsewhere and resume), answers
// the requests already in flight, and exits 0 within SHUTDOWN_TIMEOUT_SECONDS. Senders
// retry what failed on the other replica with the same clientMessageId, as clients do:
// nothing a replica accepted is lost, nothing is stored twice.
import { randomUUID } from "node:crypto";
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { AmqpBus } from "../src/pubsub/amqp/amqp-bus.js";
import type { SendMessageCommand } from "../src/pubsub/commands.js";
import { messageIdFor } from "../src/resolvers/messages.js";
import { CreateGroupDocument, MessageAddedDocument, SendMessageDocument } from "./gql/graphql.js";
import { mustRequest, request, wsClient } from "./harness/app.js";
import { amqpUrl } from "./harness/broker.js";
import { dbId } from "./harness/ids.js";
import { exited } from "./harness/processes.js";
import { record } from "./harness/subscriptions.js";
import { useTopology } from "./harness/topology.js";
import { registerUser, twoInAGroup } from "./harness/users.js";
import { until } from "./harness/wait.js";

const SHUTDOWN_TIMEOUT_SECONDS = 10;
const topology = await useTopology({
  env: { SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS) },
});

/**
 * A send in flight on `port` until `finish()`: its headers are read (the server said
 * `100 Continue`), its body not yet sent.
 */
async function halfSent(port: number, token: string, channelId: string, clientMessageId: string) {
  const body = JSON.stringify({
    query: `mutation ($input: SendMessageInput!) { sendMessage(input: $input) { id clientMessageId } }`,
    variables: { input: { channelId, body: "in flight during the drain", clientMessageId } },
  });
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  let response = "";
  socket.on("data", (chunk) => (response += chunk));
  const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.write(
    `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Authorization: Bearer ${token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Expect: 100-continue\r\nConnection: close\r\n\r\n`,
  );
  await until(() => response.startsWith("HTTP/1.1 100 Continue\r\n\r\n"), 10_000);
  return {
    async finish() {
      // Not end(): Node aborts a request whose client half-closes (FIN) before the answer.
      // `Connection: close` has the server close the socket once it has answered.
      socket.write(body);
      await ended;
      const final = response.slice("HTTP/1.1 100 Continue\r\n\r\n".length);
      const [head = "", json = ""] = final.split("\r\n\r\n");
      return { status: Number(head.split(" ")[1]), json };
    },
  };
}

describe.skipIf(!topology.runnable)("graceful drain", () => {
  it("SIGTERM under traffic: sockets close with 1001, the request in flight is answered, the replica exits 0 in time, and every send is stored once", async () => {
    const { replicaB, clients } = topology;
    const leaving = await topology.start("api", "api-leaving");
    const { alice, bob, channelId } = await twoInAGroup(replicaB, "Drain");

    // Bob's socket on the leaving replica.
    const closes: number[] = [];
    const bobsSocket = wsClient(leaving, { authorization: `Bearer ${bob.accessToken}` });
    clients.push(bobsSocket);
    bobsSocket.on("closed", (event) => closes.push((event as { code: number }).code));
    const live = record(bobsSocket, MessageAddedDocument, { channelId, afterSeq: 0 });

    // Senders on the leaving replica; whatever fails goes to replica B, same key.
    const sent = new Set<string>();
    let answeredByLeaving = 0;
    const sendOnce = async (clientMessageId: string, body: string) => {
      const input = { channelId, body, clientMessageId };
      try {
        const first = await request(leaving, SendMessageDocument, { input }, alice.accessToken);
        if (first.data?.sendMessage) {
          answeredByLeaving++;
          return;
        }
      } catch {
        // refused or reset: the replica is going away
      }
      await mustRequest(replicaB, SendMessageDocument, { input }, alice.accessToken);
    };
    let stop = false;
    const senders = Array.from({ length: 4 }, async (_, s) => {
      for (let i = 0; !stop; i++) {
        const key = randomUUID();
        sent.add(key);
        await sendOnce(key, `sender ${s} #${i}`);
      }
    });
    try {
      await until(() => answeredByLeaving >= 40, 30_000);
      await live.until((d) => d.length >= 1, 15_000);
      const inFlightKey = randomUUID();
      sent.add(inFlightKey);
      const inFlight = await halfSent(leaving.port, alice.accessToken, channelId, inFlightKey);

      const signalled = Date.now();
      leaving.child.kill("SIGTERM");
      // The listener goes first: a new connection is refused.
      await until(
        () =>
          fetch(`http://127.0.0.1:${leaving.port}/health`).then(
            () => false,
            () => true,
          ),
        10_000,
      );
      const answer = await inFlight.finish();
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.json).data.sendMessage.clientMessageId).toBe(inFlightKey);
      const exit = await exited(leaving.child);
      const took = Date.now() - signalled;
      expect(exit.code).toBe(0);
      expect(took).toBeLessThan(SHUTDOWN_TIMEOUT_SECONDS * 1000);
      expect(closes).toContain(1001);
    } finally {
      stop = true;
      await Promise.allSettled(senders);
    }
    // Every key is stored exactly once (retries are idempotent by clientMessageId).
    const prisma = topology.database.db.prisma;
    await until(
      async () =>
        (await prisma.message.count({ where: { channelId: dbId(channelId) } })) >= sent.size,
      30_000,
    );
    const stored = await prisma.message.findMany({
      where: { channelId: dbId(channelId) },
      select: { clientMessageId: true, seq: true },
    });
    expect(new Set(stored.map((m) => m.clientMessageId))).toEqual(sent);
    expect(stored).toHaveLength(sent.size);
  }, 120_000);

  it("SIGTERM to a worker under load: it exits 0 in time, the other worker takes its shards, and every command is stored exactly once", async () => {
    const { replicaB } = topology;
    const leaving = await topology.start("worker", "worker-leaving");
    const owner = await registerUser(replicaB);
    const channels: string[] = [];
    for (let i = 0; i < 8; i++) {
      const group = await mustRequest(
        replicaB,
        CreateGroupDocument,
        { input: { name: `Worker drain ${i}` } },
        owner.accessToken,
      );
      channels.push(dbId(group.createGroup.channels.edges[0]?.node.id as string));
    }
    // Sends straight onto the shards, as the api enqueues them: every shard busy.
    const bus = await AmqpBus.connect({
      url: (await amqpUrl()) as string,
      prefix: topology.namespace,
      shards: 4,
    });
    const commands: SendMessageCommand[] = Array.from({ length: 4000 }, (_, i) => {
      const clientMessageId = randomUUID();
      return {
        type: "message.send",
        messageId: messageIdFor(dbId(owner.user.id), clientMessageId),
        channelId: channels[i % channels.length] as string,
        senderId: dbId(owner.user.id),
        clientMessageId,
        body: `load ${i}`,
        createdAt: new Date().toISOString(),
      };
    });
    const prisma = topology.database.db.prisma;
    const stored = () => prisma.message.count({ where: { channelId: { in: channels } } });
    const shardsOf = async (worker: { port: number }) => {
      const text = await (await fetch(`http://127.0.0.1:${worker.port}/metrics`)).text();
      return Number(/^chat_worker_shards(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
    };
    // The leaving worker holds its share before the load starts.
    await until(async () => (await shardsOf(leaving)) === 2, 15_000);
    try {
      const publishing = Promise.all(commands.map((command) => bus.sendCommand(command)));
      await until(async () => (await stored()) >= 200, 30_000);
      const signalled = Date.now();
      leaving.child.kill("SIGTERM");
      const exit = await exited(leaving.child);
      expect(exit.code).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(SHUTDOWN_TIMEOUT_SECONDS * 1000);
      await until(async () => (await shardsOf(topology.worker)) === 4, 15_000);
      await publishing;
      await until(async () => (await stored()) >= commands.length, 60_000);
      const rows = await prisma.message.findMany({
        where: { channelId: { in: channels } },
        select: { id: true, channelId: true, seq: true },
      });
      expect(new Set(rows.map((r) => r.id))).toEqual(new Set(commands.map((c) => c.messageId)));
      // Gapless per channel: nothing stored twice, nothing skipped.
      for (const channelId of channels) {
        const seqs = rows
          .filter((r) => r.channelId === channelId)
          .map((r) => r.seq)
          .sort((a, b) => a - b);
        expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      }
    } finally {
      await bus.close();
    }
  }, 120_000);
});
