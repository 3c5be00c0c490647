// Receipts: recipients' rows move SENT -> DELIVERED -> READ and never back (each UPDATE
// only touches rows behind the new status), READ implies DELIVERED, and a read also
// advances the member's read position (unread counts are seq arithmetic). Marking a
// thousand messages read is one command and two statements.

import type { SqlTx } from "../db/sql.js";
import type { MarkDeliveredCommand, MarkReadCommand, ReceiptCommand } from "../pubsub/commands.js";
import type { ReceiptPayload } from "../pubsub/events.js";

export interface ReceiptChange {
  messageId: string;
  channelId: string;
  seq: number;
  senderId: string;
  userId: string;
  status: "DELIVERED" | "READ";
  at: string;
}

interface ChangedRow {
  message_id: string;
  channel_id: string;
  seq: number;
  sender_id: string;
}

export async function applyReceipts(
  tx: SqlTx,
  commands: ReceiptCommand[],
): Promise<ReceiptChange[]> {
  const changes: ReceiptChange[] = [];
  for (const command of commands) {
    const rows =
      command.type === "receipt.delivered" ? await delivered(tx, command) : await read(tx, command);
    const status = command.type === "receipt.delivered" ? "DELIVERED" : "READ";
    for (const row of rows) {
      changes.push({
        messageId: row.message_id,
        channelId: row.channel_id,
        seq: Number(row.seq),
        senderId: row.sender_id,
        userId: command.userId,
        status,
        at: command.at,
      });
    }
  }
  return changes;
}

function delivered(tx: SqlTx, command: MarkDeliveredCommand) {
  return tx.query<ChangedRow>(
    `UPDATE message_recipients r SET status = 'DELIVERED', delivered_at = $1::timestamptz AT TIME ZONE 'UTC'
       FROM messages m
      WHERE r.message_id = m.id AND m.channel_id = $2::uuid AND r.user_id = $3::uuid
        AND r.message_id = ANY($4::uuid[]) AND r.status = 'SENT'
      RETURNING r.message_id::text, m.channel_id::text, m.seq, m.sender_id::text`,
    [command.at, command.channelId, command.userId, command.messageIds],
  );
}

async function read(tx: SqlTx, command: MarkReadCommand) {
  await tx.execute(
    `UPDATE channel_members SET last_read_seq = GREATEST(last_read_seq, $1)
      WHERE channel_id = $2::uuid AND user_id = $3::uuid`,
    [command.upToSeq, command.channelId, command.userId],
  );
  return tx.query<ChangedRow>(
    `UPDATE message_recipients r SET status = 'READ', read_at = $1::timestamptz AT TIME ZONE 'UTC',
            delivered_at = COALESCE(r.delivered_at, $1::timestamptz AT TIME ZONE 'UTC')
       FROM messages m
      WHERE r.message_id = m.id AND m.channel_id = $2::uuid AND m.seq <= $3
        AND r.user_id = $4::uuid AND r.status IN ('SENT', 'DELIVERED')
      RETURNING r.message_id::text, m.channel_id::text, m.seq, m.sender_id::text`,
    [command.at, command.channelId, command.upToSeq, command.userId],
  );
}

/** Groups the changes into payloads per channel, with each reader's public profile. */
export function receiptPayloads(
  changes: ReceiptChange[],
  users: Map<string, ReceiptPayload["user"]>,
): Map<string, ReceiptPayload[]> {
  const byChannel = new Map<string, ReceiptPayload[]>();
  for (const change of changes) {
    const user = users.get(change.userId);
    if (!user) continue;
    const { userId: _userId, ...rest } = change;
    byChannel.set(change.channelId, [
      ...(byChannel.get(change.channelId) ?? []),
      { ...rest, user },
    ]);
  }
  return byChannel;
}
