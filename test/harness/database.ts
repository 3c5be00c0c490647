// Gives each test file a database of its own, migrated and empty:
// 1. TEST_DATABASE_URL set (CI, or a developer's PostgreSQL): a fresh database is created
//    on that server per test file and dropped afterwards;
// 2. otherwise a PostgreSQL container through testcontainers, where a Docker engine runs;
// 3. otherwise, unless TEST_REQUIRE_SERVICES=1, an in-memory PGlite.
// With TEST_REQUIRE_SERVICES=1 (as in .ci/run) a missing PostgreSQL fails the run.
import { randomBytes } from "node:crypto";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import type { Database } from "../../src/db/database.js";
import { PrismaClient } from "../../src/db/generated/prisma/client.js";
import { applyMigrations, pgliteSqlRunner, pgSqlRunner } from "../../src/db/migrate.js";
import { openPgliteDatabase } from "../../src/db/pglite.js";
import { pgliteSql, pgSql } from "../../src/db/sql.js";

export interface TestDatabase {
  db: Database;
  /** Every SQL statement Prisma sent, in order (for query-count assertions). */
  statements: string[];
  /** The URL of the database (undefined for PGlite); child processes connect with it. */
  url: string | undefined;
  drop(): Promise<void>;
}

const requireServices = process.env.TEST_REQUIRE_SERVICES === "1";

async function postgresServerUrl(): Promise<string | undefined> {
  if (process.env.TEST_DATABASE_URL) return process.env.TEST_DATABASE_URL;
  try {
    const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
    const container = await new PostgreSqlContainer("postgres:16-alpine").start();
    process.once("exit", () => void container.stop());
    return container.getConnectionUri();
  } catch (error) {
    if (requireServices) {
      throw new Error(
        `TEST_REQUIRE_SERVICES=1 but no PostgreSQL: set TEST_DATABASE_URL or run a Docker engine (${String(error)})`,
      );
    }
    return undefined;
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = await postgresServerUrl();
  if (!serverUrl) return pgliteDatabase();
  const name = `t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 10 });
  // Dropping the database terminates whatever is still connected; that is not a failure.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  const client = await pool.connect();
  await applyMigrations(pgSqlRunner(client));
  client.release();
  const prisma = new PrismaClient({
    adapter: new PrismaPg(pool),
    log: [{ emit: "event", level: "query" }],
  });
  const statements: string[] = [];
  prisma.$on("query", (event) => statements.push(event.query));
  const db: Database = {
    kind: "postgres",
    prisma,
    sql: pgSql(pool, (text) => statements.push(text)),
    migrate: async () => [],
    ping: async () => void (await pool.query("select 1")),
    close: async () => {},
  };
  return {
    db,
    statements,
    url: url.toString(),
    async drop() {
      await prisma.$disconnect();
      await pool.end();
      const cleanup = new pg.Client({ connectionString: serverUrl });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}

async function pgliteDatabase(): Promise<TestDatabase> {
  const pglite = await openPgliteDatabase();
  await applyMigrations(pgliteSqlRunner(pglite));
  const prisma = new PrismaClient({
    adapter: new PrismaPGlite(pglite),
    log: [{ emit: "event", level: "query" }],
  });
  const statements: string[] = [];
  prisma.$on("query", (event) => statements.push(event.query));
  const db: Database = {
    kind: "pglite",
    prisma,
    sql: pgliteSql(pglite, (text) => statements.push(text)),
    migrate: async () => [],
    ping: async () => void (await pglite.query("select 1")),
    close: async () => {},
  };
  return {
    db,
    statements,
    url: undefined,
    async drop() {
      await prisma.$disconnect();
      await pglite.close();
    },
  };
}
