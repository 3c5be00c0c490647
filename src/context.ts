// What every resolver receives. A new object per request (HTTP) or per operation
// (WebSocket), built by app/context.ts; `services` is shared by all of them.
import type { AccessTokens } from "./auth/access-tokens.js";
import type { RefreshTokens } from "./auth/refresh-tokens.js";
import type { Config } from "./config.js";
import type { Database, PrismaClient } from "./db/database.js";
import type { MembershipEvent } from "./pubsub/events.js";
import type { EventChannel } from "./pubsub/local-events.js";

export interface Services {
  config: Config;
  db: Database;
  accessTokens: AccessTokens;
  refreshTokens: RefreshTokens;
  /** Committed membership changes (resolvers/membership.ts publishes, subscriptions listen). */
  membershipEvents: EventChannel<MembershipEvent>;
}

export interface Viewer {
  id: string;
}

export interface Context {
  services: Services;
  prisma: PrismaClient;
  /** The signed-in user, or null for an anonymous request. */
  viewer: Viewer | null;
  /** Why a presented token was not accepted (so UNAUTHENTICATED can say so). */
  authProblem: "expired" | "invalid" | null;
  /** Per-request memo for authorization lookups (resolvers/access.ts). */
  memo: Map<string, Promise<unknown>>;
}
