// What the product benchmarks measure: two API replicas and the workers as processes, as
// deployed (production mode), on the run's own database and broker namespace.
import { randomBytes } from "node:crypto";
import { AmqpBus } from "../../src/pubsub/amqp/amqp-bus.js";
import {
  type ServiceProcess,
  startProcess,
  stopProcess,
} from "../../test/harness/service-process.js";
import type { Services } from "./services.js";

export interface Topology {
  replicas: [ServiceProcess, ServiceProcess];
  workers: ServiceProcess[];
  namespace: string;
  stop(): Promise<void>;
}

export async function startTopology(options: {
  services: Services;
  databaseUrl: string;
  jwtSecret: string;
  workers?: number;
}): Promise<Topology> {
  const namespace = `bench_${randomBytes(4).toString("hex")}`;
  const env = (role: string, serverId: string) => ({
    ROLE: role,
    SERVER_ID: serverId,
    NODE_ENV: "production",
    DATABASE_URL: options.databaseUrl,
    AMQP_URL: options.services.amqpUrl,
    MEMCACHED_SERVERS: options.services.memcachedServers,
    NAMESPACE: namespace,
    JWT_SECRET: options.jwtSecret,
    // The benchmark is one client address sending for many users: measure the pipeline,
    // not the abuse limits.
    SEND_RATE_LIMIT: "1000000",
  });
  const workerCount = options.workers ?? 1;
  const [a, b, ...workers] = await Promise.all([
    startProcess(env("api", "bench-api-a")),
    startProcess(env("api", "bench-api-b")),
    ...Array.from({ length: workerCount }, (_, i) =>
      startProcess(env("worker", `bench-worker-${i + 1}`)),
    ),
  ]);
  return {
    replicas: [a as ServiceProcess, b as ServiceProcess],
    workers,
    namespace,
    async stop() {
      await Promise.allSettled([a, b, ...workers].map((p) => p && stopProcess(p)));
      const bus = await AmqpBus.connect({ url: options.services.amqpUrl, prefix: namespace });
      await bus.deleteTopology();
      await bus.close();
    },
  };
}
