// access_changes (appended by triggers on channel_members and contacts) is polled by every
// api replica twice a second for what was written since its last poll; the worker keeps it
// from growing forever.
import type { Sql } from "../db/sql.js";

/**
 * How long a change is kept: far past a replica's poll interval (a replica whose polls
 * failed re-reads everything once they work again, so it needs none it missed).
 */
export const ACCESS_CHANGES_KEPT_MINUTES = 10;

export async function pruneAccessChanges(sql: Sql): Promise<void> {
  await sql.query(
    "DELETE FROM access_changes WHERE created_at < now() - make_interval(mins => $1)",
    [ACCESS_CHANGES_KEPT_MINUTES],
  );
}
