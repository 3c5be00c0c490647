// Messages' reactions, tallied per emoji: how many, and the first few who reacted. Read
// the same way by the worker (for events) and by the api (for queries and mutation
// answers), so both sides show the same tally.
import type { Queries } from "../db/sql.js";
import type { PublicUserPayload, ReactionPayload } from "./events.js";
import { type PublicUserColumns, publicUserColumns, publicUserOf } from "./public-user.js";

/** Distinct emoji one message may carry. */
export const MAX_DISTINCT_EMOJI = 20;
/** How many of an emoji's reactors a tally names (the first to react). */
export const MAX_REACTION_USERS = 3;

interface TallyRow extends Partial<PublicUserColumns> {
  message_id: string;
  emoji: string;
  count: number;
}

/**
 * Per message id: its reactions grouped by emoji, in the order each emoji was first used,
 * each with its count and its first `usersPerEmoji` reactors. One statement.
 */
export async function loadReactionTallies(
  db: Queries,
  messageIds: readonly string[],
  usersPerEmoji = MAX_REACTION_USERS,
): Promise<Map<string, ReactionPayload[]>> {
  const tallies = new Map<string, ReactionPayload[]>(messageIds.map((id) => [id, []]));
  if (messageIds.length === 0) return tallies;
  const rows = await db.query<TallyRow>(
    `SELECT r.message_id::text AS message_id, r.emoji, r.count::int AS count, ${publicUserColumns("u")}
       FROM (SELECT message_id, emoji, count(*) AS count, min(created_at) AS first_at,
                    (array_agg(user_id ORDER BY created_at, user_id))[1:$2::int] AS first_users
               FROM message_reactions WHERE message_id = ANY($1::uuid[])
              GROUP BY message_id, emoji) r
       LEFT JOIN LATERAL unnest(r.first_users) WITH ORDINALITY AS f(user_id, position) ON true
       LEFT JOIN users u ON u.id = f.user_id
      ORDER BY r.message_id, r.first_at, r.emoji, f.position`,
    [[...messageIds], usersPerEmoji],
  );
  for (const row of rows) {
    const list = tallies.get(row.message_id) ?? [];
    tallies.set(row.message_id, list);
    let tally = list.at(-1);
    if (tally?.emoji !== row.emoji) {
      tally = { emoji: row.emoji, count: Number(row.count), users: [] };
      list.push(tally);
    }
    if (row.user_id) tally.users.push(publicUserOf(row as PublicUserColumns));
  }
  return tallies;
}

/**
 * The tally after `user` adds (or takes back) `emoji`, from a tally that names one reactor
 * more per emoji than it keeps (so a reactor who leaves the first few is replaced).
 * `hadReacted`: whether they had reacted with it before (then adding changes nothing).
 */
export function tallyAfter(
  tally: ReactionPayload[],
  change: { user: PublicUserPayload; emoji: string; add: boolean; hadReacted: boolean },
  usersPerEmoji = MAX_REACTION_USERS,
): ReactionPayload[] {
  const { user, emoji, add, hadReacted } = change;
  let next = tally.map((reaction) => ({ ...reaction, users: [...reaction.users] }));
  const reaction = next.find((r) => r.emoji === emoji);
  if (add && !hadReacted) {
    if (reaction) {
      reaction.count += 1;
      reaction.users.push(user);
    } else next.push({ emoji, count: 1, users: [user] });
  } else if (!add && hadReacted && reaction) {
    reaction.count -= 1;
    reaction.users = reaction.users.filter((u) => u.id !== user.id);
    if (reaction.count === 0) next = next.filter((r) => r !== reaction);
  }
  return next.map((r) => ({ ...r, users: r.users.slice(0, usersPerEmoji) }));
}
