import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

// `npm run test:faults`: the fault suite. It stops and starts services (PostgreSQL,
// RabbitMQ, its own Memcached) and kills processes, so nothing may run beside it: one
// file at a time, after the main suite. (Not mergeConfig: it would add our include to
// the main suite's instead of replacing it.)
export default defineConfig({
  resolve: base.resolve,
  test: {
    include: ["test/faults/**/*.test.ts"],
    pool: "forks",
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 300_000,
    hookTimeout: 180_000,
  },
});
