// Replies and threads. A reply names the message it answers (same channel, checked with
// the send: persist-messages.ts); a thread reply also joins that message's thread. For
// each batch's thread replies this keeps their roots' counters (how many replies, the
// last one's time) and the thread's readers (the root's sender and every replier follow
// it, having read up to their own reply), and gives the new messages' events what a
// subscriber shows without a query: the message replied to, and the thread as it now is.
import type { SqlTx } from "../db/sql.js";
import type { ReadThreadCommand } from "../pubsub/commands.js";
import type { MessagePayload } from "../pubsub/events.js";
import { loadThreadParticipants } from "../pubsub/thread-rows.js";
import { loadMessagePayloads } from "./payloads.js";

/** Updates threads for the batch's new replies and completes their payloads (in place). */
export async function recordReplies(tx: SqlTx, inserted: MessagePayload[]): Promise<void> {
  const replies = inserted.filter((m) => m.replyToId);
  if (replies.length === 0) return;
  const inThread = replies.filter((m) => m.threadRootId);
  if (inThread.length > 0) {
    // One statement: the roots' counters, then every reader's position (one row per
    // thread and person: an INSERT may not touch a row twice).
    await tx.execute(
      `WITH replies AS (
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::timestamptz[])
           AS r(root_id, user_id, seq, created_at)
       ), roots AS (
         UPDATE messages m
            SET thread_reply_count = m.thread_reply_count + a.n,
                thread_last_reply_at = GREATEST(m.thread_last_reply_at, a.last_at AT TIME ZONE 'UTC')
           FROM (SELECT root_id, count(*)::int AS n, max(created_at) AS last_at
                   FROM replies GROUP BY root_id) a
          WHERE m.id = a.root_id
          RETURNING m.id, m.sender_id, m.seq
       )
       INSERT INTO thread_readers (root_id, user_id, last_read_seq)
       SELECT root_id, user_id, max(seq) FROM (
                SELECT root_id, user_id, seq FROM replies
                UNION ALL SELECT id, sender_id, seq FROM roots) x
        GROUP BY root_id, user_id
       ON CONFLICT (root_id, user_id)
         DO UPDATE SET last_read_seq = GREATEST(thread_readers.last_read_seq, EXCLUDED.last_read_seq)`,
      [
        inThread.map((m) => m.threadRootId),
        inThread.map((m) => m.senderId),
        inThread.map((m) => m.seq),
        inThread.map((m) => m.createdAt),
      ],
    );
  }
  // The roots are read back with their new counters, as a flush reads them.
  await completeReplies(tx, replies);
}

/**
 * Gives replies what their events carry (in place): the message replied to, and in a
 * thread, the thread as it is now (its root's counters). Shared by the batch that stores
 * them and by an outbox flush that reads them back (outbox.ts).
 */
export async function completeReplies(tx: SqlTx, messages: MessagePayload[]): Promise<void> {
  const replies = messages.filter((m) => m.replyToId);
  if (replies.length === 0) return;
  const rootIds = [...new Set(replies.flatMap((m) => (m.threadRootId ? [m.threadRootId] : [])))];
  const loaded = await loadMessagePayloads(tx, [
    ...new Set([...replies.map((m) => m.replyToId as string), ...rootIds]),
  ]);
  const threads = new Map<string, { replyCount: number; lastReplyAt: string | null }>();
  for (const id of rootIds) {
    const root = loaded.get(id);
    if (root)
      threads.set(id, {
        replyCount: root.threadReplyCount ?? 0,
        lastReplyAt: root.threadLastReplyAt ?? null,
      });
  }
  const participants = await loadThreadParticipants(tx, [...threads.keys()]);
  for (const reply of replies) {
    reply.replyTo = loaded.get(reply.replyToId as string) ?? null;
    const rootId = reply.threadRootId;
    const thread = rootId ? threads.get(rootId) : undefined;
    if (rootId && thread)
      reply.thread = { rootId, ...thread, participants: participants.get(rootId) ?? [] };
  }
}

/** A member moves their read position in a thread forward (and follows it from then on). */
export async function readThread(tx: SqlTx, command: ReadThreadCommand): Promise<boolean> {
  const count = await tx.execute(
    `INSERT INTO thread_readers (root_id, user_id, last_read_seq)
     SELECT m.id, $2::uuid, $3 FROM messages m
      WHERE m.id = $1::uuid AND EXISTS (
              SELECT 1 FROM channel_members cm WHERE cm.channel_id = m.channel_id AND cm.user_id = $2::uuid)
     ON CONFLICT (root_id, user_id)
       DO UPDATE SET last_read_seq = GREATEST(thread_readers.last_read_seq, EXCLUDED.last_read_seq)`,
    [command.rootId, command.userId, command.upToSeq],
  );
  return count > 0;
}
