// Groups: creation (owner, members, #general), settings, membership and roles.
// Role rules: owners and admins manage members and channels; only owners change roles;
// admins cannot remove owners or other admins; a group always keeps an owner while it
// has members (the last owner hands ownership over, or is the last to leave, which
// deletes the group).
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { Context } from "../context.js";
import type { Prisma } from "../db/generated/prisma/client.js";
import type { GroupRole } from "../db/generated/prisma/enums.js";
import { badUserInput, forbidden, notFound } from "../errors.js";
import { blockersOf } from "../rules/visibility.js";
import { requireGroupRole } from "./access.js";
import {
  addToChannel,
  changeMembership,
  lockGroup,
  removeFromChannels,
  type Tx,
} from "./membership.js";
import { consume, type Limit } from "./rate-limits.js";
import { checkMuteEnd, nodeId, parseId, parseInput } from "./validation.js";
import { requireViewerId } from "./viewer.js";

export const DEFAULT_CHANNEL = "general";
/** More ids per call than this is bad input: keeps one transaction's size bounded. */
const MAX_MEMBERS_PER_CALL = 500;

const groupName = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(100, "must be at most 100 characters");
const description = z.string().trim().max(1000, "must be at most 1000 characters").nullish();
const userIdList = z
  .array(nodeId("User"))
  .max(MAX_MEMBERS_PER_CALL, `must list at most ${MAX_MEMBERS_PER_CALL} users`);
const dedupe = (ids: string[]) => [...new Set(ids)];
const userIds = userIdList.transform(dedupe);
const someUserIds = userIdList.min(1, "must list at least one user").transform(dedupe);

const createGroupInput = z.object({ name: groupName, description, memberIds: userIds.default([]) });
const updateGroupInput = z.object({ name: groupName.optional(), description });

/** Checks that every id names an existing user; NOT_FOUND on `field` otherwise. */
/**
 * The users exist and none of them has blocked the adder. Adding needs no consent (as in
 * a workspace where admins add people), but a block is a refusal of everything from that
 * person, group invitations included. FORBIDDEN without saying who: whether one specific
 * person blocked you is not for the adder to learn by probing.
 */
async function requireAddable(
  db: Tx | Context["prisma"],
  adderId: string,
  ids: string[],
  field: string,
) {
  const found = await db.user.count({ where: { id: { in: ids } } });
  if (found !== ids.length) throw notFound("User", field);
  if ((await blockersOf(db, adderId, ids)).length > 0)
    throw forbidden("A listed user cannot be added by you.");
}

/** Groups created and members added per user: each can pull many people into something. */
export const GROUP_CHANGE_LIMIT: Limit = { name: "group-changes", max: 60, windowSeconds: 60 };

/** Creates the group; returns its id. */
export async function createGroup(ctx: Context, raw: unknown): Promise<string> {
  const viewerId = requireViewerId(ctx);
  await consume(ctx, GROUP_CHANGE_LIMIT, viewerId);
  const input = parseInput(createGroupInput, raw);
  const memberIds = input.memberIds.filter((userId) => userId !== viewerId);
  await requireAddable(ctx.prisma, viewerId, memberIds, "memberIds");
  return changeMembership(ctx, async (tx, events) => {
    const group = await tx.group.create({
      data: {
        name: input.name,
        description: input.description ?? null,
        createdById: viewerId,
        members: {
          create: [
            { userId: viewerId, role: "OWNER" },
            ...memberIds.map((userId) => ({ userId, role: "MEMBER" as const })),
          ],
        },
      },
      select: { id: true },
    });
    events.push({ type: "group.joined", groupId: group.id, userIds: [viewerId, ...memberIds] });
    const general = await tx.channel.create({
      data: { kind: "GROUP", groupId: group.id, name: DEFAULT_CHANNEL, isPrivate: false },
      select: { id: true },
    });
    await addToChannel(tx, events, general.id, [viewerId, ...memberIds]);
    return group.id;
  });
}

export async function updateGroup(
  ctx: Context,
  rawGroupId: unknown,
  raw: unknown,
): Promise<string> {
  const { groupId } = await requireGroupRole(
    ctx,
    parseId("groupId", rawGroupId, "Group"),
    "groupId",
    "ADMIN",
  );
  const input = parseInput(updateGroupInput, raw);
  await ctx.prisma.group.update({
    where: { id: groupId },
    data: { name: input.name, description: input.description },
  });
  return groupId;
}

export async function addGroupMembers(ctx: Context, rawGroupId: unknown, rawUserIds: unknown) {
  const { groupId } = await requireGroupRole(
    ctx,
    parseId("groupId", rawGroupId, "Group"),
    "groupId",
    "ADMIN",
  );
  await consume(ctx, GROUP_CHANGE_LIMIT, requireViewerId(ctx));
  const ids = parseInput(someUserIds, rawUserIds, "userIds");
  await requireAddable(ctx.prisma, requireViewerId(ctx), ids, "userIds");
  await changeMembership(ctx, async (tx, events) => {
    await lockGroup(tx, groupId);
    const existing = await tx.groupMember.count({ where: { groupId, userId: { in: ids } } });
    if (existing > 0) throw badUserInput("userIds", "userIds: a listed user is already a member");
    await tx.groupMember.createMany({
      data: ids.map((userId) => ({ groupId, userId, role: "MEMBER" as const })),
    });
    events.push({ type: "group.joined", groupId, userIds: ids });
    const general = await tx.channel.findFirst({
      where: { groupId, name: DEFAULT_CHANNEL },
      select: { id: true },
    });
    if (general) await addToChannel(tx, events, general.id, ids);
  });
  return groupId;
}

/** Removes a member from the group and from every channel of the group. */
async function removeMember(
  tx: Tx,
  events: Parameters<typeof addToChannel>[1],
  groupId: string,
  userId: string,
) {
  await removeFromChannels(tx, events, { userId, channel: { groupId } });
  await tx.groupMember.delete({ where: { groupId_userId: { groupId, userId } } });
  events.push({ type: "group.left", groupId, userIds: [userId] });
}

async function memberRole(
  ctx: Context,
  groupId: string,
  userId: string,
  field: string,
): Promise<GroupRole> {
  const member = await ctx.prisma.groupMember.findUnique({
    where: { groupId_userId: { groupId, userId } },
    select: { role: true },
  });
  if (!member) throw notFound("Group member", field);
  return member.role;
}

async function ownerCount(db: Tx | Context["prisma"], groupId: string) {
  return db.groupMember.count({ where: { groupId, role: "OWNER" } });
}

export async function removeGroupMember(ctx: Context, rawGroupId: unknown, rawUserId: unknown) {
  const { groupId, role: viewerRole } = await requireGroupRole(
    ctx,
    parseId("groupId", rawGroupId, "Group"),
    "groupId",
    "ADMIN",
  );
  const userId = parseId("userId", rawUserId, "User");
  if (userId === requireViewerId(ctx))
    throw badUserInput("userId", "userId: use leaveGroup to leave a group");
  const targetRole = await memberRole(ctx, groupId, userId, "userId");
  // Owners may remove anyone; admins only plain members.
  if (viewerRole !== "OWNER" && targetRole !== "MEMBER")
    throw forbidden("Only owners can remove owners or admins.");
  await changeMembership(ctx, async (tx, events) => {
    await lockGroup(tx, groupId);
    if (targetRole === "OWNER" && (await ownerCount(tx, groupId)) <= 1) {
      throw badUserInput("userId", "userId: the last owner cannot be removed");
    }
    await removeMember(tx, events, groupId, userId);
  });
  return { groupId, userId };
}

export async function setGroupMemberRole(
  ctx: Context,
  rawGroupId: unknown,
  rawUserId: unknown,
  role: GroupRole,
) {
  const { groupId } = await requireGroupRole(
    ctx,
    parseId("groupId", rawGroupId, "Group"),
    "groupId",
    "OWNER",
  );
  const userId = parseId("userId", rawUserId, "User");
  const current = await memberRole(ctx, groupId, userId, "userId");
  if (current === role) return { groupId, userId };
  await changeMembership(ctx, async (tx, events) => {
    await lockGroup(tx, groupId);
    if (current === "OWNER" && (await ownerCount(tx, groupId)) <= 1) {
      throw badUserInput(
        "role",
        "role: the last owner cannot step down; make someone else an owner first",
      );
    }
    await tx.groupMember.update({ where: { groupId_userId: { groupId, userId } }, data: { role } });
    events.push({ type: "group.roleChanged", groupId, userId, role });
  });
  return { groupId, userId };
}

/**
 * Leaves a group. The last owner cannot leave while others remain (hand ownership over
 * first); if they are the only member left, the group is deleted with its channels.
 * Says whether the group still exists.
 */
export async function leaveGroup(
  ctx: Context,
  rawGroupId: unknown,
): Promise<{ groupId: string; userId: string; groupExists: boolean }> {
  const { groupId, role } = await requireGroupRole(
    ctx,
    parseId("groupId", rawGroupId, "Group"),
    "groupId",
    "MEMBER",
  );
  const viewerId = requireViewerId(ctx);
  const groupExists = await changeMembership(ctx, async (tx, events) => {
    await lockGroup(tx, groupId);
    const members = await tx.groupMember.count({ where: { groupId } });
    if (members === 1) {
      await removeMember(tx, events, groupId, viewerId);
      await tx.group.delete({ where: { id: groupId } });
      return false;
    }
    if (role === "OWNER" && (await ownerCount(tx, groupId)) <= 1) {
      throw badUserInput(
        "groupId",
        "groupId: the last owner cannot leave; make another member an owner first",
      );
    }
    await removeMember(tx, events, groupId, viewerId);
    return true;
  });
  return { groupId, userId: viewerId, groupExists };
}

/** Groups the viewer belongs to. */
export function viewerGroupsFilter(ctx: Context): Prisma.GroupWhereInput {
  return { members: { some: { userId: requireViewerId(ctx) } } };
}

/**
 * Mutes a member in the group until `until` (null: unmutes): no sends in any of its
 * channels until then. Owners and admins mute; like removal, admins only plain members,
 * and no one themself. Recorded in the moderation log in the same transaction. This
 * replica's send path forgets its cached answers at once; the others within their
 * membership cache's TTL, and the worker refuses a muted member's send whatever a replica
 * thought (the sender hears `message.rejected`).
 */
export async function setMemberMute(
  ctx: Context,
  rawGroupId: unknown,
  rawUserId: unknown,
  until: Date | null,
) {
  const { groupId, role: viewerRole } = await requireGroupRole(
    ctx,
    parseId("groupId", rawGroupId, "Group"),
    "groupId",
    "ADMIN",
  );
  const viewerId = requireViewerId(ctx);
  const userId = parseId("userId", rawUserId, "User");
  if (userId === viewerId) throw badUserInput("userId", "userId: you cannot mute yourself");
  if (until) checkMuteEnd("until", until);
  const target = await ctx.prisma.groupMember.findUnique({
    where: { groupId_userId: { groupId, userId } },
    select: { role: true, mutedUntil: true },
  });
  if (!target) throw notFound("Group member", "userId");
  if (viewerRole !== "OWNER" && target.role !== "MEMBER")
    throw forbidden("Only owners can mute owners or admins.");
  // Unmuting someone who is not muted changes nothing and is not a moderation action.
  if (!until && !(target.mutedUntil && target.mutedUntil > new Date())) return { groupId, userId };
  await ctx.prisma.$transaction([
    ctx.prisma.groupMember.update({
      where: { groupId_userId: { groupId, userId } },
      data: { mutedUntil: until },
    }),
    ctx.prisma.moderationAction.create({
      data: {
        id: randomUUID(),
        groupId,
        actorId: viewerId,
        action: until ? "MUTE_MEMBER" : "UNMUTE_MEMBER",
        targetUserId: userId,
        until,
      },
    }),
  ]);
  ctx.services.membershipCache.clear();
  return { groupId, userId };
}
