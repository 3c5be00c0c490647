// RabbitMQ for tests: TEST_AMQP_URL, else a container through testcontainers where a
// Docker engine runs, else none (and with TEST_REQUIRE_SERVICES=1 that fails the run).
// Every test file uses its own name prefix, so files never consume each other's queues.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";

const run = promisify(execFile);

let resolved: Promise<string | undefined> | undefined;

export function amqpUrl(): Promise<string | undefined> {
  resolved ??= (async () => {
    if (process.env.TEST_AMQP_URL) return process.env.TEST_AMQP_URL;
    try {
      const { GenericContainer, Wait } = await import("testcontainers");
      const container = await new GenericContainer("rabbitmq:3.13-alpine")
        .withExposedPorts(5672)
        .withWaitStrategy(Wait.forLogMessage("Server startup complete"))
        .start();
      process.once("exit", () => void container.stop());
      return `amqp://guest:guest@${container.getHost()}:${container.getMappedPort(5672)}`;
    } catch (error) {
      if (process.env.TEST_REQUIRE_SERVICES === "1") {
        throw new Error(
          `TEST_REQUIRE_SERVICES=1 but no RabbitMQ: set TEST_AMQP_URL or run a Docker engine (${String(error)})`,
        );
      }
      return undefined;
    }
  })();
  return resolved;
}

export function uniquePrefix() {
  return `t${randomBytes(5).toString("hex")}`;
}

/**
 * Queues and channels the broker holds for one named connection (asked of the broker
 * itself with rabbitmqctl; the management plugin is not enabled on these machines).
 */
export async function brokerResources(
  connectionName: string,
): Promise<{ queues: number; channels: number; bindings: number }> {
  const ctl = async (...args: string[]) =>
    (await run("rabbitmqctl", ["-q", ...args])).stdout.split("\n");
  const connection = (await ctl("list_connections", "pid", "client_properties")).find((line) =>
    line.includes(`"${connectionName}"`),
  );
  const pid = connection?.split("\t")[0];
  if (!pid) throw new Error(`no broker connection named ${connectionName}`);
  const owned = (await ctl("list_queues", "name", "owner_pid"))
    .filter((line) => line.includes(pid))
    .map((line) => line.split("\t")[0]);
  const channels = (await ctl("list_channels", "connection")).filter((line) =>
    line.includes(pid),
  ).length;
  // Bindings of its queues to exchanges (not the default exchange's implicit one).
  const bindings = (await ctl("list_bindings", "source_name", "destination_name")).filter(
    (line) => {
      const [source, destination] = line.split("\t");
      return Boolean(source) && owned.includes(destination);
    },
  ).length;
  return { queues: owned.length, channels, bindings };
}

/** Takes every message waiting in a queue (the dead letters, say), parsed as JSON. */
export async function drainQueue<T>(url: string, queue: string): Promise<T[]> {
  const { default: amqp } = await import("amqplib");
  const connection = await amqp.connect(url);
  const channel = await connection.createChannel();
  const found: T[] = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (!message) break;
    found.push(JSON.parse(message.content.toString()) as T);
  }
  await connection.close();
  return found;
}
