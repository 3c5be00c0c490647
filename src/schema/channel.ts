// Channels: group channels and direct conversations, the viewer's inbox, and the
// channel mutations.
import type { Context } from "../context.js";
import { ChannelKind } from "../db/generated/prisma/enums.js";
import * as channels from "../resolvers/channels.js";
import { globalId } from "../resolvers/global-ids.js";
import { MAX_MUTE_DAYS, parseId } from "../resolvers/validation.js";
import { builder } from "./builder.js";
import { membershipKey, membershipWhere } from "./node-keys.js";
import { pageSize } from "./page-size.js";

const ChannelKindEnum = builder.enumType(ChannelKind, {
  name: "ChannelKind",
  description: "GROUP: a channel of a group. DIRECT: a 1:1 conversation.",
});

builder.prismaNode("ChannelMember", {
  description: "A user's membership of a channel.",
  id: { resolve: (member) => membershipKey(member.channelId, member.userId) },
  findUnique: (key) => ({ channelId_userId: membershipWhere(key, "channelId") }),
  fields: (t) => ({
    channel: t.relation("channel"),
    user: t.relation("user"),
    joinedAt: t.expose("joinedAt", { type: "DateTime" }),
  }),
});

/**
 * What the viewer's mutation just asked of their own membership. The worker stores it
 * right after, so markRead and muteChannel answer with it: a read position (positions
 * never move back, so the larger of it and the stored one is the truth), a mute.
 */
interface ViewerAsked {
  readSeq?: number;
  mutedUntil?: Date | null;
}

const viewerAsked = Symbol("viewerAsked");

export function withViewerAsked<T extends object>(channel: T, asked: ViewerAsked): T {
  return Object.assign(channel, { [viewerAsked]: asked });
}

const askedOf = (channel: object): ViewerAsked =>
  (channel as { [viewerAsked]?: ViewerAsked })[viewerAsked] ?? {};

function viewerReadSeq(channel: { members: Array<{ lastReadSeq: number }> }): number | null {
  const membership = channel.members[0];
  if (!membership) return null;
  return Math.max(membership.lastReadSeq, askedOf(channel).readSeq ?? 0);
}

/** Selects the viewer's own membership row of the channel (or nothing). */
const viewerMembership = (_args: unknown, ctx: Context) => ({
  members: {
    where: { userId: ctx.viewer?.id ?? "" },
    select: { lastReadSeq: true, mutedUntil: true },
  },
});

function viewerMutedUntil(channel: { members: Array<{ mutedUntil: Date | null }> }): Date | null {
  const asked = askedOf(channel);
  const until =
    "mutedUntil" in asked ? (asked.mutedUntil ?? null) : (channel.members[0]?.mutedUntil ?? null);
  return until && until.getTime() > Date.now() ? until : null;
}

export const ChannelRef = builder.prismaNode("Channel", {
  id: { field: "id" },
  fields: (t) => ({
    kind: t.expose("kind", { type: ChannelKindEnum }),
    name: t.exposeString("name", {
      nullable: true,
      description: "Null for direct conversations (see `peer`).",
    }),
    isPrivate: t.exposeBoolean("isPrivate"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    lastActivityAt: t.expose("lastActivityAt", {
      type: "DateTime",
      description: "The inbox is sorted by this.",
    }),
    group: t.relation("group", { nullable: true }),
    peer: t.prismaField({
      type: "User",
      nullable: true,
      description: "For a direct conversation: the other person. Null for group channels.",
      select: (_args, ctx, nestedSelection) => ({
        kind: true,
        members: {
          where: { userId: { not: ctx.viewer?.id ?? "" } },
          take: 1,
          select: { user: nestedSelection(true) },
        },
      }),
      resolve: (_query, channel) =>
        channel.kind === "DIRECT" ? (channel.members[0]?.user ?? null) : null,
    }),
    viewerIsMember: t.boolean({
      select: viewerMembership,
      resolve: (channel) => channel.members.length > 0,
    }),
    memberCount: t.relationCount("members"),
    members: t.relatedConnection(
      "members",
      {
        ...pageSize,
        cursor: "channelId_userId",
        totalCount: true,
        description: "In the order they joined.",
        query: { orderBy: [{ joinedAt: "asc" }, { userId: "asc" }] },
      },
      { name: "ChannelMemberConnection" },
      { name: "ChannelMemberEdge" },
    ),
    lastMessage: t.relation("lastMessage", { nullable: true }),
    unreadCount: t.int({
      description: "Messages after the viewer's read position (0 when not a member).",
      select: (args, ctx) => ({ lastSeq: true, ...viewerMembership(args, ctx) }),
      resolve: (channel) => {
        const read = viewerReadSeq(channel);
        return read === null ? 0 : Math.max(0, channel.lastSeq - read);
      },
    }),
    unreadMentionCount: t.int({
      description:
        "Unread messages that mention the viewer: by @username, or @channel / @here by someone else (0 when not a member).",
      select: (args, ctx) => ({ id: true, lastSeq: true, ...viewerMembership(args, ctx) }),
      resolve: async (channel, _args, ctx) => {
        const read = viewerReadSeq(channel);
        if (read === null || read >= channel.lastSeq) return 0;
        return ctx.loaders.unreadMentions.load(`${channel.id}:${read}`);
      },
    }),
    viewerMutedUntil: t.field({
      type: "DateTime",
      nullable: true,
      description:
        "Until when the viewer muted this channel (null: not muted, or the mute ended). Unread still counts; clients stay quiet.",
      select: viewerMembership,
      resolve: viewerMutedUntil,
    }),
    viewerReadUpToSeq: t.int({
      nullable: true,
      description:
        "The viewer's read position: they have read every message up to this seq (null when not a member).",
      select: viewerMembership,
      resolve: viewerReadSeq,
    }),
  }),
});

/** Every list of channels (the inbox, a group's channels): one connection type. */
export const ChannelConnection = builder.connectionObject({
  type: ChannelRef,
  name: "ChannelConnection",
});

const CreateChannelInput = builder.inputType("CreateChannelInput", {
  fields: (t) => ({
    groupId: t.id({ required: true }),
    name: t.string({
      required: true,
      description: "Lower case letters, digits, '-' and '_'; at most 80.",
    }),
    isPrivate: t.boolean({
      defaultValue: false,
      description: "Private channels are invisible to non-members.",
    }),
  }),
});

const loadChannel = (query: object, ctx: Context, id: string) =>
  ctx.prisma.channel.findUniqueOrThrow({ ...query, where: { id } });

const LeaveChannelPayload = builder
  .objectRef<channels.LeftChannel>("LeaveChannelPayload")
  .implement({
    fields: (t) => ({
      channel: t.prismaField({
        type: "Channel",
        nullable: true,
        description:
          "The channel as the viewer now sees it (viewerIsMember false, one member less); null for a private channel, which the viewer no longer sees.",
        resolve: (query, left, _args, ctx) =>
          left.stillVisible ? loadChannel(query, ctx, left.channelId) : null,
      }),
      removedMemberId: t.id({
        description:
          "The id of the viewer's ChannelMember that is gone: drop it from cached member lists (and the channel from the inbox).",
        resolve: (left) => globalId("ChannelMember", left.channelId, left.userId),
      }),
    }),
  });

builder.queryFields((t) => ({
  channel: t.prismaField({
    type: "Channel",
    nullable: true,
    description:
      "A channel the viewer is in, or a public channel of one of their groups (NOT_FOUND otherwise).",
    args: { id: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({ channel: { channelId: args.id, field: "id", need: "view" } }),
    resolve: (query, _root, args, ctx) =>
      loadChannel(query, ctx, parseId("id", args.id, "Channel")),
  }),
  channels: t.prismaConnection(
    {
      ...pageSize,
      type: "Channel",
      cursor: "id",
      description:
        "The viewer's inbox: every channel they are in, group and direct, most recently active first.",
      authScopes: { signedIn: true },
      resolve: (query, _root, _args, ctx) =>
        ctx.prisma.channel.findMany({
          ...query,
          where: channels.inboxFilter(ctx),
          orderBy: [{ lastActivityAt: "desc" }, { id: "desc" }],
        }),
    },
    ChannelConnection,
  ),
}));

builder.mutationFields((t) => ({
  createChannel: t.prismaField({
    type: "Channel",
    description: "Owners and admins of the group. The creator is the first member.",
    args: { input: t.arg({ type: CreateChannelInput, required: true }) },
    authScopes: (_root, args) => ({
      groupRole: { groupId: args.input.groupId, field: "input.groupId", atLeast: "ADMIN" },
    }),
    resolve: async (query, _root, args, ctx) =>
      loadChannel(query, ctx, await channels.createChannel(ctx, args.input)),
  }),
  joinChannel: t.prismaField({
    type: "Channel",
    description: "Joins a public channel of one of the viewer's groups. Idempotent.",
    args: { channelId: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({
      channel: { channelId: args.channelId, field: "channelId", need: "view" },
    }),
    resolve: async (query, _root, args, ctx) =>
      loadChannel(query, ctx, await channels.joinChannel(ctx, args.channelId)),
  }),
  addChannelMembers: t.prismaField({
    type: "Channel",
    description: "Channel members add other members of the group (the way into a private channel).",
    args: { channelId: t.arg.id({ required: true }), userIds: t.arg.idList({ required: true }) },
    authScopes: (_root, args) => ({
      channel: { channelId: args.channelId, field: "channelId", need: "member" },
    }),
    resolve: async (query, _root, args, ctx) =>
      loadChannel(query, ctx, await channels.addChannelMembers(ctx, args.channelId, args.userIds)),
  }),
  leaveChannel: t.field({
    type: LeaveChannelPayload,
    description:
      "Leaves a group channel (not #general: leave the group; not a direct conversation).",
    args: { channelId: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({
      channel: { channelId: args.channelId, field: "channelId", need: "member" },
    }),
    resolve: (_root, args, ctx) => channels.leaveChannel(ctx, args.channelId),
  }),
  muteChannel: t.prismaField({
    type: "Channel",
    description: `Mutes a channel the viewer is in, for themself, until \`until\` (in the future, at most ${MAX_MUTE_DAYS} days ahead). Unread still counts.`,
    args: {
      channelId: t.arg.id({ required: true }),
      until: t.arg({ type: "DateTime", required: true }),
    },
    authScopes: { signedIn: true },
    resolve: async (query, _root, args, ctx) => {
      const muted = await channels.setMute(ctx, args.channelId, args.until);
      return withViewerAsked(await loadChannel(query, ctx, muted.channelId), {
        mutedUntil: muted.mutedUntil,
      });
    },
  }),
  unmuteChannel: t.prismaField({
    type: "Channel",
    description: "Ends the viewer's mute of a channel. Idempotent.",
    args: { channelId: t.arg.id({ required: true }) },
    authScopes: { signedIn: true },
    resolve: async (query, _root, args, ctx) => {
      const muted = await channels.setMute(ctx, args.channelId, null);
      return withViewerAsked(await loadChannel(query, ctx, muted.channelId), { mutedUntil: null });
    },
  }),
  directChannel: t.prismaField({
    type: "Channel",
    description:
      "Gets or creates THE direct conversation of the viewer and `userId` (FORBIDDEN if either blocked the other).",
    args: { userId: t.arg.id({ required: true }) },
    authScopes: { signedIn: true },
    resolve: async (query, _root, args, ctx) =>
      loadChannel(query, ctx, await channels.directChannel(ctx, args.userId)),
  }),
}));
