// The deployable topology: docker-compose.yml and deploy/nginx.conf are checked as files
// (no Docker engine runs here), then run as their process twin: the production build
// (`node dist/main.js`) with each compose service's own environment (its hosts pointed at
// the test's PostgreSQL, RabbitMQ and Memcached), the one-shot migration first, and a real
// nginx with deploy/nginx.conf (its upstreams pointed at the replicas' ports) in front.
// Clients talk only to nginx, as they would to `docker compose up`.
import { execFile, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Client } from "graphql-ws";
import { createClient } from "graphql-ws";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { parse } from "yaml";
import { AmqpBus } from "../src/pubsub/amqp/amqp-bus.js";
import { HeartbeatDocument, MessageAddedDocument, SendMessageDocument } from "./gql/graphql.js";
import { mustRequest } from "./harness/app.js";
import { amqpUrl, uniquePrefix } from "./harness/broker.js";
import { dbId } from "./harness/ids.js";
import { memcachedServers } from "./harness/memcached.js";
import { freePort, type ServiceProcess, startProcess, stopProcess } from "./harness/processes.js";
import { record } from "./harness/subscriptions.js";
import { TEST_PASSWORD, twoInAGroup } from "./harness/users.js";
import { until } from "./harness/wait.js";

const run = promisify(execFile);
const root = new URL("..", import.meta.url);
const requireServices = process.env.TEST_REQUIRE_SERVICES === "1";

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  ports?: string[];
  volumes?: string[];
}

const compose = parse(await readFile(new URL("docker-compose.yml", root), "utf8"), {
  merge: true,
}) as { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };
const nginxConf = await readFile(new URL("deploy/nginx.conf", root), "utf8");
const dockerfile = await readFile(new URL("Dockerfile", root), "utf8");
const services = compose.services;
const byRole = (role: string) =>
  Object.entries(services).filter(([, s]) => s.environment?.ROLE === role);

/** The `server host:port` lines of nginx's chat_api upstream. */
function upstreamServers(conf: string) {
  const block = /upstream chat_api \{([^}]*)\}/.exec(conf)?.[1] ?? "";
  return [...block.matchAll(/^\s*server\s+([^\s;]+)/gm)].map((m) => m[1]);
}

/** Compose's `${NAME:-default}` interpolation, from this process's environment. */
function interpolate(value: string) {
  return value.replace(
    /\$\{(\w+):-([^}]*)\}/g,
    (_, name: string, fallback: string) => process.env[name] || fallback,
  );
}

describe("docker-compose.yml", () => {
  it("runs PostgreSQL, RabbitMQ with its management UI, Memcached, a one-shot migration, two api replicas, two workers and nginx", () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        "api-1",
        "api-2",
        "memcached",
        "migrate",
        "nginx",
        "postgres",
        "rabbitmq",
        "worker-1",
        "worker-2",
      ].sort(),
    );
    expect(services.rabbitmq?.image).toMatch(/management/);
    expect(services.rabbitmq?.ports).toContain("15672:15672");
    expect(services.migrate?.command).toEqual(["node", "dist/db/migrate-cli.js"]);
    expect(byRole("api").map(([name]) => name)).toEqual(["api-1", "api-2"]);
    expect(byRole("worker").map(([name]) => name)).toEqual(["worker-1", "worker-2"]);
  });

  it("every replica and worker runs the built image in production mode, with its own SERVER_ID and the shared services", () => {
    const chat = [...byRole("api"), ...byRole("worker")];
    const ids = chat.map(([, s]) => s.environment?.SERVER_ID);
    expect(new Set(ids).size).toBe(chat.length);
    for (const [name, service] of [...chat, ["migrate", services.migrate] as const]) {
      expect(service?.build, name).toBe(".");
      const env = service?.environment ?? {};
      expect(env.NODE_ENV, name).toBe("production");
      expect(env.DATABASE_URL, name).toMatch(/@postgres:5432\//);
      expect(env.AMQP_URL, name).toMatch(/@rabbitmq:5672/);
      expect(env.MEMCACHED_SERVERS, name).toBe("memcached:11211");
      expect(interpolate(env.JWT_SECRET ?? "").length, name).toBeGreaterThanOrEqual(32);
    }
    // Behind nginx the client's address is the last X-Forwarded-For entry.
    for (const [, api] of byRole("api")) expect(api.environment?.TRUSTED_PROXY_HOPS).toBe("1");
  });

  it("starts in order: data services healthy, then the migration completed, then the replicas and workers, then nginx once both replicas are healthy", () => {
    expect(services.postgres?.healthcheck).toBeDefined();
    expect(services.rabbitmq?.healthcheck).toBeDefined();
    expect(services.migrate?.depends_on?.postgres?.condition).toBe("service_healthy");
    for (const [name, service] of [...byRole("api"), ...byRole("worker")]) {
      expect(service.depends_on?.migrate?.condition, name).toBe("service_completed_successfully");
      expect(service.depends_on?.rabbitmq?.condition, name).toBe("service_healthy");
    }
    for (const [name] of byRole("api"))
      expect(services.nginx?.depends_on?.[name]?.condition).toBe("service_healthy");
    expect(services.nginx?.volumes).toContain("./deploy/nginx.conf:/etc/nginx/nginx.conf:ro");
  });

  it("the Dockerfile builds in one stage and runs compiled JavaScript in another, production dependencies only, as a non-root user, with a healthcheck", () => {
    const stages = dockerfile.match(/^FROM .*/gm) ?? [];
    expect(stages).toHaveLength(2);
    expect(dockerfile).toMatch(/npm run build && npm prune --omit=dev/);
    const run = dockerfile.slice(dockerfile.lastIndexOf("FROM "));
    expect(run).toMatch(/^USER node$/m);
    expect(run).toMatch(/^ENV NODE_ENV=production/m);
    expect(run).toMatch(/^HEALTHCHECK .*\n?.*\/ready/m);
    expect(run).toMatch(/^CMD \["node", "dist\/main.js"\]$/m);
    expect(run).not.toMatch(/tsx|COPY --from=build \/app\/src/);
  });

  it("the api replicas share one uploads volume, and nginx lets uploads as large as ATTACHMENT_MAX_BYTES through to them", () => {
    for (const [name, api] of byRole("api"))
      expect(api.volumes, name).toContain("uploads:/app/.data/uploads");
    expect(compose.volumes).toHaveProperty("uploads");
    const uploads = /location \/uploads\/ \{([^}]*)\}/.exec(nginxConf)?.[1] ?? "";
    expect(uploads).toMatch(/client_max_body_size 26m;/);
    expect(uploads).toMatch(/proxy_pass http:\/\/chat_api;/);
    expect(dockerfile).toMatch(/chown -R node:node \/app\/\.data/);
  });

  it("nginx balances over exactly the api replicas and passes WebSocket upgrades on", () => {
    expect(upstreamServers(nginxConf)).toEqual(byRole("api").map(([name]) => `${name}:4000`));
    expect(nginxConf).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(nginxConf).toMatch(/proxy_set_header Connection \$connection_upgrade;/);
    expect(nginxConf).toMatch(/proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;/);
  });
});

const nginxBinary = await run("nginx", ["-v"]).then(
  () => "nginx",
  () => undefined,
);
const broker = await amqpUrl();
const memcached = await memcachedServers();
const serverUrl = process.env.TEST_DATABASE_URL;
const runnable = Boolean(nginxBinary && broker && memcached && serverUrl);
if (requireServices && !runnable)
  throw new Error(
    `TEST_REQUIRE_SERVICES=1 but the process twin cannot run: ${[
      nginxBinary ? "" : "nginx is not installed",
      broker ? "" : "no RabbitMQ",
      memcached ? "" : "no Memcached",
      serverUrl ? "" : "no TEST_DATABASE_URL",
    ]
      .filter(Boolean)
      .join(", ")}`,
  );

describe.skipIf(!runnable)("the compose topology as processes, behind a real nginx", () => {
  const namespace = uniquePrefix();
  const database = `t_${randomBytes(6).toString("hex")}`;
  const processes = new Map<string, ServiceProcess>();
  const clients: Client[] = [];
  let front: { url: string; wsUrl: string };
  let nginx: ReturnType<typeof spawn> | undefined;
  let nginxOutput = "";

  /** A compose service's environment with its hosts pointed at this test's services. */
  function envOf(name: string): Record<string, string> {
    const env = Object.fromEntries(
      Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, interpolate(v)]),
    );
    const db = new URL(serverUrl as string);
    db.pathname = `/${database}`;
    return {
      ...env,
      DATABASE_URL: db.toString(),
      AMQP_URL: broker as string,
      MEMCACHED_SERVERS: memcached as string,
      // Its own RabbitMQ names and Memcached keys: other test files share the servers.
      NAMESPACE: namespace,
    };
  }

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`create database ${database}`);
    await admin.end();
    // The image's build step, then its one-shot migration into the empty database.
    await run("npm", ["run", "build", "--silent"], { cwd: root });
    const migrate = services.migrate?.command ?? [];
    const migrated = await run(process.execPath, migrate.slice(1), {
      cwd: root,
      env: { PATH: process.env.PATH, ...envOf("migrate") },
    });
    expect(migrated.stdout).toMatch(/applied to PostgreSQL: .*_init/);

    const chat = [...byRole("worker"), ...byRole("api")].map(([name]) => name);
    const started = await Promise.all(
      chat.map((name) => startProcess(envOf(name), [], ["dist/main.js"])),
    );
    for (const [i, name] of chat.entries()) processes.set(name, started[i] as ServiceProcess);

    // nginx with the same configuration, its upstreams at the replicas' local ports.
    const dir = await mkdtemp(join(tmpdir(), "nginx-"));
    await chmod(dir, 0o755);
    await mkdir(join(dir, "logs"));
    const port = await freePort();
    let conf = nginxConf.replace(/listen 80;/, `listen 127.0.0.1:${port};`);
    for (const [name] of byRole("api"))
      conf = conf.replace(`server ${name}:4000`, `server 127.0.0.1:${processes.get(name)?.port}`);
    await writeFile(join(dir, "nginx.conf"), conf);
    nginx = spawn(
      "nginx",
      ["-p", dir, "-c", join(dir, "nginx.conf"), "-g", `daemon off; pid ${dir}/nginx.pid;`],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    nginx.stdout?.on("data", (chunk) => (nginxOutput += chunk));
    nginx.stderr?.on("data", (chunk) => (nginxOutput += chunk));
    front = { url: `http://127.0.0.1:${port}/graphql`, wsUrl: `ws://127.0.0.1:${port}/graphql` };
    await until(
      async () => {
        if (nginx?.exitCode !== null) throw new Error(`nginx exited:\n${nginxOutput}`);
        return (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined))?.ok === true;
      },
      30_000,
      "nginx to answer",
    );
  }, 240_000);

  afterAll(async () => {
    for (const client of clients) await client.dispose();
    nginx?.kill("SIGTERM");
    for (const service of processes.values()) await stopProcess(service).catch(() => {});
    const bus = await AmqpBus.connect({ url: broker as string, prefix: namespace });
    await bus.deleteTopology();
    await bus.close();
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`drop database if exists ${database} with (force)`);
    await admin.end();
  });

  /** A graphql-ws client through nginx that reconnects whatever happened, as apps do. */
  function socket(token: string) {
    const client = createClient({
      url: front.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      lazy: true,
      retryAttempts: 5,
      shouldRetry: () => true,
      // Reconnect once nginx answers /ready again (from a replica that is up), not after a
      // guessed pause.
      retryWait: () =>
        until(
          async () =>
            (await fetch(new URL("/ready", front.url)).catch(() => undefined))?.ok === true,
          15_000,
        ).then(() => {}),
    });
    clients.push(client);
    return client;
  }

  async function chat() {
    const { alice, bob, channelId } = await twoInAGroup(front, "Through nginx");
    const send = (body: string) =>
      mustRequest(
        front,
        SendMessageDocument,
        { input: { channelId, body, clientMessageId: randomUUID() } },
        alice.accessToken,
      );
    return { alice, bob, channelId, send };
  }

  it("GET / says what this is and links GraphiQL, which compose turns on", async () => {
    const origin = new URL(front.url).origin;
    const page = await fetch(`${origin}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toMatch(/<h1>Chat GraphQL<\/h1>/);
    expect(html).toMatch(/<a href="\/graphql">GraphiQL/);
  });

  it("registers, subscribes over a WebSocket and delivers a message, all through nginx, on both replicas", async () => {
    const { bob, channelId, send } = await chat();
    const client = socket(bob.accessToken);
    const live = record(client, MessageAddedDocument, { channelId, afterSeq: 0 });
    await send("through nginx");
    const [event] = await live.until((d) => d.length >= 1, 30_000);
    expect(event?.messageAdded).toMatchObject({ seq: 1, body: "through nginx" });
    // Requests are balanced: both replicas answer through the one address.
    const seen = new Set<string>();
    await until(async () => {
      const beat = record(socket(bob.accessToken), HeartbeatDocument, { intervalSeconds: 1 });
      const [first] = await beat.until((d) => d.length >= 1, 15_000);
      beat.stop();
      seen.add(first?.heartbeat.serverId ?? "");
      return seen.size === 2;
    }, 30_000);
    expect([...seen].sort()).toEqual(["api-1", "api-2"]);
  });

  it("logs each operation as one JSON line with its name, user and request id, never a password, token or message body", async () => {
    const { alice, channelId } = await chat();
    const requestId = `req-${randomUUID()}`;
    const body = `a private body ${randomUUID()}`;
    const answer = await fetch(front.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${alice.accessToken}`,
        "x-request-id": requestId,
      },
      body: JSON.stringify({
        query: `mutation SendMessage($input: SendMessageInput!) { sendMessage(input: $input) { id } }`,
        variables: { input: { channelId, body, clientMessageId: randomUUID() } },
      }),
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("x-request-id")).toBe(requestId);
    const apis = byRole("api").map(([name]) => processes.get(name) as ServiceProcess);
    const lines = () =>
      apis.flatMap((api) =>
        api
          .output()
          .split("\n")
          .filter((line) => line.startsWith("{")),
      );
    await until(() => lines().some((line) => line.includes(requestId)), 10_000);
    const entry = JSON.parse(lines().find((line) => line.includes(requestId)) as string);
    expect(entry).toMatchObject({
      level: 30,
      msg: "operation",
      reqId: requestId,
      op: "SendMessage",
      kind: "mutation",
      user: dbId(alice.user.id),
      role: "api",
    });
    expect(["api-1", "api-2"]).toContain(entry.server);
    // Every line is JSON, and none carries what must stay private.
    const all = apis.flatMap((api) => api.output().split("\n").filter(Boolean));
    for (const line of all) expect(() => JSON.parse(line), line).not.toThrow();
    const text = all.join("\n");
    expect(text).not.toContain(body);
    expect(text).not.toContain(alice.accessToken);
    expect(text).not.toContain(TEST_PASSWORD);
  });

  it("/metrics shows a message's path: published by an api replica, persisted by a worker, its event at the subscriber's replica and delivered", async () => {
    const { bob, channelId, send } = await chat();
    const live = record(socket(bob.accessToken), MessageAddedDocument, { channelId, afterSeq: 0 });
    // The first may come from the replay; once it is in, the stream is live, and the
    // second comes as a live event.
    await send("replayed or live");
    await live.until((d) => d.length >= 1, 30_000);
    await send("live");
    await live.until((d) => d.length >= 2, 30_000);
    /** The sum over the given processes of a metric's samples (all label sets). */
    const total = async (names: string[], metric: string) => {
      let sum = 0;
      for (const name of names) {
        const text = await (
          await fetch(`http://127.0.0.1:${processes.get(name)?.port}/metrics`)
        ).text();
        for (const match of text.matchAll(new RegExp(`^${metric}(?:\\{[^}]*\\})? (\\S+)$`, "gm")))
          sum += Number(match[1]);
      }
      return sum;
    };
    const apis = byRole("api").map(([name]) => name);
    const workers = byRole("worker").map(([name]) => name);
    expect(await total(apis, "chat_commands_published_total")).toBeGreaterThanOrEqual(1);
    expect(await total(apis, "chat_sockets_open")).toBeGreaterThanOrEqual(1);
    expect(await total(apis, "chat_subscriptions_active")).toBeGreaterThanOrEqual(1);
    expect(await total(apis, "chat_send_to_event_seconds_count")).toBeGreaterThanOrEqual(1);
    expect(await total(apis, "chat_live_event_results_total")).toBeGreaterThanOrEqual(1);
    expect(await total(workers, "chat_messages_persisted_total")).toBeGreaterThanOrEqual(1);
    expect(await total(workers, "chat_worker_batch_size_count")).toBeGreaterThanOrEqual(1);
    // Every shard consumed by one of the two workers (a hand-over in progress holds none).
    await until(async () => (await total(workers, "chat_worker_shards")) === 8, 15_000);
    const backlog = await total(workers, "chat_outbox_backlog");
    expect(Number.isNaN(backlog)).toBe(false);
    live.stop();
  });

  it("a WebSocket whose replica goes away comes back through nginx on the other one and resumes without a gap or a repeat", async () => {
    const { bob, channelId, send } = await chat();
    const client = socket(bob.accessToken);
    const beats = record(client, HeartbeatDocument, { intervalSeconds: 1 });
    // Resume where it left off: the payload the client re-sends carries the last seq seen.
    const variables = { channelId, afterSeq: 0 };
    const seqs: number[] = [];
    client.subscribe(
      { query: MESSAGE_ADDED, variables },
      {
        next: (result) => {
          const seq = (result.data as { messageAdded?: { seq: number } })?.messageAdded?.seq;
          if (typeof seq === "number") {
            seqs.push(seq);
            variables.afterSeq = seq;
          }
        },
        error: () => {},
        complete: () => {},
      },
    );
    await send("one");
    await until(() => seqs.includes(1), 30_000);
    const [beat] = await beats.until((d) => d.length >= 1, 15_000);
    const first = beat?.heartbeat.serverId as string;
    const replica = processes.get(first);
    if (!replica) throw new Error(`unknown replica ${first}`);

    // Its replica dies: nothing is drained, the socket just drops.
    replica.child.kill("SIGKILL");
    await send("two (while away)");
    const moved = await beats.until((d) => d.some((b) => b.heartbeat.serverId !== first), 30_000);
    expect(moved.at(-1)?.heartbeat.serverId).not.toBe(first);
    await send("three");
    await until(() => seqs.includes(3), 30_000);
    expect(seqs).toEqual([1, 2, 3]);
  });
});

const MESSAGE_ADDED = `subscription ($channelId: ID, $afterSeq: Int) {
  messageAdded(channelId: $channelId, afterSeq: $afterSeq) { seq body }
}`;
