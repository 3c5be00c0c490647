// Typing indicators: ephemeral, never stored.

import { fromPublicUserPayload } from "../pubsub/public-user.js";
import { globalId } from "../resolvers/global-ids.js";
import * as typing from "../resolvers/typing.js";
import { TYPING_TTL_SECONDS } from "../typing/typing-state.js";
import { builder } from "./builder.js";
import { ChannelRef } from "./channel.js";
import { User } from "./user.js";

const TypingEventRef = builder.objectRef<typing.TypingView>("TypingEvent").implement({
  fields: (t) => ({
    channel: t.field({
      type: ChannelRef,
      // Once per event for all its local subscribers (EventChannels).
      resolve: async (event, _args, ctx) => {
        const channel = await ctx.services.eventChannels.load(ctx.prisma, event.channelId);
        if (!channel) throw new Error(`channel ${event.channelId} is missing`);
        return channel;
      },
    }),
    user: t.field({
      type: User,
      resolve: (event) => fromPublicUserPayload(event.user) as never,
    }),
    isTyping: t.exposeBoolean("isTyping"),
    at: t.expose("at", { type: "DateTime" }),
  }),
});

const SetTypingPayload = builder
  .objectRef<{ channelId: string; isTyping: boolean; expiresAt: Date | null }>("SetTypingPayload")
  .implement({
    fields: (t) => ({
      channelId: t.id({ resolve: (typing) => globalId("Channel", typing.channelId) }),
      isTyping: t.exposeBoolean("isTyping"),
      expiresAt: t.expose("expiresAt", {
        type: "DateTime",
        nullable: true,
        description: "When the state ends unless refreshed (null once stopped).",
      }),
    }),
  });

builder.mutationField("setTyping", (t) =>
  t.field({
    type: SetTypingPayload,
    description: `Starts or stops "is typing" in a channel. Refresh every few seconds while typing: the state ends by itself after ${TYPING_TTL_SECONDS} s. RATE_LIMITED when called too often.`,
    authScopes: { signedIn: true },
    args: { channelId: t.arg.id({ required: true }), isTyping: t.arg.boolean({ required: true }) },
    resolve: (_root, args, ctx) => typing.setTyping(ctx, args.channelId, args.isTyping),
  }),
);

builder.subscriptionField("typing", (t) =>
  t.field({
    type: TypingEventRef,
    description:
      "Other members starting and stopping typing in a channel; a state ends by itself after a few seconds without refresh, and when the typer's last socket closes.",
    authScopes: { signedIn: true },
    args: { channelId: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => typing.typingStream(ctx, args.channelId),
    resolve: (event) => event,
  }),
);
