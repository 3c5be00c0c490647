// Profiles: reading users, searching them, and editing one's own profile.
import { z } from "zod";
import type { Context } from "../context.js";
import type { Prisma, User } from "../db/generated/prisma/client.js";
import { notFound } from "../errors.js";
import { notBlockedBy } from "../rules/visibility.js";
import { forgetProfile } from "./profiles-cache.js";
import { displayName, parseInput } from "./validation.js";
import { requireViewerId } from "./viewer.js";

const updateProfileInput = z.object({
  displayName: displayName.optional(),
  // null clears the field; undefined leaves it as it is
  avatarUrl: z
    .url({ protocol: /^https?$/, message: "must be an http(s) URL" })
    .max(2048, "must be at most 2048 characters")
    .nullish(),
  bio: z.string().trim().max(500, "must be at most 500 characters").nullish(),
});

export async function updateProfile(ctx: Context, raw: unknown): Promise<User> {
  const viewerId = requireViewerId(ctx);
  const input = parseInput(updateProfileInput, raw);
  const user = await ctx.prisma.user.update({
    where: { id: viewerId },
    data: {
      displayName: input.displayName,
      avatarUrl: input.avatarUrl,
      bio: input.bio === undefined ? undefined : input.bio || null,
    },
  });
  await forgetProfile(ctx, viewerId);
  return user;
}

export async function getUser<Q extends Omit<Prisma.UserFindUniqueArgs, "where">>(
  ctx: Context,
  id: string,
  query: Q,
) {
  const user = await ctx.prisma.user.findUnique({ ...query, where: { id } });
  if (!user) throw notFound("User", "id");
  return user;
}

const searchInput = z.string().trim().max(100, "must be at most 100 characters").optional();

/**
 * Who `users(search)` lists: everyone matching the handle or display name prefix,
 * except people who blocked the viewer (a block hides you from them both ways).
 */
export function userSearchFilter(ctx: Context, rawSearch: unknown): Prisma.UserWhereInput {
  const viewerId = requireViewerId(ctx);
  const search = parseInput(searchInput, rawSearch ?? undefined, "search");
  return {
    ...(search
      ? {
          OR: [
            { username: { startsWith: likeLiteral(search.toLowerCase()) } },
            { displayName: { startsWith: likeLiteral(search), mode: "insensitive" } },
          ],
        }
      : {}),
    ...notBlockedBy(viewerId),
  };
}

/** Prisma's startsWith is a LIKE: `%` and `_` typed in a search are letters, not wildcards. */
function likeLiteral(text: string) {
  return text.replace(/[\\%_]/g, "\\$&");
}
