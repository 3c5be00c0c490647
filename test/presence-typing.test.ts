// Typing and presence in one process (in-process bus and cache). The cross-replica
// behaviour, with Memcached and RabbitMQ, is in replicas-live.test.ts.
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "graphql-ws";
import { beforeAll, describe, expect, it } from "vitest";
import { TYPING_TTL_SECONDS } from "../src/typing/typing-state.js";
import {
  AddContactDocument,
  CreateGroupDocument,
  HeartbeatDocument,
  PresenceChangedDocument,
  PresenceDocument,
  SetTypingDocument,
  TypingDocument,
} from "./gql/graphql.js";
import { mustRequest, onlineSocket, request, useTestApp, wsClient } from "./harness/app.js";
import { dbId } from "./harness/ids.js";
import { type PresenceWork, trackPresenceWork } from "./harness/presence-work.js";
import { recordLive } from "./harness/subscriptions.js";
import { registerUser } from "./harness/users.js";
import { until } from "./harness/wait.js";

const server = useTestApp({ PRESENCE_TTL_SECONDS: "2" });
type Session = Awaited<ReturnType<typeof registerUser>>;
let users: Session[];
let presenceWork: PresenceWork;

beforeAll(async () => {
  presenceWork = trackPresenceWork(server.app);
  users = await Promise.all(Array.from({ length: 4 }, () => registerUser(server)));
});

function socket(session: Session): Client {
  return wsClient(server, { authorization: `Bearer ${session.accessToken}` });
}

/**
 * Opens a socket and waits until the server has accepted it (presence counts from then)
 * and its subscription is live (so the next recordLive counts its own, not this one).
 */
async function connect(session: Session) {
  const client = socket(session);
  await recordLive(server, client, HeartbeatDocument, { intervalSeconds: 60 });
  return client;
}

async function channelOf(owner: Session, members: Session[]) {
  const group = await mustRequest(
    server,
    CreateGroupDocument,
    { input: { name: "T", memberIds: members.map((m) => m.user.id) } },
    owner.accessToken,
  );
  return group.createGroup.channels.edges[0]!.node.id;
}

describe("typing", () => {
  it("reaches the other members, not the typer; stops by itself after the timeout", async () => {
    const [typer, watcher, , witness] = users as [Session, Session, Session, Session];
    const channelId = await channelOf(typer, [watcher, witness]);
    const seen = await recordLive(server, socket(watcher), TypingDocument, { channelId });
    const own = await recordLive(server, socket(typer), TypingDocument, { channelId });
    const asked = Date.now();
    const first = await mustRequest(
      server,
      SetTypingDocument,
      { channelId, isTyping: true },
      typer.accessToken,
    );
    // The answer says when to refresh by: the state ends TYPING_TTL_SECONDS after it.
    expect(first.setTyping).toMatchObject({ channelId, isTyping: true });
    expect(Date.parse(first.setTyping.expiresAt!)).toBeGreaterThanOrEqual(
      asked + TYPING_TTL_SECONDS * 1000,
    );
    await mustRequest(server, SetTypingDocument, { channelId, isTyping: true }, typer.accessToken); // a refresh
    const started = await seen.until((data) => data.length === 1);
    expect(started[0]!.typing).toMatchObject({
      isTyping: true,
      user: { id: typer.user.id },
      channel: { id: channelId },
    });
    const before = Date.now();
    const stopped = await seen.until((data) => data.length === 2, 10_000);
    expect(stopped[1]!.typing.isTyping).toBe(false);
    expect(Date.now() - before).toBeGreaterThan(4000);
    // The typer's own events would reach their stream before a later one in the channel:
    // a third member typing now.
    await mustRequest(
      server,
      SetTypingDocument,
      { channelId, isTyping: true },
      witness.accessToken,
    );
    await own.until((data) => data.length >= 1);
    expect(own.data.map((d) => [d.typing.user.id, d.typing.isTyping])).toEqual([
      [witness.user.id, true],
    ]);
    seen.stop();
    own.stop();
  });

  it("stops at once when the typer's last socket closes", async () => {
    const [typer, watcher] = users as [Session, Session];
    const channelId = await channelOf(typer, [watcher]);
    const typersSocket = await connect(typer);
    const seen = await recordLive(server, socket(watcher), TypingDocument, { channelId });
    await mustRequest(server, SetTypingDocument, { channelId, isTyping: true }, typer.accessToken);
    await seen.until((data) => data.length === 1);
    const closedAt = Date.now();
    await typersSocket.dispose();
    const events = await seen.until((data) => data.length === 2, 3000);
    expect(events[1]!.typing.isTyping).toBe(false);
    expect(Date.now() - closedAt).toBeLessThan(3000);
    seen.stop();
  });

  it("in a foreign channel is NOT_FOUND; flooding is RATE_LIMITED", async () => {
    const [owner, member, outsider] = users as [Session, Session, Session];
    const channelId = await channelOf(owner, [member]);
    const foreign = await request(
      server,
      SetTypingDocument,
      { channelId, isTyping: true },
      outsider.accessToken,
    );
    expect(foreign.errors?.[0]?.extensions).toMatchObject({
      code: "NOT_FOUND",
      field: "channelId",
    });
    const results = [];
    for (let i = 0; i < 25; i++)
      results.push(
        await request(server, SetTypingDocument, { channelId, isTyping: true }, member.accessToken),
      );
    const limited = results.filter((r) => r.errors?.[0]?.extensions?.code === "RATE_LIMITED");
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.errors![0]!.extensions).toMatchObject({
      retryAfter: expect.toSatisfy((s: number) => s > 0 && s <= 20),
    });
    expect(results.slice(0, 20).every((r) => r.data?.setTyping.isTyping === true)).toBe(true);
  });
});

describe("presence", () => {
  it("online with a socket, still online when one of two closes, offline with lastSeenAt when the last closes", async () => {
    const [watcher, subject] = users as [Session, Session];
    await mustRequest(server, AddContactDocument, { userId: subject.user.id }, watcher.accessToken);
    const changes = await recordLive(server, socket(watcher), PresenceChangedDocument, {});
    const first = await connect(subject);
    await changes.until((data) => data.length === 1);
    expect(changes.data[0]!.presenceChanged).toMatchObject({
      userId: subject.user.id,
      status: "ONLINE",
    });
    const second = await connect(subject);
    const prisma = server.database.db.prisma;
    const lastSeen = async () =>
      (await prisma.user.findUniqueOrThrow({ where: { id: dbId(subject.user.id) } })).lastSeenAt;
    const lastSeenBefore = await lastSeen();
    const closesBefore = presenceWork.closesHandled(dbId(subject.user.id));
    await first.dispose();
    // Until the server has handled that close (an OFFLINE would have been announced and
    // last seen stored by then).
    await until(
      () => presenceWork.closesHandled(dbId(subject.user.id)) === closesBefore + 1,
      15_000,
      "the first close handled",
    );
    const stillOnline = await mustRequest(
      server,
      PresenceDocument,
      { userIds: [subject.user.id] },
      watcher.accessToken,
    );
    expect(stillOnline.presence).toMatchObject([{ userId: subject.user.id, status: "ONLINE" }]);
    expect(await lastSeen()).toEqual(lastSeenBefore); // no OFFLINE was announced
    const lastClosing = Date.now();
    await second.dispose();
    const events = await changes.until((data) => data.length >= 2);
    // Watchers fold repeated statuses into one: the OFFLINE they see must be the last
    // close's (an earlier, wrong one would carry an earlier lastSeenAt).
    expect(events.map((e) => e.presenceChanged.status)).toEqual(["ONLINE", "OFFLINE"]);
    expect(events[1]!.presenceChanged).toMatchObject({
      userId: subject.user.id,
      status: "OFFLINE",
    });
    expect(events[1]!.presenceChanged.lastSeenAt).not.toBeNull();
    expect(Date.parse(events[1]!.presenceChanged.lastSeenAt!)).toBeGreaterThanOrEqual(lastClosing);
    const offline = await mustRequest(
      server,
      PresenceDocument,
      { userIds: [subject.user.id] },
      watcher.accessToken,
    );
    expect(offline.presence[0]).toMatchObject({ status: "OFFLINE" });
    expect(offline.presence[0]!.lastSeenAt).not.toBeNull();
    changes.stop();
  });

  it("users going offline together have their last seen stored in fewer statements than users, each at their own close", async () => {
    const leaving = await Promise.all(Array.from({ length: 20 }, () => registerUser(server)));
    const clients = await Promise.all(leaving.map((session) => connect(session)));
    const statements = server.database.statements;
    const before = statements.length;
    const closing = Date.now();
    await Promise.all(clients.map((client) => client.dispose()));
    await until(
      () => leaving.every((session) => presenceWork.idle(dbId(session.user.id))),
      15_000,
      "every close handled",
    );
    const writes = statements
      .slice(before)
      .filter((sql) => /UPDATE\s+"?(public"?\.)?"?users/.test(sql));
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.length).toBeLessThan(leaving.length);
    const rows = await server.database.db.prisma.user.findMany({
      where: { id: { in: leaving.map((session) => dbId(session.user.id)) } },
      select: { lastSeenAt: true },
    });
    expect(rows).toHaveLength(leaving.length);
    for (const row of rows) expect(row.lastSeenAt?.getTime()).toBeGreaterThanOrEqual(closing);
  });

  it("sockets opened and closed in quick succession end OFFLINE (connects and closes are applied in order)", async () => {
    const [watcher, subject] = users.slice(1, 3) as [Session, Session];
    await mustRequest(server, AddContactDocument, { userId: subject.user.id }, watcher.accessToken);
    const changes = await recordLive(server, socket(watcher), PresenceChangedDocument, {
      userIds: [subject.user.id],
    });
    for (let i = 0; i < 10; i++) {
      const client = onlineSocket(server, subject.accessToken);
      await sleep(i * 3);
      await client.dispose();
    }
    // Until every socket the server saw open has closed and all of it is handled.
    await until(() => presenceWork.idle(dbId(subject.user.id)), 15_000, "presence work to finish");
    const now = await mustRequest(
      server,
      PresenceDocument,
      { userIds: [subject.user.id] },
      watcher.accessToken,
    );
    expect(now.presence[0]!.status).toBe("OFFLINE");
    const statuses = changes.data.map((d) => d.presenceChanged.status);
    if (statuses.length > 0) expect(statuses.at(-1)).toBe("OFFLINE");
    changes.stop();
  });

  it("answers only for users the viewer may see", async () => {
    const [viewer, stranger] = users.slice(2) as [Session, Session];
    const result = await mustRequest(
      server,
      PresenceDocument,
      { userIds: [viewer.user.id, stranger.user.id] },
      viewer.accessToken,
    );
    expect(result.presence.map((p) => p.userId)).toEqual([viewer.user.id]);
  });
});
