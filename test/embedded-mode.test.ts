// Embedded mode end to end: `node --import tsx src/main.ts` with no DATABASE_URL, AMQP_URL
// or MEMCACHED_SERVERS must start on PGlite under DATA_DIR, migrate it by itself, serve
// register/login/me over HTTP, shut down cleanly on SIGTERM, and keep both the user and
// the generated JWT secret across a restart. Real child processes, as a user runs it.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { afterAll, describe, expect, it } from "vitest";
import { LoginDocument, MeDocument, RegisterDocument } from "./gql/graphql.js";
import { mustRequest } from "./harness/app.js";
import { TEST_PASSWORD } from "./harness/users.js";

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 15_000;

interface Service {
  child: ChildProcess;
  url: string;
  /** Everything the process wrote so far (stdout and stderr), for failure messages. */
  output(): string;
}

const children = new Set<ChildProcess>();
const tempDirs: string[] = [];

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === "string") throw new Error("no port from the OS");
  return address.port;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

/** Starts the service on `dataDir` and resolves once GET /ready answers 200. */
async function startService(dataDir: string): Promise<Service> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    NODE_ENV: "development",
  };
  // Never inherited (the env is built from scratch), but say so: this is the point.
  delete env.DATABASE_URL;
  delete env.AMQP_URL;
  delete env.MEMCACHED_SERVERS;
  delete env.JWT_SECRET;

  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: projectRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const service: Service = { child, url: `http://127.0.0.1:${port}/graphql`, output: () => output };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `service exited (${child.exitCode ?? child.signalCode}) before ready:\n${output}`,
      );
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/ready`);
      if (response.status === 200) return service;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  child.kill("SIGKILL");
  throw new Error(`service not ready within ${READY_TIMEOUT_MS} ms:\n${output}`);
}

/** SIGTERM, then the exit code (a clean shutdown exits 0). */
async function stopService(service: Service): Promise<number | null> {
  service.child.kill("SIGTERM");
  const timer = setTimeout(() => service.child.kill("SIGKILL"), EXIT_TIMEOUT_MS);
  const { code, signal } = await exited(service.child);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`exit code ${code}, signal ${signal}:\n${service.output()}`);
  return code;
}

describe("embedded mode (no DATABASE_URL)", () => {
  it("starts on PGlite, migrates it, serves accounts, and keeps them across a restart", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "chat-embedded-"));
    tempDirs.push(dataDir);

    // First run on an empty data directory.
    const first = await startService(dataDir);
    expect(first.output()).toContain(`database=embedded PGlite in ${dataDir}`);
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

    // State lives under DATA_DIR: PGlite's files and the generated JWT secret.
    expect(await readdir(dataDir)).toEqual(expect.arrayContaining(["pglite", "jwt-secret"]));

    // The service applied every migration in prisma/migrations to PGlite by itself.
    const migrationsDir = join(projectRoot, "prisma", "migrations");
    const expected = (await readdir(migrationsDir, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    const pglite = await PGlite.create(join(dataDir, "pglite"));
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
