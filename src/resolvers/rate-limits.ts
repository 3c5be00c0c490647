// Fixed-window rate limits kept in the shared cache, so every replica counts together.
// If the cache is down the limit is not enforced (fail open): losing Memcached must not
// take sign-in or chat down with it.
import type { Context } from "../context.js";
import { rateLimited } from "../errors.js";

export interface Limit {
  /** Names the counter, e.g. "login-failures". */
  name: string;
  max: number;
  windowSeconds: number;
}

async function count(
  ctx: Context,
  limit: Limit,
  key: string,
  by: number,
): Promise<number | undefined> {
  try {
    return await ctx.services.cache.increment(`rate:${limit.name}:${key}`, by, limit.windowSeconds);
  } catch {
    return undefined;
  }
}

/** Counts one more and throws RATE_LIMITED (with retryAfter) past the limit. */
export async function consume(ctx: Context, limit: Limit, key: string) {
  const value = await count(ctx, limit, key, 1);
  if (value !== undefined && value > limit.max) throw rateLimited(limit.windowSeconds);
}

/** Forgets a counter (a success that proves the attempts were the owner's). */
export async function reset(ctx: Context, limit: Limit, key: string) {
  await ctx.services.cache.delete(`rate:${limit.name}:${key}`).catch(() => {});
}
