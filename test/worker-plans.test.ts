// The worker's batch runs its statements on generic plans (src/worker/persist-batch.ts):
// PostgreSQL otherwise planned the send check anew for every batch, 1 ms of planning to run
// it in 0.1-0.3 (issue 10). Read from PostgreSQL itself: pg_prepared_statements counts, per
// statement on a connection, the generic and the custom plans it ran on.
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import type { Sql } from "../src/db/sql.js";
import type { SendMessageCommand } from "../src/pubsub/commands.js";
import { persistBatch } from "../src/worker/persist-batch.js";
import { createTestDatabase } from "./harness/database.js";

// In CI (TEST_REQUIRE_SERVICES=1) the harness fails the run when PostgreSQL is missing.
const database = await createTestDatabase();
afterAll(async () => {
  await database.drop();
});

interface PlanCounts {
  generic: number;
  custom: number;
}

/**
 * `sql`, reading the plan counts of one statement (the one whose text holds
 * `statementMark`) on its transaction's connection just before it commits.
 */
function planReading(sql: Sql, statementMark: string) {
  const seen: PlanCounts[] = [];
  const reading: Sql = {
    query: (text, params) => sql.query(text, params),
    transaction: (work, options) =>
      sql.transaction(async (tx) => {
        const result = await work(tx);
        seen.push(
          ...(await tx.query<PlanCounts>(
            `SELECT generic_plans::int AS generic, custom_plans::int AS custom
               FROM pg_prepared_statements WHERE statement LIKE $1`,
            [`%${statementMark}%`],
          )),
        );
        return result;
      }, options),
  };
  return { reading, seen };
}

function send(): SendMessageCommand {
  const id = randomUUID();
  return {
    type: "message.send",
    messageId: id,
    channelId: randomUUID(),
    senderId: randomUUID(),
    clientMessageId: id,
    body: "hello",
    createdAt: new Date().toISOString(),
  };
}

describe.skipIf(database.db.kind !== "postgres")("the worker's batch on PostgreSQL", () => {
  it("runs the send check on a generic plan, in every batch", async () => {
    const { reading, seen: checks } = planReading(database.db.sql, "AS existing_channel");
    // Sends of no channel: the check runs (and refuses them), as for any send.
    for (let batch = 0; batch < 3; batch++)
      await persistBatch(reading, 0, [send(), send()], [4242, 0]);
    expect(checks.length).toBe(3);
    // The pool may hand each batch another connection: every count is of one connection.
    for (const check of checks) expect(check.custom).toBe(0);
    expect(checks.reduce((sum, check) => sum + check.generic, 0)).toBeGreaterThanOrEqual(3);
  });
});
