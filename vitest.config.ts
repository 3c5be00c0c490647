import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module). Node, and so Yoga, loads the CJS
    // build; Vite would hand our sources the ESM one, and then two GraphQLError classes
    // exist and our typed errors get masked. Make the tests load what production loads.
    alias: [{ find: /^graphql$/, replacement: "graphql/index.js" }],
  },
  test: {
    include: ["test/**/*.test.ts"],
    // Says first which real services the run uses and what happens without them.
    globalSetup: ["test/setup/report-services.ts"],
    // The fault suite stops shared services: it runs alone (`npm run test:faults`).
    exclude: ["test/faults/**", "node_modules/**"],
    // Each file owns a database and an app on its own port; files run in parallel
    // processes, tests inside a file in order.
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
