// Attachments of new messages. The worker is the authority: a send may carry only files
// its sender uploaded for that channel that no other message carries (the api checked
// too, but a retry or a second send may race it). Three statements for a batch that has
// attachments (check, attach, read back), none otherwise.
import type { SqlTx } from "../db/sql.js";
import { loadAttachments } from "../pubsub/attachment-rows.js";
import type { SendMessageCommand } from "../pubsub/commands.js";
import type { AttachmentPayload } from "../pubsub/events.js";

/** The sends (by message id) whose attachments are not all theirs to send. */
export async function sendsWithForeignAttachments(
  tx: SqlTx,
  sends: SendMessageCommand[],
): Promise<Set<string>> {
  const pairs = sends.flatMap((send) =>
    (send.attachmentIds ?? []).map((attachmentId) => ({ send, attachmentId })),
  );
  if (pairs.length === 0) return new Set();
  const valid = await tx.query<{ message_id: string; attachment_id: string }>(
    `SELECT p.message_id::text, p.attachment_id::text
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[])
            AS p(message_id, attachment_id, sender_id, channel_id)
       JOIN attachments a ON a.id = p.attachment_id AND a.uploader_id = p.sender_id
                         AND a.channel_id = p.channel_id
                         AND (a.message_id IS NULL OR a.message_id = p.message_id)`,
    [
      pairs.map((p) => p.send.messageId),
      pairs.map((p) => p.attachmentId),
      pairs.map((p) => p.send.senderId),
      pairs.map((p) => p.send.channelId),
    ],
  );
  const ok = new Set(valid.map((row) => `${row.message_id}:${row.attachment_id}`));
  // One file, one message: within the batch, the first send to claim it keeps it.
  const claimed = new Map<string, string>();
  const refused = new Set<string>();
  for (const { send, attachmentId } of pairs) {
    const owner = claimed.get(attachmentId);
    if (!ok.has(`${send.messageId}:${attachmentId}`) || (owner && owner !== send.messageId))
      refused.add(send.messageId);
    else claimed.set(attachmentId, send.messageId);
  }
  return refused;
}

/** Attaches the stored messages' files; returns them per message id, in upload order. */
export async function attachFiles(
  tx: SqlTx,
  messages: Array<{ messageId: string; attachmentIds?: string[] }>,
): Promise<Map<string, AttachmentPayload[]>> {
  const pairs = messages.flatMap((m) =>
    (m.attachmentIds ?? []).map((attachmentId) => ({ messageId: m.messageId, attachmentId })),
  );
  if (pairs.length === 0) return new Map();
  await tx.execute(
    `UPDATE attachments a SET message_id = p.message_id
       FROM unnest($1::uuid[], $2::uuid[]) AS p(message_id, attachment_id)
      WHERE a.id = p.attachment_id`,
    [pairs.map((p) => p.messageId), pairs.map((p) => p.attachmentId)],
  );
  return loadAttachments(tx, [...new Set(pairs.map((p) => p.messageId))]);
}
