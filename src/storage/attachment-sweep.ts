// Files nobody will read again: uploads never sent within a day, and the files of deleted
// messages (a deleted message shows no attachments; its file should not outlive it).
// Each api replica sweeps now and then (it is the process that reaches the storage: the
// local disk is the api's); replicas sweeping at once skip each other's rows. A file is
// removed before its row, so a failure leaves a row to retry, never a file without one.
import type { Sql } from "../db/sql.js";
import type { AttachmentStorage } from "./storage.js";

/** An upload not sent within this long is dropped. */
export const UNSENT_TTL_MS = 24 * 3600_000;
const SWEEP_INTERVAL_MS = 10 * 60_000;
/** Rows per statement: one round never holds many locks or runs long. */
const BATCH = 200;

/** One sweep: removes what is due, in rounds of BATCH; returns how many files went. */
export async function sweepAttachments(
  sql: Sql,
  storage: AttachmentStorage,
  unsentTtlMs = UNSENT_TTL_MS,
): Promise<number> {
  let removed = 0;
  for (;;) {
    const swept = await sql.transaction(
      async (tx) => {
        const due = await tx.query<{ id: string; storage_key: string }>(
          `SELECT a.id::text, a.storage_key FROM attachments a
            WHERE (a.message_id IS NULL
                   AND a.created_at < (now() AT TIME ZONE 'UTC') - ($1 || ' milliseconds')::interval)
               OR EXISTS (SELECT 1 FROM messages m WHERE m.id = a.message_id AND m.deleted_at IS NOT NULL)
            ORDER BY a.created_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
          [String(unsentTtlMs), BATCH],
        );
        for (const row of due) await storage.delete(row.storage_key);
        if (due.length > 0)
          await tx.query("DELETE FROM attachments WHERE id = ANY($1::uuid[])", [
            due.map((row) => row.id),
          ]);
        return due.length;
      },
      { statementTimeoutMs: 30_000 },
    );
    removed += swept;
    if (swept < BATCH) return removed;
  }
}

/** Sweeps every ten minutes until stopped. */
export function startAttachmentSweep(
  sql: Sql,
  storage: AttachmentStorage,
  log?: (message: string, error?: unknown) => void,
) {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    running ??= sweepAttachments(sql, storage)
      .catch((error) => log?.("attachment sweep failed; the next one retries", error))
      .finally(() => {
        running = undefined;
      });
  }, SWEEP_INTERVAL_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
