// Losing Memcached loses nothing durable: with a Memcached of its own (so restarting it
// disturbs no other test), the app reports the outage on /ready and rebuilds presence
// from its live sockets within one heartbeat of the cache coming back.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemcachedCache } from "../src/cache/memcached-cache.js";
import { AddContactDocument, PresenceDocument } from "./gql/graphql.js";
import { mustRequest, onlineSocket, type RunningApp, startApp } from "./harness/app.js";
import { createTestDatabase } from "./harness/database.js";
import { dbId } from "./harness/ids.js";
import { freePort } from "./harness/processes.js";
import { registerUser } from "./harness/users.js";
import { eventually, until } from "./harness/wait.js";

const installed = spawnSync("memcached", ["-h"]).status === 0;
const runnable = installed || process.env.TEST_REQUIRE_SERVICES === "1";
let port: number;
let memcached: ChildProcess | undefined;
let app: RunningApp;

async function startMemcached() {
  memcached = spawn("memcached", ["-u", "root", "-l", "127.0.0.1", "-p", String(port)], {
    stdio: "ignore",
  });
  await until(acceptsConnections, 15_000, "memcached to listen");
}

function acceptsConnections() {
  return new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function stopMemcached() {
  memcached?.kill("SIGKILL");
  await new Promise((resolve) => memcached?.once("exit", resolve));
  memcached = undefined;
}

async function ready() {
  return (await fetch(app.url.replace("/graphql", "/ready"))).status;
}

beforeAll(async () => {
  if (!runnable) return;
  port = await freePort();
  await startMemcached();
  app = await startApp(await createTestDatabase(), {
    MEMCACHED_SERVERS: `127.0.0.1:${port}`,
    PRESENCE_TTL_SECONDS: "3",
  });
}, 60_000);

afterAll(async () => {
  if (!runnable) return;
  await app?.app.stop();
  await app?.database.drop();
  await stopMemcached();
});

describe.skipIf(!runnable)("losing Memcached", () => {
  it("/ready reports it, and presence is rebuilt from live sockets within one heartbeat of its return", async () => {
    const [watcher, subject] = await Promise.all([registerUser(app), registerUser(app)]);
    await mustRequest(app, AddContactDocument, { userId: subject.user.id }, watcher.accessToken);
    const client = onlineSocket(app, subject.accessToken);
    const online = async () =>
      (
        await mustRequest(
          app,
          PresenceDocument,
          { userIds: [subject.user.id] },
          watcher.accessToken,
        )
      ).presence[0]?.status;
    expect(await eventually(online, (status) => status === "ONLINE")).toBe("ONLINE");
    expect(await ready()).toBe(200);

    // What other replicas read: the per-(user, server) key in Memcached itself.
    const cache = new MemcachedCache({ servers: `127.0.0.1:${port}`, prefix: "chat:" });
    const key = `presence:on:${dbId(subject.user.id)}:${app.app.services.presence.identity}`;
    expect(await cache.get(key)).toBe("1");

    await stopMemcached();
    expect(await ready()).toBe(503);
    await startMemcached(); // a fresh process: every presence key is gone
    const back = Date.now();
    await until(
      async () => (await ready()) === 200 && (await cache.get(key)) === "1",
      15_000,
      "the replica to repair its presence keys",
    );
    // one heartbeat is a third of the TTL (1 s); allow two, and a second for a busy machine
    expect(Date.now() - back).toBeLessThan(3000);
    expect(await ready()).toBe(200);
    expect(await cache.get(key)).toBe("1");
    expect(await online()).toBe("ONLINE");
    await cache.close();
    await client.dispose();
  }, 60_000);
});
