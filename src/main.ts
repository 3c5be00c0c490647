// The one entry point: `npm start`. ROLE selects api, worker or both (see config.ts).
import closeWithGrace from "close-with-grace";
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

  // SIGTERM/SIGINT (and a fatal error): drain, then exit 0; past SHUTDOWN_TIMEOUT_SECONDS,
  // or on a second signal, exit 1 at once. The api closes its sockets with 1001 and
  // answers what is in flight (app.ts); a worker settles its batch first.
  closeWithGrace(
    { delay: config.shutdownTimeoutSeconds * 1000, logger: console },
    async ({ signal, err }) => {
      if (err) console.error(`[${config.serverId}] fatal error: shutting down`, err);
      else console.log(`[${config.serverId}] ${signal}: draining`);
      await app.stop();
    },
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
