// Receipts are positions: each member's read and delivered positions in a channel move
// forward (never back, READ implies DELIVERED), so a receipt is one row update whatever
// it covers, and a message writes no row per recipient. A message's state for one member
// is seq arithmetic, and for its sender the least advanced member's position (schema.prisma,
// ChannelMember). A receipt is announced to the reader's other devices and to the senders
// of what it covered, never to the whole channel.

import type { SqlTx } from "../db/sql.js";
import type { MarkDeliveredCommand, MarkReadCommand, ReceiptCommand } from "../pubsub/commands.js";
import { type ReceiptPayload, routingKeys } from "../pubsub/events.js";
import type { OutboxEntry } from "./outbox.js";
import { loadPublicUsers } from "./payloads.js";

/** A member's position that moved: from `previousSeq` to `seq`. */
export interface PositionMove {
  channelId: string;
  userId: string;
  status: "DELIVERED" | "READ";
  previousSeq: number;
  seq: number;
  at: string;
}

interface MovedRow {
  previous_seq: number;
  seq: number;
}

/** Applies the commands in order; returns the positions that moved (a stale receipt moves none). */
export async function applyReceipts(
  tx: SqlTx,
  commands: ReceiptCommand[],
): Promise<PositionMove[]> {
  const moves: PositionMove[] = [];
  for (const command of commands) {
    const [row] =
      command.type === "receipt.delivered" ? await delivered(tx, command) : await read(tx, command);
    if (!row) continue;
    moves.push({
      channelId: command.channelId,
      userId: command.userId,
      status: command.type === "receipt.delivered" ? "DELIVERED" : "READ",
      previousSeq: Number(row.previous_seq),
      seq: Number(row.seq),
      at: command.at,
    });
  }
  return moves;
}

// Both updates read the position they replace from a locked sub-select (the row the
// UPDATE then writes), and touch nothing when the position is already there: a member who
// left has no row, so their late receipt changes nothing.

/** The delivered position moves to the newest of the messages named. */
function delivered(tx: SqlTx, command: MarkDeliveredCommand) {
  return tx.query<MovedRow>(
    `UPDATE channel_members cm
        SET last_delivered_seq = t.seq, last_delivered_at = $1::timestamptz AT TIME ZONE 'UTC'
       FROM (SELECT max(seq) AS seq FROM messages WHERE id = ANY($4::uuid[]) AND channel_id = $2::uuid) t,
            (SELECT last_delivered_seq AS seq FROM channel_members
              WHERE channel_id = $2::uuid AND user_id = $3::uuid FOR UPDATE) p
      WHERE cm.channel_id = $2::uuid AND cm.user_id = $3::uuid AND cm.last_delivered_seq < t.seq
      RETURNING p.seq AS previous_seq, cm.last_delivered_seq AS seq`,
    [command.at, command.channelId, command.userId, command.messageIds],
  );
}

/**
 * The read position moves to upToSeq (never past the channel's last message: the api
 * checks, the worker makes sure), and the delivered one with it if behind.
 */
function read(tx: SqlTx, command: MarkReadCommand) {
  return tx.query<MovedRow>(
    `UPDATE channel_members cm
        SET last_read_seq = t.seq, last_read_at = $1::timestamptz AT TIME ZONE 'UTC',
            last_delivered_seq = GREATEST(cm.last_delivered_seq, t.seq),
            last_delivered_at = CASE WHEN cm.last_delivered_seq < t.seq
                                     THEN $1::timestamptz AT TIME ZONE 'UTC' ELSE cm.last_delivered_at END
       FROM (SELECT LEAST($4::int, last_seq) AS seq FROM channels WHERE id = $2::uuid) t,
            (SELECT last_read_seq AS seq FROM channel_members
              WHERE channel_id = $2::uuid AND user_id = $3::uuid FOR UPDATE) p
      WHERE cm.channel_id = $2::uuid AND cm.user_id = $3::uuid AND cm.last_read_seq < t.seq
      RETURNING p.seq AS previous_seq, cm.last_read_seq AS seq`,
    [command.at, command.channelId, command.userId, command.upToSeq],
  );
}

interface AudienceRow {
  n: number;
  message_id: string | null;
  senders: string[];
  read_by_all: number;
  delivered_to_all: number;
}

/**
 * The events announcing `moves`, one per (user key, channel): one statement reads, per
 * move, the message at its new position, the senders of the messages it covered and the
 * channel's least advanced positions after the batch (index probes, not member scans).
 */
export async function receiptEvents(tx: SqlTx, moves: PositionMove[]): Promise<OutboxEntry[]> {
  if (moves.length === 0) return [];
  const rows = await tx.query<AudienceRow>(
    `SELECT v.n::int AS n, m.id::text AS message_id,
            ARRAY(SELECT DISTINCT s.sender_id::text FROM messages s
                   WHERE s.channel_id = v.channel_id AND s.seq > v.previous_seq AND s.seq <= v.seq
                     AND s.sender_id <> v.user_id) AS senders,
            (SELECT min(last_read_seq) FROM channel_members WHERE channel_id = v.channel_id) AS read_by_all,
            (SELECT min(last_delivered_seq) FROM channel_members WHERE channel_id = v.channel_id) AS delivered_to_all
       FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::int[]) WITH ORDINALITY
            AS v(channel_id, user_id, previous_seq, seq, n)
       LEFT JOIN messages m ON m.channel_id = v.channel_id AND m.seq = v.seq`,
    [
      moves.map((m) => m.channelId),
      moves.map((m) => m.userId),
      moves.map((m) => m.previousSeq),
      moves.map((m) => m.seq),
    ],
  );
  const readers = await loadPublicUsers(tx, [...new Set(moves.map((m) => m.userId))]);
  const byKey = new Map<
    string,
    { channelId: string; routingKey: string; list: ReceiptPayload[] }
  >();
  for (const row of rows) {
    const move = moves[Number(row.n) - 1];
    const user = move && readers.get(move.userId);
    if (!move || !user || !row.message_id) continue;
    const payload: ReceiptPayload = {
      channelId: move.channelId,
      messageId: row.message_id,
      seq: move.seq,
      status: move.status,
      at: move.at,
      user,
      readByAllUpToSeq: Number(row.read_by_all),
      deliveredToAllUpToSeq: Number(row.delivered_to_all),
    };
    for (const userId of new Set([move.userId, ...row.senders])) {
      const routingKey = routingKeys.user(userId);
      const key = `${routingKey} ${move.channelId}`;
      const entry = byKey.get(key) ?? { channelId: move.channelId, routingKey, list: [] };
      entry.list.push(payload);
      byKey.set(key, entry);
    }
  }
  return [...byKey.values()].map(({ channelId, routingKey, list }) => ({
    routingKey,
    event: { type: "receipts.updated", channelId, receipts: list },
  }));
}
