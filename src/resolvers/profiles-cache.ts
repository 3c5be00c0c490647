// Public profiles from the shared cache, for ephemeral events (typing) that must not cost
// a database query each: read through on a miss, dropped when the profile changes.
import type { Context } from "../context.js";
import type { PublicUserPayload } from "../pubsub/events.js";

const TTL_SECONDS = 300;
const key = (userId: string) => `profile:${userId}`;

export async function publicProfile(ctx: Context, userId: string): Promise<PublicUserPayload> {
  try {
    const cached = await ctx.services.cache.get(key(userId));
    if (cached) return JSON.parse(cached) as PublicUserPayload;
  } catch {
    // the cache is an optimisation here
  }
  const user = await ctx.prisma.user.findUniqueOrThrow({
    where: { id: userId },
    select: {
      id: true,
      username: true,
      displayName: true,
      avatarUrl: true,
      bio: true,
      createdAt: true,
      lastSeenAt: true,
    },
  });
  const profile: PublicUserPayload = {
    ...user,
    createdAt: user.createdAt.toISOString(),
    lastSeenAt: user.lastSeenAt?.toISOString() ?? null,
  };
  await ctx.services.cache.set(key(userId), JSON.stringify(profile), TTL_SECONDS).catch(() => {});
  return profile;
}

export async function forgetProfile(ctx: Context, userId: string) {
  await ctx.services.cache.delete(key(userId)).catch(() => {});
}
