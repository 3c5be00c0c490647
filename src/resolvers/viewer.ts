import type { Context } from "../context.js";
import { unauthenticated } from "../errors.js";

/** The signed-in user's id; UNAUTHENTICATED (saying why, when a token was refused) otherwise. */
export function requireViewerId(ctx: Context): string {
  if (ctx.viewer) return ctx.viewer.id;
  if (ctx.authProblem === "expired")
    throw unauthenticated("Access token expired; refresh the session.");
  if (ctx.authProblem === "invalid") throw unauthenticated("Access token is not valid.");
  throw unauthenticated();
}
