// access_changes (appended by triggers on channel_members and contacts) is polled by every
// api replica twice a second for what was written since its last poll; the worker keeps it
// from growing forever.
import type { Sql } from "../db/sql.js";

/**
 * How long a change is kept: far past a replica's poll interval (a replica whose polls
 * failed re-reads everything once they work again, so it needs none it missed).
 */
export const ACCESS_CHANGES_KEPT_MINUTES = 10;

/**
 * Deletes old changes, once their transactions had finished by the previous round: a row's
 * created_at is when its transaction began, and one that ran for longer than the rows are
 * kept must still be read by the replicas' polls after it commits. Each round remembers
 * its snapshot's xmin (every transaction below it had finished) for the next; the first
 * deletes nothing.
 */
export function accessChangesPruner(sql: Sql) {
  let finishedBefore: string | null = null;
  return async function pruneAccessChanges(): Promise<void> {
    const [row] = await sql.query<{ horizon: string }>(
      `WITH gone AS (
         DELETE FROM access_changes
          WHERE created_at < now() - make_interval(mins => $1) AND xid < $2::xid8)
       SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon`,
      [ACCESS_CHANGES_KEPT_MINUTES, finishedBefore],
    );
    finishedBefore = row?.horizon ?? finishedBefore;
  };
}
