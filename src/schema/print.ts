// The committed SDL: schema.graphql at the repository root.
import { fileURLToPath } from "node:url";
import { lexicographicSortSchema, printSchema } from "graphql";
import { schema } from "./index.js";

export const schemaFilePath = fileURLToPath(new URL("../../schema.graphql", import.meta.url));

export function printSchemaFile(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
