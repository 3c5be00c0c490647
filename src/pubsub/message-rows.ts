// Stored messages read with plain SQL, as their event payloads carry them: the worker's
// events for edits and deletions, and a live stream's replay from PostgreSQL read the
// same columns and make the same payload of them.
import type { MessagePayload } from "./events.js";
import { type PublicUserColumns, publicUserColumns, publicUserOf } from "./public-user.js";

/** The columns of messages `m` joined to their senders `u`, named for `messagePayloadOf`. */
export const messagePayloadColumns = (m: string, u: string) =>
  `${m}.id::text, ${m}.channel_id::text, ${m}.client_message_id, ${m}.seq, ${m}.body,
   ${m}.created_at AT TIME ZONE 'UTC' AS created_at,
   ${m}.edited_at AT TIME ZONE 'UTC' AS edited_at,
   ${m}.deleted_at AT TIME ZONE 'UTC' AS deleted_at,
   ${m}.pinned_at AT TIME ZONE 'UTC' AS pinned_at, ${m}.pinned_by_id::text,
   ${m}.reply_to_id::text, ${m}.thread_root_id::text, ${m}.thread_reply_count,
   ${m}.thread_last_reply_at AT TIME ZONE 'UTC' AS thread_last_reply_at,
   ${publicUserColumns(u)}`;

export interface MessagePayloadRow extends PublicUserColumns {
  id: string;
  channel_id: string;
  client_message_id: string;
  seq: number;
  body: string;
  created_at: Date | string;
  edited_at: Date | string | null;
  deleted_at: Date | string | null;
  pinned_at: Date | string | null;
  pinned_by_id: string | null;
  reply_to_id: string | null;
  thread_root_id: string | null;
  thread_reply_count: number;
  thread_last_reply_at: Date | string | null;
}

const iso = (value: Date | string) => new Date(value).toISOString();

export function messagePayloadOf(row: MessagePayloadRow): MessagePayload {
  return {
    id: row.id,
    channelId: row.channel_id,
    senderId: row.user_id,
    clientMessageId: row.client_message_id,
    seq: Number(row.seq),
    body: row.deleted_at ? "" : row.body,
    createdAt: iso(row.created_at),
    editedAt: row.edited_at ? iso(row.edited_at) : null,
    deletedAt: row.deleted_at ? iso(row.deleted_at) : null,
    pinnedAt: row.pinned_at ? iso(row.pinned_at) : null,
    pinnedById: row.pinned_by_id,
    replyToId: row.reply_to_id,
    threadRootId: row.thread_root_id,
    threadReplyCount: Number(row.thread_reply_count),
    threadLastReplyAt: row.thread_last_reply_at ? iso(row.thread_last_reply_at) : null,
    sender: publicUserOf(row),
  };
}
