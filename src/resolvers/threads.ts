// Threads as the api sees them. A thread is its root message's: the replies that joined
// it (`inThread`), their count and last time (kept on the root by the worker:
// worker/persist-threads.ts), its first repliers, and per viewer how far they have read
// it. People follow a thread once they start it, reply in it or mark it read; the unread
// count is for followers (a thread one never touched is not "unread").
import type { Context } from "../context.js";
import type { PrismaClient } from "../db/database.js";
import { badUserInput, notFound } from "../errors.js";
import type { ThreadPayload } from "../pubsub/events.js";
import { fromPublicUserPayload, type PublicUserRow } from "../pubsub/public-user.js";
import { requireChannelAccess } from "./access.js";
import { enqueue } from "./enqueue.js";
import { globalId } from "./global-ids.js";
import { type MessageView, visibleMessage } from "./messages.js";
import { parseId } from "./validation.js";
import { requireViewerId } from "./viewer.js";

export interface ThreadView {
  rootId: string;
  channelId: string;
  replyCount: number;
  lastReplyAt: Date | null;
  /** When they came with it (a new reply's event); loaded otherwise. */
  participants?: PublicUserRow[];
  /** What the viewer just asked (markThreadRead's answer): the stored position may lag. */
  viewerReadUpToSeq?: number;
}

type RootRow = Pick<MessageView, "id" | "channelId" | "threadReplyCount" | "threadLastReplyAt">;

export const threadOfRoot = (root: RootRow): ThreadView => ({
  rootId: root.id,
  channelId: root.channelId,
  replyCount: root.threadReplyCount,
  lastReplyAt: root.threadLastReplyAt,
});

export function threadFromPayload(thread: ThreadPayload, channelId: string): ThreadView {
  return {
    rootId: thread.rootId,
    channelId,
    replyCount: thread.replyCount,
    lastReplyAt: thread.lastReplyAt ? new Date(thread.lastReplyAt) : null,
    participants: thread.participants.map(fromPublicUserPayload),
  };
}

async function rootOf(ctx: Context, message: RootRow & Pick<MessageView, "threadRootId">) {
  if (!message.threadRootId) return message;
  const root = await ctx.loaders.message.load(message.threadRootId);
  if (!root) throw new Error(`thread root ${message.threadRootId} is missing`);
  return root;
}

/** The thread a message is in, or starts (once it has replies); null for neither. */
export async function threadOfMessage(
  ctx: Context,
  message: MessageView,
): Promise<ThreadView | null> {
  if (message.thread) return message.thread;
  if (!message.threadRootId && message.threadReplyCount === 0) return null;
  return threadOfRoot(await rootOf(ctx, message));
}

/** thread(messageId:): the thread a visible message is in or starts (empty until a reply). */
export async function threadOf(ctx: Context, rawMessageId: unknown): Promise<ThreadView> {
  return threadOfRoot(await rootOf(ctx, await visibleMessage(ctx, rawMessageId, "messageId")));
}

/** A Thread's global id to its view, for node(id:) (null when the viewer may not see it). */
export async function threadById(ctx: Context, rootId: string, field: string) {
  const root = await visibleMessage(ctx, globalId("Message", rootId), field).catch(() => null);
  return root && !root.threadRootId ? threadOfRoot(root) : null;
}

export async function participants(ctx: Context, thread: ThreadView): Promise<PublicUserRow[]> {
  if (thread.participants) return thread.participants;
  return (await ctx.loaders.threadParticipants.load(thread.rootId)).map(fromPublicUserPayload);
}

/** Per root id: the viewer's read position and unread replies (by others), or null: not following. */
export async function viewerThreadStates(
  prisma: PrismaClient,
  viewerId: string,
  rootIds: readonly string[],
): Promise<Array<{ lastReadSeq: number; unread: number } | null>> {
  const rows = await prisma.$queryRawUnsafe<
    Array<{ root_id: string; last_read_seq: number; unread: number }>
  >(
    `SELECT r.root_id::text AS root_id, r.last_read_seq,
            (SELECT count(*) FROM messages m
              WHERE m.thread_root_id = r.root_id AND m.seq > r.last_read_seq
                AND m.sender_id <> $1::uuid AND m.deleted_at IS NULL)::int AS unread
       FROM thread_readers r WHERE r.user_id = $1::uuid AND r.root_id = ANY($2::uuid[])`,
    viewerId,
    [...rootIds],
  );
  const byRoot = new Map(
    rows.map((row) => [
      row.root_id,
      { lastReadSeq: Number(row.last_read_seq), unread: Number(row.unread) },
    ]),
  );
  return rootIds.map((id) => byRoot.get(id) ?? null);
}

/** Per channel id: the threads the viewer follows there that have unread replies by others. */
export async function unreadThreadCounts(
  prisma: PrismaClient,
  viewerId: string,
  channelIds: readonly string[],
): Promise<number[]> {
  const rows = await prisma.$queryRawUnsafe<Array<{ channel_id: string; count: number }>>(
    `SELECT root.channel_id::text AS channel_id, count(*)::int AS count
       FROM thread_readers r JOIN messages root ON root.id = r.root_id
      WHERE r.user_id = $1::uuid AND root.channel_id = ANY($2::uuid[])
        AND EXISTS (SELECT 1 FROM messages m
                     WHERE m.thread_root_id = r.root_id AND m.seq > r.last_read_seq
                       AND m.sender_id <> $1::uuid AND m.deleted_at IS NULL)
      GROUP BY root.channel_id`,
    viewerId,
    [...channelIds],
  );
  const byChannel = new Map(rows.map((row) => [row.channel_id, Number(row.count)]));
  return channelIds.map((id) => byChannel.get(id) ?? 0);
}

export async function viewerFollows(ctx: Context, thread: ThreadView): Promise<boolean> {
  if (thread.viewerReadUpToSeq !== undefined) return true;
  return (await ctx.loaders.viewerThreads.load(thread.rootId)) !== null;
}

export async function viewerUnreadCount(ctx: Context, thread: ThreadView): Promise<number> {
  const state = await ctx.loaders.viewerThreads.load(thread.rootId);
  const asked = thread.viewerReadUpToSeq;
  if (asked === undefined || (state && state.lastReadSeq >= asked)) return state?.unread ?? 0;
  // Just marked read further than stored: count from there (positions never move back).
  const [row] = await ctx.prisma.$queryRawUnsafe<Array<{ unread: number }>>(
    `SELECT count(*)::int AS unread FROM messages
      WHERE thread_root_id = $1::uuid AND seq > $2 AND sender_id <> $3::uuid AND deleted_at IS NULL`,
    thread.rootId,
    asked,
    requireViewerId(ctx),
  );
  return Number(row?.unread ?? 0);
}

/**
 * The viewer has read the thread up to `upToSeq` (omitted: all of it so far). A command,
 * like markRead; the answer shows the new position at once. Marking a thread read
 * follows it.
 */
export async function markThreadRead(
  ctx: Context,
  rawThreadId: unknown,
  upToSeq: number | null | undefined,
): Promise<ThreadView> {
  const viewerId = requireViewerId(ctx);
  const rootId = parseId("threadId", rawThreadId, "Thread");
  const root = await visibleMessage(ctx, globalId("Message", rootId), "threadId");
  // A Thread id names a root: a reply's id is no thread (as node(id:) says).
  if (root.threadRootId) throw notFound("Thread", "threadId");
  await requireChannelAccess(ctx, root.channelId, "threadId", "member");
  const [last] = await ctx.prisma.$queryRawUnsafe<Array<{ seq: number | null }>>(
    "SELECT max(seq) AS seq FROM messages WHERE thread_root_id = $1::uuid",
    rootId,
  );
  const lastSeq = Math.max(root.seq, Number(last?.seq ?? 0));
  if (upToSeq !== null && upToSeq !== undefined && (upToSeq < root.seq || upToSeq > lastSeq))
    throw badUserInput(
      "upToSeq",
      `upToSeq: must be between the root's seq (${root.seq}) and the thread's last reply (${lastSeq})`,
    );
  const position = upToSeq ?? lastSeq;
  await enqueue(ctx, {
    type: "thread.read",
    rootId,
    channelId: root.channelId,
    userId: viewerId,
    upToSeq: position,
    at: new Date().toISOString(),
  });
  return { ...threadOfRoot(root), viewerReadUpToSeq: position };
}
