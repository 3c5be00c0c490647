// A user's public profile as events carry it: what the User type shows to others, so a
// subscriber never has to look the user up. One definition for every event that has one.
import type { PublicUserPayload } from "./events.js";

/** The columns of a public profile (a Prisma `select`). */
export const publicUserFields = {
  id: true,
  username: true,
  displayName: true,
  avatarUrl: true,
  bio: true,
  createdAt: true,
  lastSeenAt: true,
} as const;

export interface PublicUserRow {
  id: string;
  username: string;
  displayName: string;
  avatarUrl: string | null;
  bio: string | null;
  createdAt: Date;
  lastSeenAt: Date | null;
}

export function toPublicUserPayload(user: PublicUserRow): PublicUserPayload {
  return {
    ...user,
    createdAt: user.createdAt.toISOString(),
    lastSeenAt: user.lastSeenAt?.toISOString() ?? null,
  };
}

export function fromPublicUserPayload(user: PublicUserPayload): PublicUserRow {
  return {
    ...user,
    createdAt: new Date(user.createdAt),
    lastSeenAt: user.lastSeenAt ? new Date(user.lastSeenAt) : null,
  };
}

/** A public profile's columns of users `alias`, named for `publicUserOf` (timestamps in UTC). */
export const publicUserColumns = (alias: string) =>
  `${alias}.id::text AS user_id, ${alias}.username, ${alias}.display_name, ${alias}.avatar_url,
   ${alias}.bio, ${alias}.created_at AT TIME ZONE 'UTC' AS user_created_at,
   ${alias}.last_seen_at AT TIME ZONE 'UTC' AS user_last_seen_at`;

export interface PublicUserColumns {
  user_id: string;
  username: string;
  display_name: string;
  avatar_url: string | null;
  bio: string | null;
  user_created_at: Date | string;
  user_last_seen_at: Date | string | null;
}

export function publicUserOf(row: PublicUserColumns): PublicUserPayload {
  return toPublicUserPayload({
    id: row.user_id,
    username: row.username,
    displayName: row.display_name,
    avatarUrl: row.avatar_url,
    bio: row.bio,
    createdAt: new Date(row.user_created_at),
    lastSeenAt: row.user_last_seen_at ? new Date(row.user_last_seen_at) : null,
  });
}
