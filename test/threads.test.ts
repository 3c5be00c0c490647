// Replies and threads: an inline reply quotes its parent; a thread reply joins the thread
// its parent starts or is in, whose root keeps the count and last time; a thread view
// streams only its replies (live across replicas, resumable); followers have unread
// counts; the worker refuses a reply to another channel's message.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ChannelTimelineDocument,
  MarkThreadReadDocument,
  ReplyOfDocument,
  SendReplyDocument,
  ThreadOfDocument,
  ThreadRepliesDocument,
  UnreadThreadsDocument,
} from "./gql/graphql.js";
import { mustRequest, request, useReplicaOf, useTestApp } from "./harness/app.js";
import { dbId, unknownId } from "./harness/ids.js";
import { sendAndStore, sendPastTheApi } from "./harness/messages.js";
import { recordLive } from "./harness/subscriptions.js";
import { groupChannel, registerUsers, type Session as User } from "./harness/users.js";
import { eventually } from "./harness/wait.js";

const server = useTestApp({ SEND_RATE_LIMIT: "10000" });
const replica = useReplicaOf(server);
let alice: User;
let bob: User;
let carol: User;
let dave: User;
let channelId: string;
let otherChannelId: string;

beforeAll(async () => {
  [alice, bob, carol, dave] = (await registerUsers(server, 4)) as [User, User, User, User];
  channelId = await groupChannel(server, alice, [bob, carol, dave], "Threads");
  otherChannelId = await groupChannel(server, alice, [bob], "Elsewhere");
}, 120_000);

const threadOf = async (who: User, messageId: string) =>
  (await mustRequest(server, ThreadOfDocument, { messageId }, who.accessToken)).thread;

describe("replies and threads", () => {
  it("an inline reply quotes its parent, stays in the channel's timeline and starts no thread", async () => {
    const parent = await sendAndStore(server, alice, channelId, "who has the keys?");
    const reply = await sendAndStore(server, bob, channelId, "I do", { replyTo: parent.id });
    const stored = (await mustRequest(server, ReplyOfDocument, { id: reply.id }, carol.accessToken))
      .message!;
    expect(stored).toMatchObject({
      inThread: false,
      replyTo: { id: parent.id, body: "who has the keys?" },
      thread: null,
    });
    const parentNow = (
      await mustRequest(server, ReplyOfDocument, { id: parent.id }, carol.accessToken)
    ).message!;
    expect(parentNow.thread).toBeNull();
  });

  it("thread replies join their root's thread: count, participants, replies oldest first; a channel view may leave them out", async () => {
    const root = await sendAndStore(server, alice, channelId, "release plan");
    const first = await sendAndStore(server, bob, channelId, "tuesday?", {
      replyTo: root.id,
      inThread: true,
    });
    // Replying in the thread to a reply: the same thread, not a thread of the reply.
    const second = await sendAndStore(server, carol, channelId, "works for me", {
      replyTo: first.id,
      inThread: true,
    });
    const thread = await threadOf(dave, root.id);
    expect(thread).toMatchObject({
      replyCount: 2,
      root: { id: root.id },
      participants: [{ id: bob.user.id }, { id: carol.user.id }],
      messages: { edges: [{ node: { id: first.id } }, { node: { id: second.id } }] },
    });
    expect(thread.lastReplyAt).not.toBeNull();
    // Every message of the thread names the same Thread.
    expect((await threadOf(dave, second.id)).id).toBe(thread.id);
    const reply = (await mustRequest(server, ReplyOfDocument, { id: second.id }, dave.accessToken))
      .message!;
    expect(reply).toMatchObject({
      inThread: true,
      replyTo: { id: first.id },
      thread: { id: thread.id, replyCount: 2 },
    });

    const timeline = async (excludeThreadReplies: boolean) =>
      (
        await mustRequest(
          server,
          ChannelTimelineDocument,
          { channelId, excludeThreadReplies },
          dave.accessToken,
        )
      ).channel!.messages.edges.map((edge) => edge.node);
    const withoutReplies = await timeline(true);
    expect(withoutReplies.map((m) => m.id)).toContain(root.id);
    expect(withoutReplies.map((m) => m.id)).not.toContain(first.id);
    expect(withoutReplies.find((m) => m.id === root.id)!.thread).toEqual({
      id: thread.id,
      replyCount: 2,
    });
    expect((await timeline(false)).map((m) => m.id)).toEqual(
      expect.arrayContaining([root.id, first.id, second.id]),
    );
  });

  it("a thread view streams only its replies, live on the other replica with the thread's new count, and resumes with afterSeq", async () => {
    const root = await sendAndStore(server, alice, channelId, "incident");
    const threadId = (await threadOf(alice, root.id)).id;
    const socket = replica.socket(dave.accessToken);
    const live = await recordLive(replica, socket, ThreadRepliesDocument, { threadId });
    await sendAndStore(server, bob, channelId, "unrelated chatter");
    const reply = await sendAndStore(server, carol, channelId, "on it", {
      replyTo: root.id,
      inThread: true,
    });
    const [event] = await live.until((data) => data.length > 0);
    expect(live.data).toHaveLength(1);
    expect(event!.messageAdded).toMatchObject({
      id: reply.id,
      inThread: true,
      replyTo: { id: root.id },
      thread: { id: threadId, replyCount: 1, participants: [{ id: carol.user.id }] },
    });
    live.stop();

    // Resuming after the root replays the thread's replies only, then goes on live.
    const resumed = await recordLive(replica, socket, ThreadRepliesDocument, {
      threadId,
      afterSeq: root.seq!,
    });
    await resumed.until((data) => data.length === 1);
    expect(resumed.data[0]!.messageAdded.id).toBe(reply.id);
    const next = await sendAndStore(server, bob, channelId, "fixed", {
      replyTo: root.id,
      inThread: true,
    });
    await resumed.until((data) => data.some((d) => d.messageAdded.id === next.id));
    expect(resumed.data.map((d) => d.messageAdded.thread?.replyCount)).toEqual([1, 2]);
    resumed.stop();
  });

  it("followers count others' replies as unread until they mark the thread read; others do not follow it", async () => {
    const root = await sendAndStore(server, alice, channelId, "lunch order");
    await sendAndStore(server, bob, channelId, "pizza", { replyTo: root.id, inThread: true });
    const last = await sendAndStore(server, carol, channelId, "sushi", {
      replyTo: root.id,
      inThread: true,
    });
    // Alice started it: both replies are unread for her. Bob replied: carol's is unread for him.
    expect(await threadOf(alice, root.id)).toMatchObject({
      viewerFollows: true,
      viewerUnreadCount: 2,
    });
    expect(await threadOf(bob, root.id)).toMatchObject({
      viewerFollows: true,
      viewerUnreadCount: 1,
    });
    expect(await threadOf(dave, root.id)).toMatchObject({
      viewerFollows: false,
      viewerUnreadCount: 0,
    });
    const unreadThreads = async (who: User) =>
      (await mustRequest(server, UnreadThreadsDocument, { channelId }, who.accessToken)).channel!
        .unreadThreadCount;
    expect(await unreadThreads(dave)).toBe(0);
    const aliceBefore = await unreadThreads(alice);
    expect(aliceBefore).toBeGreaterThanOrEqual(1);
    const threadId = (await threadOf(alice, root.id)).id;
    const marked = await mustRequest(
      server,
      MarkThreadReadDocument,
      { threadId, upToSeq: last.seq! - 1 },
      alice.accessToken,
    );
    expect(marked.markThreadRead).toMatchObject({ viewerFollows: true, viewerUnreadCount: 1 });
    await eventually(
      () => threadOf(alice, root.id),
      (thread) => thread.viewerUnreadCount === 1,
    );
    // Reading all of it: one thread fewer with unread replies in the channel.
    await mustRequest(server, MarkThreadReadDocument, { threadId }, alice.accessToken);
    await eventually(
      () => unreadThreads(alice),
      (count) => count === aliceBefore - 1,
    );
    // Marking read (all of it) makes dave a follower.
    const daves = await mustRequest(server, MarkThreadReadDocument, { threadId }, dave.accessToken);
    expect(daves.markThreadRead).toMatchObject({ viewerFollows: true, viewerUnreadCount: 0 });
    await sendAndStore(server, bob, channelId, "or both", { replyTo: root.id, inThread: true });
    await eventually(
      () => threadOf(dave, root.id),
      (thread) => thread.viewerFollows && thread.viewerUnreadCount === 1,
    );
  });

  it("refuses bad replies and thread arguments with typed errors", async () => {
    const root = await sendAndStore(server, alice, channelId, "root");
    const elsewhere = await sendAndStore(server, alice, otherChannelId, "other channel");
    const sendError = async (input: Record<string, unknown>) =>
      (
        await request(
          server,
          SendReplyDocument,
          { input: { channelId, body: "x", clientMessageId: randomUUID(), ...input } },
          bob.accessToken,
        )
      ).errors?.[0]?.extensions;
    expect(await sendError({ inThread: true })).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.inThread",
    });
    expect(await sendError({ replyTo: elsewhere.id })).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.replyTo",
    });
    expect(await sendError({ replyTo: unknownId("Message") })).toMatchObject({
      code: "NOT_FOUND",
      field: "input.replyTo",
    });
    expect(await sendError({ replyTo: channelId })).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.replyTo",
    });
    const threadError = (
      await request(server, ThreadOfDocument, { messageId: unknownId("Message") }, bob.accessToken)
    ).errors?.[0]?.extensions;
    expect(threadError).toMatchObject({ code: "NOT_FOUND", field: "messageId" });
    const threadId = (await threadOf(alice, root.id)).id;
    const markError = (
      await request(server, MarkThreadReadDocument, { threadId, upToSeq: 1 }, bob.accessToken)
    ).errors?.[0]?.extensions;
    expect(markError).toMatchObject({ code: "BAD_USER_INPUT", field: "upToSeq" });
    const [outsider] = await registerUsers(server, 1);
    const outsiderError = (
      await request(server, MarkThreadReadDocument, { threadId }, outsider!.accessToken)
    ).errors?.[0]?.extensions;
    expect(outsiderError).toMatchObject({ code: "NOT_FOUND", field: "threadId" });
  });

  it("the worker refuses a reply to another channel's message that reached it anyway", async () => {
    const elsewhere = await sendAndStore(server, alice, otherChannelId, "not here");
    const status = await sendPastTheApi(server, bob, channelId, "crossed wires", {
      replyToId: dbId(elsewhere.id),
      inThread: true,
    });
    expect(status).toMatchObject({
      state: "REFUSED",
      reason: "replyTo is not a message of this channel",
    });
  });
});
