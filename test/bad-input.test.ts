// Bad input gets a typed error naming the field at fault, is never half-written, and
// never takes the server down.
import { request as httpRequest } from "node:http";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  AddContactDocument,
  MeDocument,
  RegisterDocument,
  SearchUsersDocument,
  UpdateProfileDocument,
  UserByIdDocument,
} from "./gql/graphql.js";
import { mustRequest, request, useTestApp, wsClient } from "./harness/app.js";
import { dbId, unknownId } from "./harness/ids.js";
import { registerUser, TEST_PASSWORD } from "./harness/users.js";

const server = useTestApp({ MAX_BODY_BYTES: String(64 * 1024) });

const valid = {
  email: "bob@example.com",
  username: "bob",
  password: TEST_PASSWORD,
  displayName: "Bob",
};

async function registerError(input: Partial<typeof valid>) {
  const result = await request(server, RegisterDocument, { input: { ...valid, ...input } });
  expect(result.data).toBeNull();
  return result.errors?.[0]?.extensions;
}

describe("register rejects", () => {
  it.each([
    ["an invalid email", { email: "not-an-email" }, "email"],
    ["a too-short password", { password: "short" }, "password"],
    ["a too-long password", { password: "p".repeat(129) }, "password"],
    ["an empty display name", { displayName: "   " }, "displayName"],
    ["an oversized display name", { displayName: "D".repeat(10_000) }, "displayName"],
    ["an oversized email", { email: `${"e".repeat(300)}@example.com` }, "email"],
    ["a username with spaces", { username: "bob smith" }, "username"],
    ["an oversized username", { username: "u".repeat(100) }, "username"],
  ])("%s with BAD_USER_INPUT on the field", async (_name, input, field) => {
    expect(await registerError(input)).toEqual({ code: "BAD_USER_INPUT", field });
  });

  it("a duplicate email or username (case-insensitively), writing nothing", async () => {
    await mustRequest(server, RegisterDocument, { input: valid });
    expect(await registerError({ email: "BOB@example.com", username: "bob2" })).toEqual({
      code: "BAD_USER_INPUT",
      field: "email",
    });
    expect(await registerError({ email: "bob2@example.com", username: "BOB" })).toEqual({
      code: "BAD_USER_INPUT",
      field: "username",
    });
    const count = await server.database.db.prisma.user.count({
      where: { username: { startsWith: "bob" } },
    });
    expect(count).toBe(1);
  });
});

describe("ids", () => {
  it("an unknown user id is NOT_FOUND on the field; a malformed one, a bare row id or another type's id is BAD_USER_INPUT", async () => {
    const viewer = await registerUser(server);
    const unknown = await request(
      server,
      UserByIdDocument,
      { id: unknownId("User") },
      viewer.accessToken,
    );
    expect(unknown.data?.user).toBeNull();
    expect(unknown.errors?.[0]?.extensions).toEqual({ code: "NOT_FOUND", field: "id" });

    const malformed = await request(
      server,
      UserByIdDocument,
      { id: "1; drop table users" },
      viewer.accessToken,
    );
    expect(malformed.errors?.[0]?.extensions).toEqual({ code: "BAD_USER_INPUT", field: "id" });
    for (const id of [dbId(viewer.user.id), unknownId("Channel")]) {
      const wrong = await request(server, UserByIdDocument, { id }, viewer.accessToken);
      expect(wrong.errors?.[0]).toMatchObject({
        message: "id: must be the id of a User",
        extensions: { code: "BAD_USER_INPUT", field: "id" },
      });
    }

    const contact = await request(
      server,
      AddContactDocument,
      { userId: unknownId("User") },
      viewer.accessToken,
    );
    expect(contact.errors?.[0]?.extensions).toEqual({ code: "NOT_FOUND", field: "userId" });
    const self = await request(
      server,
      AddContactDocument,
      { userId: viewer.user.id },
      viewer.accessToken,
    );
    expect(self.errors?.[0]?.extensions).toEqual({ code: "BAD_USER_INPUT", field: "userId" });
  });
});

describe("profile updates", () => {
  it.each([
    ["an oversized bio", { bio: "b".repeat(501) }, "bio"],
    ["a non-http avatar URL", { avatarUrl: "javascript:alert(1)" }, "avatarUrl"],
    ["an empty display name", { displayName: "" }, "displayName"],
  ])("reject %s and keep the profile unchanged", async (_name, input, field) => {
    const viewer = await registerUser(server);
    const result = await request(server, UpdateProfileDocument, { input }, viewer.accessToken);
    expect(result.errors?.[0]?.extensions).toEqual({ code: "BAD_USER_INPUT", field });
    const me = await mustRequest(server, MeDocument, {}, viewer.accessToken);
    expect(me.me).toMatchObject({
      displayName: viewer.user.displayName,
      bio: null,
      avatarUrl: null,
    });
  });
});

describe("the transport", () => {
  it("refuses an oversized body with 413 before reading it, and keeps serving", async () => {
    const response = await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __typename }", variables: { pad: "x".repeat(200 * 1024) } }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({
      errors: [{ extensions: { code: "PAYLOAD_TOO_LARGE" } }],
    });
    const after = await request(server, MeDocument, {});
    expect(after.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("refuses a body of no declared length (chunked) with 411 before reading it: the size limit cannot be dodged", async () => {
    const answer = await new Promise<{ status?: number; body: string }>((resolve, reject) => {
      const outgoing = httpRequest(server.url, {
        method: "POST",
        headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
      });
      outgoing.on("response", (response) => {
        let body = "";
        response.on("data", (chunk) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode, body }));
      });
      outgoing.on("error", reject);
      // The headers alone are judged: the body is still being sent when the answer comes.
      outgoing.write(`{"query": "{ __typename }", "variables": {"pad": "`);
    });
    expect(answer.status).toBe(411);
    expect(JSON.parse(answer.body)).toMatchObject({
      errors: [{ extensions: { code: "LENGTH_REQUIRED" } }],
    });
    const after = await request(server, MeDocument, {});
    expect(after.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("answers malformed JSON and unknown fields with errors, not crashes", async () => {
    const broken = await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"query": "{ me { id } ',
    });
    expect(broken.status).toBe(400);
    const unknown = await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ secrets }" }),
    });
    const body = (await unknown.json()) as { errors: Array<{ extensions: { code: string } }> };
    expect(body.errors[0]?.extensions.code).toBe("GRAPHQL_VALIDATION_FAILED");
  });

  it("closes a WebSocket that breaks the protocol (4400) or sends an oversized frame (1009)", async () => {
    const wsUrl = server.wsUrl;
    const closeCodeAfter = (send: (socket: WebSocket) => void) =>
      new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(wsUrl, "graphql-transport-ws");
        socket.on("open", () => send(socket));
        socket.on("close", (code) => resolve(code));
        socket.on("error", reject);
      });
    expect(await closeCodeAfter((s) => s.send("this is not json"))).toBe(4400);
    expect(
      await closeCodeAfter((s) => {
        s.send(JSON.stringify({ type: "connection_init" }));
        s.send(
          JSON.stringify({
            type: "subscribe",
            id: "1",
            payload: { query: "x".repeat(100 * 1024) },
          }),
        );
      }),
    ).toBe(1009);
    const after = await request(server, MeDocument, {});
    expect(after.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});

describe("connections", () => {
  it("a malformed cursor is BAD_USER_INPUT, not an uncoded error", async () => {
    const viewer = await registerUser(server);
    const result = await request(
      server,
      SearchUsersDocument,
      { first: 2, after: "not-a-cursor" },
      viewer.accessToken,
    );
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "cursor",
    });
  });

  it("a page over 100 is PAGE_TOO_LARGE with the limit, on the argument; 100 is served", async () => {
    const viewer = await registerUser(server);
    const over = await request(server, SearchUsersDocument, { first: 101 }, viewer.accessToken);
    expect(over.errors?.[0]?.extensions).toEqual({
      code: "PAGE_TOO_LARGE",
      field: "first",
      limit: 100,
    });
    const most = await request(server, SearchUsersDocument, { first: 100 }, viewer.accessToken);
    expect(most.errors).toBeUndefined();
    expect(most.data?.users.edges.length).toBeGreaterThan(0);
    // A full page of one channel's history with what a chat view shows stays under the cost bound.
    const history = await fetch(server.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${viewer.accessToken}`,
      },
      body: JSON.stringify({
        query: `{ channels(first: 1) { edges { node { id messages(first: 100) { edges { cursor node {
          id seq body createdAt editedAt status sender { id displayName avatarUrl } } }
          pageInfo { hasNextPage endCursor } } } } } }`,
      }),
    });
    expect(JSON.stringify(((await history.json()) as { errors?: unknown }).errors)).toBeUndefined();
  });

  it("a negative page size is BAD_USER_INPUT on the argument itself", async () => {
    const viewer = await registerUser(server);
    const result = await request(server, SearchUsersDocument, { first: -1 }, viewer.accessToken);
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "first",
    });
  });
});

describe("operation bounds", () => {
  it("refuses a query nested too deep, with too many aliases or too costly, before running it, with the limit's code", async () => {
    const viewer = await registerUser(server);
    const post = async (query: string) => {
      const response = await fetch(server.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${viewer.accessToken}`,
        },
        body: JSON.stringify({ query }),
      });
      return (await response.json()) as {
        data?: unknown;
        errors?: Array<{ message: string; extensions?: { code?: string } }>;
      };
    };
    const nested = await post(
      "{ channels(first: 5) { edges { node { lastMessage { channel { lastMessage { channel { lastMessage { channel { lastMessage { channel { lastMessage { channel { id } } } } } } } } } } } } } }",
    );
    expect(nested.data).toBeUndefined();
    expect(nested.errors?.[0]?.message).toMatch(/depth/i);
    expect(nested.errors?.[0]?.extensions?.code).toBe("TOO_DEEP");
    const aliases = await post(
      `{ ${Array.from({ length: 30 }, (_, i) => `a${i}: me { id }`).join(" ")} }`,
    );
    expect(aliases.data).toBeUndefined();
    expect(aliases.errors?.[0]?.message).toMatch(/alias/i);
    expect(aliases.errors?.[0]?.extensions?.code).toBe("TOO_MANY_ALIASES");
    // Shallow enough and few aliases, but every level multiplies: 500 × 500 × 500 messages.
    const costly = await post(
      "{ channels(first: 500) { edges { node { messages(first: 500) { edges { node { channel { messages(first: 500) { edges { node { id } } } } } } } } } } }",
    );
    expect(costly.data).toBeUndefined();
    expect(costly.errors?.[0]?.extensions?.code).toBe("TOO_COSTLY");
  });
});

describe("subscriptions per socket", () => {
  it("the 101st live subscription on one socket is refused with RATE_LIMITED; the others keep running", async () => {
    const viewer = await registerUser(server);
    const client = wsClient(server, { authorization: `Bearer ${viewer.accessToken}` });
    const first: unknown[] = [];
    const stops: Array<() => void> = [];
    for (let i = 0; i < 100; i++) {
      stops.push(
        client.subscribe(
          { query: "subscription { heartbeat(intervalSeconds: 60) { at } }" },
          { next: (value) => first.push(value), error: () => {}, complete: () => {} },
        ),
      );
    }
    const deadline = Date.now() + 10_000;
    while (first.length < 100 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(first).toHaveLength(100);
    const refused = await new Promise<unknown>((resolve) => {
      client.subscribe(
        { query: "subscription { heartbeat { at } }" },
        { next: () => {}, error: resolve, complete: () => resolve(null) },
      );
    });
    expect(JSON.stringify(refused)).toMatch(/RATE_LIMITED/);
    for (const stop of stops) stop();
    await client.dispose();
  });
});
