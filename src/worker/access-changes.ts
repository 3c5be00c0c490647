// access_changes (appended by triggers on channel_members and contacts) is read by every
// api replica for the last half minute only; the worker keeps it from growing forever.
import type { Sql } from "../db/sql.js";

/** How long a change is kept: far past the replicas' lookback, so none misses one. */
export const ACCESS_CHANGES_KEPT_MINUTES = 10;

export async function pruneAccessChanges(sql: Sql): Promise<void> {
  await sql.query(
    "DELETE FROM access_changes WHERE created_at < now() - make_interval(mins => $1)",
    [ACCESS_CHANGES_KEPT_MINUTES],
  );
}
