// Plain SQL on the database's own connections, for the hot paths: the worker's batches
// and the api's one read per send.
//
// The worker writes every batch with hand-written multi-row statements; going through
// Prisma's interactive transactions cost about 0.8 ms per statement against 0.16 ms on the
// same pg connection (measured on these machines, 500 statements in one transaction), and
// that overhead is spent on the worker's one event loop that every shard shares. The api
// keeps Prisma everywhere else; this port is the same pool (or the same embedded PGlite), so migrations,
// connection limits and outage handling stay one thing.
//
// Results are plain rows: read timestamps as `… AT TIME ZONE 'UTC'` (timestamptz) and
// counts/bigints through Number()/String(), so both drivers agree whatever the process's
// time zone.

import { createHash } from "node:crypto";
import type { PGlite, Transaction as PGliteTransaction } from "@electric-sql/pglite";
import type pg from "pg";

export interface SqlTx {
  /** One parameterized statement; its rows. */
  query<Row>(text: string, params?: unknown[]): Promise<Row[]>;
  /** One parameterized statement; the number of rows it changed. */
  execute(text: string, params?: unknown[]): Promise<number>;
}

export interface TransactionOptions {
  /** Any statement running longer is cancelled and the transaction rolls back. */
  statementTimeoutMs: number;
  /**
   * A transaction-scoped advisory lock (two int4 keys) taken before `work` runs, in the
   * same round trip as BEGIN; statements after it see what the previous holder committed.
   */
  advisoryLock?: readonly [number, number];
  /**
   * Every statement looks its rows up by key: plan it as index probes, once per connection,
   * whatever its parameters and whatever the table's statistics say (for this transaction
   * only: plan_cache_mode = force_generic_plan, enable_seqscan = off).
   *
   * Generic plans, because such a plan does not depend on its values and costs more to
   * make than to run: PostgreSQL otherwise keeps making a custom plan at every execution
   * when it judges the generic one dearer, which for the access read cost 2 ms of planning
   * per 0.25 ms of execution. No sequential scans, because a generic plan is kept for the
   * connection's life: made while a table was small (a new deployment's, or a table
   * whose statistics are older than its growth), it scanned the whole table, and every
   * row version updates had left in it until vacuum came, at every execution after. On
   * the bench's PostgreSQL (autovacuum off) the worker's batch scanned channels,
   * channel_members, group_members and the outbox at every batch, and PostgreSQL's time
   * per direct message grew by half within a minute (issue 10). A statement with no index
   * to use still scans: the setting only prices scans out where an index can answer.
   */
  keyProbes?: boolean;
}

const lockStatement = ([a, b]: readonly [number, number]) =>
  `SELECT pg_advisory_xact_lock(${Math.trunc(a)}, ${Math.trunc(b)})`;

export interface Sql {
  /** One statement on its own (no transaction): for a hot read Prisma would make dear. */
  query<Row>(text: string, params?: unknown[]): Promise<Row[]>;
  /** Runs `work` in one transaction: committed when it returns, rolled back when it throws. */
  transaction<T>(work: (tx: SqlTx) => Promise<T>, options: TransactionOptions): Promise<T>;
}

/** What a read shared by the api and the worker needs: one statement, its rows (Sql and SqlTx give it). */
export type Queries = Pick<SqlTx, "query">;

/** Sees every statement a transaction runs (tests count them, as they count Prisma's). */
export type StatementObserver = (text: string) => void;

/**
 * Parameterized statements run as named prepared statements: each connection parses and
 * plans a text once, then only binds and executes it. Every text here is a fixed template
 * (values travel as parameters), so the names stay few.
 */
const names = new Map<string, string>();
function prepared(text: string, values: unknown[] | undefined): pg.QueryConfig {
  if (!values) return { text };
  let name = names.get(text);
  if (!name) {
    name = `s${createHash("sha1").update(text).digest("hex").slice(0, 16)}`;
    names.set(text, name);
  }
  return { name, text, values };
}

export function pgSql(pool: pg.Pool, observe?: StatementObserver): Sql {
  return {
    async query(text, params) {
      observe?.(text);
      return (await pool.query(prepared(text, params))).rows;
    },
    async transaction(work, options) {
      const client = await pool.connect();
      // A connection whose BEGIN or ROLLBACK failed is gone or unusable: not pooled again.
      let broken = true;
      try {
        // One round trip: the simple protocol takes several statements at once.
        const begin = [
          "BEGIN",
          `SET LOCAL statement_timeout = ${Math.max(1, Math.floor(options.statementTimeoutMs))}`,
          ...(options.keyProbes
            ? ["SET LOCAL plan_cache_mode = force_generic_plan", "SET LOCAL enable_seqscan = off"]
            : []),
          ...(options.advisoryLock ? [lockStatement(options.advisoryLock)] : []),
        ].join("; ");
        observe?.(begin);
        await client.query(begin);
        broken = false;
        const run = (text: string, params?: unknown[]) => {
          observe?.(text);
          return client.query(prepared(text, params));
        };
        const tx: SqlTx = {
          query: async (text, params) => (await run(text, params)).rows,
          execute: async (text, params) => (await run(text, params)).rowCount ?? 0,
        };
        try {
          const result = await work(tx);
          await client.query("COMMIT");
          return result;
        } catch (error) {
          await client.query("ROLLBACK").catch(() => {
            broken = true;
          });
          throw error;
        }
      } finally {
        client.release(broken);
      }
    },
  };
}

export function pgliteSql(pglite: PGlite, observe?: StatementObserver): Sql {
  const run = (t: PGliteTransaction, text: string, params?: unknown[]) => {
    observe?.(text);
    return t.query(text, params);
  };
  const wrap = (t: PGliteTransaction): SqlTx => ({
    query: async (text, params) => (await run(t, text, params)).rows as never,
    execute: async (text, params) => (await run(t, text, params)).affectedRows ?? 0,
  });
  return {
    async query(text, params) {
      observe?.(text);
      return (await pglite.query(text, params)).rows as never;
    },
    // One embedded process, one connection: nothing to time out against; and its statements
    // are not kept prepared: each is planned anew, so keyProbes has no stale plan to avoid.
    transaction: (work, options) =>
      pglite.transaction(async (t) => {
        if (options.advisoryLock) await run(t, lockStatement(options.advisoryLock));
        return work(wrap(t));
      }),
  };
}
