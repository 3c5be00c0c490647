// New messages: inserted idempotently (a message id, deterministic per sender and
// clientMessageId, that already exists is the same message and is not inserted or
// announced again: its announcement is in the outbox already), with gapless per-channel
// seqs in command order, one recipient row per other member, and the channel's inbox
// fields. The worker is the authority on membership and blocks at this point.
import type { SendMessageCommand } from "../pubsub/commands.js";
import { visibilitySql } from "../rules/visibility.js";
import type { Refusal } from "./refusals.js";
import type { Tx } from "./transaction.js";

/** Inserts the new messages; returns the ids inserted now (to announce) and the refusals. */
export async function insertMessages(
  tx: Tx,
  sends: SendMessageCommand[],
): Promise<{ inserted: string[]; refused: Refusal[] }> {
  const rejected: Refusal[] = [];
  if (sends.length === 0) return { inserted: [], refused: [] };
  // A retry can sit in the same batch as its original: keep the first.
  const firstById = new Map<string, SendMessageCommand>();
  for (const send of sends) if (!firstById.has(send.messageId)) firstById.set(send.messageId, send);
  const candidates = [...firstById.values()];

  const existing = await tx.$queryRawUnsafe<Array<{ id: string; channel_id: string }>>(
    "SELECT id::text, channel_id::text FROM messages WHERE id = ANY($1::uuid[])",
    candidates.map((s) => s.messageId),
  );
  const existingChannel = new Map(existing.map((row) => [row.id, row.channel_id]));
  for (const send of candidates) {
    const channelId = existingChannel.get(send.messageId);
    // The same clientMessageId again is the same message, unless it was for another channel.
    if (channelId !== undefined && channelId !== send.channelId)
      rejected.push({ command: send, reason: "clientMessageId already used in another channel" });
  }
  const fresh = candidates.filter((s) => !existingChannel.has(s.messageId));

  // The worker is the authority on membership: the api's check is cached and may be stale.
  const members = await tx.$queryRawUnsafe<Array<{ channel_id: string; user_id: string }>>(
    `SELECT cm.channel_id::text, cm.user_id::text FROM channel_members cm
       JOIN unnest($1::uuid[], $2::uuid[]) AS s(channel_id, user_id)
         ON cm.channel_id = s.channel_id AND cm.user_id = s.user_id`,
    fresh.map((s) => s.channelId),
    fresh.map((s) => s.senderId),
  );
  const isMember = new Set(members.map((m) => `${m.channel_id}:${m.user_id}`));
  // In a direct conversation a block (either way) stops new messages.
  const blocked = await tx.$queryRawUnsafe<Array<{ channel_id: string; user_id: string }>>(
    `SELECT s.channel_id::text, s.user_id::text
       FROM unnest($1::uuid[], $2::uuid[]) AS s(channel_id, user_id)
       JOIN channels c ON c.id = s.channel_id AND c.kind = 'DIRECT'
       JOIN channel_members o ON o.channel_id = c.id AND o.user_id <> s.user_id
      WHERE ${visibilitySql.blockedBetween("o.user_id", "s.user_id")}`,
    fresh.map((s) => s.channelId),
    fresh.map((s) => s.senderId),
  );
  const isBlocked = new Set(blocked.map((b) => `${b.channel_id}:${b.user_id}`));
  const accepted: SendMessageCommand[] = [];
  for (const send of fresh) {
    const key = `${send.channelId}:${send.senderId}`;
    if (!isMember.has(key))
      rejected.push({ command: send, reason: "sender is not a member of the channel" });
    else if (isBlocked.has(key))
      rejected.push({ command: send, reason: "blocked in this direct conversation" });
    else accepted.push(send);
  }
  if (accepted.length === 0) return { inserted: [], refused: rejected };

  // Lock the channels (in a fixed order, so two workers can never deadlock) and hand out
  // the next seqs: gapless and increasing per channel, in command order.
  const channelIds = [...new Set(accepted.map((s) => s.channelId))].sort();
  const locked = await tx.$queryRawUnsafe<Array<{ id: string; last_seq: number }>>(
    "SELECT id::text, last_seq FROM channels WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
    channelIds,
  );
  const nextSeq = new Map(locked.map((row) => [row.id, Number(row.last_seq)]));
  const rows = accepted.map((send) => {
    const seq = (nextSeq.get(send.channelId) ?? 0) + 1;
    nextSeq.set(send.channelId, seq);
    return { ...send, seq };
  });

  await tx.$executeRawUnsafe(
    `INSERT INTO messages (id, channel_id, sender_id, client_message_id, seq, body, created_at)
     SELECT id, channel_id, sender_id, client_message_id, seq, body, created_at AT TIME ZONE 'UTC'
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int[], $6::text[], $7::timestamptz[])
         AS m(id, channel_id, sender_id, client_message_id, seq, body, created_at)`,
    rows.map((r) => r.messageId),
    rows.map((r) => r.channelId),
    rows.map((r) => r.senderId),
    rows.map((r) => r.clientMessageId),
    rows.map((r) => r.seq),
    rows.map((r) => r.body),
    rows.map((r) => r.createdAt),
  );
  // One recipient row per other member of the channel, status SENT.
  await tx.$executeRawUnsafe(
    `INSERT INTO message_recipients (message_id, user_id)
     SELECT m.id, cm.user_id
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS m(id, channel_id, sender_id)
       JOIN channel_members cm ON cm.channel_id = m.channel_id AND cm.user_id <> m.sender_id`,
    rows.map((r) => r.messageId),
    rows.map((r) => r.channelId),
    rows.map((r) => r.senderId),
  );
  // Each channel's newest message, for the inbox; and the senders have read their own.
  const last = new Map(rows.map((r) => [r.channelId, r] as const));
  await tx.$executeRawUnsafe(
    `UPDATE channels c SET last_seq = v.seq, last_message_id = v.id,
            last_activity_at = GREATEST(c.last_activity_at, v.created_at AT TIME ZONE 'UTC'),
            updated_at = now() AT TIME ZONE 'UTC'
       FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::timestamptz[]) AS v(channel_id, seq, id, created_at)
      WHERE c.id = v.channel_id`,
    [...last.keys()],
    [...last.values()].map((r) => r.seq),
    [...last.values()].map((r) => r.messageId),
    [...last.values()].map((r) => r.createdAt),
  );
  // One row per (channel, sender) with the highest seq: an UPDATE ... FROM that matched a
  // member several times would apply an arbitrary one of them.
  const readUpTo = new Map<string, { channelId: string; senderId: string; seq: number }>();
  for (const r of rows)
    readUpTo.set(`${r.channelId}:${r.senderId}`, {
      channelId: r.channelId,
      senderId: r.senderId,
      seq: r.seq,
    });
  await tx.$executeRawUnsafe(
    `UPDATE channel_members cm SET last_read_seq = GREATEST(cm.last_read_seq, v.seq)
       FROM unnest($1::uuid[], $2::uuid[], $3::int[]) AS v(channel_id, user_id, seq)
      WHERE cm.channel_id = v.channel_id AND cm.user_id = v.user_id`,
    [...readUpTo.values()].map((r) => r.channelId),
    [...readUpTo.values()].map((r) => r.senderId),
    [...readUpTo.values()].map((r) => r.seq),
  );
  return { inserted: rows.map((r) => r.messageId), refused: rejected };
}
