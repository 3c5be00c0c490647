// A signed-in session for an example client: the access token for every request and
// socket, renewed with the refresh token before it expires, or at once when the server
// says it has (an HTTP UNAUTHENTICATED, a socket closed with 4401).
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print } from "graphql";
import type { LoginMutation } from "./gql/graphql.js";
import { Login, RefreshSession } from "./operations.js";

type Signed = LoginMutation["login"];

/** Renew this long before the access token's stated expiry (clocks differ a little). */
const EARLY_MS = 30_000;

export class Session {
  #current: Signed;
  #renewing: Promise<Signed> | undefined;

  constructor(
    signed: Signed,
    /** Calls refreshSession; the refresh token is single use, so one call at a time. */
    private readonly refresh: (refreshToken: string) => Promise<Signed>,
  ) {
    this.#current = signed;
  }

  get user() {
    return this.#current.user;
  }

  /** An access token that is valid now (renewed first when it is about to expire). */
  async accessToken(): Promise<string> {
    const expiresAt = Date.parse(this.#current.accessTokenExpiresAt);
    if (Date.now() > expiresAt - EARLY_MS) await this.renew();
    return this.#current.accessToken;
  }

  /** The server refused the token: renew it (concurrent callers share one refresh). */
  async renew(): Promise<void> {
    this.#renewing ??= this.refresh(this.#current.refreshToken).finally(() => {
      this.#renewing = undefined;
    });
    this.#current = await this.#renewing;
  }
}

/** One operation over plain HTTP: signing in needs no client library. */
async function post<R, V>(url: string, document: TypedDocumentNode<R, V>, variables: V) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const result = (await response.json()) as { data?: R; errors?: Array<{ message: string }> };
  if (!result.data) throw new Error(result.errors?.[0]?.message ?? `HTTP ${response.status}`);
  return result.data;
}

export async function signIn(url: string, login: string, password: string): Promise<Session> {
  const signed = await post(url, Login, { login, password });
  return new Session(
    signed.login,
    async (refreshToken) => (await post(url, RefreshSession, { refreshToken })).refreshSession,
  );
}
