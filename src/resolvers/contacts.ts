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

export async function removeContact(ctx: Context, rawUserId: unknown): Promise<boolean> {
  const { viewerId, userId } = await otherUser(ctx, rawUserId);
  const { count } = await ctx.prisma.contact.deleteMany({
    where: { ownerId: viewerId, contactId: userId, blocked: false },
  });
  return count > 0;
}

export async function blockUser(ctx: Context, rawUserId: unknown): Promise<boolean> {
  const { viewerId, userId } = await otherUser(ctx, rawUserId);
  await ctx.prisma.contact.upsert({
    where: { ownerId_contactId: { ownerId: viewerId, contactId: userId } },
    create: { ownerId: viewerId, contactId: userId, blocked: true },
    update: { blocked: true },
  });
  // Live streams of this process re-read blocks now; other replicas within their bound.
  ctx.services.accessWatch.refreshSoon();
  return true;
}

export async function unblockUser(ctx: Context, rawUserId: unknown): Promise<boolean> {
  const { viewerId, userId } = await otherUser(ctx, rawUserId);
  await ctx.prisma.contact.deleteMany({
    where: { ownerId: viewerId, contactId: userId, blocked: true },
  });
  ctx.services.accessWatch.refreshSoon();
  return true;
}

/** The viewer's contact list (blocks are not contacts). */
export function contactListFilter(ctx: Context): Prisma.ContactWhereInput {
  return { ownerId: requireViewerId(ctx), blocked: false };
}
