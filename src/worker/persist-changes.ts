// Edits and deletions. Each is applied at most once in effect: a redelivered command
// (after a crash between commit and ack) changes nothing the second time, so it is not
// announced twice; its first announcement is in the outbox.

import type { SqlTx } from "../db/sql.js";
import type {
  DeleteMessageCommand,
  EditMessageCommand,
  MuteChannelCommand,
  PinMessageCommand,
} from "../pubsub/commands.js";

/** The sender may edit a message that is not deleted; an older edit never overwrites a newer one. */
export async function editMessage(tx: SqlTx, command: EditMessageCommand): Promise<boolean> {
  const count = await tx.execute(
    `UPDATE messages SET body = $1, edited_at = $2::timestamptz AT TIME ZONE 'UTC'
      WHERE id = $3::uuid AND sender_id = $4::uuid AND deleted_at IS NULL
        AND (edited_at IS NULL OR edited_at < $2::timestamptz AT TIME ZONE 'UTC')`,
    [command.body, command.at, command.messageId, command.editorId],
  );
  return count > 0;
}

/**
 * The sender may delete; so may an owner or admin of the channel's group, and that is a
 * moderation action, recorded in the same statement (who, what, when, whose message).
 */
export async function deleteMessage(tx: SqlTx, command: DeleteMessageCommand): Promise<boolean> {
  const rows = await tx.query<{ id: string }>(
    `WITH deleted AS (
       UPDATE messages m SET deleted_at = $1::timestamptz AT TIME ZONE 'UTC', body = ''
        WHERE m.id = $2::uuid AND m.deleted_at IS NULL
          AND (m.sender_id = $3::uuid OR EXISTS (
                SELECT 1 FROM channels c JOIN group_members g ON g.group_id = c.group_id
                 WHERE c.id = m.channel_id AND g.user_id = $3::uuid AND g.role IN ('OWNER', 'ADMIN')))
        RETURNING m.id, m.sender_id, m.channel_id),
     logged AS (
       INSERT INTO moderation_actions (id, group_id, actor_id, action, message_id, target_user_id, created_at)
       SELECT gen_random_uuid(), c.group_id, $3::uuid, 'DELETE_MESSAGE', d.id, d.sender_id,
              $1::timestamptz AT TIME ZONE 'UTC'
         FROM deleted d JOIN channels c ON c.id = d.channel_id
        WHERE d.sender_id <> $3::uuid AND c.group_id IS NOT NULL)
     SELECT id::text FROM deleted`,
    [command.at, command.messageId, command.actorId],
  );
  return rows.length > 0;
}

/**
 * Owners and admins of the channel's group pin and unpin; in a direct channel either of
 * its two members. A deleted message is not pinned; pinning a pinned message (or
 * unpinning an unpinned one) changes nothing.
 */
export async function pinMessage(tx: SqlTx, command: PinMessageCommand): Promise<boolean> {
  const pin = command.type === "message.pin";
  const count = await tx.execute(
    `UPDATE messages m
        SET pinned_at = CASE WHEN $4 THEN $1::timestamptz AT TIME ZONE 'UTC' END,
            pinned_by_id = CASE WHEN $4 THEN $3::uuid END
      WHERE m.id = $2::uuid AND m.deleted_at IS NULL
        AND (m.pinned_at IS NULL) = $4::boolean
        AND EXISTS (
              SELECT 1 FROM channels c
               WHERE c.id = m.channel_id
                 AND CASE WHEN c.kind = 'DIRECT'
                          THEN EXISTS (SELECT 1 FROM channel_members cm
                                        WHERE cm.channel_id = c.id AND cm.user_id = $3::uuid)
                          ELSE EXISTS (SELECT 1 FROM group_members g
                                        WHERE g.group_id = c.group_id AND g.user_id = $3::uuid
                                          AND g.role IN ('OWNER', 'ADMIN'))
                     END)`,
    [command.at, command.messageId, command.actorId, pin],
  );
  return count > 0;
}

/** A member mutes (or unmutes) the channel for themself; a left channel changes nothing. */
export async function muteChannel(tx: SqlTx, command: MuteChannelCommand): Promise<boolean> {
  const count = await tx.execute(
    `UPDATE channel_members SET muted_until = $1::timestamptz AT TIME ZONE 'UTC'
      WHERE channel_id = $2::uuid AND user_id = $3::uuid`,
    [command.until, command.channelId, command.userId],
  );
  return count > 0;
}
