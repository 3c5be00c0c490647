import { readFileSync } from "node:fs";
import { GraphQLScalarType } from "graphql";
import { describe, expect, it } from "vitest";
import { schema } from "../src/schema/index.js";
import { printSchemaFile, schemaFilePath } from "../src/schema/print.js";

describe("schema.graphql", () => {
  it("matches the Pothos schema (run `npm run schema:print` after a schema change)", () => {
    const committed = readFileSync(schemaFilePath, "utf8");
    expect(
      committed === printSchemaFile(),
      "schema.graphql is stale: run `npm run schema:print`",
    ).toBe(true);
  });

  it("DateTime says which specification it follows (@specifiedBy), for codegen's scalar mapping", () => {
    const dateTime = schema.getType("DateTime");
    expect(dateTime).toBeInstanceOf(GraphQLScalarType);
    expect((dateTime as GraphQLScalarType).specifiedByURL).toBe(
      "https://scalars.graphql.org/andimarek/date-time",
    );
  });
});
