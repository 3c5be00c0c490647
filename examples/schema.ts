// The committed schema.graphql, introspected, for clients that want to know the schema
// (Graphcache's `schema`, Apollo's `possibleTypes`). A browser app would generate this
// at build time instead (e.g. codegen's introspection plugin); these examples run on Node.
import { readFileSync } from "node:fs";
import { buildSchema, type IntrospectionQuery, introspectionFromSchema } from "graphql";

const sdl = readFileSync(new URL("../schema.graphql", import.meta.url), "utf8");

export const introspection: IntrospectionQuery = introspectionFromSchema(buildSchema(sdl));

/** Apollo's possibleTypes: every interface with the types that implement it. */
export const possibleTypes: Record<string, string[]> = Object.fromEntries(
  introspection.__schema.types
    .filter((type) => type.kind === "INTERFACE")
    .map((type) => [
      type.name,
      "possibleTypes" in type ? type.possibleTypes.map((possible) => possible.name) : [],
    ]),
);
