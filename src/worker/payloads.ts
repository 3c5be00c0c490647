// What subscribers need about persisted messages and receipts, read inside the batch's
// transaction (the events are written to the outbox with it). New messages need no read
// of their own: the insert knows them (persist-messages.ts).
import type { SqlTx } from "../db/sql.js";
import { loadAttachments } from "../pubsub/attachment-rows.js";
import type { MessagePayload, PublicUserPayload } from "../pubsub/events.js";
import {
  type MessagePayloadRow,
  messagePayloadColumns,
  messagePayloadOf,
} from "../pubsub/message-rows.js";
import { type PublicUserColumns, publicUserColumns, publicUserOf } from "../pubsub/public-user.js";
import { loadReactionTallies } from "../pubsub/reaction-rows.js";

/** Stored messages (edited, deleted, pinned, reacted to) as their events carry them, reactions and attachments included. */
export async function loadMessagePayloads(
  tx: SqlTx,
  ids: string[],
): Promise<Map<string, MessagePayload>> {
  if (ids.length === 0) return new Map();
  const rows = await tx.query<MessagePayloadRow>(
    `SELECT ${messagePayloadColumns("m", "u")}
       FROM messages m JOIN users u ON u.id = m.sender_id
      WHERE m.id = ANY($1::uuid[])`,
    [ids],
  );
  const payloads = await completePayloads(tx, rows);
  return new Map(payloads.map((payload) => [payload.id, payload]));
}

/** A channel's messages from seq `first` to `last`, both included. */
export interface SeqRange {
  channelId: string;
  first: number;
  last: number;
}

/**
 * The messages of each range, in seq order, as their events carry them: what a
 * `message.created` event kept in the outbox by reference announces (outbox.ts). One
 * statement for all the ranges, whatever their number.
 */
export async function loadMessageRanges(
  tx: SqlTx,
  ranges: SeqRange[],
): Promise<MessagePayload[][]> {
  if (ranges.length === 0) return [];
  const rows = await tx.query<MessagePayloadRow & { n: number }>(
    `SELECT r.n::int AS n, ${messagePayloadColumns("m", "u")}
       FROM unnest($1::uuid[], $2::int[], $3::int[]) WITH ORDINALITY AS r(channel_id, first, last, n)
       JOIN messages m ON m.channel_id = r.channel_id AND m.seq BETWEEN r.first AND r.last
       JOIN users u ON u.id = m.sender_id
      ORDER BY r.n, m.seq`,
    [ranges.map((r) => r.channelId), ranges.map((r) => r.first), ranges.map((r) => r.last)],
  );
  const payloads = await completePayloads(tx, rows);
  const byRange: MessagePayload[][] = ranges.map(() => []);
  for (const [i, row] of rows.entries())
    byRange[Number(row.n) - 1]?.push(payloads[i] as MessagePayload);
  return byRange;
}

/** Rows made payloads, in their order: with their reactions and attachments (a statement each). */
async function completePayloads(tx: SqlTx, rows: MessagePayloadRow[]): Promise<MessagePayload[]> {
  // One after the other: a transaction is one connection.
  const ids = rows.map((row) => row.id);
  const tallies = await loadReactionTallies(tx, ids);
  const attachments = await loadAttachments(tx, ids);
  return rows.map((row) => ({
    ...messagePayloadOf(row),
    reactions: tallies.get(row.id) ?? [],
    attachments: attachments.get(row.id) ?? [],
  }));
}

export async function loadPublicUsers(
  tx: SqlTx,
  ids: string[],
): Promise<Map<string, PublicUserPayload>> {
  if (ids.length === 0) return new Map();
  const rows = await tx.query<PublicUserColumns>(
    `SELECT ${publicUserColumns("u")} FROM users u WHERE u.id = ANY($1::uuid[])`,
    [ids],
  );
  return new Map(rows.map((row) => [row.user_id, publicUserOf(row)]));
}
