// Messages' attachments, in the order they were uploaded, read the same way by the worker
// (a new or changed message's event carries them) and the api (queries), so a message
// shows the same files, in the same order, live and in history.
import type { Queries } from "../db/sql.js";
import type { AttachmentPayload } from "./events.js";

interface AttachmentRow {
  id: string;
  message_id: string;
  filename: string;
  content_type: string;
  size: number;
  width: number | null;
  height: number | null;
  storage_key: string;
}

/** Per message id: its attachments, in upload order. One statement. */
export async function loadAttachments(
  db: Queries,
  messageIds: readonly string[],
): Promise<Map<string, AttachmentPayload[]>> {
  const attached = new Map<string, AttachmentPayload[]>();
  if (messageIds.length === 0) return attached;
  const rows = await db.query<AttachmentRow>(
    `SELECT a.id::text, a.message_id::text, a.filename, a.content_type, a.size, a.width,
            a.height, a.storage_key
       FROM attachments a WHERE a.message_id = ANY($1::uuid[])
      ORDER BY a.message_id, a.created_at, a.id`,
    [[...messageIds]],
  );
  for (const row of rows)
    attached.set(row.message_id, [
      ...(attached.get(row.message_id) ?? []),
      {
        id: row.id,
        filename: row.filename,
        contentType: row.content_type,
        size: Number(row.size),
        width: row.width === null ? null : Number(row.width),
        height: row.height === null ? null : Number(row.height),
        storageKey: row.storage_key,
      },
    ]);
  return attached;
}
