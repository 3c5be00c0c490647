// Fixed-window rate limits kept in the shared cache, so every replica counts together.
// If the cache is down, each process counts on its own (the limit then holds per replica,
// a looser bound but never none): losing Memcached must not take sign-in or chat down
// with it, nor open them to floods.
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
  const counter = `rate:${limit.name}:${key}`;
  try {
    return await ctx.services.cache.increment(counter, by, limit.windowSeconds);
  } catch {
    return ctx.services.localLimits
      .increment(counter, by, limit.windowSeconds)
      .catch(() => undefined);
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
