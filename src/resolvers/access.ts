// Who may see and do what with groups and channels: each rule is one function here,
// and the schema attaches them to fields through Pothos scope-auth. Outsiders get
// NOT_FOUND (a private channel's existence is not revealed); members without the
// right role get FORBIDDEN. Lookups are memoized per request.
import type { Context } from "../context.js";
import { BatchedLookup, lookupPerDatabase } from "../db/batched-lookup.js";
import type { GroupRole } from "../db/generated/prisma/enums.js";
import { forbidden, notFound } from "../errors.js";
import { requireViewerId } from "./viewer.js";

const rank: Record<GroupRole, number> = { MEMBER: 0, ADMIN: 1, OWNER: 2 };

export function roleAtLeast(role: GroupRole, needed: GroupRole) {
  return rank[role] >= rank[needed];
}

function memo<T>(ctx: Context, key: string, load: () => Promise<T>): Promise<T> {
  const cached = ctx.memo.get(key) as Promise<T> | undefined;
  if (cached) return cached;
  const loading = load();
  ctx.memo.set(key, loading);
  return loading;
}

/** The viewer's role in a group, or null when not a member. */
export function viewerGroupRole(ctx: Context, groupId: string): Promise<GroupRole | null> {
  const viewerId = requireViewerId(ctx);
  return memo(ctx, `groupRole:${groupId}`, async () => {
    const member = await ctx.prisma.groupMember.findUnique({
      where: { groupId_userId: { groupId, userId: viewerId } },
      select: { role: true },
    });
    return member?.role ?? null;
  });
}

export interface ChannelAccess {
  id: string;
  kind: "DIRECT" | "GROUP";
  groupId: string | null;
  isPrivate: boolean;
  name: string | null;
  /** The viewer is a member of the channel. */
  isMember: boolean;
  /** The viewer's role in the channel's group (null for direct channels and outsiders). */
  groupRole: GroupRole | null;
  /** The channel's last seq when this was read. */
  lastSeq: number;
  /** When the read was asked for (epoch ms): what it says is at least this recent. */
  readAt: number;
}

interface ChannelAccessRow {
  asked_channel: string;
  asked_user: string;
  id: string;
  kind: "DIRECT" | "GROUP";
  group_id: string | null;
  is_private: boolean;
  name: string | null;
  last_seq: number;
  is_member: boolean;
  group_role: GroupRole | null;
}

/**
 * One statement for every (channel, viewer) asked in the same turn of the event loop, per
 * database: a socket's subscribe checks its channel, and thousands subscribe at once after
 * a replica restarts.
 */
const channelAccessReader = lookupPerDatabase(
  (sql) =>
    new BatchedLookup<[string, string], ChannelAccessRow>(
      (pairs) =>
        sql.query<ChannelAccessRow>(
          `SELECT w.c::text AS asked_channel, w.u::text AS asked_user,
                  c.id::text, c.kind::text, c.group_id::text, c.is_private, c.name, c.last_seq,
                  EXISTS (SELECT 1 FROM channel_members cm
                           WHERE cm.channel_id = c.id AND cm.user_id = w.u) AS is_member,
                  (SELECT gm.role::text FROM group_members gm
                    WHERE gm.group_id = c.group_id AND gm.user_id = w.u) AS group_role
             FROM unnest($1::uuid[], $2::uuid[]) AS w(c, u)
             JOIN channels c ON c.id = w.c`,
          [pairs.map(([channelId]) => channelId), pairs.map(([, userId]) => userId)],
        ),
      (row) => `${row.asked_channel}:${row.asked_user}`,
      ([channelId, userId]) => `${channelId.toLowerCase()}:${userId.toLowerCase()}`,
    ),
);

export function viewerChannelAccess(
  ctx: Context,
  channelId: string,
): Promise<ChannelAccess | null> {
  const viewerId = requireViewerId(ctx);
  // One plain statement (through Prisma's nested select it was four, on every subscribe
  // and every channel-scoped call), shared by concurrent callers: issue 10.
  return memo(ctx, `channel:${channelId}`, async () => {
    const readAt = Date.now();
    const channel = await channelAccessReader(ctx.services.db.sql).get([channelId, viewerId]);
    if (!channel) return null;
    return {
      id: channel.id,
      kind: channel.kind,
      groupId: channel.group_id,
      isPrivate: channel.is_private,
      name: channel.name,
      isMember: channel.is_member,
      groupRole: channel.group_role,
      lastSeq: Number(channel.last_seq),
      readAt,
    };
  });
}

/** Rule: the viewer is in the group with at least `atLeast`; outsiders see NOT_FOUND. */
export async function requireGroupRole(
  ctx: Context,
  groupId: string,
  field: string,
  atLeast: GroupRole,
) {
  const role = await viewerGroupRole(ctx, groupId);
  if (!role) throw notFound("Group", field);
  if (!roleAtLeast(role, atLeast)) throw forbidden(`This needs the ${atLeast} role in the group.`);
  return { groupId, role };
}

/**
 * Rule: the viewer may see the channel (`view`: a member, or a group member for a public
 * group channel) or is in it (`member`). Anyone else sees NOT_FOUND.
 */
export async function requireChannelAccess(
  ctx: Context,
  channelId: string,
  field: string,
  need: "view" | "member",
) {
  const access = await viewerChannelAccess(ctx, channelId);
  if (!access || !canView(access)) throw notFound("Channel", field);
  if (need === "member" && !access.isMember) throw forbidden("Join the channel first.");
  return access;
}

function canView(access: ChannelAccess) {
  return (
    access.isMember || (access.kind === "GROUP" && !access.isPrivate && access.groupRole !== null)
  );
}
