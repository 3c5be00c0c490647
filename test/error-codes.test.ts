// Every code a client can get is in the schema's ErrorCode enum: the enum is made from
// src/errors.ts's list, and the codes real responses carry (ours, the operation limits',
// the HTTP layer's and Yoga's own) are checked against it here.
import { GraphQLEnumType, getNamedType } from "graphql";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../src/errors.js";
import { schema } from "../src/schema/index.js";
import { useTestApp } from "./harness/app.js";
import { registerUser } from "./harness/users.js";

const server = useTestApp({ MAX_BODY_BYTES: "2048" });

const enumValues = () => {
  const type = getNamedType(schema.getType("ErrorCode") ?? undefined);
  if (!(type instanceof GraphQLEnumType)) throw new Error("no ErrorCode enum");
  return type.getValues().map((value) => value.name);
};

async function codeOf(init: RequestInit & { headers?: Record<string, string> }) {
  const response = await fetch(server.url, { method: "POST", ...init });
  const body = (await response.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
  return body.errors?.[0]?.extensions?.code;
}

const json = (query: string, token?: string) => ({
  headers: {
    "content-type": "application/json",
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  },
  body: JSON.stringify({ query }),
});

describe("ErrorCode", () => {
  it("the schema's enum lists exactly the documented codes, each with when and whether to retry", () => {
    expect(enumValues().sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const description of Object.values(ERROR_CODES))
      expect(description.length).toBeGreaterThan(20);
  });

  it("what real responses carry is in the enum: our errors, the limits', the HTTP layer's and Yoga's", async () => {
    const viewer = await registerUser(server);
    const seen = [
      await codeOf(json("{ me { id ")), // GRAPHQL_PARSE_FAILED
      await codeOf(json("{ nope }")), // GRAPHQL_VALIDATION_FAILED
      await codeOf(json("{ me { id } }")), // UNAUTHENTICATED
      await codeOf(json(`{ user(id: "x") { id } }`, viewer.accessToken)), // BAD_USER_INPUT
      await codeOf(
        json(`{ ${Array.from({ length: 30 }, (_, i) => `a${i}: __typename`).join(" ")} }`),
      ), // TOO_MANY_ALIASES
      await codeOf({ headers: { "content-type": "text/plain" }, body: "{ me { id } }" }), // UNSUPPORTED_MEDIA_TYPE
      await codeOf({ ...json(`{ me { id } } # ${"x".repeat(4096)}`) }), // PAYLOAD_TOO_LARGE
    ];
    expect(seen).toEqual([
      "GRAPHQL_PARSE_FAILED",
      "GRAPHQL_VALIDATION_FAILED",
      "UNAUTHENTICATED",
      "BAD_USER_INPUT",
      "TOO_MANY_ALIASES",
      "UNSUPPORTED_MEDIA_TYPE",
      "PAYLOAD_TOO_LARGE",
    ]);
    const codes = new Set(enumValues());
    for (const code of seen) expect(codes.has(code as string), code).toBe(true);
  });
});
