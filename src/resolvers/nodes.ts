// node(id:) and nodes(ids:): refetching any cached object by its global id (Relay's
// @refetchable, Apollo/urql cache misses). An id the viewer may not see answers null,
// exactly like an id of nothing, so refetching reveals no more than the type's own
// query would (a private channel, another user's contacts, a group one left).
import { brandWithType } from "@pothos/core";
import type { Context } from "../context.js";
import { badUserInput } from "../errors.js";
import { requireChannelAccess, viewerGroupRole } from "./access.js";
import { attachmentById } from "./attachments.js";
import { type DecodedId, decodeId, globalId, type NodeType } from "./global-ids.js";
import { visibleMessage } from "./messages.js";
import { presence } from "./presence.js";
import { receiptsOf, requireReceiptAccess } from "./receipts.js";
import { threadById } from "./threads.js";
import { requireViewerId } from "./viewer.js";

/** Most ids one nodes(ids:) call resolves (like a connection page). */
export const MAX_NODE_IDS = 100;

/** Null instead of the typed error a rule throws for someone who may not see it. */
const orNull = <T>(load: Promise<T>) => load.catch(() => null);

async function canSeeChannel(ctx: Context, channelId: string, field: string) {
  return (await orNull(requireChannelAccess(ctx, channelId, field, "view"))) !== null;
}

const loaders: Record<NodeType, (ctx: Context, key: string[], field: string) => Promise<unknown>> =
  {
    User: (ctx, [id = ""]) => ctx.prisma.user.findUnique({ where: { id } }),
    Group: async (ctx, [id = ""]) =>
      (await viewerGroupRole(ctx, id)) ? ctx.prisma.group.findUnique({ where: { id } }) : null,
    Channel: async (ctx, [id = ""], field) =>
      (await canSeeChannel(ctx, id, field))
        ? ctx.prisma.channel.findUnique({ where: { id } })
        : null,
    Message: (ctx, [id = ""], field) => orNull(visibleMessage(ctx, globalId("Message", id), field)),
    GroupMember: async (ctx, [groupId = "", userId = ""]) =>
      (await viewerGroupRole(ctx, groupId))
        ? ctx.prisma.groupMember.findUnique({ where: { groupId_userId: { groupId, userId } } })
        : null,
    ChannelMember: async (ctx, [channelId = "", userId = ""], field) =>
      (await canSeeChannel(ctx, channelId, field))
        ? ctx.prisma.channelMember.findUnique({
            where: { channelId_userId: { channelId, userId } },
          })
        : null,
    Contact: (ctx, [ownerId = "", contactId = ""]) =>
      ownerId === requireViewerId(ctx)
        ? ctx.prisma.contact.findFirst({ where: { ownerId, contactId, blocked: false } })
        : Promise.resolve(null),
    Presence: async (ctx, [userId = ""]) =>
      (await presence(ctx, [globalId("User", userId)]))[0] ?? null,
    // Owners' and admins' log: only they see its entries.
    ModerationAction: async (ctx, [id = ""]) => {
      const action = await ctx.prisma.moderationAction.findUnique({ where: { id } });
      const role = action ? await viewerGroupRole(ctx, action.groupId) : null;
      return role === "OWNER" || role === "ADMIN" ? action : null;
    },
    Thread: (ctx, [rootId = ""], field) => threadById(ctx, rootId, field),
    Attachment: (ctx, [id = ""], field) =>
      attachmentById(
        ctx,
        id,
        async (messageId) =>
          (await orNull(visibleMessage(ctx, globalId("Message", messageId), field))) !== null,
      ),
    Receipt: async (ctx, [messageId = "", userId = ""], field) => {
      const message = await orNull(visibleMessage(ctx, globalId("Message", messageId), field));
      if (!message || message.seq === null) return null;
      if ((await orNull(requireReceiptAccess(ctx, message.channelId))) === null) return null;
      const positions = await ctx.loaders.memberPositions.load(message.channelId);
      return receiptsOf(message, positions).find((receipt) => receipt.userId === userId) ?? null;
    },
  };

function decodeOrThrow(value: unknown, field: string): DecodedId {
  const decoded = decodeId(value);
  if (!decoded) throw badUserInput(field, `${field}: must be an id from this API`);
  return decoded;
}

async function load(ctx: Context, { type, key }: DecodedId, field: string) {
  requireViewerId(ctx);
  const found = await loaders[type](ctx, key, field);
  if (found) brandWithType(found, type as never);
  return found;
}

export function node(ctx: Context, rawId: unknown) {
  return load(ctx, decodeOrThrow(rawId, "id"), "id");
}

export function nodes(ctx: Context, rawIds: readonly unknown[]) {
  if (rawIds.length > MAX_NODE_IDS)
    throw badUserInput("ids", `ids: at most ${MAX_NODE_IDS} at a time`);
  const decoded = rawIds.map((id, index) => decodeOrThrow(id, `ids.${index}`));
  return Promise.all(decoded.map((id, index) => load(ctx, id, `ids.${index}`)));
}
