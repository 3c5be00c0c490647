// Contacts and blocks. One row per (owner, other user): a contact, or a block. Blocking
// replaces the contact; unblocking removes the row. All operations are idempotent.
import type { Context } from "../context.js";
import type { Prisma } from "../db/generated/prisma/client.js";
import { badUserInput, notFound } from "../errors.js";
import { parseId } from "./validation.js";
import { requireViewerId } from "./viewer.js";

async function otherUser(ctx: Context, rawUserId: unknown) {
  const viewerId = requireViewerId(ctx);
  const userId = parseId("userId", rawUserId, "User");
  if (userId === viewerId) throw badUserInput("userId", "userId: cannot be yourself");
  const exists = await ctx.prisma.user.count({ where: { id: userId } });
  if (!exists) throw notFound("User", "userId");
  return { viewerId, userId };
}

export async function addContact<
  Q extends Omit<Prisma.ContactUpsertArgs, "where" | "create" | "update">,
>(ctx: Context, rawUserId: unknown, query: Q) {
  const { viewerId, userId } = await otherUser(ctx, rawUserId);
  return ctx.prisma.contact.upsert({
    ...query,
    where: { ownerId_contactId: { ownerId: viewerId, contactId: userId } },
    create: { ownerId: viewerId, contactId: userId },
    update: { blocked: false },
  });
}

/** What a change to the viewer's relation with a user did (for the mutation's payload). */
export interface RelationChange {
  viewerId: string;
  userId: string;
  /** Whether the user was in the viewer's contacts before and is not now. */
  contactRemoved: boolean;
}

export async function removeContact(ctx: Context, rawUserId: unknown): Promise<RelationChange> {
  const { viewerId, userId } = await otherUser(ctx, rawUserId);
  const { count } = await ctx.prisma.contact.deleteMany({
    where: { ownerId: viewerId, contactId: userId, blocked: false },
  });
  return { viewerId, userId, contactRemoved: count > 0 };
}

export async function blockUser(ctx: Context, rawUserId: unknown): Promise<RelationChange> {
  const { viewerId, userId } = await otherUser(ctx, rawUserId);
  // One row per pair: blocking turns a contact row into a block (the contact is gone).
  const before = await ctx.prisma.contact.findUnique({
    where: { ownerId_contactId: { ownerId: viewerId, contactId: userId } },
    select: { blocked: true },
  });
  await ctx.prisma.contact.upsert({
    where: { ownerId_contactId: { ownerId: viewerId, contactId: userId } },
    create: { ownerId: viewerId, contactId: userId, blocked: true },
    update: { blocked: true },
  });
  // Live streams of this process re-read blocks now; other replicas within their bound.
  ctx.services.accessWatch.refreshSoon();
  return { viewerId, userId, contactRemoved: before?.blocked === false };
}

export async function unblockUser(ctx: Context, rawUserId: unknown): Promise<RelationChange> {
  const { viewerId, userId } = await otherUser(ctx, rawUserId);
  await ctx.prisma.contact.deleteMany({
    where: { ownerId: viewerId, contactId: userId, blocked: true },
  });
  ctx.services.accessWatch.refreshSoon();
  return { viewerId, userId, contactRemoved: false };
}

/** The viewer's relation with each of `userIds`, in one statement (for User fields). */
export async function viewerRelations(
  prisma: Context["prisma"],
  viewerId: string,
  userIds: readonly string[],
): Promise<Array<"CONTACT" | "BLOCKED" | null>> {
  const rows = await prisma.contact.findMany({
    where: { ownerId: viewerId, contactId: { in: [...userIds] } },
    select: { contactId: true, blocked: true },
  });
  const found = new Map(rows.map((row) => [row.contactId, row.blocked ? "BLOCKED" : "CONTACT"]));
  return userIds.map((id) => (found.get(id) as "CONTACT" | "BLOCKED" | undefined) ?? null);
}

/** The viewer's contact list (blocks are not contacts). */
export function contactListFilter(ctx: Context): Prisma.ContactWhereInput {
  return { ownerId: requireViewerId(ctx), blocked: false };
}
