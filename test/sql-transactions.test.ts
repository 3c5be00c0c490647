// The plain-SQL port's transaction options on PostgreSQL (src/db/sql.ts): what they set
// holds for the transaction's statements and for nothing after it on the same pooled
// connection. (The embedded PGlite runs one statement at a time on one connection and
// plans every statement anew: it has neither a timeout nor a plan cache to set.)
import { afterAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "./harness/database.js";

// In CI (TEST_REQUIRE_SERVICES=1) the harness fails the run when PostgreSQL is missing.
const database = await createTestDatabase();
afterAll(async () => {
  await database.drop();
});

/** A statement with a parameter: sql.ts runs it as a named prepared statement. */
const PROBE = "SELECT count(*)::int AS n FROM users WHERE id = ANY($1::uuid[])";
const planCounts = `SELECT generic_plans::int AS generic, custom_plans::int AS custom
                      FROM pg_prepared_statements WHERE statement = $1`;

describe.skipIf(database.db.kind !== "postgres")("plain-SQL transactions on PostgreSQL", () => {
  it("keyProbes: the transaction's statements run on a generic plan, and the connection chooses for itself again after", async () => {
    const { sql } = database.db;
    const plans = await sql.transaction(
      async (tx) => {
        await tx.query(PROBE, [[]]);
        return tx.query<{ generic: number; custom: number }>(planCounts, [PROBE]);
      },
      { statementTimeoutMs: 1000, keyProbes: true },
    );
    expect(plans).toEqual([{ generic: 1, custom: 0 }]);
    // SET LOCAL, not SET: the pool hands out the connection just released first, and it
    // is back to PostgreSQL's own choice.
    for (let i = 0; i < 3; i++) {
      const [setting] = await sql.query<{ mode: string }>(
        "SELECT current_setting('plan_cache_mode') AS mode WHERE $1::int = 1",
        [1],
      );
      expect(setting?.mode).toBe("auto");
    }
    // Without the option, the same statement gets PostgreSQL's default: a custom plan first.
    const defaultPlans = await sql.transaction(
      async (tx) => {
        await tx.query(`${PROBE} AND true`, [[]]);
        return tx.query<{ generic: number; custom: number }>(planCounts, [`${PROBE} AND true`]);
      },
      { statementTimeoutMs: 1000 },
    );
    expect(defaultPlans).toEqual([{ generic: 0, custom: 1 }]);
  });

  it("keyProbes: a table the planner believes small is still read through its index, and only in that transaction", async () => {
    const { sql } = database.db;
    await sql.query("CREATE TABLE key_probe (id int PRIMARY KEY, v int)");
    await sql.query("INSERT INTO key_probe SELECT g, g FROM generate_series(1, 20) AS g");
    await sql.query("ANALYZE key_probe");
    const plan = async (keyProbes: boolean) =>
      (
        await sql.transaction(
          (tx) =>
            tx.query<{ "QUERY PLAN": string }>(
              "EXPLAIN SELECT v FROM key_probe WHERE id = ANY($1::int[])",
              [[1, 2]],
            ),
          { statementTimeoutMs: 1000, keyProbes },
        )
      )
        .map((row) => row["QUERY PLAN"])
        .join("\n");
    // One page: PostgreSQL's own choice is to read it all, as it would go on doing with a
    // generic plan made now, the table grown since.
    expect(await plan(false)).toMatch(/Seq Scan on key_probe/);
    const probed = await plan(true);
    expect(probed).toMatch(/Index (Only )?Scan .*on key_probe|Bitmap Index Scan on key_probe_pkey/);
    expect(probed).not.toMatch(/Seq Scan/);
    // SET LOCAL: the next transaction on the pooled connection plans for itself again.
    expect(await plan(false)).toMatch(/Seq Scan on key_probe/);
  });

  it("statementTimeoutMs cancels a statement that runs longer and rolls the transaction back", async () => {
    const { sql } = database.db;
    const failure = await sql
      .transaction((tx) => tx.query("SELECT pg_sleep($1::float8)", [5]), {
        statementTimeoutMs: 100,
      })
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "57014" }); // query_canceled
    const [setting] = await sql.query<{ timeout: string }>(
      "SELECT current_setting('statement_timeout') AS timeout WHERE $1::int = 1",
      [1],
    );
    expect(setting?.timeout).toBe("0");
  });
});
