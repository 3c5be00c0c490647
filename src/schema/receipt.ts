// Receipts: each member's delivery and read state (positions in the channel: see
// resolvers/receipts.ts), the mutations that move it forward, and the live stream.

import { globalId } from "../resolvers/global-ids.js";
import * as receipts from "../resolvers/receipts.js";
import { builder } from "./builder.js";
import { withViewerAsked } from "./channel.js";
import { MessageRef } from "./message.js";
import { User } from "./user.js";

const ReceiptStatus = builder.enumType("ReceiptStatus", {
  values: ["SENT", "DELIVERED", "READ"] as const,
  description:
    "One recipient's state for one message; moves SENT -> DELIVERED -> READ only. Receipts are positions: DELIVERED (READ) up to a message covers every earlier one too.",
});

type Receipt = receipts.ReceiptView & { channelId?: string; seq?: number };

const ReceiptRef = builder.node(builder.objectRef<Receipt>("Receipt"), {
  description:
    "One recipient's delivery and read state for one message (its id is per message and recipient). Live receipts are a member's position moving: they have (DELIVERED) or have read (READ) every message of the channel up to `seq`.",
  id: { resolve: (receipt) => `${receipt.messageId}:${receipt.userId}` },
  fields: (t) => ({
    messageId: t.id({
      description: "The message (on live receipts: the newest one the position covers, at `seq`).",
      resolve: (receipt) => globalId("Message", receipt.messageId),
    }),
    message: t.prismaField({
      type: "Message",
      description:
        "The message, with its status for its sender (on live receipts: after this receipt), so a normalized cache updates it.",
      resolve: (query, receipt, _args, ctx) =>
        ctx.prisma.message.findUniqueOrThrow({ ...query, where: { id: receipt.messageId } }),
    }),
    seq: t.int({
      nullable: true,
      description: "The message's seq (on live receipts): mark everything up to it in the UI.",
      resolve: (receipt) => receipt.seq ?? null,
    }),
    readByAllUpToSeq: t.int({
      nullable: true,
      description:
        "On live receipts: after this one, every member has read the channel up to this seq, so the viewer's messages at or before it are READ.",
      resolve: (receipt) => receipt.readByAllUpToSeq ?? null,
    }),
    deliveredToAllUpToSeq: t.int({
      nullable: true,
      description:
        "On live receipts: after this one, every member has the channel up to this seq, so the viewer's messages at or before it are (at least) DELIVERED.",
      resolve: (receipt) => receipt.deliveredToAllUpToSeq ?? null,
    }),
    status: t.field({ type: ReceiptStatus, resolve: (receipt) => receipt.status }),
    deliveredAt: t.expose("deliveredAt", {
      type: "DateTime",
      nullable: true,
      description: "When the member's delivered position last moved, once it covers the message.",
    }),
    readAt: t.expose("readAt", {
      type: "DateTime",
      nullable: true,
      description: "When the member's read position last moved, once it covers the message.",
    }),
    at: t.field({
      type: "DateTime",
      nullable: true,
      description: "When it reached this status.",
      resolve: (receipt) => receipt.at ?? receipt.readAt ?? receipt.deliveredAt,
    }),
    user: t.field({
      type: User,
      resolve: async (receipt, _args, ctx) => {
        const user = receipt.user ?? (await ctx.loaders.user.load(receipt.userId));
        if (!user) throw new Error(`user ${receipt.userId} of a receipt is missing`);
        return user as never;
      },
    }),
  }),
});

builder.prismaObjectField(MessageRef, "receipts", (t) =>
  t.field({
    type: [ReceiptRef],
    description:
      "Every recipient's state: the channel's members who were there when it came, but its sender. For members of the channel only (FORBIDDEN otherwise).",
    select: { channelId: true, senderId: true, seq: true },
    resolve: async (message, _args, ctx) => {
      await receipts.requireReceiptAccess(ctx, message.channelId);
      return receipts.receiptsOf(
        message,
        await ctx.loaders.memberPositions.load(message.channelId),
      );
    },
  }),
);

const MarkDeliveredPayload = builder.objectRef<string[]>("MarkDeliveredPayload").implement({
  fields: (t) => ({
    messages: t.prismaField({
      type: ["Message"],
      description: "The messages marked, in the order given.",
      resolve: async (query, ids, _args, ctx) => {
        const rows = await ctx.prisma.message.findMany({ ...query, where: { id: { in: ids } } });
        const byId = new Map(rows.map((row) => [row.id, row]));
        return ids.flatMap((id) => byId.get(id) ?? []);
      },
    }),
  }),
});

const MarkReadPayload = builder
  .objectRef<{ channelId: string; upToSeq: number }>("MarkReadPayload")
  .implement({
    fields: (t) => ({
      channel: t.prismaField({
        type: "Channel",
        description:
          "The channel with the viewer's new read position and unread count (the worker stores the position right after; it never moves back).",
        resolve: async (query, read, _args, ctx) =>
          withViewerAsked(
            await ctx.prisma.channel.findUniqueOrThrow({ ...query, where: { id: read.channelId } }),
            { readSeq: read.upToSeq },
          ),
      }),
    }),
  });

builder.mutationFields((t) => ({
  markDelivered: t.field({
    type: MarkDeliveredPayload,
    description: `The viewer has these messages on a device (at most ${receipts.MAX_DELIVERED_IDS}). Idempotent; never moves a receipt back.`,
    authScopes: { signedIn: true },
    args: { messageIds: t.arg.idList({ required: true }) },
    resolve: (_root, args, ctx) => receipts.markDelivered(ctx, args.messageIds),
  }),
  markRead: t.field({
    type: MarkReadPayload,
    description:
      "The viewer has read the channel up to this seq (which implies delivered). Unread counts follow.",
    authScopes: { signedIn: true },
    args: { channelId: t.arg.id({ required: true }), upToSeq: t.arg.int({ required: true }) },
    resolve: (_root, args, ctx) => receipts.markRead(ctx, args.channelId, args.upToSeq),
  }),
}));

builder.subscriptionField("receiptUpdated", (t) =>
  t.field({
    type: ReceiptRef,
    description:
      "Receipts that concern the viewer, in one channel or in all of theirs: other members' receipts covering the viewer's messages (so a message read by all N members costs N deliveries, not N²) and the viewer's own from their other devices; never across a block in a direct channel. Ends with FORBIDDEN when the viewer leaves the channel.",
    authScopes: { signedIn: true },
    args: { channelId: t.arg.id() },
    subscribe: (_root, args, ctx) => receipts.receiptUpdated(ctx, args),
    resolve: (receipt) => receipt,
  }),
);
