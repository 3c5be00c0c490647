// Starts the real app (HTTP + WebSocket) on a free port against the test file's
// database, and gives typed clients for it. Mirrors graphql-ws' own test utilities.
import type { DocumentTypeDecoration, TypedDocumentNode } from "@graphql-typed-document-node/core";
import { type ExecutionResult, print } from "graphql";
import { type Client, createClient } from "graphql-ws";
import { afterAll, beforeAll } from "vitest";
import WebSocket from "ws";
import { type App, buildApp } from "../../src/app.js";
import { type Config, loadConfig } from "../../src/config.js";
import { AmqpBus } from "../../src/pubsub/amqp/amqp-bus.js";
import { amqpUrl, uniquePrefix } from "./broker.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { memcachedServers } from "./memcached.js";

export const TEST_JWT_SECRET = "test-secret-test-secret-test-secret-0123456789";

export interface RunningApp {
  app: App;
  url: string;
  wsUrl: string;
  database: TestDatabase;
}

/** Builds a config as `npm start` would from these environment variables. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: "test",
    PORT: "0",
    HOST: "127.0.0.1",
    JWT_SECRET: TEST_JWT_SECRET,
    DATA_DIR: ".data/test",
    // Apps in the test process: only what goes wrong reaches the test's output.
    LOG_LEVEL: "warn",
    ...env,
  });
}

export async function startApp(
  database: TestDatabase,
  env: Record<string, string> = {},
): Promise<RunningApp> {
  const app = await buildApp(testConfig(env), { db: database.db });
  const listening = await app.start();
  if (!listening) throw new Error("the api role did not start");
  return {
    app,
    database,
    url: listening.url,
    wsUrl: listening.url.replace(/^http/, "ws"),
  };
}

/**
 * One more api replica beside `target`: the same database, broker namespace and cache, as
 * a load balancer would put behind it. Needs the real services; the caller stops it.
 */
export function startReplicaOf(
  target: RunningApp,
  env: Record<string, string> = {},
): Promise<RunningApp> {
  const config = target.app.config;
  if (!config.amqpUrl || !config.databaseUrl || !config.memcachedServers)
    throw new Error("a second replica needs RabbitMQ, PostgreSQL and Memcached");
  return startApp(target.database, {
    ROLE: "api",
    NAMESPACE: config.namespace,
    AMQP_URL: config.amqpUrl,
    DATABASE_URL: config.databaseUrl,
    MEMCACHED_SERVERS: config.memcachedServers,
    ...env,
  });
}

/**
 * One more replica of the test file's app (see startReplicaOf), started in beforeAll and
 * stopped in afterAll, after the sockets opened with `socket` are closed (their
 * subscriptions end with them rather than with the replica's broker connection).
 */
export function useReplicaOf(target: RunningApp) {
  const sockets: Client[] = [];
  const handle = {
    /** A signed-in socket to this replica, closed before it stops. */
    socket(token: string): Client {
      const client = wsClient(handle, { authorization: `Bearer ${token}` });
      sockets.push(client);
      return client;
    },
  } as RunningApp & { socket(token: string): Client };
  beforeAll(async () => {
    Object.assign(handle, await startReplicaOf(target));
  }, 120_000);
  afterAll(async () => {
    await Promise.all(sockets.map((socket) => socket.dispose()));
    await handle.app?.stop();
  });
  return handle;
}

/**
 * Registers beforeAll/afterAll hooks: one database and one app for the test file, on the
 * real RabbitMQ and Memcached whenever they are available (always in CI), each app with
 * a namespace of its own; the in-process twins only where those services are missing.
 */
export function useTestApp(env: Record<string, string> = {}) {
  const handle = {} as RunningApp;
  let cleanupBroker: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const [database, broker, memcached] = await Promise.all([
      createTestDatabase(),
      amqpUrl(),
      memcachedServers(),
    ]);
    const namespace = uniquePrefix();
    const services: Record<string, string> = {
      NAMESPACE: namespace,
      ...(broker ? { AMQP_URL: broker } : {}),
      ...(memcached ? { MEMCACHED_SERVERS: memcached } : {}),
      // Shard leases take their own connection to the file's database.
      ...(broker && database.url ? { DATABASE_URL: database.url } : {}),
    };
    Object.assign(handle, await startApp(database, { ...services, ...env }));
    if (broker)
      cleanupBroker = async () => {
        const bus = await AmqpBus.connect({
          url: broker,
          prefix: namespace,
          shards: handle.app.config.commandShards,
        });
        await bus.deleteTopology();
        await bus.close();
      };
  }, 120_000);
  afterAll(async () => {
    await handle.app?.stop();
    await cleanupBroker?.();
    await handle.database?.drop();
  });
  return handle;
}

type Document<R, V> =
  | TypedDocumentNode<R, V>
  | (DocumentTypeDecoration<R, V> & { toString(): string });

export interface GraphQLResponse<R> {
  status: number;
  data?: R | null;
  errors?: Array<{
    message: string;
    path?: string[];
    extensions?: { code?: string; field?: string } & Record<string, unknown>;
  }>;
}

/** POSTs a typed operation; `token` becomes `Authorization: Bearer <token>`. */
export async function request<R, V>(
  target: { url: string },
  document: Document<R, V>,
  variables?: V,
  token?: string,
): Promise<GraphQLResponse<R>> {
  const query =
    typeof (document as { kind?: unknown }).kind === "string"
      ? print(document as TypedDocumentNode)
      : String(document);
  const response = await fetch(target.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<GraphQLResponse<R>, "status">;
  return { status: response.status, ...body };
}

/** Like `request`, but fails the test on any GraphQL error and returns the data. */
export async function mustRequest<R, V>(
  target: { url: string },
  document: Document<R, V>,
  variables?: V,
  token?: string,
) {
  const result = await request(target, document, variables, token);
  if (result.errors?.length || !result.data) {
    throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  }
  return result.data;
}

/** A graphql-ws client that never retries, so a refused connection shows up at once. */
export function wsClient(
  target: { wsUrl: string },
  connectionParams?: Record<string, unknown>,
): Client {
  return createClient({
    url: target.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams,
  });
}

/** Collects the first `count` results of a subscription, then unsubscribes. */
export function takeResults<R>(
  client: Client,
  document: Document<R, Record<string, unknown>>,
  variables: Record<string, unknown>,
  count: number,
): Promise<Array<ExecutionResult<R>>> {
  const query =
    typeof (document as { kind?: unknown }).kind === "string"
      ? print(document as TypedDocumentNode)
      : String(document);
  return new Promise((resolve, reject) => {
    const results: Array<ExecutionResult<R>> = [];
    const unsubscribe = client.subscribe<R>(
      { query, variables },
      {
        next: (value) => {
          results.push(value as ExecutionResult<R>);
          if (results.length === count) {
            unsubscribe();
            resolve(results);
          }
        },
        error: reject,
        complete: () => resolve(results),
      },
    );
  });
}

/**
 * Opens a socket for `token` and keeps it busy with one long-interval subscription (lazy
 * graphql-ws clients connect on first use), so the user counts as online while it is open.
 */
export function onlineSocket(target: { wsUrl: string }, token: string): Client {
  const client = wsClient(target, { authorization: `Bearer ${token}` });
  client.subscribe(
    { query: "subscription { heartbeat(intervalSeconds: 60) { at } }" },
    { next: () => {}, error: () => {}, complete: () => {} },
  );
  return client;
}
