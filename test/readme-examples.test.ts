// The README's GraphQL examples must stay valid against the schema: each operation in
// its ```graphql blocks is validated on its own (placeholders are plain strings).
import { readFileSync } from "node:fs";
import { type DocumentNode, Kind, parse, validate } from "graphql";
import { describe, expect, it } from "vitest";
import { schema } from "../src/schema/index.js";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => match[1] ?? "");

describe("README examples", () => {
  it("has GraphQL examples", () => {
    expect(blocks.length).toBeGreaterThan(3);
  });

  it.each(blocks.map((block, i) => [i + 1, block] as const))(
    "block %i validates against the schema",
    (_i, block) => {
      // Placeholders are plain strings, but a DateTime literal must parse as a date.
      const document = parse(block.replaceAll('"<until>"', '"2030-01-01T00:00:00.000Z"'));
      for (const definition of document.definitions) {
        expect(definition.kind).toBe(Kind.OPERATION_DEFINITION);
        const single: DocumentNode = { kind: Kind.DOCUMENT, definitions: [definition] };
        const errors = validate(schema, single).map((error) => error.message);
        expect(errors).toEqual([]);
      }
    },
  );
});
