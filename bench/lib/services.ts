// The outside services a benchmark runs on (the same ones the tests use in CI), and a
// fresh, migrated database per run, dropped at the end.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { applyMigrations, pgSqlRunner } from "../../src/db/migrate.js";

export interface Services {
  /** The server's URL (databases are created on it). */
  postgresUrl: string;
  amqpUrl: string;
  memcachedServers: string;
}

export function servicesFromEnv(env = process.env): Services {
  return {
    postgresUrl:
      env.BENCH_DATABASE_URL ??
      env.TEST_DATABASE_URL ??
      "postgresql://postgres@127.0.0.1:5432/test",
    amqpUrl: env.BENCH_AMQP_URL ?? env.TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672",
    memcachedServers:
      env.BENCH_MEMCACHED_SERVERS ?? env.TEST_MEMCACHED_SERVERS ?? "127.0.0.1:11211",
  };
}

export interface BenchDatabase {
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export async function createDatabase(serverUrl: string): Promise<BenchDatabase> {
  const name = `bench_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
  pool.on("error", () => {});
  const client = await pool.connect();
  await applyMigrations(pgSqlRunner(client));
  client.release();
  return {
    url: url.toString(),
    pool,
    async drop() {
      await pool.end();
      const cleanup = new pg.Client({ connectionString: serverUrl });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}
