// Threads' participants: the first few people to reply, read the same way by the worker
// (for a new reply's event) and the api (for queries).
import type { Queries } from "../db/sql.js";
import type { PublicUserPayload } from "./events.js";
import { type PublicUserColumns, publicUserColumns, publicUserOf } from "./public-user.js";

/** How many of a thread's repliers Thread.participants names. */
export const MAX_THREAD_PARTICIPANTS = 5;

/** Per thread root id: its first MAX_THREAD_PARTICIPANTS repliers, earliest first. One statement. */
export async function loadThreadParticipants(
  db: Queries,
  rootIds: readonly string[],
): Promise<Map<string, PublicUserPayload[]>> {
  const participants = new Map<string, PublicUserPayload[]>(rootIds.map((id) => [id, []]));
  if (rootIds.length === 0) return participants;
  const rows = await db.query<PublicUserColumns & { root_id: string }>(
    `SELECT r.root_id::text AS root_id, ${publicUserColumns("u")}
       FROM unnest($1::uuid[]) AS r(root_id)
       CROSS JOIN LATERAL (
         SELECT m.sender_id, min(m.seq) AS first_seq FROM messages m
          WHERE m.thread_root_id = r.root_id GROUP BY m.sender_id
          ORDER BY first_seq LIMIT $2) p
       JOIN users u ON u.id = p.sender_id
      ORDER BY r.root_id, p.first_seq`,
    [[...rootIds], MAX_THREAD_PARTICIPANTS],
  );
  for (const row of rows) participants.get(row.root_id)?.push(publicUserOf(row));
  return participants;
}
