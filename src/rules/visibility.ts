// Who may see whom: the block rule and the presence visibility rule, written once for
// the api (resolvers/) and the worker alike (hence this folder: domain rules both sides
// apply, depending on nothing but the database schema). A block is a `contacts` row with
// `blocked`; it hides the blocker from the blocked user (profiles, presence) and stops a
// direct conversation both ways (new messages, typing, and every other live event across
// it). Other code uses these forms only: the SQL fragments (for statements that check
// many pairs at once) and the Prisma ones.
import type { PrismaClient } from "../db/database.js";
import type { Prisma } from "../db/generated/prisma/client.js";

/**
 * SQL fragments over two uuid expressions (column names or placeholders, never input
 * text). Each is a self-contained boolean expression, so they nest in any statement.
 */
export const visibilitySql = {
  /** `owner` has blocked `target`. */
  hasBlocked: (owner: string, target: string) =>
    `EXISTS (SELECT 1 FROM contacts blk WHERE blk.owner_id = ${owner} AND blk.contact_id = ${target} AND blk.blocked)`,

  /** Either user has blocked the other (a direct conversation across it is stopped). */
  blockedBetween: (a: string, b: string) =>
    `(${visibilitySql.hasBlocked(a, b)} OR ${visibilitySql.hasBlocked(b, a)})`,

  /**
   * `viewer` may see `subject`'s presence: themself, a contact, or someone they share a
   * channel with, unless `subject` blocked `viewer`.
   */
  presenceVisible: (viewer: string, subject: string) =>
    `(NOT ${visibilitySql.hasBlocked(subject, viewer)}
      AND (${subject} = ${viewer}
           OR EXISTS (SELECT 1 FROM contacts ctc WHERE ctc.owner_id = ${viewer} AND ctc.contact_id = ${subject} AND NOT ctc.blocked)
           OR EXISTS (SELECT 1 FROM channel_members mine JOIN channel_members theirs ON theirs.channel_id = mine.channel_id
                       WHERE mine.user_id = ${viewer} AND theirs.user_id = ${subject})))`,
};

/** Prisma filter for users: leaves out those who blocked `viewerId`. */
export function notBlockedBy(viewerId: string): Prisma.UserWhereInput {
  return { contacts: { none: { contactId: viewerId, blocked: true } } };
}

/** Whether either user has blocked the other. */
export async function isBlockedBetween(
  prisma: PrismaClient,
  a: string,
  b: string,
): Promise<boolean> {
  const count = await prisma.contact.count({
    where: {
      blocked: true,
      OR: [
        { ownerId: a, contactId: b },
        { ownerId: b, contactId: a },
      ],
    },
  });
  return count > 0;
}

/** Of `userIds`, those who have blocked `actorId` (who may then not pull them into anything). */
export async function blockersOf(
  prisma: Pick<PrismaClient, "contact">,
  actorId: string,
  userIds: string[],
): Promise<string[]> {
  if (userIds.length === 0) return [];
  const rows = await prisma.contact.findMany({
    where: { ownerId: { in: userIds }, contactId: actorId, blocked: true },
    select: { ownerId: true },
  });
  return rows.map((row) => row.ownerId);
}

/** Of `subjectIds`, those whose presence (and last seen) `viewerId` may see, in one statement. */
export async function presenceVisibleAmong(
  prisma: Pick<PrismaClient, "$queryRawUnsafe">,
  viewerId: string,
  subjectIds: readonly string[],
): Promise<Set<string>> {
  if (subjectIds.length === 0) return new Set();
  const rows = await prisma.$queryRawUnsafe<Array<{ id: string }>>(
    `SELECT s.id::text FROM unnest($2::uuid[]) AS s(id)
      WHERE ${visibilitySql.presenceVisible("$1::uuid", "s.id")}`,
    viewerId,
    [...subjectIds],
  );
  return new Set(rows.map((row) => row.id));
}

/** `userId` is in direct channel `channelId` with a block (either way) between them and the other member. */
export async function blockedInDirect(
  prisma: Pick<PrismaClient, "$queryRawUnsafe">,
  channelId: string,
  userId: string,
): Promise<boolean> {
  const rows = await prisma.$queryRawUnsafe<unknown[]>(
    `SELECT 1 FROM channels c JOIN channel_members o ON o.channel_id = c.id AND o.user_id <> $2::uuid
      WHERE c.id = $1::uuid AND c.kind = 'DIRECT'
        AND ${visibilitySql.blockedBetween("o.user_id", "$2::uuid")}`,
    channelId,
    userId,
  );
  return rows.length > 0;
}
