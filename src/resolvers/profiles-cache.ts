// Public profiles from the shared cache, for ephemeral events (typing) that must not cost
// a database query each: read through on a miss, dropped when the profile changes.
import type { Context } from "../context.js";
import type { PublicUserPayload } from "../pubsub/events.js";
import { publicUserFields, toPublicUserPayload } from "../pubsub/public-user.js";

const TTL_SECONDS = 300;
const key = (userId: string) => `profile:${userId}`;

export async function publicProfile(ctx: Context, userId: string): Promise<PublicUserPayload> {
  try {
    const cached = await ctx.services.cache.get(key(userId));
    if (cached) return JSON.parse(cached) as PublicUserPayload;
  } catch {
    // the cache is an optimisation here
  }
  const profile = toPublicUserPayload(
    await ctx.prisma.user.findUniqueOrThrow({ where: { id: userId }, select: publicUserFields }),
  );
  await ctx.services.cache.set(key(userId), JSON.stringify(profile), TTL_SECONDS).catch(() => {});
  return profile;
}

export async function forgetProfile(ctx: Context, userId: string) {
  await ctx.services.cache.delete(key(userId)).catch(() => {});
}
