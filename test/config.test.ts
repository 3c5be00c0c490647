// loadConfig is pure (it reads only the object it is given), so these need no services.
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("loadConfig accepted the environment");
}

describe("loadConfig", () => {
  it("has the documented defaults: ROLE all, PORT 4000, embedded everything", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: "development",
      role: "all",
      port: 4000,
      host: "0.0.0.0",
      databaseUrl: undefined,
      amqpUrl: undefined,
      memcachedServers: undefined,
      jwtSecret: undefined,
      dataDir: resolve(".data"),
      accessTokenTtlSeconds: 900,
      maxBodyBytes: 1024 * 1024,
      // embedded PGlite has nobody else to migrate it
      migrateOnStart: true,
    });
  });

  it("reads the operational limits: shutdown time, log level, operation bounds", () => {
    expect(loadConfig({})).toMatchObject({
      shutdownTimeoutSeconds: 10,
      logLevel: "info",
      operationLimits: { depth: 12, aliases: 20, cost: 50_000 },
    });
    expect(
      loadConfig({
        SHUTDOWN_TIMEOUT_SECONDS: "3",
        LOG_LEVEL: "warn",
        MAX_QUERY_DEPTH: "5",
        MAX_QUERY_ALIASES: "0",
        MAX_QUERY_COST: "1000",
      }),
    ).toMatchObject({
      shutdownTimeoutSeconds: 3,
      logLevel: "warn",
      operationLimits: { depth: 5, aliases: 0, cost: 1000 },
    });
    expect(configError({ LOG_LEVEL: "loud" }).message).toMatch(/LOG_LEVEL/);
  });

  it("treats an empty DATABASE_URL as unset, and does not migrate an external database by default", () => {
    expect(loadConfig({ DATABASE_URL: "  " }).databaseUrl).toBeUndefined();
    const external = loadConfig({ DATABASE_URL: "postgresql://db/chat" });
    expect(external.databaseUrl).toBe("postgresql://db/chat");
    expect(external.migrateOnStart).toBe(false);
  });

  it("requires JWT_SECRET in production", () => {
    const error = configError({ NODE_ENV: "production" });
    expect(error.name).toBe("ConfigError");
    expect(error.message).toMatch(/JWT_SECRET is required/);
    expect(
      loadConfig({ NODE_ENV: "production", JWT_SECRET: "x".repeat(32) }).jwtSecret,
    ).toHaveLength(32);
  });

  it("rejects a short JWT_SECRET", () => {
    expect(configError({ JWT_SECRET: "short" }).message).toMatch(
      /JWT_SECRET: JWT_SECRET must be at least 32 characters/,
    );
  });

  it("reads webhooks: URLs need a secret, and only http(s) URLs are receivers", () => {
    expect(loadConfig({}).webhooks).toBeUndefined();
    const secret = "s".repeat(32);
    expect(
      loadConfig({
        WEBHOOK_URLS: "https://a.example/h, http://b.example/h",
        WEBHOOK_SECRET: secret,
      }).webhooks,
    ).toEqual({
      urls: ["https://a.example/h", "http://b.example/h"],
      secret,
      retryBaseMs: 1000,
      maxAttempts: 15,
    });
    expect(configError({ WEBHOOK_URLS: "https://a.example/h" }).message).toMatch(
      /WEBHOOK_SECRET is required with WEBHOOK_URLS/,
    );
    expect(
      configError({ WEBHOOK_URLS: "ftp://a.example/h", WEBHOOK_SECRET: secret }).message,
    ).toMatch(/WEBHOOK_URLS: ftp:\/\/a.example\/h is not an http\(s\) URL/);
  });

  it.each(["abc", "70000", "-1", "80.5"])("rejects PORT=%s naming the variable", (port) => {
    const error = configError({ PORT: port });
    expect(error.message).toMatch(/^Invalid configuration:\n {2}PORT: /);
  });

  it.each(["", " "])("treats an empty PORT (%j) as unset, not as port 0", (port) => {
    expect(loadConfig({ PORT: port }).port).toBe(4000);
  });

  it.each([
    [{ ROLE: "api" }, /ROLE=api .* needs DATABASE_URL and AMQP_URL/],
    [{ ROLE: "worker", DATABASE_URL: "postgresql://db/chat" }, /ROLE=worker .* needs AMQP_URL/],
    [{ ROLE: "api", AMQP_URL: "amqp://mq" }, /ROLE=api .* needs DATABASE_URL \(/],
  ])("refuses %j: a replica or worker on embedded services would share nothing", (env, message) => {
    expect(configError(env).message).toMatch(message);
  });

  it("accepts ROLE=api and ROLE=worker with both URLs", () => {
    const urls = { DATABASE_URL: "postgresql://db/chat", AMQP_URL: "amqp://mq" };
    expect(loadConfig({ ROLE: "api", ...urls }).role).toBe("api");
    expect(loadConfig({ ROLE: "worker", ...urls }).role).toBe("worker");
  });
});
