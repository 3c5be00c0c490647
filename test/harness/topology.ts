// The distributed topology as real processes: two api replicas and one worker, sharing a
// fresh PostgreSQL database, RabbitMQ (own prefix) and optionally Memcached (own prefix).
// `runnable` is false when a service is missing (and TEST_REQUIRE_SERVICES is not set).
import { afterAll, beforeAll } from "vitest";
import { AmqpBus } from "../../src/pubsub/amqp/amqp-bus.js";
import { TEST_JWT_SECRET } from "./app.js";
import { amqpUrl, uniquePrefix } from "./broker.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { memcachedServers } from "./memcached.js";
import { type ServiceProcess, startProcess, stopProcess } from "./processes.js";

export interface Topology {
  runnable: boolean;
  namespace: string;
  database: TestDatabase;
  replicaA: ServiceProcess;
  replicaB: ServiceProcess;
  worker: ServiceProcess;
  /** Starts one more process of the topology (e.g. a replica to kill). */
  start(role: "api" | "worker", serverId: string): Promise<ServiceProcess>;
  /** Sockets and clients to close before the processes stop. */
  clients: Array<{ dispose(): void | Promise<void> }>;
}

export async function useTopology(
  options: { memcached?: boolean; env?: Record<string, string> } = {},
) {
  const broker = await amqpUrl();
  const memcached = options.memcached ? await memcachedServers() : undefined;
  const database =
    broker && (memcached || !options.memcached) ? await createTestDatabase() : undefined;
  const topology = {
    runnable: Boolean(database?.url),
    namespace: uniquePrefix(),
    clients: [],
  } as unknown as Topology;
  if (!topology.runnable || !database) return topology;
  topology.database = database;

  const env = (role: string, serverId: string) => ({
    ROLE: role,
    SERVER_ID: serverId,
    NODE_ENV: "test",
    DATABASE_URL: database.url as string,
    AMQP_URL: broker as string,
    ...(memcached ? { MEMCACHED_SERVERS: memcached } : {}),
    NAMESPACE: topology.namespace,
    COMMAND_SHARDS: "4",
    JWT_SECRET: TEST_JWT_SECRET,
    ...options.env,
  });
  topology.start = (role, serverId) => startProcess(env(role, serverId));

  beforeAll(async () => {
    [topology.worker, topology.replicaA, topology.replicaB] = await Promise.all([
      topology.start("worker", "worker-1"),
      topology.start("api", "api-a"),
      topology.start("api", "api-b"),
    ]);
  }, 120_000);

  afterAll(async () => {
    for (const client of topology.clients) await client.dispose();
    for (const service of [topology.replicaA, topology.replicaB, topology.worker]) {
      if (service) await stopProcess(service);
    }
    const bus = await AmqpBus.connect({
      url: broker as string,
      prefix: topology.namespace,
      shards: 4,
    });
    await bus.deleteTopology();
    await bus.close();
    await database.drop();
  });
  return topology;
}
