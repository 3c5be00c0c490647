// What the product benchmarks measure: two API replicas and the workers as processes, as
// deployed (production mode, the compiled JavaScript the image runs), on the run's own
// database and broker namespace.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { AmqpBus } from "../../src/pubsub/amqp/amqp-bus.js";
import {
  freePort,
  type ServiceProcess,
  startProcess,
  stopProcess,
} from "../../test/harness/service-process.js";
import { Inspector } from "./inspector.js";
import type { Services } from "./services.js";

export interface BenchProcess extends ServiceProcess {
  serverId: string;
  /** Its V8 through the inspector (attached on first use, left when the topology stops it). */
  inspector(): Promise<Inspector>;
}

export interface Topology {
  replicas: [BenchProcess, BenchProcess];
  workers: BenchProcess[];
  namespace: string;
  /** Starts one more worker (it takes its share of the shards within about a second). */
  addWorker(): Promise<BenchProcess>;
  /** Stops one worker (its shards go back to the others within about a second). */
  stopWorker(worker: BenchProcess): Promise<void>;
  /** Stops every process; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The build the processes run: `tsc` as `npm run build` does, into a directory of the
 * bench's own (beside `dist/`, so the paths the code resolves from its own location hold)
 * so that a test building `dist/` at the same time is not raced. Measuring the sources
 * through tsx measured its transform too: it names every closure (esbuild's keepNames), 3 KiB
 * of every subscribed socket's heap and a defineProperty per closure made.
 */
export const BUILD_DIR = ".bench-build";

export async function buildForBench(root: string) {
  await promisify(execFile)(
    process.execPath,
    ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json", "--outDir", BUILD_DIR],
    { cwd: root },
  );
}

export async function startTopology(options: {
  services: Services;
  databaseUrl: string;
  jwtSecret: string;
  workers?: number;
  /** More configuration for every process (an experiment's setting). */
  env?: Record<string, string>;
}): Promise<Topology> {
  const namespace = `bench_${randomBytes(4).toString("hex")}`;
  /** Inspector clients by server id, attached on first use; left before a process stops. */
  const inspectors = new Map<string, Promise<Inspector>>();
  const leaveInspector = async (serverId: string) => {
    const attached = inspectors.get(serverId);
    inspectors.delete(serverId);
    (await attached?.catch(() => undefined))?.close();
  };
  const start = async (role: "api" | "worker", serverId: string): Promise<BenchProcess> => {
    const env = {
      ROLE: role,
      SERVER_ID: serverId,
      NODE_ENV: "production",
      DATABASE_URL: options.databaseUrl,
      AMQP_URL: options.services.amqpUrl,
      MEMCACHED_SERVERS: options.services.memcachedServers,
      NAMESPACE: namespace,
      JWT_SECRET: options.jwtSecret,
      // The benchmark is one client address sending for many users: measure the
      // pipeline, not the abuse limits.
      SEND_RATE_LIMIT: "1000000",
      ...options.env,
    };
    // The inspector on a local port, for profiles and live-heap readings (inspector.ts).
    const inspectorPort = await freePort();
    const service = await startProcess(
      env,
      [`--inspect=127.0.0.1:${inspectorPort}`],
      [join(BUILD_DIR, "main.js")],
    );
    return {
      ...service,
      serverId,
      inspector: () => {
        let attached = inspectors.get(serverId);
        if (!attached) {
          attached = Inspector.attach(inspectorPort);
          inspectors.set(serverId, attached);
        }
        return attached;
      },
    };
  };
  const [a, b, ...workers] = await Promise.all([
    start("api", "bench-api-a"),
    start("api", "bench-api-b"),
    ...Array.from({ length: options.workers ?? 1 }, (_, i) =>
      start("worker", `bench-worker-${i + 1}`),
    ),
  ]);
  let stopping: Promise<void> | undefined;
  const stopAll = async () => {
    await Promise.allSettled(
      [a, b, ...workers].map(async (p) => {
        if (!p) return;
        await leaveInspector(p.serverId);
        await stopProcess(p);
      }),
    );
    const bus = await AmqpBus.connect({ url: options.services.amqpUrl, prefix: namespace });
    await bus.deleteTopology();
    await bus.close();
  };
  return {
    replicas: [a as BenchProcess, b as BenchProcess],
    workers,
    namespace,
    async addWorker() {
      const worker = await start("worker", `bench-worker-${workers.length + 1}`);
      workers.push(worker);
      return worker;
    },
    async stopWorker(worker) {
      const at = workers.indexOf(worker);
      if (at < 0) return;
      workers.splice(at, 1);
      await leaveInspector(worker.serverId);
      await stopProcess(worker);
    },
    stop() {
      stopping ??= stopAll();
      return stopping;
    },
  };
}
