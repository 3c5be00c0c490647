// Embedded mode end to end: `node --import tsx src/main.ts` with no DATABASE_URL, AMQP_URL
// or MEMCACHED_SERVERS must start on PGlite under DATA_DIR, migrate it by itself, serve
// register/login/me over HTTP, shut down cleanly on SIGTERM, and keep both the user and
// the generated JWT secret across a restart. Real child processes, as a user runs it.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openPgliteDatabase } from "../src/db/pglite.js";
import { LoginDocument, MeDocument, RegisterDocument } from "./gql/graphql.js";
import { mustRequest } from "./harness/app.js";
import { startProcess, stopProcess } from "./harness/processes.js";
import { TEST_PASSWORD } from "./harness/users.js";
import { until } from "./harness/wait.js";

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
const tempDirs: string[] = [];
afterAll(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** No DATABASE_URL, AMQP_URL, MEMCACHED_SERVERS or JWT_SECRET: the env is built from scratch. */
const startService = (dataDir: string) =>
  startProcess({ DATA_DIR: dataDir, NODE_ENV: "development" });
const stopService = stopProcess;

describe("embedded mode (no DATABASE_URL)", () => {
  it("starts on PGlite, migrates it, serves accounts, and keeps them across a restart", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "chat-embedded-"));
    tempDirs.push(dataDir);

    // First run on an empty data directory.
    const first = await startService(dataDir);
    // Logs are written off the event loop: the line may follow the readiness answer.
    await until(
      () => first.output().includes(`"database":"embedded PGlite in ${dataDir}"`),
      10_000,
    );
    const registered = await mustRequest(first, RegisterDocument, {
      input: {
        email: "embedded@example.com",
        username: "embedded",
        password: TEST_PASSWORD,
        displayName: "Embedded",
      },
    });
    const userId = registered.register.user.id;
    const loggedIn = await mustRequest(first, LoginDocument, {
      input: { login: "embedded", password: TEST_PASSWORD },
    });
    expect(loggedIn.login.user.id).toBe(userId);
    const firstToken = loggedIn.login.accessToken;
    const me = await mustRequest(first, MeDocument, {}, firstToken);
    expect(me.me).toMatchObject({ id: userId, username: "embedded" });
    expect(await stopService(first)).toBe(0);
    // What was logged last before the exit was written (buffered lines are flushed at exit).
    await until(() => first.output().includes(`"msg":"stopped"`), 5_000);

    // State lives under DATA_DIR: PGlite's files and the generated JWT secret.
    expect(await readdir(dataDir)).toEqual(expect.arrayContaining(["pglite", "jwt-secret"]));

    // The service applied every migration in prisma/migrations to PGlite by itself.
    const migrationsDir = join(projectRoot, "prisma", "migrations");
    const expected = (await readdir(migrationsDir, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    const pglite = await openPgliteDatabase(join(dataDir, "pglite"));
    try {
      const { rows } = await pglite.query<{ migration_name: string }>(
        `SELECT migration_name FROM _prisma_migrations
         WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name`,
      );
      expect(rows.map((row) => row.migration_name)).toEqual(expected);
    } finally {
      await pglite.close();
    }

    // Second run on the same directory: same user, and the old token still verifies.
    const second = await startService(dataDir);
    const again = await mustRequest(second, LoginDocument, {
      input: { login: "embedded@example.com", password: TEST_PASSWORD },
    });
    expect(again.login.user.id).toBe(userId);
    const meWithOldToken = await mustRequest(second, MeDocument, {}, firstToken);
    expect(meWithOldToken.me?.id).toBe(userId);
    expect(await stopService(second)).toBe(0);
  }, 120_000);
});
