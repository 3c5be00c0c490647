// What subscribers need about persisted messages and receipts, loaded in one statement
// each, inside the batch's transaction (the events are written to the outbox with it).
import type { MessagePayload, PublicUserPayload } from "../pubsub/events.js";
import { publicUserFields, toPublicUserPayload } from "../pubsub/public-user.js";
import type { Tx } from "./transaction.js";

interface PayloadRow {
  id: string;
  channel_id: string;
  sender_id: string;
  client_message_id: string;
  seq: number;
  body: string;
  created_at: Date;
  edited_at: Date | null;
  deleted_at: Date | null;
  username: string;
  display_name: string;
  avatar_url: string | null;
  bio: string | null;
  user_created_at: Date;
  last_seen_at: Date | null;
  recipient_ids: string[];
}

const iso = (value: Date | string) => new Date(value).toISOString();

export async function loadMessagePayloads(
  tx: Tx,
  ids: string[],
): Promise<Map<string, MessagePayload>> {
  if (ids.length === 0) return new Map();
  const rows = await tx.$queryRawUnsafe<PayloadRow[]>(
    `SELECT m.id::text, m.channel_id::text, m.sender_id::text, m.client_message_id, m.seq, m.body,
            m.created_at, m.edited_at, m.deleted_at,
            u.username, u.display_name, u.avatar_url, u.bio, u.created_at AS user_created_at, u.last_seen_at,
            COALESCE((SELECT array_agg(r.user_id::text) FROM message_recipients r WHERE r.message_id = m.id), '{}') AS recipient_ids
       FROM messages m JOIN users u ON u.id = m.sender_id
      WHERE m.id = ANY($1::uuid[])`,
    ids,
  );
  return new Map(
    rows.map((row) => [
      row.id,
      {
        id: row.id,
        channelId: row.channel_id,
        senderId: row.sender_id,
        clientMessageId: row.client_message_id,
        seq: Number(row.seq),
        body: row.deleted_at ? "" : row.body,
        createdAt: iso(row.created_at),
        editedAt: row.edited_at ? iso(row.edited_at) : null,
        deletedAt: row.deleted_at ? iso(row.deleted_at) : null,
        sender: toPublicUserPayload({
          id: row.sender_id,
          username: row.username,
          displayName: row.display_name,
          avatarUrl: row.avatar_url,
          bio: row.bio,
          createdAt: new Date(row.user_created_at),
          lastSeenAt: row.last_seen_at ? new Date(row.last_seen_at) : null,
        }),
        recipientIds: row.recipient_ids,
      },
    ]),
  );
}

export async function loadPublicUsers(
  tx: Tx,
  ids: string[],
): Promise<Map<string, PublicUserPayload>> {
  if (ids.length === 0) return new Map();
  const users = await tx.user.findMany({ where: { id: { in: ids } }, select: publicUserFields });
  return new Map(users.map((u) => [u.id, toPublicUserPayload(u)]));
}
