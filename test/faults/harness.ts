// The fault suite's world: the distributed topology as real processes (api replicas and
// workers sharing a fresh database, RabbitMQ under a namespace of its own, a Memcached of
// its own), clients that behave like real ones (senders that retry with the same
// clientMessageId until they get an answer; subscribers that resume with afterSeq from
// the last seq they saw, on whichever replica answers), and the checks every scenario
// ends with.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { type Client, createClient } from "graphql-ws";
import pg from "pg";
import WebSocket from "ws";
import { AmqpBus } from "../../src/pubsub/amqp/amqp-bus.js";
import { TEST_JWT_SECRET } from "../harness/app.js";
import { amqpUrl, uniquePrefix } from "../harness/broker.js";
import { createTestDatabase, type TestDatabase } from "../harness/database.js";
import { dbId } from "../harness/ids.js";
import { freePort, type ServiceProcess, startProcess } from "../harness/processes.js";
import { until } from "../harness/wait.js";

const run = promisify(execFile);
export const SHARDS = 4;

export interface World {
  namespace: string;
  database: TestDatabase;
  broker: string;
  memcached: { port: number; restart(): Promise<void>; stop(): void };
  services: Map<string, ServiceProcess>;
  start(role: "api" | "worker", serverId: string): Promise<ServiceProcess>;
  /** SIGKILL: no clean-up of any kind, as a crash or an OOM kill. */
  kill(serverId: string): Promise<void>;
  replicas(): ServiceProcess[];
  close(): Promise<void>;
}

/** A Memcached of the suite's own on a free port, so restarting it disturbs nothing else. */
async function startMemcached() {
  const port = await freePort();
  let child = spawn("memcached", ["-u", "root", "-l", "127.0.0.1", "-p", String(port)], {
    stdio: "ignore",
  });
  const answers = () =>
    new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
  await until(answers, 10_000, "memcached to listen");
  return {
    port,
    async restart() {
      child.kill("SIGKILL");
      await new Promise((resolve) => child.once("exit", resolve));
      child = spawn("memcached", ["-u", "root", "-l", "127.0.0.1", "-p", String(port)], {
        stdio: "ignore",
      });
      await until(answers, 10_000, "memcached to listen again");
    },
    stop() {
      child.kill("SIGKILL");
    },
  };
}

export async function createWorld(env: Record<string, string> = {}): Promise<World> {
  const broker = await amqpUrl();
  if (!broker) throw new Error("the fault suite needs RabbitMQ (TEST_AMQP_URL)");
  const database = await createTestDatabase();
  if (!database.url) throw new Error("the fault suite needs PostgreSQL (TEST_DATABASE_URL)");
  const memcached = await startMemcached();
  const namespace = uniquePrefix();
  const services = new Map<string, ServiceProcess>();
  const processEnv = (role: string, serverId: string) => ({
    ROLE: role,
    SERVER_ID: serverId,
    NODE_ENV: "test",
    DATABASE_URL: database.url as string,
    AMQP_URL: broker,
    MEMCACHED_SERVERS: `127.0.0.1:${memcached.port}`,
    NAMESPACE: namespace,
    COMMAND_SHARDS: String(SHARDS),
    JWT_SECRET: TEST_JWT_SECRET,
    SEND_RATE_LIMIT: "100000",
    PRESENCE_TTL_SECONDS: "3",
    ...env,
  });
  const world: World = {
    namespace,
    database,
    broker,
    memcached,
    services,
    async start(role, serverId) {
      const service = await startProcess(processEnv(role, serverId));
      services.set(serverId, service);
      return service;
    },
    async kill(serverId) {
      const service = services.get(serverId);
      if (!service) throw new Error(`no ${serverId}`);
      services.delete(serverId);
      service.child.kill("SIGKILL");
      if (service.child.exitCode === null && service.child.signalCode === null)
        await new Promise((resolve) => service.child.once("exit", resolve));
    },
    replicas: () =>
      [...services.entries()].filter(([id]) => id.startsWith("api")).map(([, s]) => s),
    async close() {
      for (const service of services.values()) service.child.kill("SIGKILL");
      services.clear();
      memcached.stop();
      const bus = await AmqpBus.connect({ url: broker, prefix: namespace, shards: SHARDS });
      await bus.deleteTopology();
      await bus.close();
      await database.drop();
    },
  };
  return world;
}

// ---------------------------------------------------------------------------------------
// Clients

interface GraphQLAnswer {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

/** One POST to whichever replica answers; throws on a network failure. */
async function post(url: string, query: string, variables: unknown, token?: string) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(10_000),
  });
  return (await response.json()) as GraphQLAnswer;
}

/** Retries across replicas until an answer without a retryable error comes back. */
export async function graphql(
  world: World,
  query: string,
  variables: unknown,
  token?: string,
  deadlineMs = 120_000,
  /** Which replica to try first (clients spread over the replicas, as behind a balancer). */
  firstReplica = 0,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + deadlineMs;
  let attempt = firstReplica;
  let last: unknown;
  while (Date.now() < deadline) {
    const replicas = world.replicas();
    const replica = replicas[attempt++ % Math.max(1, replicas.length)];
    try {
      if (!replica) throw new Error("no replica running");
      const answer = await post(replica.url, query, variables, token);
      const code = answer.errors?.[0]?.extensions?.code;
      if (!answer.errors?.length && answer.data) return answer.data;
      if (code !== "SERVICE_UNAVAILABLE" && code !== "RATE_LIMITED" && code !== undefined)
        throw new Error(`not retryable: ${JSON.stringify(answer.errors)}`);
      last = answer.errors;
      // No code: a masked error, e.g. a request that failed between two checks; retry.
    } catch (error) {
      if (String(error).includes("not retryable")) throw error;
      last = error;
    }
    // A real client's backoff between retries (pacing the load, not waiting for a condition).
    await sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)));
  }
  throw new Error(`no answer within ${deadlineMs} ms; last: ${String(last)}`);
}

export interface Conversation {
  channelId: string;
  sender: { id: string; token: string };
  reader: { id: string; token: string };
}

export async function register(world: World) {
  const name = `u${randomBytes(5).toString("hex")}`;
  const data = await graphql(
    world,
    `mutation($input: RegisterInput!) { register(input: $input) { accessToken user { id } } }`,
    {
      input: {
        email: `${name}@example.com`,
        username: name,
        password: "correct horse battery",
        displayName: name,
      },
    },
  );
  const register = data.register as { accessToken: string; user: { id: string } };
  return { id: register.user.id, token: register.accessToken };
}

/** `count` group channels, each with one sender and one reader (and `alsoIn` in every one). */
export async function conversations(
  world: World,
  count: number,
  alsoIn: string[] = [],
): Promise<Conversation[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const [sender, reader] = await Promise.all([register(world), register(world)]);
      const data = await graphql(
        world,
        `mutation($input: CreateGroupInput!) { createGroup(input: $input) { channels(first: 1) { edges { node { id } } } } }`,
        { input: { name: "faults", memberIds: [reader.id, ...alsoIn] } },
        sender.token,
      );
      const group = data.createGroup as { channels: { edges: Array<{ node: { id: string } }> } };
      return { channelId: group.channels.edges[0]?.node.id as string, sender, reader };
    }),
  );
}

export interface SenderReport {
  /** clientMessageIds in the order the api accepted them (each send awaited its answer). */
  accepted: string[];
  /** Longest time one send took to get an answer, retries included. */
  slowestAnswerMs: number;
}

/** Sends `count` messages one after the other every `intervalMs`, each retried until answered. */
export async function sendSteadily(
  world: World,
  conversation: Conversation,
  count: number,
  intervalMs: number,
  firstReplica = 0,
): Promise<SenderReport> {
  const report: SenderReport = { accepted: [], slowestAnswerMs: 0 };
  for (let n = 1; n <= count; n++) {
    const started = Date.now();
    const clientMessageId = `${dbId(conversation.channelId).slice(0, 8)}-${n}`;
    await graphql(
      world,
      `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id } }`,
      { input: { channelId: conversation.channelId, body: `m${n}`, clientMessageId } },
      conversation.sender.token,
      120_000,
      firstReplica,
    );
    report.accepted.push(clientMessageId);
    const took = Date.now() - started;
    report.slowestAnswerMs = Math.max(report.slowestAnswerMs, took);
    if (took < intervalMs) await sleep(intervalMs - took);
  }
  return report;
}

export interface Follower {
  /** Seqs received, in order of arrival (across resumptions). */
  seqs: number[];
  bodies: string[];
  /** How many times the stream ended and was resumed. */
  resumes: number;
  stop(): void;
}

/** A reader that follows a channel and resumes with afterSeq after every interruption. */
export function follow(world: World, conversation: Conversation, firstReplica = 0): Follower {
  const follower: Follower = { seqs: [], bodies: [], resumes: 0, stop: () => {} };
  let stopped = false;
  let client: Client | undefined;
  follower.stop = () => {
    stopped = true;
    void client?.dispose();
  };
  void (async () => {
    let attempt = firstReplica;
    while (!stopped) {
      const replicas = world.replicas();
      const replica = replicas[attempt++ % Math.max(1, replicas.length)];
      if (replica) {
        const current = createClient({
          url: replica.wsUrl,
          webSocketImpl: WebSocket,
          retryAttempts: 0,
          lazy: true,
          keepAlive: 2_000,
          connectionParams: { authorization: `Bearer ${conversation.reader.token}` },
        });
        client = current;
        const afterSeq = follower.seqs.at(-1) ?? 0;
        await new Promise<void>((resolve) => {
          current.subscribe<{ messageAdded: { seq: number; body: string } }>(
            {
              query: `subscription($channelId: ID!, $afterSeq: Int) { messageAdded(channelId: $channelId, afterSeq: $afterSeq) { seq body } }`,
              variables: { channelId: conversation.channelId, afterSeq },
            },
            {
              next: (result) => {
                const message = result.data?.messageAdded;
                if (!message) return;
                follower.seqs.push(message.seq);
                follower.bodies.push(message.body);
              },
              error: () => resolve(),
              complete: () => resolve(),
            },
          );
        });
        await current.dispose();
        if (!stopped) follower.resumes++;
      }
      // A pause before resuming, as a client backs off; the loop waits for nothing else.
      if (!stopped) await sleep(200);
    }
  })();
  return follower;
}

// ---------------------------------------------------------------------------------------
// The checks every scenario ends with

export async function storedMessages(world: World, channelId: string) {
  const client = new pg.Client({ connectionString: world.database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ seq: number; client_message_id: string; body: string }>(
      "SELECT seq, client_message_id, body FROM messages WHERE channel_id = $1 ORDER BY seq",
      [dbId(channelId)],
    );
    return rows;
  } finally {
    await client.end();
  }
}

export async function refusedCount(world: World) {
  const client = new pg.Client({ connectionString: world.database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM refused_commands",
    );
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}

/** Queues and consumers of this namespace's command shards, asked of the broker. */
export async function shardConsumers(world: World): Promise<number[]> {
  const { stdout } = await run("rabbitmqctl", ["-q", "list_queues", "name", "consumers"]);
  const counts = new Map<string, number>();
  for (const line of stdout.split("\n")) {
    const [name, consumers] = line.split("\t");
    if (name?.startsWith(`${world.namespace}.commands.`) && /\d$/.test(name))
      counts.set(name, Number(consumers));
  }
  return Array.from(
    { length: SHARDS },
    (_, shard) => counts.get(`${world.namespace}.commands.${shard}`) ?? -1,
  );
}

/** Exclusive (event) queues held by each live replica's broker connection. */
/**
 * What the api replicas hold at the broker for live streams: their queues (one per
 * connection, whatever it follows) and those queues' bindings (one per followed key).
 */
export async function replicaLiveResources(
  world: World,
): Promise<{ connections: number; queues: number; bindings: number }> {
  const ctl = async (...args: string[]) =>
    (await run("rabbitmqctl", ["-q", ...args])).stdout.split("\n");
  const connections = (await ctl("list_connections", "pid", "client_properties")).filter((line) =>
    line.includes(`"${world.namespace}:api`),
  );
  const pids = connections.map((line) => line.split("\t")[0]).filter(Boolean) as string[];
  const queues = (await ctl("list_queues", "name", "owner_pid"))
    .filter((line) => pids.some((pid) => line.includes(pid)))
    .map((line) => line.split("\t")[0]);
  const bindings = (await ctl("list_bindings", "source_name", "destination_name")).filter(
    (line) => {
      const [source, destination] = line.split("\t");
      return Boolean(source) && queues.includes(destination);
    },
  );
  return { connections: pids.length, queues: queues.length, bindings: bindings.length };
}

export async function runService(command: string, ...args: string[]) {
  await run(command, args, { timeout: 120_000 });
}

/** Resident memory of a service process, in bytes (Linux /proc). */
export function residentBytes(service: ServiceProcess): number {
  const status = readFileSync(`/proc/${service.child.pid}/status`, "utf8");
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kib * 1024;
}

/**
 * A reader that subscribes to every channel it is in, then stops reading its socket (a
 * phone that froze): the server must not buffer for it without bound, nor slow the others.
 */
export async function stalledReader(service: ServiceProcess, token: string) {
  const socket = new WebSocket(service.wsUrl, "graphql-transport-ws");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.once("open", () => {
      socket.send(
        JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }),
      );
    });
    socket.on("message", (data) => {
      if (JSON.parse(String(data)).type !== "connection_ack") return;
      socket.send(
        JSON.stringify({
          id: "1",
          type: "subscribe",
          payload: { query: "subscription { messageAdded { seq body } }" },
        }),
      );
      resolve();
    });
  });
  // Stop reading: what the server sends piles up in its buffers, then in the kernel's.
  (socket as unknown as { _socket: { pause(): void } })._socket.pause();
  return { close: () => socket.terminate() };
}
