// Memcached for tests: TEST_MEMCACHED_SERVERS, else a container where a Docker engine
// runs, else none (and with TEST_REQUIRE_SERVICES=1 that fails the run).
let resolved: Promise<string | undefined> | undefined;

export function memcachedServers(): Promise<string | undefined> {
  resolved ??= (async () => {
    if (process.env.TEST_MEMCACHED_SERVERS) return process.env.TEST_MEMCACHED_SERVERS;
    try {
      const { GenericContainer } = await import("testcontainers");
      const container = await new GenericContainer("memcached:1.6-alpine")
        .withExposedPorts(11211)
        .start();
      process.once("exit", () => void container.stop());
      return `${container.getHost()}:${container.getMappedPort(11211)}`;
    } catch (error) {
      if (process.env.TEST_REQUIRE_SERVICES === "1") {
        throw new Error(
          `TEST_REQUIRE_SERVICES=1 but no Memcached: set TEST_MEMCACHED_SERVERS or run a Docker engine (${String(error)})`,
        );
      }
      return undefined;
    }
  })();
  return resolved;
}
