// The embedded database, opened with the extensions our migrations create. PostgreSQL ships
// them as contrib modules; PGlite loads each one only when asked, so every PGlite the
// project opens (the app, the tests, the migration writer) is opened here.
import { PGlite } from "@electric-sql/pglite";
import { btree_gin } from "@electric-sql/pglite/contrib/btree_gin";

/** btree_gin: the (channel_id, search) GIN index that searchMessages reads. */
const extensions = { btree_gin };

/** A PGlite in `directory`, or in memory without one. */
export function openPgliteDatabase(directory?: string): Promise<PGlite> {
  return PGlite.create(directory, { extensions });
}
