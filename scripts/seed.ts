// `npm run seed`: puts the demo data (seed/demo-data.ts) where `npm start` with the same
// environment keeps its data, then says how to sign in. When that server is running, the
// seed goes through it: nothing locks PGlite's files, and a second process writing them
// could corrupt them. Otherwise it builds the app here as main.ts does (its worker stores
// the messages: embedded bus, or a share of RabbitMQ's queues), on a free port, and stops it.
import { buildApp } from "../src/app.js";
import { type Config, ConfigError, loadConfig } from "../src/config.js";
import { DEMO_OWNER, DEMO_PASSWORD } from "./seed/demo-data.js";
import { answersGraphQL } from "./seed/graphql-client.js";
import { type Seeded, seed } from "./seed/seed.js";

async function main() {
  // Quiet unless LOG_LEVEL says otherwise: the summary is the output.
  const config = loadConfig({ LOG_LEVEL: "warn", ...process.env });
  const serverUrl = `http://localhost:${config.port}/graphql`;
  const running = config.port !== 0 && (await answersGraphQL(endpoint(config)));
  if (running) {
    console.log(`Seeding through the server running at ${serverUrl}.`);
    report(await seed(endpoint(config)), config, serverUrl);
    return;
  }
  const database = config.databaseUrl ? "PostgreSQL" : `embedded PGlite in ${config.dataDir}`;
  console.log(`No server answers at ${serverUrl}: seeding ${database} from this process.`);
  // ROLE=all whatever the environment says: this process serves the API it calls, and
  // runs a worker so that what it sends is stored even when no other worker runs.
  const app = await buildApp({ ...config, role: "all", port: 0, host: "127.0.0.1" });
  // Ctrl-C stops the app before exiting, as npm start does, so PGlite is closed cleanly.
  const interrupted = () => void app.stop().finally(() => process.exit(130));
  process.once("SIGINT", interrupted).once("SIGTERM", interrupted);
  try {
    const listening = await app.start();
    if (!listening) throw new Error("the app did not start its API");
    const seeded = await seed(listening.url);
    report(seeded, config, `${serverUrl}   (after \`npm start\`)`);
  } finally {
    await app.stop();
  }
}

/** Where this machine reaches the server `config` describes. */
function endpoint(config: Config): string {
  const host = ["0.0.0.0", "::"].includes(config.host) ? "127.0.0.1" : config.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${config.port}/graphql`;
}

function report(seeded: Seeded, config: Config, url: string) {
  const rows = [
    ["username", "display name", "email"],
    ...seeded.users.map((user) => [user.username, user.displayName, user.email]),
  ];
  const widths = [0, 1].map((column) => Math.max(...rows.map((row) => row[column]?.length ?? 0)));
  const table = rows.map(
    (row) => `  ${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ")}`,
  );
  const expires = new Date(seeded.owner.accessTokenExpiresAt).toLocaleTimeString();
  console.log(
    [
      "",
      "Demo data is in place (a second run adds nothing):",
      "",
      ...table,
      "",
      `Password of every user: ${DEMO_PASSWORD}`,
      `${config.graphiql ? "GraphiQL" : "GraphQL endpoint"}: ${url}`,
      `Headers tab, signed in as ${DEMO_OWNER} (the token expires at ${expires}):`,
      `{"Authorization": "Bearer ${seeded.owner.accessToken}"}`,
    ].join("\n"),
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
