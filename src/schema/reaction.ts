// Reactions: the Reaction type (one emoji's tally on a message), Message.reactions, adding
// and taking back, and the live stream of changes.

import { MAX_DISTINCT_EMOJI, MAX_REACTION_USERS } from "../pubsub/reaction-rows.js";
import * as live from "../resolvers/message-streams.js";
import * as reactions from "../resolvers/reactions.js";
import { builder } from "./builder.js";
import { asMessage, MessageRef, view } from "./message.js";
import { User } from "./user.js";

const ReactionRef = builder.objectRef<reactions.ReactionView>("Reaction").implement({
  description:
    "One emoji's reactions to a message. Embedded in its message (no id of its own): a client cache stores it under Message.reactions.",
  fields: (t) => ({
    emoji: t.exposeString("emoji", {
      description: "A Unicode emoji, or a custom emoji's :shortcode:.",
    }),
    count: t.exposeInt("count", { description: "How many people reacted with it." }),
    viewerHasReacted: t.boolean({
      description: "Whether the viewer is one of them.",
      resolve: (reaction, _args, ctx) => reactions.viewerHasReacted(ctx, reaction),
    }),
    users: t.field({
      type: [User],
      description: `The first ${MAX_REACTION_USERS} to react with it, earliest first (the rest are in count).`,
      resolve: (reaction) => reaction.users as never,
    }),
  }),
});

builder.objectField(MessageRef, "reactions", (t) =>
  t.field({
    type: [ReactionRef],
    description: `Reactions by emoji, in the order each emoji was first used (at most ${MAX_DISTINCT_EMOJI} emoji). Empty once deleted.`,
    resolve: (message, _args, ctx) => reactions.messageReactions(ctx, view(message)),
  }),
);

const reactionArgs = (t: Parameters<Parameters<typeof builder.mutationFields>[0]>[0]) => ({
  messageId: t.arg.id({ required: true }),
  emoji: t.arg.string({
    required: true,
    description:
      "One Unicode emoji (👍, 🇫🇷, 👋🏽), or a custom emoji's :shortcode: (1-32 of a-z 0-9 _ + -).",
  }),
});

builder.mutationFields((t) => ({
  addReaction: t.field({
    type: MessageRef,
    description: `Reacts to a message of a channel the viewer is in. Idempotent per user and emoji; a message carries at most ${MAX_DISTINCT_EMOJI} different emoji (BAD_USER_INPUT on emoji for a new one past that). Answers the message with its reactions as they will be; everyone in the channel gets the change on reactionChanged.`,
    authScopes: { signedIn: true },
    args: reactionArgs(t),
    resolve: async (_root, args, ctx) =>
      asMessage(await reactions.react(ctx, args.messageId, args.emoji, true)),
  }),
  removeReaction: t.field({
    type: MessageRef,
    description: "Takes the viewer's reaction with this emoji back. Idempotent.",
    authScopes: { signedIn: true },
    args: reactionArgs(t),
    resolve: async (_root, args, ctx) =>
      asMessage(await reactions.react(ctx, args.messageId, args.emoji, false)),
  }),
}));

const ReactionChangeRef = builder.objectRef<live.ReactionChangeView>("ReactionChange").implement({
  description:
    "Someone reacted to a message or took a reaction back. Select `message { id reactions { … } }`: a normalized cache then updates the message's reactions by itself, and the socket carries the tally, not the body.",
  fields: (t) => ({
    message: t.field({ type: MessageRef, resolve: (change) => asMessage(change.message) }),
    emoji: t.exposeString("emoji"),
    user: t.field({ type: User, resolve: (change) => change.user as never }),
    added: t.exposeBoolean("added", { description: "False: the reaction was taken back." }),
    at: t.expose("at", { type: "DateTime" }),
  }),
});

builder.subscriptionField("reactionChanged", (t) =>
  t.field({
    type: ReactionChangeRef,
    description:
      "Reactions added and taken back in one channel, or in all the viewer's channels when channelId is omitted.",
    authScopes: { signedIn: true },
    args: { channelId: t.arg.id() },
    subscribe: (_root, args, ctx) => live.reactionChanged(ctx, args),
    resolve: (change) => change,
  }),
);
