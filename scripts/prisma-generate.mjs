// Runs `prisma generate` without Prisma's native schema engine, which cannot be
// downloaded on offline machines. Generation does not execute the engine; it only
// checks that the configured path exists, so point it at this very file.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const env = { ...process.env };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= fileURLToPath(import.meta.url);
const result = spawnSync("npx", ["--no-install", "prisma", "generate"], { stdio: "inherit", env });
process.exit(result.status ?? 1);
