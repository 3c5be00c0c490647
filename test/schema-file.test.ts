import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { printSchemaFile, schemaFilePath } from "../src/schema/print.js";

describe("schema.graphql", () => {
  it("matches the Pothos schema (run `npm run schema:print` after a schema change)", () => {
    const committed = readFileSync(schemaFilePath, "utf8");
    expect(
      committed === printSchemaFile(),
      "schema.graphql is stale: run `npm run schema:print`",
    ).toBe(true);
  });
});
