// The one entry point: `npm start`. ROLE selects api, worker or both (see config.ts).
import { buildApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";

async function main() {
  const config = loadConfig();
  const app = await buildApp(config);
  const listening = await app.start();
  const mode = config.databaseUrl ? "PostgreSQL" : `embedded PGlite in ${config.dataDir}`;
  console.log(`[${config.serverId}] role=${config.role} database=${mode}`);
  if (listening && config.role === "worker")
    console.log(`[${config.serverId}] health on http://localhost:${listening.port}/ready`);
  else if (listening)
    console.log(`[${config.serverId}] GraphiQL on http://localhost:${listening.port}/graphql`);

  const shutdown = async (signal: string) => {
    console.log(`[${config.serverId}] ${signal}: shutting down`);
    try {
      await app.stop();
      process.exit(0);
    } catch (error) {
      console.error(`[${config.serverId}] shutdown failed`, error);
      process.exit(1);
    }
  };
  process.once("SIGINT", () => void shutdown("SIGINT"));
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
