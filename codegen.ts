// Typed documents, generated offline from the committed schema.graphql (`npm run codegen`):
// for the operations in test/operations/*.graphql (the test client), and for the
// graphql() calls of the example clients (examples/), exactly as a frontend team's
// client-preset setup would. A schema change that breaks an operation fails the type
// check and the tests.
import type { CodegenConfig } from "@graphql-codegen/cli";

/** What the README's "For frontend teams" gives: DateTime arrives as an ISO string. */
const clientConfig = {
  // For Node's ESM resolution (these run under Node); a bundler needs no extension.
  importExtension: ".js",
  useTypeImports: true,
  enumsAsTypes: true,
  scalars: { DateTime: "string" },
} as const;

const config: CodegenConfig = {
  schema: "schema.graphql",
  ignoreNoDocuments: false,
  generates: {
    "test/gql/": {
      documents: ["test/operations/**/*.graphql"],
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: clientConfig,
    },
    "examples/gql/": {
      documents: ["examples/**/*.ts", "!examples/gql/**"],
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: clientConfig,
    },
  },
};

export default config;
