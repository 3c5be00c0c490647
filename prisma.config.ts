// Prisma CLI configuration. `env("DATABASE_URL")` would throw when the variable is
// unset (as in `prisma generate` on CI), so read it with a harmless default.
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: {
    url: process.env.DATABASE_URL ?? "postgresql://localhost:5432/unused",
  },
});
