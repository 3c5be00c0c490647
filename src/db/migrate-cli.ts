// `npm run db:migrate`: applies pending migrations to DATABASE_URL, or to the embedded
// PGlite under DATA_DIR when no URL is set, then exits.
import { loadConfig } from "../config.js";
import { openDatabase } from "./database.js";

const config = loadConfig();
const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, migrate: false });
try {
  const applied = await db.migrate();
  const target = config.databaseUrl ? "PostgreSQL" : `PGlite in ${config.dataDir}`;
  console.log(
    applied.length ? `applied to ${target}: ${applied.join(", ")}` : `${target} is up to date`,
  );
} finally {
  await db.close();
}
