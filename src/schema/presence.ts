// Presence: ONLINE while the user has a socket open on any replica; last seen otherwise.

import { globalId } from "../resolvers/global-ids.js";
import * as presence from "../resolvers/presence.js";
import { builder } from "./builder.js";
import { User } from "./user.js";

const PresenceStatus = builder.enumType("PresenceStatus", {
  values: ["ONLINE", "OFFLINE"] as const,
});

const PresenceRef = builder.node(builder.objectRef<presence.PresenceView>("Presence"), {
  description:
    "A user's online state. Its id is per user: a normalized cache keeps one Presence per user, updated by presenceChanged.",
  id: { resolve: (view) => view.userId },
  fields: (t) => ({
    userId: t.id({
      description: "The user's id (as User.id).",
      resolve: (view) => globalId("User", view.userId),
    }),
    user: t.field({
      type: User,
      resolve: async (view, _args, ctx) => {
        const user = view.user ?? (await ctx.loaders.user.load(view.userId));
        if (!user) throw new Error(`user ${view.userId} is missing`);
        return user as never;
      },
    }),
    status: t.field({ type: PresenceStatus, resolve: (view) => view.status }),
    lastSeenAt: t.expose("lastSeenAt", {
      type: "DateTime",
      nullable: true,
      description: "When the user was last online (null: never, or not yet recorded).",
    }),
  }),
});

builder.queryField("presence", (t) =>
  t.field({
    type: [PresenceRef],
    description:
      "Who of these users is online. Only users the viewer may see (themself, contacts, people sharing a channel) are answered; others are left out.",
    authScopes: { signedIn: true },
    args: { userIds: t.arg.idList({ required: true }) },
    resolve: (_root, args, ctx) => presence.presence(ctx, args.userIds),
  }),
);

builder.subscriptionField("presenceChanged", (t) =>
  t.field({
    type: PresenceRef,
    description:
      "ONLINE/OFFLINE transitions of these users (default: the viewer's contacts and direct-conversation partners), of those the viewer may see.",
    authScopes: { signedIn: true },
    args: { userIds: t.arg.idList() },
    subscribe: (_root, args, ctx) => presence.presenceChanged(ctx, args.userIds),
    resolve: (view) => view,
  }),
);
