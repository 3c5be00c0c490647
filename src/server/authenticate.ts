// Turns a presented bearer token into a viewer. Shared by HTTP requests and WebSocket
// connections so both transports accept exactly the same tokens.
import { type AccessTokens, parseBearer } from "../auth/access-tokens.js";
import type { KnownUsers } from "../auth/known-users.js";
import type { Context } from "../context.js";

export type Authentication = Pick<Context, "viewer" | "authProblem"> & {
  /** Expiry (UNIX seconds) of the accepted token; undefined when anonymous. */
  expiresAt?: number;
};

export const anonymous: Authentication = { viewer: null, authProblem: null };

/** What checks a token: its signature and claims, and (when given) that its user exists. */
export interface TokenCheck {
  accessTokens: AccessTokens;
  knownUsers?: KnownUsers;
}

/** `header` is the Authorization value (`Bearer <token>`), or undefined when none was sent. */
export async function authenticate(check: TokenCheck, header: unknown): Promise<Authentication> {
  const token = parseBearer(header);
  if (token === undefined) return anonymous;
  if (token === null) return { viewer: null, authProblem: "invalid" };
  const result = await check.accessTokens.verify(token);
  if (!result.ok) return { viewer: null, authProblem: result.reason };
  // Signed by us, but for an account that does not exist: not a valid token.
  if (check.knownUsers && !(await check.knownUsers.exists(result.claims.userId)))
    return { viewer: null, authProblem: "invalid" };
  return {
    viewer: { id: result.claims.userId },
    authProblem: null,
    expiresAt: result.claims.expiresAt,
  };
}

/**
 * Where a WebSocket client may put its token: `{ authorization: "Bearer …" }` is the
 * documented form; `Authorization` and `{ headers: { Authorization } }` are accepted
 * too because that is what GraphiQL and some client libraries send.
 */
export function authorizationFromParams(params: unknown): unknown {
  if (typeof params !== "object" || params === null) return undefined;
  const record = params as Record<string, unknown>;
  const headers = (typeof record.headers === "object" && record.headers) as
    | Record<string, unknown>
    | false;
  return (
    record.authorization ??
    record.Authorization ??
    (headers ? (headers.authorization ?? headers.Authorization) : undefined)
  );
}
