// Refused commands: recorded (what became of a send, and the operator's dead-letter log;
// one row per command, the latest reason) and, for sends, told to the sender
// (`message.rejected` through the outbox) every time: a sender who missed the event and
// retried the same send is told again rather than left waiting.
import { createHash } from "node:crypto";
import type { SqlTx } from "../db/sql.js";
import type { Command } from "../pubsub/commands.js";
import { routingKeys } from "../pubsub/events.js";
import type { OutboxEntry } from "./outbox.js";

export interface Refusal {
  command: Command;
  reason: string;
}

/** Who a command speaks for, and its record id. Tolerant: a malformed command is recorded as it came. */
function describe(command: Command) {
  const c = command as unknown as Partial<Record<string, unknown>>;
  const text = (value: unknown) => (typeof value === "string" ? value : "");
  const userId = text(c.senderId) || text(c.editorId) || text(c.actorId) || text(c.userId);
  const id =
    command.type === "message.send" && text(c.messageId)
      ? text(c.messageId)
      : createHash("sha256").update(JSON.stringify(command)).digest("hex");
  return {
    id,
    userId,
    channelId: text(c.channelId),
    clientMessageId: text(c.clientMessageId) || null,
  };
}

/** Records the refusals; returns the events that tell their senders. */
export async function recordRefusals(tx: SqlTx, refusals: Refusal[]): Promise<OutboxEntry[]> {
  if (refusals.length === 0) return [];
  // One row per id (a statement may not upsert a row twice): the last refusal wins.
  const described = [
    ...new Map(
      refusals.map((refusal) => {
        const row = { ...refusal, ...describe(refusal.command) };
        return [row.id, row] as const;
      }),
    ).values(),
  ];
  const recorded = await tx.query<{ id: string }>(
    `INSERT INTO refused_commands (id, type, channel_id, user_id, client_message_id, reason, command, refused_at)
     SELECT id, type, channel_id, user_id, client_message_id, reason, command::jsonb, now() AT TIME ZONE 'UTC'
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
         AS r(id, type, channel_id, user_id, client_message_id, reason, command)
     ON CONFLICT (id) DO UPDATE SET reason = EXCLUDED.reason, refused_at = EXCLUDED.refused_at
     RETURNING id`,
    [
      described.map((r) => r.id),
      described.map((r) => String(r.command.type)),
      described.map((r) => r.channelId),
      described.map((r) => r.userId),
      described.map((r) => r.clientMessageId),
      described.map((r) => r.reason),
      // jsonb cannot hold \u0000: a command refused for a NUL byte must still be recorded.
      described.map((r) => JSON.stringify(r.command).replaceAll("\\u0000", "\\ufffd")),
    ],
  );
  const recordedIds = new Set(recorded.map((row) => row.id));
  const at = new Date().toISOString();
  const events: OutboxEntry[] = [];
  for (const refusal of described) {
    if (!recordedIds.has(refusal.id)) continue;
    const { command } = refusal;
    if (command.type !== "message.send" || !refusal.userId) continue;
    // A sender whose message was refused must not wait for it forever.
    events.push({
      routingKey: routingKeys.user(refusal.userId),
      event: {
        type: "message.rejected",
        channelId: command.channelId,
        messageId: command.messageId,
        clientMessageId: command.clientMessageId,
        reason: refusal.reason,
        at,
      },
    });
  }
  return events;
}
