// What subscribers need about persisted messages and receipts, read inside the batch's
// transaction (the events are written to the outbox with it). New messages need no read
// of their own: the insert knows them (persist-messages.ts).
import type { SqlTx } from "../db/sql.js";
import type { MessagePayload, PublicUserPayload } from "../pubsub/events.js";
import { type PublicUserColumns, publicUserColumns, publicUserOf } from "../pubsub/public-user.js";

interface PayloadRow extends PublicUserColumns {
  id: string;
  channel_id: string;
  client_message_id: string;
  seq: number;
  body: string;
  created_at: Date | string;
  edited_at: Date | string | null;
  deleted_at: Date | string | null;
}

const iso = (value: Date | string) => new Date(value).toISOString();

/** Stored messages (edited or deleted ones) as their events carry them. */
export async function loadMessagePayloads(
  tx: SqlTx,
  ids: string[],
): Promise<Map<string, MessagePayload>> {
  if (ids.length === 0) return new Map();
  const rows = await tx.query<PayloadRow>(
    `SELECT m.id::text, m.channel_id::text, m.client_message_id, m.seq, m.body,
            m.created_at AT TIME ZONE 'UTC' AS created_at,
            m.edited_at AT TIME ZONE 'UTC' AS edited_at,
            m.deleted_at AT TIME ZONE 'UTC' AS deleted_at,
            ${publicUserColumns("u")}
       FROM messages m JOIN users u ON u.id = m.sender_id
      WHERE m.id = ANY($1::uuid[])`,
    [ids],
  );
  return new Map(
    rows.map((row) => [
      row.id,
      {
        id: row.id,
        channelId: row.channel_id,
        senderId: row.user_id,
        clientMessageId: row.client_message_id,
        seq: Number(row.seq),
        body: row.deleted_at ? "" : row.body,
        createdAt: iso(row.created_at),
        editedAt: row.edited_at ? iso(row.edited_at) : null,
        deletedAt: row.deleted_at ? iso(row.deleted_at) : null,
        sender: publicUserOf(row),
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
