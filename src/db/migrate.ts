// Applies prisma/migrations/*/migration.sql without the Prisma CLI, whose native schema
// engine is not available everywhere we run (offline machines, the embedded PGlite mode).
// Bookkeeping is Prisma's own: the `_prisma_migrations` table with the same columns,
// sha256 checksums and advisory lock key, so `prisma migrate deploy`/`status` run
// elsewhere see these migrations as applied, and the two never migrate at the same time.
import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PGlite } from "@electric-sql/pglite";
import type pg from "pg";

/** The two calls the migrator needs. It must be ONE session: advisory locks and
 * BEGIN/COMMIT belong to a connection, so pass a checked-out client, never a pool. */
export interface SqlRunner {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  exec(sql: string): Promise<void>;
}

export function pgSqlRunner(client: pg.ClientBase): SqlRunner {
  return {
    async query<T>(sql: string, params?: unknown[]) {
      const result = await client.query(sql, params);
      return { rows: result.rows as T[] };
    },
    async exec(sql: string) {
      // Without parameters pg uses the simple query protocol, which accepts a
      // multi-statement script such as a whole migration.sql.
      await client.query(sql);
    },
  };
}

export function pgliteSqlRunner(db: PGlite): SqlRunner {
  return {
    async query<T>(sql: string, params?: unknown[]) {
      const result = await db.query<T>(sql, params);
      return { rows: result.rows };
    },
    async exec(sql: string) {
      await db.exec(sql);
    },
  };
}

/** The key `prisma migrate` itself locks (schema-engine's postgres connector), so this
 * migrator and a concurrent `prisma migrate deploy` also serialize against each other. */
const PRISMA_MIGRATE_LOCK_KEY = 72707369;

// Verbatim the table Prisma's schema engine creates on PostgreSQL (plus IF NOT EXISTS).
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`;

const defaultMigrationsDir = new URL("../../prisma/migrations", import.meta.url);

interface MigrationFile {
  name: string;
  sql: string;
}

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: unknown;
}

/**
 * Applies the pending migrations in name order, each in its own transaction, and returns
 * the names applied by this call (empty when the database was up to date).
 */
export async function applyMigrations(
  db: SqlRunner,
  migrationsDir: string | URL = defaultMigrationsDir,
): Promise<string[]> {
  const migrations = await readMigrations(migrationsDir);
  // Blocks until another runner (a second replica, `prisma migrate deploy`) is done;
  // that runner's work is then visible in the table and skipped here.
  await db.query("SELECT pg_advisory_lock($1)", [PRISMA_MIGRATE_LOCK_KEY]);
  try {
    await db.exec(CREATE_MIGRATIONS_TABLE);
    const applied = await appliedMigrations(db);
    const pending: MigrationFile[] = [];
    for (const migration of migrations) {
      const checksum = applied.get(migration.name);
      if (checksum === undefined) pending.push(migration);
      else if (!checksumMatches(migration.sql, checksum)) {
        throw new Error(
          `Migration ${migration.name} was modified after it was applied (checksum in ` +
            "_prisma_migrations differs from migration.sql). Restore the file and put the " +
            "change in a new migration.",
        );
      }
    }
    for (const migration of pending) await applyOne(db, migration);
    return pending.map((migration) => migration.name);
  } finally {
    // Never let a failing unlock hide the real error; a session that cannot run it is
    // broken, and PostgreSQL drops a session's advisory locks when it ends.
    await db.query("SELECT pg_advisory_unlock($1)", [PRISMA_MIGRATE_LOCK_KEY]).catch(() => {});
  }
}

/** Applied migrations by name -> checksum. Rolled-back rows are history only (as in
 * Prisma); a failed one blocks everything, as `prisma migrate deploy` does (P3009). */
async function appliedMigrations(db: SqlRunner): Promise<Map<string, string>> {
  const { rows } = await db.query<MigrationRow>(
    `SELECT migration_name, checksum, finished_at FROM _prisma_migrations
     WHERE rolled_back_at IS NULL ORDER BY started_at`,
  );
  const failed = rows.filter((row) => row.finished_at === null);
  if (failed.length > 0) {
    const names = failed.map((row) => row.migration_name).join(", ");
    throw new Error(
      `Failed migration(s) recorded in _prisma_migrations: ${names}. Repair the database, ` +
        "then mark them with `prisma migrate resolve --rolled-back <name>` (or --applied).",
    );
  }
  // Migrations recorded but absent from the directory are tolerated on purpose: an older
  // build restarting after a newer one migrated must still boot.
  return new Map(rows.map((row) => [row.migration_name, row.checksum]));
}

async function applyOne(db: SqlRunner, migration: MigrationFile): Promise<void> {
  // One transaction for the row and the script: a failure leaves neither a half-applied
  // schema nor a "failed" row that would need `prisma migrate resolve`.
  await db.exec("BEGIN");
  try {
    const id = randomUUID();
    await db.query(
      `INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, applied_steps_count)
       VALUES ($1, $2, $3, now(), 0)`,
      [id, checksumOf(migration.sql), migration.name],
    );
    await db.exec(migration.sql);
    await db.query(
      `UPDATE _prisma_migrations SET finished_at = clock_timestamp(), applied_steps_count = 1
       WHERE id = $1`,
      [id],
    );
    await db.exec("COMMIT");
  } catch (error) {
    await db.exec("ROLLBACK").catch(() => {}); // the original error is the one to report
    throw new Error(`Migration ${migration.name} failed and was rolled back`, { cause: error });
  }
}

/** Every subdirectory is a migration (as for Prisma); its migration.sql must exist. */
async function readMigrations(migrationsDir: string | URL): Promise<MigrationFile[]> {
  const dir = typeof migrationsDir === "string" ? migrationsDir : fileURLToPath(migrationsDir);
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  return Promise.all(
    names.map(async (name) => ({
      name,
      sql: await readFile(join(dir, name, "migration.sql"), "utf8"),
    })),
  );
}

function checksumOf(script: string): string {
  return createHash("sha256").update(script, "utf8").digest("hex");
}

/** Like Prisma's engine: tolerate LF <-> CRLF, which git may change on checkout. */
function checksumMatches(script: string, checksum: string): boolean {
  return [script, script.replaceAll("\r\n", "\n"), script.replaceAll("\n", "\r\n")].some(
    (variant) => checksumOf(variant) === checksum,
  );
}
