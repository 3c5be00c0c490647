// The one entry point: `npm start`. ROLE selects api, worker or both (see config.ts).
import closeWithGrace from "close-with-grace";
import { buildApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";

async function main() {
  const config = loadConfig();
  const app = await buildApp(config);
  const logger = app.services.logger;
  const listening = await app.start();
  const database = config.databaseUrl ? "PostgreSQL" : `embedded PGlite in ${config.dataDir}`;
  logger.info({ database }, "started");
  if (listening && config.role === "worker")
    logger.info(`health on http://localhost:${listening.port}/ready`);
  else if (listening) logger.info(`GraphiQL on http://localhost:${listening.port}/graphql`);

  // SIGTERM/SIGINT (and a fatal error): drain, then exit 0; past SHUTDOWN_TIMEOUT_SECONDS,
  // or on a second signal, exit 1 at once. The api closes its sockets with 1001 and
  // answers what is in flight (app.ts); a worker settles its batch first.
  closeWithGrace(
    { delay: config.shutdownTimeoutSeconds * 1000, logger: { error: (m) => logger.error(m) } },
    async ({ signal, err }) => {
      if (err) logger.fatal({ err }, "fatal error: shutting down");
      else logger.info({ signal }, "draining");
      await app.stop();
      logger.info("stopped");
    },
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
