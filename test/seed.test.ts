// `npm run seed` end to end, as a developer runs it: the script as a child process with
// the environment `npm start` gets, on a fresh database and the real services. The first
// run builds the app itself; the second finds `npm start` running and goes through it (as
// it must with PGlite, whose files one process at a time may open), and adds nothing.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_MESSAGES, DEMO_PASSWORD, DEMO_USERS } from "../scripts/seed/demo-data.js";
import { AmqpBus } from "../src/pubsub/amqp/amqp-bus.js";
import {
  ContactsDocument,
  GroupDocument,
  GroupsDocument,
  HistoryDocument,
  InboxDocument,
  LoginDocument,
  MeDocument,
} from "./gql/graphql.js";
import { mustRequest } from "./harness/app.js";
import { amqpUrl, uniquePrefix } from "./harness/broker.js";
import { createTestDatabase, type TestDatabase } from "./harness/database.js";
import { memcachedServers } from "./harness/memcached.js";
import { freePort, type ServiceProcess, startProcess, stopProcess } from "./harness/processes.js";

const projectRoot = fileURLToPath(new URL("..", import.meta.url));
const execFileAsync = promisify(execFile);

let database: TestDatabase;
let env: Record<string, string>;
let server: ServiceProcess | undefined;

beforeAll(async () => {
  const [created, broker, memcached] = await Promise.all([
    createTestDatabase(),
    amqpUrl(),
    memcachedServers(),
  ]);
  database = created;
  env = {
    NODE_ENV: "development",
    // The JWT secret (and without PostgreSQL, PGlite's files) stay out of the repository.
    DATA_DIR: await mkdtemp(join(tmpdir(), "chat-seed-")),
    NAMESPACE: uniquePrefix(),
    ...(memcached ? { MEMCACHED_SERVERS: memcached } : {}),
    // The broker's shard leases live in PostgreSQL: RabbitMQ only beside it (as useTestApp).
    ...(database.url
      ? { DATABASE_URL: database.url, ...(broker ? { AMQP_URL: broker } : {}) }
      : {}),
  };
});

afterAll(async () => {
  if (server) await stopProcess(server);
  if (env?.AMQP_URL) {
    const bus = await AmqpBus.connect({ url: env.AMQP_URL, prefix: env.NAMESPACE });
    await bus.deleteTopology();
    await bus.close();
  }
  await database?.drop();
  if (env?.DATA_DIR) await rm(env.DATA_DIR, { recursive: true, force: true });
});

/** Runs `npm run seed`'s script to its end; a non-zero exit rejects with its output. */
async function runSeed(port: number): Promise<string> {
  const { stdout } = await execFileAsync(process.execPath, ["--import", "tsx", "scripts/seed.ts"], {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOST: "127.0.0.1",
      ...env,
      PORT: `${port}`,
    },
    timeout: 120_000,
  });
  return stdout;
}

function printedToken(output: string): string {
  const token = /^\{"Authorization": "Bearer (\S+)"\}$/m.exec(output)?.[1];
  if (!token) throw new Error(`no Authorization header line in:\n${output}`);
  return token;
}

describe("npm run seed", () => {
  it("creates the demo data through the API, prints how to sign in, and a second run adds nothing", async () => {
    // Nothing listens on this port: the script runs the app (and its worker) itself.
    const first = await runSeed(await freePort());
    expect(first).toContain("seeding");
    server = await startProcess(env);
    const second = await runSeed(server.port);
    expect(second).toContain(
      `Seeding through the server running at http://localhost:${server.port}/graphql`,
    );

    for (const output of [first, second]) {
      expect(output).toContain(`Password of every user: ${DEMO_PASSWORD}`);
      for (const user of DEMO_USERS)
        expect(output).toMatch(
          new RegExp(`^ +${user.username} +${user.displayName} +${user.email}$`, "m"),
        );
      // The printed header carries a real session of alice.
      const me = await mustRequest(server, MeDocument, {}, printedToken(output));
      expect(me.me?.username).toBe("alice");
    }

    // Everyone signs in with the printed password.
    const tokens = new Map<string, string>();
    for (const user of DEMO_USERS) {
      const { login } = await mustRequest(server, LoginDocument, {
        input: { login: user.username, password: DEMO_PASSWORD },
      });
      expect(login.user).toMatchObject({ username: user.username, displayName: user.displayName });
      tokens.set(user.username, login.accessToken);
    }
    const as = (username: string) => tokens.get(username) as string;

    // One "Demo team" for everyone, however many runs: alice owns it, the others are members.
    for (const user of DEMO_USERS) {
      const { groups } = await mustRequest(
        server,
        GroupsDocument,
        { first: 50 },
        as(user.username),
      );
      expect(groups.edges.map((edge) => edge.node.name)).toEqual(["Demo team"]);
    }
    const { groups } = await mustRequest(server, GroupsDocument, { first: 50 }, as("alice"));
    const { group } = await mustRequest(
      server,
      GroupDocument,
      { id: groups.edges[0]!.node.id },
      as("alice"),
    );
    expect(group?.viewerRole).toBe("OWNER");
    expect(group?.members.edges.map((edge) => edge.node.role).sort()).toEqual([
      "MEMBER",
      "MEMBER",
      "MEMBER",
      "OWNER",
    ]);
    expect(group?.channels.edges.map(({ node }) => [node.name, node.isPrivate])).toEqual([
      ["general", false],
      ["leads", true],
      ["random", false],
    ]);

    // Each inbox: who is in which channel (one direct conversation, alice and bob's), and
    // what is unread after the seed's read positions (a sender has read their own).
    const unread = async (username: string) => {
      const { channels } = await mustRequest(server!, InboxDocument, { first: 50 }, as(username));
      return Object.fromEntries(
        channels.edges.map(({ node }) => [
          node.name ?? `@${node.peer?.displayName}`,
          node.unreadCount,
        ]),
      );
    };
    expect(await unread("alice")).toEqual({ general: 0, random: 2, leads: 0, "@Bob Baker": 1 });
    expect(await unread("bob")).toEqual({ general: 0, random: 0, leads: 0, "@Alice Archer": 0 });
    expect(await unread("carol")).toEqual({ general: 1, random: 0 });
    expect(await unread("dave")).toEqual({ general: 2 });

    // Every channel's history: the demo messages in order, seqs 1..n, each once.
    const { channels } = await mustRequest(server, InboxDocument, { first: 50 }, as("alice"));
    for (const { node } of channels.edges) {
      const key = node.kind === "DIRECT" ? "direct" : node.name;
      const { channel } = await mustRequest(
        server,
        HistoryDocument,
        { channelId: node.id, first: 50 },
        as("alice"),
      );
      const stored = channel!.messages.edges.map((edge) => edge.node).reverse();
      expect(
        stored.map((message) => [
          message.seq,
          message.sender.username,
          message.clientMessageId,
          message.body,
        ]),
      ).toEqual(
        DEMO_MESSAGES.filter((message) => message.channel === key).map((message, index) => [
          index + 1,
          message.sender,
          message.clientMessageId,
          message.body,
        ]),
      );
    }

    const contactsOf = async (username: string) => {
      const { contacts } = await mustRequest(
        server!,
        ContactsDocument,
        { first: 50 },
        as(username),
      );
      return contacts.edges.map((edge) => edge.node.user.username).sort();
    };
    expect(await contactsOf("alice")).toEqual(["bob", "carol"]);
    expect(await contactsOf("bob")).toEqual(["alice"]);
    expect(await contactsOf("carol")).toEqual([]);
  }, 300_000);
});
