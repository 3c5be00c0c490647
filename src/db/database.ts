// The database port: one Prisma client over either PostgreSQL (DATABASE_URL) or the
// embedded PGlite (no URL; WASM PostgreSQL persisted under the data directory). Both
// run the same Prisma schema and the same migrations.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "./generated/prisma/client.js";
import { applyMigrations, pgliteSqlRunner, pgSqlRunner } from "./migrate.js";
import { openPgliteDatabase } from "./pglite.js";
import { pgliteSql, pgSql, type Sql } from "./sql.js";

export type { PrismaClient };

export interface DatabaseOptions {
  /** PostgreSQL URL; undefined selects embedded PGlite. */
  url: string | undefined;
  /** Directory for PGlite's files (embedded mode only). */
  dataDir: string;
  /** Apply pending migrations before returning. */
  migrate: boolean;
  /** Pool size for PostgreSQL (default 10). */
  poolSize?: number;
}

export interface Database {
  readonly kind: "postgres" | "pglite";
  readonly prisma: PrismaClient;
  /** Plain SQL on the same connections, for the hot paths (see sql.ts). */
  readonly sql: Sql;
  /** Applies pending migrations; returns the names applied now. */
  migrate(): Promise<string[]>;
  /** Throws when the database cannot answer, or cannot take writes (used by /ready and the worker). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const database = options.url
    ? openPostgres(options.url, options.poolSize ?? 10)
    : await openPglite(join(options.dataDir, "pglite"));
  if (options.migrate) await database.migrate();
  return database;
}

function openPostgres(url: string, poolSize: number): Database {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // A client that loses its server (a restart, an admin terminating backends) emits
  // 'error': on the pool while idle, on the client itself while checked out. Unheard,
  // either would crash the process; the query in flight fails on its own and the next
  // one gets a fresh connection.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    kind: "postgres",
    prisma,
    sql: pgSql(pool),
    async migrate() {
      const client = await pool.connect();
      try {
        return await applyMigrations(pgSqlRunner(client));
      } finally {
        client.release();
      }
    },
    async ping() {
      // Answering is not enough: after a failover the pool may reach a standby.
      const { rows } = await pool.query<{ standby: boolean }>(
        "select pg_is_in_recovery() as standby",
      );
      if (rows[0]?.standby) throw new Error("the database is a read-only standby");
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function openPglite(directory: string): Promise<Database> {
  await mkdir(directory, { recursive: true });
  const pglite = await openPgliteDatabase(directory);
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  return {
    kind: "pglite",
    prisma,
    sql: pgliteSql(pglite),
    migrate: () => applyMigrations(pgliteSqlRunner(pglite)),
    async ping() {
      await pglite.query("select 1");
    },
    async close() {
      await prisma.$disconnect();
      await pglite.close();
    },
  };
}
