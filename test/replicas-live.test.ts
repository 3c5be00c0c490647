// Receipts, typing and presence across two api replicas (processes) sharing PostgreSQL,
// RabbitMQ and Memcached, with one worker.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AddContactDocument,
  CreateGroupDocument,
  HeartbeatDocument,
  MarkDeliveredDocument,
  MarkReadDocument,
  MessageAddedDocument,
  MessageReceiptsDocument,
  PresenceChangedDocument,
  ReceiptUpdatedDocument,
  SendMessageDocument,
  SetTypingDocument,
  TypingDocument,
} from "./gql/graphql.js";
import { mustRequest, onlineSocket, wsClient } from "./harness/app.js";
import { dbId } from "./harness/ids.js";
import type { ServiceProcess } from "./harness/processes.js";
import { recordLive, subscriptionsActive } from "./harness/subscriptions.js";
import { useTopology } from "./harness/topology.js";
import { registerUser } from "./harness/users.js";
import { eventually, until } from "./harness/wait.js";

const PRESENCE_TTL = 2;
const topology = await useTopology({
  memcached: true,
  env: { PRESENCE_TTL_SECONDS: String(PRESENCE_TTL) },
});
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

async function statusOf(target: ServiceProcess, session: Session, id: string) {
  return (await mustRequest(target, MessageReceiptsDocument, { id }, session.accessToken)).message!
    .status;
}

describe.skipIf(!runnable)("receipts, typing and presence across replicas", () => {
  it("sender on A, recipient on B: delivered then read reach the sender live; status SENT -> DELIVERED -> READ and never back", async () => {
    const sender = await registerUser(replicaA);
    const recipient = await registerUser(replicaB);
    const group = await mustRequest(
      replicaA,
      CreateGroupDocument,
      { input: { name: "Ticks", memberIds: [recipient.user.id] } },
      sender.accessToken,
    );
    const channelId = group.createGroup.channels.edges[0]!.node.id;
    const receipts = await recordLive(replicaA, socket(replicaA, sender), ReceiptUpdatedDocument, {
      channelId,
    });
    const inbox = await recordLive(replicaB, socket(replicaB, recipient), MessageAddedDocument, {
      channelId,
    });
    const sent = await mustRequest(
      replicaA,
      SendMessageDocument,
      { input: { channelId, body: "✓✓", clientMessageId: randomUUID() } },
      sender.accessToken,
    );
    const [arrived] = await inbox.until((data) => data.length === 1);
    expect(await statusOf(replicaA, sender, sent.sendMessage.id)).toBe("SENT");

    await mustRequest(
      replicaB,
      MarkDeliveredDocument,
      { messageIds: [arrived!.messageAdded.id] },
      recipient.accessToken,
    );
    await receipts.until((data) => data.some((d) => d.receiptUpdated.status === "DELIVERED"));
    expect(
      await eventually(
        () => statusOf(replicaA, sender, sent.sendMessage.id),
        (s) => s === "DELIVERED",
      ),
    ).toBe("DELIVERED");

    await mustRequest(
      replicaB,
      MarkReadDocument,
      { channelId, upToSeq: arrived!.messageAdded.seq! },
      recipient.accessToken,
    );
    await receipts.until((data) => data.some((d) => d.receiptUpdated.status === "READ"));
    expect(
      await eventually(
        () => statusOf(replicaA, sender, sent.sendMessage.id),
        (s) => s === "READ",
      ),
    ).toBe("READ");

    await mustRequest(
      replicaB,
      MarkDeliveredDocument,
      { messageIds: [arrived!.messageAdded.id] },
      recipient.accessToken,
    );
    // A later command of the same channel (same shard) is persisted after the late one.
    await mustRequest(
      replicaA,
      SendMessageDocument,
      { input: { channelId, body: "later", clientMessageId: randomUUID() } },
      sender.accessToken,
    );
    await inbox.until((data) => data.length === 2);
    expect(await statusOf(replicaA, sender, sent.sendMessage.id)).toBe("READ");
    expect(receipts.data.map((d) => [d.receiptUpdated.status, d.receiptUpdated.user.id])).toEqual([
      ["DELIVERED", recipient.user.id],
      ["READ", recipient.user.id],
    ]);
    receipts.stop();
    inbox.stop();
  });

  it("typing on A is seen on B", async () => {
    const typer = await registerUser(replicaA);
    const watcher = await registerUser(replicaB);
    const group = await mustRequest(
      replicaA,
      CreateGroupDocument,
      { input: { name: "Typing", memberIds: [watcher.user.id] } },
      typer.accessToken,
    );
    const channelId = group.createGroup.channels.edges[0]!.node.id;
    const seen = await recordLive(replicaB, socket(replicaB, watcher), TypingDocument, {
      channelId,
    });
    await mustRequest(
      replicaA,
      SetTypingDocument,
      { channelId, isTyping: true },
      typer.accessToken,
    );
    await seen.until((data) => data.length === 1);
    await mustRequest(
      replicaA,
      SetTypingDocument,
      { channelId, isTyping: false },
      typer.accessToken,
    );
    const events = await seen.until((data) => data.length === 2);
    expect(events.map((e) => [e.typing.user.id, e.typing.isTyping])).toEqual([
      [typer.user.id, true],
      [typer.user.id, false],
    ]);
    seen.stop();
  });

  it("presence: online on A -> watchers on B see ONLINE; a second socket on B and closing A keeps ONLINE; closing the last -> OFFLINE with lastSeenAt", async () => {
    const subject = await registerUser(replicaA);
    const watcher = await registerUser(replicaB);
    await mustRequest(
      replicaB,
      AddContactDocument,
      { userId: subject.user.id },
      watcher.accessToken,
    );
    const changes = await recordLive(
      replicaB,
      socket(replicaB, watcher),
      PresenceChangedDocument,
      {},
    );
    // A socket counts once the server has accepted it; its subscription being live says so.
    const open = async (target: ServiceProcess) => {
      const client = socket(target, subject);
      await recordLive(target, client, HeartbeatDocument, { intervalSeconds: 60 });
      return client;
    };
    const onA = await open(replicaA);
    await changes.until((data) => data.length === 1);
    const onB = await open(replicaB);
    const activeOnA = await subscriptionsActive(replicaA);
    await onA.dispose();
    // Until A has ended that socket's subscription (its close is being handled).
    await until(
      async () => (await subscriptionsActive(replicaA)) < activeOnA,
      15_000,
      "replica A to see the socket close",
    );
    const lastClosing = Date.now();
    await onB.dispose();
    const events = await changes.until((data) => data.length >= 2);
    // Watchers fold repeated statuses into one: closing A must not have announced OFFLINE,
    // so the OFFLINE seen is the last close's (a wrong earlier one carries an earlier time).
    expect(events.map((e) => e.presenceChanged.status)).toEqual(["ONLINE", "OFFLINE"]);
    expect(Date.parse(events[1]!.presenceChanged.lastSeenAt!)).toBeGreaterThanOrEqual(lastClosing);
    expect(events[1]!.presenceChanged).toMatchObject({
      userId: subject.user.id,
      status: "OFFLINE",
    });
    expect(events[1]!.presenceChanged.lastSeenAt).not.toBeNull();
    const stored = await topology.database.db.prisma.user.findUniqueOrThrow({
      where: { id: dbId(subject.user.id) },
    });
    expect(stored.lastSeenAt).not.toBeNull();
    changes.stop();
  });

  it("presence: a user on a replica killed with SIGKILL is shown OFFLINE to watchers elsewhere within twice the TTL", async () => {
    const doomed = await topology.start("api", "api-doomed");
    const subject = await registerUser(replicaA);
    const watcher = await registerUser(replicaB);
    await mustRequest(
      replicaB,
      AddContactDocument,
      { userId: subject.user.id },
      watcher.accessToken,
    );
    const changes = await recordLive(
      replicaB,
      socket(replicaB, watcher),
      PresenceChangedDocument,
      {},
    );
    // the subject's only socket is on the doomed replica
    const subjectsSocket = onlineSocket(doomed, subject.accessToken);
    await changes.until((data) => data.some((d) => d.presenceChanged.status === "ONLINE"));
    doomed.child.kill("SIGKILL");
    const killedAt = Date.now();
    const events = await changes.until(
      (data) => data.some((d) => d.presenceChanged.status === "OFFLINE"),
      30_000,
    );
    const seconds = (Date.now() - killedAt) / 1000;
    expect(events.map((e) => e.presenceChanged.status)).toEqual(["ONLINE", "OFFLINE"]);
    // the slot expires after the TTL and another replica notices within a heartbeat (TTL/3)
    expect(seconds).toBeLessThan(2 * PRESENCE_TTL + 2);
    void subjectsSocket.dispose();
    changes.stop();
  }, 60_000);
});
