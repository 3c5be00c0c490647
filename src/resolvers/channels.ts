// Channels: group channels (public or private) and direct 1:1 conversations.
import { z } from "zod";
import type { Context } from "../context.js";
import type { Prisma } from "../db/generated/prisma/client.js";
import { badUserInput, forbidden, notFound } from "../errors.js";
import { isBlockedBetween } from "../rules/visibility.js";
import { requireChannelAccess, requireGroupRole } from "./access.js";
import { enqueue } from "./enqueue.js";
import { DEFAULT_CHANNEL } from "./groups.js";
import { addToChannel, changeMembership, lockGroup, removeFromChannels } from "./membership.js";
import { isUniqueViolation } from "./prisma-errors.js";
import { checkMuteEnd, nodeId, parseId, parseInput } from "./validation.js";
import { requireViewerId } from "./viewer.js";

/** Slack-style names: lower case, digits, `-` and `_`, at most 80 characters. */
const channelName = z
  .string()
  .trim()
  .toLowerCase()
  .min(1, "must not be empty")
  .max(80, "must be at most 80 characters")
  .regex(/^[a-z0-9][a-z0-9_-]*$/, "may contain only letters, digits, '-' and '_'");

const createChannelInput = z.object({
  groupId: nodeId("Group"),
  name: channelName,
  isPrivate: z.boolean().default(false),
});

/** Creates a group channel (owners and admins); the creator is its first member. */
export async function createChannel(ctx: Context, raw: unknown): Promise<string> {
  const input = parseInput(createChannelInput, raw, "input");
  const { groupId } = await requireGroupRole(ctx, input.groupId, "input.groupId", "ADMIN");
  const viewerId = requireViewerId(ctx);
  try {
    return await changeMembership(ctx, async (tx, events) => {
      const channel = await tx.channel.create({
        data: { kind: "GROUP", groupId, name: input.name, isPrivate: input.isPrivate },
        select: { id: true },
      });
      await addToChannel(tx, events, channel.id, [viewerId]);
      return channel.id;
    });
  } catch (error) {
    if (isUniqueViolation(error))
      throw badUserInput(
        "input.name",
        "input.name: the group already has a channel with this name",
      );
    throw error;
  }
}

/** Joins a public channel of a group the viewer is in. Idempotent. */
export async function joinChannel(ctx: Context, rawChannelId: unknown): Promise<string> {
  const access = await requireChannelAccess(
    ctx,
    parseId("channelId", rawChannelId, "Channel"),
    "channelId",
    "view",
  );
  if (access.kind === "DIRECT")
    throw badUserInput("channelId", "channelId: direct conversations cannot be joined");
  if (!access.isMember && access.groupId) {
    const viewerId = requireViewerId(ctx);
    const groupId = access.groupId;
    await changeMembership(ctx, async (tx, events) => {
      await lockGroup(tx, groupId);
      // Still in the group? (A removal may have committed since the access check.)
      if (!(await tx.groupMember.count({ where: { groupId, userId: viewerId } }))) {
        throw notFound("Channel", "channelId");
      }
      await addToChannel(tx, events, access.id, [viewerId]);
    });
  }
  return access.id;
}

/** Adds group members to a channel the viewer is in (how people enter private channels). */
export async function addChannelMembers(
  ctx: Context,
  rawChannelId: unknown,
  rawUserIds: unknown,
): Promise<string> {
  const access = await requireChannelAccess(
    ctx,
    parseId("channelId", rawChannelId, "Channel"),
    "channelId",
    "member",
  );
  if (access.kind === "DIRECT" || !access.groupId) {
    throw badUserInput("channelId", "channelId: a direct conversation has exactly two members");
  }
  const userIds = [
    ...new Set(parseInput(z.array(nodeId("User")).min(1).max(500), rawUserIds, "userIds")),
  ];
  const groupId = access.groupId;
  await changeMembership(ctx, async (tx, events) => {
    // Checked under the group's lock, so nobody leaves the group between check and add.
    await lockGroup(tx, groupId);
    const inGroup = await tx.groupMember.count({ where: { groupId, userId: { in: userIds } } });
    if (inGroup !== userIds.length) {
      throw badUserInput("userIds", "userIds: every user must be a member of the group");
    }
    const already = await tx.channelMember.count({
      where: { channelId: access.id, userId: { in: userIds } },
    });
    if (already > 0)
      throw badUserInput("userIds", "userIds: a listed user is already in the channel");
    await addToChannel(tx, events, access.id, userIds);
  });
  return access.id;
}

export interface LeftChannel {
  channelId: string;
  userId: string;
  /** Whether the viewer still sees the channel (a public one) once out of it. */
  stillVisible: boolean;
}

/** Leaves a group channel. #general is left by leaving the group; 1:1 channels cannot be left. */
export async function leaveChannel(ctx: Context, rawChannelId: unknown): Promise<LeftChannel> {
  const access = await requireChannelAccess(
    ctx,
    parseId("channelId", rawChannelId, "Channel"),
    "channelId",
    "member",
  );
  if (access.kind === "DIRECT")
    throw badUserInput("channelId", "channelId: a direct conversation cannot be left");
  if (access.name === DEFAULT_CHANNEL) {
    throw badUserInput("channelId", `channelId: #${DEFAULT_CHANNEL} is left by leaving the group`);
  }
  const viewerId = requireViewerId(ctx);
  await changeMembership(ctx, (tx, events) =>
    removeFromChannels(tx, events, { channelId: access.id, userId: viewerId }),
  );
  // A group member still sees a public channel they left, not a private one.
  return { channelId: access.id, userId: viewerId, stillVisible: !access.isPrivate };
}

function directKey(a: string, b: string) {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}

/**
 * Gets or creates THE direct channel of the viewer and `userId`. The unique direct_key
 * makes the database, not this code, guarantee one channel per pair: of two racing
 * creators one insert fails, and that caller reads the winner's channel.
 */
export async function directChannel(ctx: Context, rawUserId: unknown): Promise<string> {
  const viewerId = requireViewerId(ctx);
  const userId = parseId("userId", rawUserId, "User");
  if (userId === viewerId)
    throw badUserInput("userId", "userId: cannot open a conversation with yourself");
  if (!(await ctx.prisma.user.count({ where: { id: userId } }))) throw notFound("User", "userId");
  if (await isBlockedBetween(ctx.prisma, viewerId, userId))
    throw forbidden("You cannot message this user.");

  const key = directKey(viewerId, userId);
  const existing = await ctx.prisma.channel.findUnique({
    where: { directKey: key },
    select: { id: true },
  });
  if (existing) return existing.id;
  try {
    return await changeMembership(ctx, async (tx, events) => {
      const channel = await tx.channel.create({
        data: { kind: "DIRECT", directKey: key },
        select: { id: true },
      });
      await addToChannel(tx, events, channel.id, [viewerId, userId]);
      return channel.id;
    });
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    const winner = await ctx.prisma.channel.findUniqueOrThrow({
      where: { directKey: key },
      select: { id: true },
    });
    return winner.id;
  }
}

/** The viewer's inbox: every channel they are in. */
export function inboxFilter(ctx: Context): Prisma.ChannelWhereInput {
  return { members: { some: { userId: requireViewerId(ctx) } } };
}

/** A group's channels as the viewer may see them: public ones, and private ones they are in. */
export function visibleGroupChannels(ctx: Context): Prisma.ChannelWhereInput {
  const viewerId = requireViewerId(ctx);
  return { OR: [{ isPrivate: false }, { members: { some: { userId: viewerId } } }] };
}

/**
 * Mutes the channel for the viewer until `until` (null unmutes). A command, like every
 * change; the answer shows the new state at once (the worker stores it just after).
 */
export async function setMute(
  ctx: Context,
  rawChannelId: unknown,
  until: Date | null,
): Promise<{ channelId: string; mutedUntil: Date | null }> {
  const viewerId = requireViewerId(ctx);
  const access = await requireChannelAccess(
    ctx,
    parseId("channelId", rawChannelId, "Channel"),
    "channelId",
    "member",
  );
  // (A mute "forever" is leaving, or a client-side setting.)
  const now = Date.now();
  if (until) checkMuteEnd("until", until, now);
  await enqueue(ctx, {
    type: "channel.mute",
    channelId: access.id,
    userId: viewerId,
    until: until?.toISOString() ?? null,
    at: new Date(now).toISOString(),
  });
  return { channelId: access.id, mutedUntil: until };
}
