// The migrator against the real prisma/migrations on an in-memory PGlite: idempotent
// re-runs, Prisma-compatible bookkeeping, and the guard against edited migrations.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import type { PGlite } from "@electric-sql/pglite";
import { afterEach, describe, expect, it } from "vitest";
import { applyMigrations, pgliteSqlRunner } from "../src/db/migrate.js";
import { openPgliteDatabase } from "../src/db/pglite.js";

const migrationsDir = new URL("../prisma/migrations/", import.meta.url);
// PGlite's cold start takes a few seconds, beyond vitest's default 5 s timeout.
const TIMEOUT = 60_000;

async function migrationNames(): Promise<string[]> {
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

describe("applyMigrations", () => {
  let db: PGlite | undefined;
  afterEach(async () => {
    await db?.close();
    db = undefined;
  });

  it(
    "applies every migration once, recorded as Prisma records them",
    async () => {
      db = await openPgliteDatabase();
      const names = await migrationNames();
      expect(names.length).toBeGreaterThan(0);

      // No directory argument: also checks the default path resolution.
      expect(await applyMigrations(pgliteSqlRunner(db))).toEqual(names);
      expect(await applyMigrations(pgliteSqlRunner(db))).toEqual([]);

      const { rows } = await db.query<{
        migration_name: string;
        checksum: string;
        finished: boolean;
        applied_steps_count: number;
      }>(
        `SELECT migration_name, checksum, finished_at IS NOT NULL AS finished, applied_steps_count
         FROM _prisma_migrations ORDER BY migration_name`,
      );
      const expected = await Promise.all(
        names.map(async (name) => ({
          migration_name: name,
          checksum: createHash("sha256")
            .update(await readFile(new URL(`${name}/migration.sql`, migrationsDir)))
            .digest("hex"),
          finished: true,
          applied_steps_count: 1,
        })),
      );
      expect(rows).toEqual(expected);
      // The schema itself is there.
      const users = await db.query("SELECT to_regclass('users') IS NOT NULL AS present");
      expect(users.rows).toEqual([{ present: true }]);
    },
    TIMEOUT,
  );

  it(
    "refuses to run when an applied migration no longer matches its file",
    async () => {
      db = await openPgliteDatabase();
      const [first] = await migrationNames();
      await applyMigrations(pgliteSqlRunner(db), migrationsDir);
      await db.query("UPDATE _prisma_migrations SET checksum = $1 WHERE migration_name = $2", [
        "0".repeat(64),
        first,
      ]);

      await expect(applyMigrations(pgliteSqlRunner(db), migrationsDir)).rejects.toThrow(
        `Migration ${first} was modified after it was applied`,
      );
      // The advisory lock was released despite the error (re-entrant within a session,
      // so look at pg_locks rather than trying to take it again).
      const locks = await db.query(
        "SELECT count(*)::int AS held FROM pg_locks WHERE locktype = 'advisory'",
      );
      expect(locks.rows).toEqual([{ held: 0 }]);
    },
    TIMEOUT,
  );
});
