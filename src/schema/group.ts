// Groups: the Group type, its members and channels, and the group mutations.
import type { Context } from "../context.js";
import { GroupRole } from "../db/generated/prisma/enums.js";
import { visibleGroupChannels } from "../resolvers/channels.js";
import { globalId } from "../resolvers/global-ids.js";
import * as groups from "../resolvers/groups.js";
import { MAX_MUTE_DAYS, parseId } from "../resolvers/validation.js";
import { builder } from "./builder.js";
import { ChannelConnection } from "./channel.js";
import { membershipKey, membershipWhere } from "./node-keys.js";
import { pageSize } from "./page-size.js";
import { User } from "./user.js";

export const GroupRoleEnum = builder.enumType(GroupRole, {
  name: "GroupRole",
  description:
    "OWNER > ADMIN > MEMBER. Owners and admins manage members and channels; owners manage roles.",
});

builder.prismaNode("GroupMember", {
  description: "A user's membership of a group.",
  id: { resolve: (member) => membershipKey(member.groupId, member.userId) },
  findUnique: (key) => ({ groupId_userId: membershipWhere(key, "groupId") }),
  fields: (t) => ({
    group: t.relation("group"),
    user: t.relation("user"),
    role: t.expose("role", { type: GroupRoleEnum }),
    joinedAt: t.expose("joinedAt", { type: "DateTime" }),
    mutedUntil: t.field({
      type: "DateTime",
      nullable: true,
      description:
        "Muted by an owner or admin until then: their sends and reactions are FORBIDDEN (null when not muted, or the mute is over).",
      resolve: (member) =>
        member.mutedUntil && member.mutedUntil > new Date() ? member.mutedUntil : null,
    }),
  }),
});

const ModerationKind = builder.enumType("ModerationKind", {
  description: "What an owner or admin did to someone else or their content.",
  values: {
    DELETE_MESSAGE: { description: "Deleted someone else's message." },
    MUTE_MEMBER: { description: "Muted a member in the group until `until`." },
    UNMUTE_MEMBER: { description: "Ended a member's mute early." },
  } as const,
});

builder.prismaNode("ModerationAction", {
  description: "One entry of a group's moderation log: who did what to whose content, and when.",
  id: { field: "id" },
  fields: (t) => ({
    action: t.field({
      type: ModerationKind,
      resolve: (entry) => entry.action as typeof ModerationKind.$inferType,
    }),
    actor: t.field({
      type: User,
      nullable: true,
      resolve: (entry, _args, ctx) => ctx.loaders.user.load(entry.actorId) as never,
    }),
    target: t.field({
      type: User,
      nullable: true,
      description: "Whose content it was, or who was muted.",
      resolve: (entry, _args, ctx) =>
        entry.targetUserId ? (ctx.loaders.user.load(entry.targetUserId) as never) : null,
    }),
    messageId: t.id({
      nullable: true,
      description: "The message acted on (deleted messages keep their id, not their body).",
      resolve: (entry) => (entry.messageId ? globalId("Message", entry.messageId) : null),
    }),
    until: t.expose("until", {
      type: "DateTime",
      nullable: true,
      description: "MUTE_MEMBER: when the mute ends.",
    }),
    at: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.prismaNode("Group", {
  id: { field: "id" },
  fields: (t) => ({
    name: t.exposeString("name"),
    description: t.exposeString("description", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    viewerRole: t.field({
      type: GroupRoleEnum,
      nullable: true,
      description: "The viewer's role here (null once they left).",
      select: (_args, ctx) => ({
        members: { where: { userId: ctx.viewer?.id ?? "" }, select: { role: true } },
      }),
      resolve: (group) => group.members[0]?.role ?? null,
    }),
    memberCount: t.relationCount("members"),
    members: t.relatedConnection(
      "members",
      {
        ...pageSize,
        cursor: "groupId_userId",
        totalCount: true,
        description: "In the order they joined.",
        query: { orderBy: [{ joinedAt: "asc" }, { userId: "asc" }] },
      },
      { name: "GroupMemberConnection" },
      { name: "GroupMemberEdge" },
    ),
    moderationLog: t.relatedConnection(
      "moderation",
      {
        ...pageSize,
        cursor: "id",
        description:
          "What owners and admins did to others and their content (deletions, mutes), newest first. Owners and admins only (FORBIDDEN otherwise).",
        authScopes: (group) => ({
          groupRole: {
            groupId: globalId("Group", group.id),
            field: "moderationLog",
            atLeast: "ADMIN" as const,
          },
        }),
        query: { orderBy: [{ createdAt: "desc" }, { id: "asc" }] },
      },
      { name: "ModerationActionConnection" },
      { name: "ModerationActionEdge" },
    ),
    channels: t.relatedConnection(
      "channels",
      {
        ...pageSize,
        cursor: "id",
        description: "Public channels, and the private ones the viewer is in, by name.",
        query: (_args, ctx) => ({
          where: visibleGroupChannels(ctx),
          orderBy: [{ name: "asc" }, { id: "asc" }],
        }),
      },
      ChannelConnection,
    ),
  }),
});

const CreateGroupInput = builder.inputType("CreateGroupInput", {
  fields: (t) => ({
    name: t.string({ required: true, description: "1-100 characters." }),
    description: t.string({ description: "Up to 1000 characters." }),
    memberIds: t.idList({ description: "Users to add as MEMBERs (the creator becomes OWNER)." }),
  }),
});

const UpdateGroupInput = builder.inputType("UpdateGroupInput", {
  fields: (t) => ({
    name: t.string({ description: "1-100 characters; omit to keep." }),
    description: t.string({ description: "Up to 1000 characters; null clears it, omit to keep." }),
  }),
});

const admin =
  (field = "groupId") =>
  (_root: unknown, args: { groupId: string }) => ({
    groupRole: { groupId: args.groupId, field, atLeast: "ADMIN" as const },
  });

builder.queryFields((t) => ({
  group: t.prismaField({
    type: "Group",
    nullable: true,
    description: "A group the viewer belongs to (NOT_FOUND otherwise).",
    args: { id: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({
      groupRole: { groupId: args.id, field: "id", atLeast: "MEMBER" },
    }),
    resolve: (query, _root, args, ctx) =>
      ctx.prisma.group.findUniqueOrThrow({
        ...query,
        where: { id: parseId("id", args.id, "Group") },
      }),
  }),
  groups: t.prismaConnection(
    {
      ...pageSize,
      type: "Group",
      cursor: "id",
      description: "The viewer's groups, by name.",
      authScopes: { signedIn: true },
      resolve: (query, _root, _args, ctx) =>
        ctx.prisma.group.findMany({
          ...query,
          where: groups.viewerGroupsFilter(ctx),
          orderBy: [{ name: "asc" }, { id: "asc" }],
        }),
    },
    { name: "GroupConnection" },
    { name: "GroupEdge" },
  ),
}));

const loadGroup = (query: object, ctx: Context, id: string) =>
  ctx.prisma.group.findUniqueOrThrow({ ...query, where: { id } });

const loadGroupMember = (query: object, ctx: Context, key: { groupId: string; userId: string }) =>
  ctx.prisma.groupMember.findUniqueOrThrow({ ...query, where: { groupId_userId: key } });

const RemoveGroupMemberPayload = builder
  .objectRef<{ groupId: string; userId: string }>("RemoveGroupMemberPayload")
  .implement({
    fields: (t) => ({
      group: t.prismaField({
        type: "Group",
        description: "The group without them (memberCount, members).",
        resolve: (query, removed, _args, ctx) => loadGroup(query, ctx, removed.groupId),
      }),
      removedMemberId: t.id({
        description:
          "The id of the GroupMember that is gone (their channel memberships in the group went with it).",
        resolve: (removed) => globalId("GroupMember", removed.groupId, removed.userId),
      }),
    }),
  });

const LeaveGroupPayload = builder
  .objectRef<{ groupId: string; userId: string; groupExists: boolean }>("LeaveGroupPayload")
  .implement({
    description:
      "The viewer no longer sees the group or its channels: drop them (and the membership) from the cache.",
    fields: (t) => ({
      groupId: t.id({ resolve: (left) => globalId("Group", left.groupId) }),
      groupExists: t.exposeBoolean("groupExists", {
        description: "False when the viewer was the last member and the group was deleted.",
      }),
      removedMemberId: t.id({
        description: "The id of the viewer's GroupMember that is gone.",
        resolve: (left) => globalId("GroupMember", left.groupId, left.userId),
      }),
    }),
  });

builder.mutationFields((t) => ({
  createGroup: t.prismaField({
    type: "Group",
    description:
      "Creates a group with the viewer as OWNER, the listed users as MEMBERs, and a #general channel for all.",
    authScopes: { signedIn: true },
    args: { input: t.arg({ type: CreateGroupInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) =>
      loadGroup(query, ctx, await groups.createGroup(ctx, input)),
  }),
  updateGroup: t.prismaField({
    type: "Group",
    description: "Owners and admins.",
    args: {
      groupId: t.arg.id({ required: true }),
      input: t.arg({ type: UpdateGroupInput, required: true }),
    },
    authScopes: admin(),
    resolve: async (query, _root, args, ctx) =>
      loadGroup(query, ctx, await groups.updateGroup(ctx, args.groupId, args.input)),
  }),
  addGroupMembers: t.prismaField({
    type: "Group",
    description:
      "Owners and admins. New members join #general. Listing a current member is BAD_USER_INPUT.",
    args: { groupId: t.arg.id({ required: true }), userIds: t.arg.idList({ required: true }) },
    authScopes: admin(),
    resolve: async (query, _root, args, ctx) =>
      loadGroup(query, ctx, await groups.addGroupMembers(ctx, args.groupId, args.userIds)),
  }),
  removeGroupMember: t.field({
    type: RemoveGroupMemberPayload,
    description:
      "Owners remove anyone but the last owner; admins remove members. Also removes them from every channel of the group.",
    args: { groupId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }) },
    authScopes: admin(),
    resolve: (_root, args, ctx) => groups.removeGroupMember(ctx, args.groupId, args.userId),
  }),
  setGroupMemberRole: t.prismaField({
    type: "GroupMember",
    description:
      "Owners only. The last owner cannot step down. Answers the member with their new role.",
    args: {
      groupId: t.arg.id({ required: true }),
      userId: t.arg.id({ required: true }),
      role: t.arg({ type: GroupRoleEnum, required: true }),
    },
    authScopes: (_root, args) => ({
      groupRole: { groupId: args.groupId, field: "groupId", atLeast: "OWNER" },
    }),
    resolve: async (query, _root, args, ctx) =>
      loadGroupMember(
        query,
        ctx,
        await groups.setGroupMemberRole(ctx, args.groupId, args.userId, args.role),
      ),
  }),
  muteGroupMember: t.prismaField({
    type: "GroupMember",
    description: `Owners mute anyone but themselves; admins mute members. Until \`until\` (in the future, at most ${MAX_MUTE_DAYS} days ahead) the member's sends and reactions in the group's channels answer FORBIDDEN with extensions.mutedUntil. Recorded in the moderation log.`,
    args: {
      groupId: t.arg.id({ required: true }),
      userId: t.arg.id({ required: true }),
      until: t.arg({ type: "DateTime", required: true }),
    },
    authScopes: admin(),
    resolve: async (query, _root, args, ctx) =>
      loadGroupMember(
        query,
        ctx,
        await groups.setMemberMute(ctx, args.groupId, args.userId, args.until),
      ),
  }),
  unmuteGroupMember: t.prismaField({
    type: "GroupMember",
    description:
      "Ends a member's mute now (owners and admins, as for muting). Unmuting someone who is not muted changes nothing.",
    args: { groupId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }) },
    authScopes: admin(),
    resolve: async (query, _root, args, ctx) =>
      loadGroupMember(query, ctx, await groups.setMemberMute(ctx, args.groupId, args.userId, null)),
  }),
  leaveGroup: t.field({
    type: LeaveGroupPayload,
    description:
      "Leaves the group and its channels. The last owner must first make someone else an owner; when the last member leaves, the group is deleted.",
    args: { groupId: t.arg.id({ required: true }) },
    authScopes: (_root, args) => ({
      groupRole: { groupId: args.groupId, field: "groupId", atLeast: "MEMBER" },
    }),
    resolve: (_root, args, ctx) => groups.leaveGroup(ctx, args.groupId),
  }),
}));
