// Access and refresh tokens: rotation, reuse detection, and every way a bad access
// token must be refused, over HTTP and over graphql-ws (4403 invalid, 4401 expired).
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "graphql-ws";
import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { AccessTokens } from "../src/auth/access-tokens.js";
import {
  HeartbeatDocument,
  LoginDocument,
  MeDocument,
  RefreshSessionDocument,
} from "./gql/graphql.js";
import {
  mustRequest,
  request,
  TEST_JWT_SECRET,
  takeResults,
  useTestApp,
  wsClient,
} from "./harness/app.js";
import { registerUser, TEST_PASSWORD } from "./harness/users.js";
import { until } from "./harness/wait.js";

const server = useTestApp();
const shortLived = useTestApp({ ACCESS_TOKEN_TTL_SECONDS: "2" });

function base64url(value: unknown) {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** The claims our tokens carry, signed with nothing at all. */
function unsignedToken(userId: string) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    sub: userId,
    iss: "chat-graphql",
    aud: "chat-graphql:access",
    iat: now,
    exp: now + 600,
  };
  return `${base64url({ alg: "none", typ: "JWT" })}.${base64url(claims)}.`;
}

/** Resolves with the close code of the socket once an operation on it fails. */
function closeCode(client: Client): Promise<number> {
  return new Promise((resolve, reject) => {
    client.subscribe(
      { query: "subscription { heartbeat(intervalSeconds: 1) { at } }" },
      {
        next: () => {},
        error: (error) => {
          const code = (error as { code?: unknown }).code;
          typeof code === "number" ? resolve(code) : reject(error);
        },
        complete: () => reject(new Error("completed without closing")),
      },
    );
  });
}

describe("refresh tokens", () => {
  it("rotate on every use, and reusing a rotated token revokes the whole family", async () => {
    const user = await registerUser(server);
    const first = user.refreshToken;
    const second = (await mustRequest(server, RefreshSessionDocument, { refreshToken: first }))
      .refreshSession;
    const third = (
      await mustRequest(server, RefreshSessionDocument, { refreshToken: second.refreshToken })
    ).refreshSession;
    expect(new Set([first, second.refreshToken, third.refreshToken]).size).toBe(3);

    const replay = await request(server, RefreshSessionDocument, { refreshToken: first });
    expect(replay.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(replay.errors?.[0]?.message).toMatch(/already used/);
    // the thief's replay also ended the legitimate holder's session
    const legit = await request(server, RefreshSessionDocument, {
      refreshToken: third.refreshToken,
    });
    expect(legit.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    // a separate sign-in is a separate family and still works
    const login = await mustRequest(server, LoginDocument, {
      input: { login: user.user.username, password: TEST_PASSWORD },
    });
    await mustRequest(server, RefreshSessionDocument, { refreshToken: login.login.refreshToken });
  });

  it("three concurrent refreshes with one token: it counts as reuse, and the whole family ends", async () => {
    const user = await registerUser(server);
    const results = await Promise.all(
      [1, 2, 3].map(() =>
        request(server, RefreshSessionDocument, { refreshToken: user.refreshToken }),
      ),
    );
    const failures = results.filter((r) => r.errors?.[0]?.extensions?.code === "UNAUTHENTICATED");
    // one rotation may have answered before the reuse was seen, never two
    expect(failures.length).toBeGreaterThanOrEqual(2);
    // ...and whatever it handed out is dead now: the family was revoked
    for (const result of results) {
      const token = result.data?.refreshSession.refreshToken;
      if (!token) continue;
      const reuse = await request(server, RefreshSessionDocument, { refreshToken: token });
      expect(reuse.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    }
  });

  it("an unknown refresh token is UNAUTHENTICATED", async () => {
    const result = await request(server, RefreshSessionDocument, { refreshToken: "not-a-token" });
    expect(result.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});

describe("access tokens are refused when", () => {
  const cases: Array<
    [string, (userId: string) => Promise<string> | string, "expired" | "invalid"]
  > = [
    [
      "expired",
      async (id) => (await new AccessTokens(TEST_JWT_SECRET, -60).sign(id)).token,
      "expired",
    ],
    [
      "signed with another key",
      async (id) => (await new AccessTokens("x".repeat(48), 600).sign(id)).token,
      "invalid",
    ],
    ["alg: none", (id) => unsignedToken(id), "invalid"],
    [
      "tampered with (payload swapped)",
      async (id) => {
        const good = (await new AccessTokens(TEST_JWT_SECRET, 600).sign(id)).token.split(".");
        const claims = JSON.parse(Buffer.from(good[1] ?? "", "base64url").toString());
        return [
          good[0],
          base64url({ ...claims, sub: "00000000-0000-7000-8000-000000000000" }),
          good[2],
        ].join(".");
      },
      "invalid",
    ],
    ["garbage", () => "not.a.jwt", "invalid"],
  ];

  for (const [name, makeToken, reason] of cases) {
    it(`${name}: HTTP answers UNAUTHENTICATED, graphql-ws closes with ${reason === "expired" ? 4401 : 4403}`, async () => {
      const user = await registerUser(server);
      const token = await makeToken(user.user.id);
      const http = await request(server, MeDocument, {}, token);
      expect(http.data?.me).toBeNull();
      expect(http.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
      expect(http.errors?.[0]?.message).toMatch(reason === "expired" ? /expired/ : /not valid/);

      const client = wsClient(server, { authorization: `Bearer ${token}` });
      await expect(closeCode(client)).resolves.toBe(reason === "expired" ? 4401 : 4403);
      await client.dispose();
    });
  }

  it("a valid token still works after all that (the server kept serving)", async () => {
    const user = await registerUser(server);
    const me = await mustRequest(server, MeDocument, {}, user.accessToken);
    expect(me.me?.id).toBe(user.user.id);
  });
});

describe("graphql-ws sessions", () => {
  it("a socket without a token is anonymous: operations that need a user answer UNAUTHENTICATED", async () => {
    const client = wsClient(server);
    const [result] = await takeResults(client, HeartbeatDocument, {}, 1);
    await client.dispose();
    expect(result?.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("a token that expires while the socket is open closes it with 4401", async () => {
    const user = await registerUser(shortLived);
    const client = wsClient(shortLived, { authorization: `Bearer ${user.accessToken}` });
    const started = Date.now();
    const code = await closeCode(client);
    await client.dispose();
    expect(code).toBe(4401);
    // it was open (and streaming) until the token's expiry, not refused at once
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
  });

  it("open sockets are pinged by the server's one interval: once connected, a socket keeps no timer of its own", async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    // Plain graphql-transport-ws sockets, acknowledged and idle (anonymous: no per-user
    // socket cap, no expiry timer), with nothing else of theirs to count.
    const sockets = await Promise.all(
      Array.from({ length: 30 }, async () => {
        const socket = new WebSocket(server.wsUrl, "graphql-transport-ws");
        await once(socket, "open");
        socket.send(JSON.stringify({ type: "connection_init" }));
        const [ack] = await once(socket, "message");
        expect(JSON.parse(String(ack))).toMatchObject({ type: "connection_ack" });
        return socket;
      }),
    );
    // Each has graphql-ws's wait for connection_init until it ends (3 s). Its keep-alive
    // gave each an interval for life besides (30 more for good; half that is the margin for
    // the app's other timers); the server's pinger is one interval for all of them.
    await until(() => timers() - before < 15, 10_000, "the sockets' own timers to end");
    for (const socket of sockets) socket.close();
  });

  it("anonymous sockets may authenticate one operation with GraphiQL's extensions.headers", async () => {
    const user = await registerUser(server);
    const client = wsClient(server);
    const result = await new Promise<unknown>((resolve, reject) => {
      const stop = client.subscribe(
        {
          query: "subscription { heartbeat { viewer { id } } }",
          extensions: { headers: { Authorization: `Bearer ${user.accessToken}` } },
        },
        {
          next: (value) => {
            stop();
            resolve(value);
          },
          error: reject,
          complete: () => {},
        },
      );
    });
    await client.dispose();
    await sleep(0);
    expect(result).toEqual({ data: { heartbeat: { viewer: { id: user.user.id } } } });
  });
});
