// Vitest global setup: before any test runs, says which real services this run uses, for
// which suites, and what happens to the suites whose service is missing (skipped, or an
// in-process twin, or, with TEST_REQUIRE_SERVICES=1, a failed run). Vitest's own summary
// then counts what was skipped.
import { execFile } from "node:child_process";
import { access } from "node:fs/promises";
import { connect } from "node:net";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Whether host:port accepts a TCP connection within a second. */
function reachable(host: string, port: number) {
  return new Promise<boolean>((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("timeout", () => done(false));
    socket.once("error", () => done(false));
  });
}

async function service(url: string | undefined, defaultPort: number) {
  if (!url) return "not given";
  const parsed = new URL(url.includes("://") ? url : `tcp://${url.split(",")[0]}`);
  const ok = await reachable(parsed.hostname, Number(parsed.port || defaultPort));
  return `${url.replace(/\/\/[^@/]*@/, "//")}${ok ? "" : " (NOT REACHABLE)"}`;
}

async function binary(command: string, args: string[], path?: string) {
  if (
    path &&
    !(await access(path).then(
      () => true,
      () => false,
    ))
  )
    return "not installed";
  return run(command, args).then(
    ({ stdout, stderr }) => (stdout || stderr).trim().split("\n")[0] ?? command,
    () => "not installed",
  );
}

export default async function reportServices() {
  const required = process.env.TEST_REQUIRE_SERVICES === "1";
  const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  const rows: Array<[string, string, string, string]> = [
    [
      "PostgreSQL",
      await service(process.env.TEST_DATABASE_URL, 5432),
      "a database of its own per test file",
      "a testcontainers PostgreSQL where Docker runs, else in-memory PGlite; replica, topology, drain and access-changes suites skipped",
    ],
    [
      "RabbitMQ",
      await service(process.env.TEST_AMQP_URL, 5672),
      "the bus in every domain suite, bus contract, replicas, topology, drain",
      "testcontainers where Docker runs, else the in-process bus (its contract suite still runs); multi-process suites skipped",
    ],
    [
      "Memcached",
      await service(process.env.TEST_MEMCACHED_SERVERS, 11211),
      "presence, rate limits and caches in every domain suite, cache contract",
      "testcontainers where Docker runs, else the in-process cache; Memcached-only cases skipped",
    ],
    [
      "nginx",
      await binary("nginx", ["-v"]),
      "test/topology.test.ts: the compose topology behind a real nginx",
      "that suite's process twin skipped (the compose checks still run)",
    ],
    [
      "Chromium",
      await binary(chromium, ["--version"], chromium),
      "test/graphiql.test.ts: GraphiQL offline in a headless browser",
      "skipped",
    ],
    [
      "Linux perf",
      await binary("perf", ["--version"]),
      "test/perf-profile.test.ts: a real recording for the bench's --perf",
      "that case skipped (the summary's own cases still run)",
    ],
  ];
  const lines = [
    "",
    `Services for this run${required ? " (TEST_REQUIRE_SERVICES=1: a missing one fails the run)" : ""}:`,
    ...rows.map(([name, found, usedBy, without]) => {
      const missing = found === "not given" || found === "not installed" || found.includes("NOT");
      return `  ${name.padEnd(11)}${found}\n  ${"".padEnd(11)}${missing ? `without it: ${without}` : `used by: ${usedBy}`}`;
    }),
    "",
  ];
  console.log(lines.join("\n"));
}
