// Receipts: per-recipient delivery and read state, the mutations that move it forward,
// and the live stream of changes.
import * as receipts from "../resolvers/receipts.js";
import { builder } from "./builder.js";
import { MessageRef } from "./message.js";
import { User } from "./user.js";

const ReceiptStatus = builder.enumType("ReceiptStatus", {
  values: ["SENT", "DELIVERED", "READ"] as const,
  description: "One recipient's state for one message; moves SENT -> DELIVERED -> READ only.",
});

type Receipt = receipts.ReceiptView & { channelId?: string; seq?: number };

const ReceiptRef = builder.objectRef<Receipt>("Receipt").implement({
  description: "One recipient's delivery and read state for one message.",
  fields: (t) => ({
    messageId: t.exposeID("messageId"),
    seq: t.int({
      nullable: true,
      description: "The message's seq (on live receipts): mark everything up to it in the UI.",
      resolve: (receipt) => receipt.seq ?? null,
    }),
    status: t.field({ type: ReceiptStatus, resolve: (receipt) => receipt.status }),
    deliveredAt: t.expose("deliveredAt", { type: "DateTime", nullable: true }),
    readAt: t.expose("readAt", { type: "DateTime", nullable: true }),
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
      "Every recipient's state (the sender is not a recipient). For members of the channel only (FORBIDDEN otherwise).",
    select: {
      channelId: true,
      recipients: { select: { userId: true, status: true, deliveredAt: true, readAt: true } },
    },
    resolve: async (message, _args, ctx) => {
      await receipts.requireReceiptAccess(ctx, message.channelId);
      return message.recipients.map((row) => ({
        ...row,
        messageId: message.id,
        at: row.readAt ?? row.deliveredAt,
      }));
    },
  }),
);

builder.mutationFields((t) => ({
  markDelivered: t.boolean({
    description: `The viewer has these messages on a device (at most ${receipts.MAX_DELIVERED_IDS}). Idempotent; never moves a receipt back.`,
    authScopes: { signedIn: true },
    args: { messageIds: t.arg.idList({ required: true }) },
    resolve: (_root, args, ctx) => receipts.markDelivered(ctx, args.messageIds),
  }),
  markRead: t.boolean({
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
      "Receipts moving forward in one channel, or in all the viewer's channels: every member of a channel sees them (never across a block in a direct channel); ends with FORBIDDEN when the viewer leaves the channel.",
    authScopes: { signedIn: true },
    args: { channelId: t.arg.id() },
    subscribe: (_root, args, ctx) => receipts.receiptUpdated(ctx, args),
    resolve: (receipt) => receipt,
  }),
);
