// Mentions: the worker reads @username out of each new message's body and records the
// members it names (a name that is not a member of the channel, or the sender, names no
// one). @channel and @here need no rows: messages.mentions_channel is computed from the
// body, and every member's unread mentions are seq arithmetic on both.
import type { SqlTx } from "../db/sql.js";
import type { MessagePayload } from "../pubsub/events.js";

/** Usernames are 3-32 letters, digits or underscores (accounts.ts), stored lower case. */
const MENTION = /(?:^|[^A-Za-z0-9_])@([A-Za-z0-9_]{3,32})(?![A-Za-z0-9_])/g;

/** The usernames a body names, lower case, once each (not @channel or @here). */
export function mentionedNames(body: string): string[] {
  const names = new Set<string>();
  for (const match of body.matchAll(MENTION)) {
    const name = (match[1] as string).toLowerCase();
    if (name !== "channel" && name !== "here") names.add(name);
  }
  return [...names];
}

/** A member a message names, and whether they muted its channel (for the mention webhook). */
export interface RecordedMention {
  messageId: string;
  userId: string;
  channelMuted: boolean;
}

/**
 * Records the members `messages` name; one statement for the batch, none without
 * mentions. Returns who was named (a repeat of a recorded mention is not returned).
 */
export async function recordMentions(
  tx: SqlTx,
  messages: MessagePayload[],
): Promise<RecordedMention[]> {
  const pairs = messages.flatMap((message) =>
    mentionedNames(message.body).map((name) => ({ message, name })),
  );
  if (pairs.length === 0) return [];
  const rows = await tx.query<{ message_id: string; user_id: string; channel_muted: boolean }>(
    `WITH recorded AS (
       INSERT INTO message_mentions (message_id, user_id, channel_id, seq)
       SELECT p.message_id, u.id, p.channel_id, p.seq
         FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::uuid[], $5::text[])
              AS p(message_id, channel_id, seq, sender_id, name)
         JOIN users u ON u.username = p.name AND u.id <> p.sender_id
         JOIN channel_members cm ON cm.channel_id = p.channel_id AND cm.user_id = u.id
       ON CONFLICT DO NOTHING
       RETURNING message_id, user_id, channel_id)
     SELECT r.message_id::text, r.user_id::text,
            COALESCE(cm.muted_until > now() AT TIME ZONE 'UTC', false) AS channel_muted
       FROM recorded r
       JOIN channel_members cm ON cm.channel_id = r.channel_id AND cm.user_id = r.user_id`,
    [
      pairs.map((p) => p.message.id),
      pairs.map((p) => p.message.channelId),
      pairs.map((p) => p.message.seq),
      pairs.map((p) => p.message.senderId),
      pairs.map((p) => p.name),
    ],
  );
  return rows.map((row) => ({
    messageId: row.message_id,
    userId: row.user_id,
    channelMuted: Boolean(row.channel_muted),
  }));
}

/** An edit names whom its new body names: the old rows go, the new ones are recorded. */
export async function rewriteMentions(tx: SqlTx, edited: MessagePayload[]): Promise<void> {
  if (edited.length === 0) return;
  await tx.execute("DELETE FROM message_mentions WHERE message_id = ANY($1::uuid[])", [
    edited.map((message) => message.id),
  ]);
  await recordMentions(tx, edited);
}
