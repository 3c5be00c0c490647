// Reactions: one row per message, emoji and user, so adding is idempotent (a second add,
// or a redelivered command, changes nothing and is not announced again) and taking back
// one never touches another user's. The worker is the authority on who may react: a
// member of the channel who is not muted in its group, to a message that is not deleted,
// not across a block, and only with an emoji the message already has or while it has
// fewer than MAX_DISTINCT_EMOJI.
import type { SqlTx } from "../db/sql.js";
import type { ReactionCommand } from "../pubsub/commands.js";
import { MAX_DISTINCT_EMOJI } from "../pubsub/reaction-rows.js";
import { visibilitySql } from "../rules/visibility.js";

/** Applies one reaction command; true when it changed something. */
export async function applyReaction(tx: SqlTx, command: ReactionCommand): Promise<boolean> {
  if (command.type === "reaction.remove") {
    const count = await tx.execute(
      `DELETE FROM message_reactions
        WHERE message_id = $1::uuid AND emoji = $2 AND user_id = $3::uuid`,
      [command.messageId, command.emoji, command.userId],
    );
    return count > 0;
  }
  const count = await tx.execute(
    `INSERT INTO message_reactions (message_id, emoji, user_id, created_at)
     SELECT m.id, $2, $3::uuid, $4::timestamptz AT TIME ZONE 'UTC'
       FROM messages m
       JOIN channels c ON c.id = m.channel_id
       JOIN channel_members cm ON cm.channel_id = m.channel_id AND cm.user_id = $3::uuid
      WHERE m.id = $1::uuid AND m.deleted_at IS NULL
        -- A member muted in the group may not react either (judged at the api's time).
        AND NOT EXISTS (SELECT 1 FROM group_members gm
                         WHERE gm.group_id = c.group_id AND gm.user_id = $3::uuid
                           AND gm.muted_until > $4::timestamptz AT TIME ZONE 'UTC')
        AND NOT (c.kind = 'DIRECT' AND EXISTS (
              SELECT 1 FROM channel_members o
               WHERE o.channel_id = c.id AND o.user_id <> $3::uuid
                 AND ${visibilitySql.blockedBetween("o.user_id", "$3::uuid")}))
        AND (EXISTS (SELECT 1 FROM message_reactions r WHERE r.message_id = m.id AND r.emoji = $2)
             OR (SELECT count(DISTINCT r.emoji) FROM message_reactions r WHERE r.message_id = m.id) < $5)
     ON CONFLICT DO NOTHING`,
    [command.messageId, command.emoji, command.userId, command.at, MAX_DISTINCT_EMOJI],
  );
  return count > 0;
}
