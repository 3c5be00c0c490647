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
