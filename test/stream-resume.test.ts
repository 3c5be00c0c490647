// Streams that resume: the all-channels messageAdded has no gap after a join (announced
// or not) and resumes from its cursor; afterSeq past the end and malformed cursors are
// BAD_USER_INPUT; a replay is pulled as the consumer reads, so its memory stays bounded
// however much was missed, with live messages arriving meanwhile.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "graphql-ws";
import { beforeAll, describe, expect, it } from "vitest";
import type { Context } from "../src/context.js";
import { createLoaders } from "../src/resolvers/loaders.js";
import { messageAdded } from "../src/resolvers/message-streams.js";
import {
  AddGroupMembersDocument,
  CreateGroupDocument,
  MarkReadDocument,
  MessageAddedDocument,
  MessageAddedEverywhereDocument,
  type MessageAddedEverywhereSubscription,
  SendMessageDocument,
} from "./gql/graphql.js";
import { mustRequest, useTestApp, wsClient } from "./harness/app.js";
import { dbId } from "./harness/ids.js";
import { record } from "./harness/subscriptions.js";
import { registerUser } from "./harness/users.js";
import { until } from "./harness/wait.js";

const server = useTestApp({ SEND_RATE_LIMIT: "10000" });
type Session = Awaited<ReturnType<typeof registerUser>>;
let alice: Session;

beforeAll(async () => {
  alice = await registerUser(server);
});

const prisma = () => server.database.db.prisma;

function socket(session: Session): Client {
  return wsClient(server, { authorization: `Bearer ${session.accessToken}` });
}

async function group(members: Session[]) {
  const created = await mustRequest(
    server,
    CreateGroupDocument,
    { input: { name: "G", memberIds: members.map((m) => m.user.id) } },
    alice.accessToken,
  );
  return {
    groupId: created.createGroup.id,
    channelId: created.createGroup.channels.edges[0]!.node.id,
  };
}

function send(channelId: string, body: string) {
  return mustRequest(
    server,
    SendMessageDocument,
    { input: { channelId, body, clientMessageId: randomUUID() } },
    alice.accessToken,
  );
}

async function stored(channelId: string, count: number) {
  await until(
    async () => (await prisma().message.count({ where: { channelId: dbId(channelId) } })) >= count,
  );
}

type Added = MessageAddedEverywhereSubscription["messageAdded"];
const bodiesIn = (data: MessageAddedEverywhereSubscription[], channelId: string) =>
  data
    .map((d) => d.messageAdded)
    .filter((m: Added) => m.channel.id === channelId)
    .map((m) => m.body);

/**
 * Sends until one arrives: a stream starts from what is stored when it subscribes, so the
 * first message that arrives shows it is live (earlier ones are history).
 */
async function live(
  stream: {
    data: MessageAddedEverywhereSubscription[];
    until: (
      c: (d: MessageAddedEverywhereSubscription[]) => boolean,
      t?: number,
    ) => Promise<unknown>;
  },
  channelId: string,
  body = "probe",
) {
  await until(async () => {
    await send(channelId, body);
    return stream
      .until((d) => bodiesIn(d, channelId).includes(body), 500)
      .then(
        () => true,
        () => false,
      );
  });
}

describe("input", () => {
  it("afterSeq past the channel's last seq is BAD_USER_INPUT (afterSeq)", async () => {
    const bob = await registerUser(server);
    const { channelId } = await group([bob]);
    await send(channelId, "one");
    await stored(channelId, 1);
    const resumed = record(socket(bob), MessageAddedDocument, { channelId, afterSeq: 5 });
    await until(() => resumed.error !== undefined);
    expect(JSON.stringify(resumed.error)).toMatch(/"code":"BAD_USER_INPUT","field":"afterSeq"/);
  });

  it("a malformed cursor, or a cursor with channelId, is BAD_USER_INPUT (after)", async () => {
    const bob = await registerUser(server);
    const { channelId } = await group([bob]);
    const client = socket(bob);
    for (const variables of [{ after: "not a cursor!" }, { after: "AQID" }, { after: "" }]) {
      const stream = record(client, MessageAddedEverywhereDocument, variables);
      await until(() => stream.error !== undefined);
      expect(JSON.stringify(stream.error)).toMatch(/"code":"BAD_USER_INPUT","field":"after"/);
    }
    const both = await new Promise<unknown>((resolve) =>
      client.subscribe(
        {
          query:
            "subscription ($c: ID, $a: String) { messageAdded(channelId: $c, after: $a) { id } }",
          variables: { c: channelId, a: "AQ" },
        },
        { next: resolve, error: resolve, complete: () => resolve(undefined) },
      ),
    );
    expect(JSON.stringify(both)).toMatch(/"code":"BAD_USER_INPUT","field":"after"/);
    await client.dispose();
  });
});

describe("all-channels messageAdded", () => {
  it("no gap after a join that no event announced: what was sent meanwhile is replayed, then live", async () => {
    const bob = await registerUser(server);
    const { channelId: first } = await group([bob]);
    const client = socket(bob);
    const everything = record(client, MessageAddedEverywhereDocument, {});
    await live(everything, first);

    const { channelId: joined } = await group([]);
    await send(joined, "before bob joined");
    await stored(joined, 1);
    // Added straight in PostgreSQL: no channel.joined event is published.
    const { lastSeq } = await prisma().channel.findUniqueOrThrow({ where: { id: dbId(joined) } });
    await prisma().channelMember.create({
      data: {
        channelId: dbId(joined),
        userId: dbId(bob.user.id),
        lastReadSeq: lastSeq,
        joinedSeq: lastSeq,
      },
    });
    for (let i = 1; i <= 20; i++) await send(joined, `m${i}`);
    const expected = Array.from({ length: 20 }, (_, i) => `m${i + 1}`);
    await everything.until((d) => bodiesIn(d, joined).length >= 20);
    await send(joined, "live");
    await everything.until((d) => bodiesIn(d, joined).includes("live"));
    expect(bodiesIn(everything.data, joined)).toEqual([...expected, "live"]);
    await client.dispose();
  });

  it("no gap after an announced join, with messages sent right after it", async () => {
    const bob = await registerUser(server);
    const { channelId: first } = await group([bob]);
    const client = socket(bob);
    const everything = record(client, MessageAddedEverywhereDocument, {});
    await live(everything, first);
    const { groupId, channelId: joined } = await group([]);
    await mustRequest(
      server,
      AddGroupMembersDocument,
      { groupId, userIds: [bob.user.id] },
      alice.accessToken,
    );
    for (let i = 1; i <= 20; i++) await send(joined, `m${i}`);
    await everything.until((d) => bodiesIn(d, joined).length >= 20);
    expect(bodiesIn(everything.data, joined)).toEqual(
      Array.from({ length: 20 }, (_, i) => `m${i + 1}`),
    );
    await client.dispose();
  });

  it("resumes from its cursor: exactly what was missed in every channel (and in one joined meanwhile, from the join), then live", async () => {
    const bob = await registerUser(server);
    const a = await group([bob]);
    const b = await group([bob]);
    const first = record(socket(bob), MessageAddedEverywhereDocument, {});
    await live(first, a.channelId, "a1");
    await send(b.channelId, "b1");
    const seen = await first.until((d) => bodiesIn(d, b.channelId).includes("b1"));
    const cursor = seen.at(-1)!.messageAdded.cursor;
    expect(cursor).toEqual(expect.any(String));
    first.stop();

    for (const body of ["a2", "a3", "a4"]) await send(a.channelId, body);
    for (const body of ["b2", "b3"]) await send(b.channelId, body);
    const c = await group([]);
    await send(c.channelId, "c0 before the join");
    await stored(c.channelId, 1);
    await mustRequest(
      server,
      AddGroupMembersDocument,
      { groupId: c.groupId, userIds: [bob.user.id] },
      alice.accessToken,
    );
    for (const body of ["c1", "c2"]) await send(c.channelId, body);
    await stored(a.channelId, 4);
    await stored(b.channelId, 3);
    await stored(c.channelId, 3);
    // Read on another device meanwhile: the read position moves, the join does not.
    await mustRequest(
      server,
      MarkReadDocument,
      { channelId: c.channelId, upToSeq: 3 },
      bob.accessToken,
    );
    await until(
      async () =>
        (
          await prisma().channelMember.findUniqueOrThrow({
            where: {
              channelId_userId: { channelId: dbId(c.channelId), userId: dbId(bob.user.id) },
            },
          })
        ).lastReadSeq === 3,
    );

    const resumed = record(socket(bob), MessageAddedEverywhereDocument, { after: cursor });
    await resumed.until((d) => d.length >= 7);
    await send(a.channelId, "a5");
    await resumed.until((d) => bodiesIn(d, a.channelId).includes("a5"));
    expect(bodiesIn(resumed.data, a.channelId)).toEqual(["a2", "a3", "a4", "a5"]);
    expect(bodiesIn(resumed.data, b.channelId)).toEqual(["b2", "b3"]);
    expect(bodiesIn(resumed.data, c.channelId)).toEqual(["c1", "c2"]);
    resumed.stop();
  });
});

describe("replay memory", () => {
  it("a resume over more rows than a page and the hold limit, read slowly while live messages arrive, delivers everything in order with never more than a page (plus the live ones) queued", async () => {
    const bob = await registerUser(server);
    const { channelId } = await group([bob]);
    const stored = 600;
    await prisma().message.createMany({
      data: Array.from({ length: stored }, (_, i) => ({
        id: randomUUID(),
        channelId: dbId(channelId),
        senderId: dbId(alice.user.id),
        clientMessageId: randomUUID(),
        seq: i + 1,
        body: `old ${i + 1}`,
      })),
    });
    await prisma().channel.update({ where: { id: dbId(channelId) }, data: { lastSeq: stored } });
    const ctx: Context = {
      services: server.app.services,
      prisma: prisma(),
      viewer: { id: dbId(bob.user.id) },
      authProblem: null,
      clientAddress: null,
      tokenExpiresAt: null,
      memo: new Map(),
      loaders: createLoaders(prisma()),
    };
    const page = 50;
    const live = 30;
    const queue = await messageAdded(ctx, { channelId, afterSeq: 0 }, { page, hold: 5 });
    const seqs: number[] = [];
    let sending: Promise<unknown> | undefined;
    while (seqs.length < stored + live) {
      const next = await Promise.race([
        queue.next(),
        sleep(15_000).then(() => {
          throw new Error(`stalled after ${seqs.length}`);
        }),
      ]);
      if (next.done) throw new Error("stream ended");
      seqs.push(next.value.seq as number);
      // Live messages while the replay is still far from done (more than the hold limit).
      if (seqs.length === 100)
        sending = Promise.all(Array.from({ length: live }, (_, i) => send(channelId, `new ${i}`)));
      // A slow reader: the event loop (worker, bus) runs between reads.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await sending;
    await queue.return();
    expect(seqs).toEqual(Array.from({ length: stored + live }, (_, i) => i + 1));
    expect(queue.highWater).toBeLessThanOrEqual(page + live);
  });
});
