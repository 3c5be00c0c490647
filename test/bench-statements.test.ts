// `npm run bench:statements` on tiny numbers: it must run the worker's own batches on the
// real PostgreSQL and account for every step of each, the steps adding up to the whole
// batch. No figure is judged here: benchmarks are not tests.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { timeBatchStatements } from "../bench/statements.js";
import { createTestDatabase, type TestDatabase } from "./harness/database.js";

let database: TestDatabase;
let pool: pg.Pool | undefined;

beforeAll(async () => {
  database = await createTestDatabase();
  if (database.url) pool = new pg.Pool({ connectionString: database.url, max: 2 });
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

describe("npm run bench:statements", () => {
  it("times BEGIN, the check, the write, the outbox row, COMMIT and the worker's work between them, which add up to the whole batch; every send is stored", async (context) => {
    // PGlite (no PostgreSQL configured) has no pool to measure: skipped, and shown so.
    if (!pool) return context.skip();
    const timings = await timeBatchStatements(pool, {
      members: 3,
      batches: 3,
      size: 5,
      warmUp: 1,
    });
    const step = (prefix: string) => timings.steps.find((s) => s.step.startsWith(prefix));
    for (const prefix of ["BEGIN", "SELECT s.n::int AS n", "WITH heads AS", "COMMIT"])
      expect(step(prefix)?.perBatch, prefix).toBe(1);
    expect(step("WITH inserted AS ( INSERT INTO outbox_events")?.perBatch).toBe(1);
    // The worker's work before each statement and after the last.
    const statements = timings.steps.filter(
      (s) => !["BEGIN", "COMMIT", "the worker's"].some((p) => s.step.startsWith(p)),
    );
    expect(step("the worker's own work")?.perBatch).toBe(
      statements.reduce((sum, s) => sum + s.perBatch, 0) + 1,
    );
    const sum = timings.steps.reduce((total, s) => total + s.msPerBatch, 0);
    expect(sum).toBeCloseTo(timings.msPerBatch, 6);
    expect(timings.msPerBatch).toBeGreaterThan(0);
    const { rows } = await pool.query<{ count: number; top: number }>(
      "SELECT count(*)::int AS count, max(seq)::int AS top FROM messages",
    );
    expect(rows[0]).toEqual({ count: 20, top: 20 });
  });
});
