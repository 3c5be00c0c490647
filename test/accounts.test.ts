import { describe, expect, it } from "vitest";
import {
  HeartbeatDocument,
  LoginDocument,
  LogoutDocument,
  MeDocument,
  RefreshSessionDocument,
  RegisterDocument,
} from "./gql/graphql.js";
import { mustRequest, request, takeResults, useTestApp, wsClient } from "./harness/app.js";
import { registerUser, TEST_PASSWORD } from "./harness/users.js";

const server = useTestApp();

describe("account lifecycle", () => {
  it("register -> login -> me -> refreshSession -> logout over HTTP, and the token authenticates a graphql-ws subscription", async () => {
    const registered = await mustRequest(server, RegisterDocument, {
      input: {
        email: "Alice@Example.com",
        username: "Alice_1",
        password: TEST_PASSWORD,
        displayName: "Alice",
      },
    });
    expect(registered.register.user).toMatchObject({
      username: "alice_1",
      email: "alice@example.com",
      displayName: "Alice",
    });
    const userId = registered.register.user.id;

    // login by username and by email
    const byName = await mustRequest(server, LoginDocument, {
      input: { login: "alice_1", password: TEST_PASSWORD },
    });
    const byEmail = await mustRequest(server, LoginDocument, {
      input: { login: "ALICE@example.com", password: TEST_PASSWORD },
    });
    expect(byName.login.user.id).toBe(userId);
    expect(byEmail.login.user.id).toBe(userId);

    const me = await mustRequest(server, MeDocument, {}, byName.login.accessToken);
    expect(me.me).toMatchObject({ id: userId, email: "alice@example.com" });

    const refreshed = await mustRequest(server, RefreshSessionDocument, {
      refreshToken: byName.login.refreshToken,
    });
    expect(refreshed.refreshSession.user.id).toBe(userId);
    expect(refreshed.refreshSession.refreshToken).not.toBe(byName.login.refreshToken);
    const meAgain = await mustRequest(server, MeDocument, {}, refreshed.refreshSession.accessToken);
    expect(meAgain.me?.id).toBe(userId);

    // the same access token over WebSocket
    const client = wsClient(server, {
      authorization: `Bearer ${refreshed.refreshSession.accessToken}`,
    });
    const [beat] = await takeResults(client, HeartbeatDocument, { intervalSeconds: 1 }, 1);
    await client.dispose();
    expect(beat?.errors).toBeUndefined();
    expect(beat?.data?.heartbeat.viewer).toEqual({ id: userId, username: "alice_1" });

    const loggedOut = await mustRequest(server, LogoutDocument, {
      refreshToken: refreshed.refreshSession.refreshToken,
    });
    expect(loggedOut.logout.sessionEnded).toBe(true);
    const again = await mustRequest(server, LogoutDocument, {
      refreshToken: refreshed.refreshSession.refreshToken,
    });
    expect(again.logout.sessionEnded).toBe(false);
    const afterLogout = await request(server, RefreshSessionDocument, {
      refreshToken: refreshed.refreshSession.refreshToken,
    });
    expect(afterLogout.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    // the other session (login by email) is untouched
    const other = await mustRequest(server, RefreshSessionDocument, {
      refreshToken: byEmail.login.refreshToken,
    });
    expect(other.refreshSession.user.id).toBe(userId);
  });

  it("me without a token answers UNAUTHENTICATED", async () => {
    const result = await request(server, MeDocument, {});
    expect(result.data?.me).toBeNull();
    expect(result.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("a wrong password and an unknown account fail alike", async () => {
    const wrong = await request(server, LoginDocument, {
      input: { login: "alice_1", password: "not the password" },
    });
    const unknown = await request(server, LoginDocument, {
      input: { login: "nobody", password: "not the password" },
    });
    expect(wrong.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(unknown.errors?.[0]).toEqual(wrong.errors?.[0]);
  });

  it("after 10 wrong passwords for one login, sign-in is RATE_LIMITED (even with the right one); other logins are not", async () => {
    const victim = await registerUser(server);
    const bystander = await registerUser(server);
    const attempt = (login: string, password: string) =>
      request(server, LoginDocument, { input: { login, password } });
    for (let i = 0; i < 10; i++) {
      const result = await attempt(victim.user.username, `wrong-${i}-password`);
      expect(result.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    }
    const blocked = await attempt(victim.user.username, "wrong-again-password");
    expect(blocked.errors?.[0]?.extensions).toMatchObject({ code: "RATE_LIMITED" });
    // 11 counted in a 300 s window: one more fits once 11 of them have slid to 9 (355 s).
    expect(blocked.errors?.[0]?.extensions?.retryAfter).toBeGreaterThan(300);
    expect(blocked.errors?.[0]?.extensions?.retryAfter).toBeLessThanOrEqual(600);
    const evenRight = await attempt(victim.user.username, TEST_PASSWORD);
    expect(evenRight.errors?.[0]?.extensions?.code).toBe("RATE_LIMITED");
    await mustRequest(server, LoginDocument, {
      input: { login: bystander.user.username, password: TEST_PASSWORD },
    });
  });
});
