// New messages: inserted idempotently (a message id, deterministic per sender and
// clientMessageId, that already exists is the same message and is not inserted or
// announced again: its announcement is in the outbox already), with gapless per-channel
// seqs in command order, and the channel's inbox fields. No row per recipient: receipts are
// members' positions (persist-receipts.ts), so a message costs the same in a channel of
// 10,000 as in one of 2. The worker is the authority on membership, blocks and mutes here.
import type { SqlTx } from "../db/sql.js";
import type { SendMessageCommand } from "../pubsub/commands.js";
import type { MessagePayload } from "../pubsub/events.js";
import { type PublicUserColumns, publicUserColumns, publicUserOf } from "../pubsub/public-user.js";
import { visibilitySql } from "../rules/visibility.js";
import { attachFiles, sendsWithForeignAttachments } from "./persist-attachments.js";
import type { Refusal } from "./refusals.js";

interface CheckRow extends PublicUserColumns {
  n: number;
  existing_channel: string | null;
  member: boolean;
  blocked: boolean;
  /** Muted in the channel's group by an owner or admin until then (ISO). */
  muted_until: string | null;
  /** The replied-to message's channel, and the thread it starts or is in. */
  parent_channel: string | null;
  parent_root: string | null;
}

/**
 * Inserts the new messages; returns them as their events carry them (in command order)
 * and the refusals. Two statements whatever the batch holds: one check, one write (none to
 * read the result back).
 */
export async function insertMessages(
  tx: SqlTx,
  sends: SendMessageCommand[],
): Promise<{ inserted: MessagePayload[]; refused: Refusal[] }> {
  const rejected: Refusal[] = [];
  if (sends.length === 0) return { inserted: [], refused: [] };
  // A retry can sit in the same batch as its original: keep the first.
  const firstById = new Map<string, SendMessageCommand>();
  for (const send of sends) if (!firstById.has(send.messageId)) firstById.set(send.messageId, send);
  const candidates = [...firstById.values()];

  // One statement answers, per candidate: is it stored already (and where), is the sender
  // a member (the worker is the authority: the api's check is cached and may be stale),
  // is a direct conversation blocked either way, and who is the sender (for the event).
  // Written to plan cheaply and to run on a generic plan (the batch's transaction asks for
  // generic plans): every lookup is a probe by key, the subqueries planned on their own and
  // the rows joined through LATERAL subqueries kept apart (OFFSET 0), so that no join
  // order is searched and a plan made for any batch is index probes for every batch. As
  // seven joined relations it took 1.0-1.1 ms to plan per batch, to run 0.1-0.3 (issue 10).
  const checks = await tx.query<CheckRow>(
    `SELECT s.n::int AS n,
            (SELECT e.channel_id::text FROM messages e WHERE e.id = s.id) AS existing_channel,
            EXISTS (SELECT 1 FROM channel_members cm
                     WHERE cm.channel_id = s.channel_id AND cm.user_id = s.user_id) AS member,
            -- Only a direct channel can be blocked: a CASE, so a group channel's members
            -- are never looked at (the planner once walked all 10,000 of them per message).
            CASE WHEN c.kind = 'DIRECT' THEN
              EXISTS (SELECT 1 FROM channel_members o
                       WHERE o.channel_id = c.id AND o.user_id <> s.user_id
                         AND ${visibilitySql.blockedBetween("o.user_id", "s.user_id")})
            ELSE false END AS blocked,
            (SELECT to_char(gm.muted_until, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') FROM group_members gm
              WHERE gm.group_id = c.group_id AND gm.user_id = s.user_id) AS muted_until,
            p.channel_id::text AS parent_channel, COALESCE(p.thread_root_id, p.id)::text AS parent_root,
            ${publicUserColumns("u")}
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[])
              WITH ORDINALITY AS s(id, channel_id, user_id, reply_to_id, n)
       LEFT JOIN LATERAL (
         SELECT id, username, display_name, avatar_url, bio, created_at, last_seen_at
           FROM users WHERE id = s.user_id OFFSET 0) u ON true
       LEFT JOIN LATERAL (SELECT id, kind, group_id FROM channels WHERE id = s.channel_id OFFSET 0) c ON true
       LEFT JOIN LATERAL (
         SELECT id, channel_id, thread_root_id FROM messages WHERE id = s.reply_to_id OFFSET 0) p ON true`,
    [
      candidates.map((s) => s.messageId),
      candidates.map((s) => s.channelId),
      candidates.map((s) => s.senderId),
      candidates.map((s) => s.replyToId ?? null),
    ],
  );
  const checkOf = new Map(checks.map((row) => [Number(row.n) - 1, row]));
  const foreignAttachments = await sendsWithForeignAttachments(tx, candidates);
  const accepted: Array<{ send: SendMessageCommand; check: CheckRow }> = [];
  candidates.forEach((send, i) => {
    const check = checkOf.get(i);
    // The same clientMessageId again is the same message, unless it was for another channel.
    if (check && check.existing_channel !== null) {
      if (check.existing_channel !== send.channelId)
        rejected.push({ command: send, reason: "clientMessageId already used in another channel" });
    } else if (!check?.member)
      rejected.push({ command: send, reason: "sender is not a member of the channel" });
    else if (check.blocked)
      rejected.push({ command: send, reason: "blocked in this direct conversation" });
    // Judged at the time the api accepted the send, as the api judged it.
    else if (check.muted_until && check.muted_until > new Date(send.createdAt).toISOString())
      rejected.push({ command: send, reason: `muted in this group until ${check.muted_until}` });
    else if (send.replyToId && check.parent_channel !== send.channelId)
      rejected.push({ command: send, reason: "replyTo is not a message of this channel" });
    else if (foreignAttachments.has(send.messageId))
      rejected.push({
        command: send,
        reason: "an attachment is not the sender's upload for this channel, or is sent already",
      });
    else accepted.push({ send, check });
  });
  if (accepted.length === 0) return { inserted: [], refused: rejected };

  // Each accepted send's place among its channel's new messages (1, 2, …, in command
  // order): its seq is the channel's last seq before the batch plus that place, handed
  // out by the statement below under the channel's row lock.
  const placed = new Map<string, number>();
  const rows = accepted.map(({ send, check }) => {
    const place = (placed.get(send.channelId) ?? 0) + 1;
    placed.set(send.channelId, place);
    const replyToId = send.replyToId ?? null;
    return {
      send,
      check,
      place,
      createdAt: new Date(send.createdAt).toISOString(),
      replyToId,
      threadRootId: replyToId && send.inThread ? check.parent_root : null,
    };
  });
  // Each channel's newest message, for the inbox, in id order (see below); and the
  // senders have read their own (one row per channel and sender: an UPDATE ... FROM that
  // matched a member several times would apply an arbitrary one of them).
  const last = [...new Map(rows.map((r) => [r.send.channelId, r] as const)).values()].sort(
    (a, b) => (a.send.channelId < b.send.channelId ? -1 : 1),
  );
  const readUpTo = [
    ...new Map(rows.map((r) => [`${r.send.channelId}:${r.send.senderId}`, r])).values(),
  ];

  // One statement hands out the seqs and writes it all: it moves each channel's head (its
  // last seq by the batch's count, its inbox fields), which takes the channel's row lock
  // and makes the seqs gapless and increasing per channel; then the messages and the
  // senders' positions (a sender has read, and has, what they sent). A lock of its own was
  // one more round trip per batch. The heads are listed in id order; and a channel's
  // commands are all its shard's, whose batches take turns (the shard's advisory lock), so
  // no two batches wait on each other's channels (were they to deadlock, PostgreSQL would
  // fail one, and a failed batch is retried).
  const heads = await tx.query<{ id: string; base: number }>(
    `WITH heads AS (
       UPDATE channels c SET last_seq = c.last_seq + v.count, last_message_id = v.last_id,
              last_activity_at = GREATEST(c.last_activity_at, v.last_at AT TIME ZONE 'UTC'),
              updated_at = now() AT TIME ZONE 'UTC'
         FROM unnest($8::uuid[], $9::int[], $10::uuid[], $11::timestamptz[])
                AS v(channel_id, count, last_id, last_at)
        WHERE c.id = v.channel_id
        RETURNING c.id, c.last_seq - v.count AS base
     ), inserted AS (
       INSERT INTO messages (id, channel_id, sender_id, client_message_id, seq, body, created_at,
                             reply_to_id, thread_root_id)
       SELECT m.id, m.channel_id, m.sender_id, m.client_message_id, h.base + m.place, m.body,
              m.created_at AT TIME ZONE 'UTC', m.reply_to_id, m.thread_root_id
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int[], $6::text[], $7::timestamptz[],
                     $15::uuid[], $16::uuid[])
           AS m(id, channel_id, sender_id, client_message_id, place, body, created_at, reply_to_id, thread_root_id)
         JOIN heads h ON h.id = m.channel_id
     ), read_positions AS (
       UPDATE channel_members cm SET last_read_seq = GREATEST(cm.last_read_seq, h.base + v.place),
              last_delivered_seq = GREATEST(cm.last_delivered_seq, h.base + v.place)
         FROM unnest($12::uuid[], $13::uuid[], $14::int[]) AS v(channel_id, user_id, place)
         JOIN heads h ON h.id = v.channel_id
        WHERE cm.channel_id = v.channel_id AND cm.user_id = v.user_id
     )
     SELECT id::text, base FROM heads`,
    [
      rows.map((r) => r.send.messageId),
      rows.map((r) => r.send.channelId),
      rows.map((r) => r.send.senderId),
      rows.map((r) => r.send.clientMessageId),
      rows.map((r) => r.place),
      rows.map((r) => r.send.body),
      rows.map((r) => r.createdAt),
      last.map((r) => r.send.channelId),
      last.map((r) => r.place),
      last.map((r) => r.send.messageId),
      last.map((r) => r.createdAt),
      readUpTo.map((r) => r.send.channelId),
      readUpTo.map((r) => r.send.senderId),
      readUpTo.map((r) => r.place),
      rows.map((r) => r.replyToId),
      rows.map((r) => r.threadRootId),
    ],
  );
  const baseOf = new Map(heads.map((head) => [head.id, Number(head.base)]));
  // A channel deleted since the check has no head to move, and its messages were not
  // written: fail the batch, whose retry the check refuses.
  const gone = last.find((r) => !baseOf.has(r.send.channelId));
  if (gone) throw new Error(`channel ${gone.send.channelId} is gone`);
  const attached = await attachFiles(
    tx,
    rows.map((r) => r.send),
  );
  const inserted = rows.map(
    (r): MessagePayload => ({
      id: r.send.messageId,
      channelId: r.send.channelId,
      senderId: r.send.senderId,
      clientMessageId: r.send.clientMessageId,
      seq: (baseOf.get(r.send.channelId) ?? 0) + r.place,
      body: r.send.body,
      createdAt: r.createdAt,
      editedAt: null,
      pinnedAt: null,
      pinnedById: null,
      deletedAt: null,
      sender: publicUserOf(r.check),
      reactions: [],
      replyToId: r.replyToId,
      threadRootId: r.threadRootId,
      threadReplyCount: 0,
      threadLastReplyAt: null,
      attachments: attached.get(r.send.messageId) ?? [],
    }),
  );
  return { inserted, refused: rejected };
}
