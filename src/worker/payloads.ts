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
  // One after the other: a transaction is one connection.
  const rows = await tx.query<MessagePayloadRow>(
    `SELECT ${messagePayloadColumns("m", "u")}
       FROM messages m JOIN users u ON u.id = m.sender_id
      WHERE m.id = ANY($1::uuid[])`,
    [ids],
  );
  const tallies = await loadReactionTallies(tx, ids);
  const attachments = await loadAttachments(tx, ids);
  return new Map(
    rows.map((row) => [
      row.id,
      {
        ...messagePayloadOf(row),
        reactions: tallies.get(row.id) ?? [],
        attachments: attachments.get(row.id) ?? [],
      },
    ]),
  );
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
