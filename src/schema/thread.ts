// Replies and threads: Message.replyTo / inThread / thread, the Thread type (a root
// message's replies), thread(messageId:), and markThreadRead.

import { MAX_THREAD_PARTICIPANTS } from "../pubsub/thread-rows.js";
import * as threads from "../resolvers/threads.js";
import { builder } from "./builder.js";
import { asMessage, MessageConnection, MessageRef, view } from "./message.js";
import { pageSize } from "./page-size.js";
import { User } from "./user.js";

export const ThreadRef = builder.node(builder.objectRef<threads.ThreadView>("Thread"), {
  description:
    "A message's thread: the replies sent in it (inThread), in order. Its id is per root message, so a normalized cache keeps one Thread that every reply's event updates.",
  id: { resolve: (thread) => thread.rootId },
  fields: (t) => ({
    root: t.field({
      type: MessageRef,
      description: "The message the thread hangs off.",
      resolve: async (thread, _args, ctx) => {
        const root = await ctx.loaders.message.load(thread.rootId);
        if (!root) throw new Error(`thread root ${thread.rootId} is missing`);
        return root;
      },
    }),
    replyCount: t.exposeInt("replyCount"),
    lastReplyAt: t.expose("lastReplyAt", { type: "DateTime", nullable: true }),
    participants: t.field({
      type: [User],
      description: `The first ${MAX_THREAD_PARTICIPANTS} people to reply, earliest first.`,
      resolve: async (thread, _args, ctx) => (await threads.participants(ctx, thread)) as never,
    }),
    messages: t.prismaConnection(
      {
        ...pageSize,
        type: "Message",
        cursor: "id",
        description:
          "The replies, oldest first (a thread reads top-down): `first`/`after` go forward.",
        resolve: (query, thread, _args, ctx) =>
          ctx.prisma.message.findMany({
            ...query,
            where: { threadRootId: thread.rootId },
            orderBy: { seq: "asc" },
          }),
      },
      MessageConnection,
    ),
    viewerFollows: t.boolean({
      description:
        "Whether the viewer follows it: they started it, replied in it or marked it read.",
      resolve: (thread, _args, ctx) => threads.viewerFollows(ctx, thread),
    }),
    viewerUnreadCount: t.int({
      description:
        "Replies by others after the viewer's read position in the thread (0 when not following it).",
      resolve: (thread, _args, ctx) => threads.viewerUnreadCount(ctx, thread),
    }),
  }),
});

builder.objectFields(MessageRef, (t) => ({
  replyTo: t.field({
    type: MessageRef,
    nullable: true,
    description: "The message this one replies to (quoted inline, or its parent in a thread).",
    resolve: async (message, _args, ctx) => {
      const { replyTo, replyToId } = view(message);
      if (replyTo !== undefined) return replyTo ? asMessage(replyTo) : null;
      return replyToId ? ctx.loaders.message.load(replyToId) : null;
    },
  }),
  inThread: t.boolean({
    description: "A thread reply (shown under its root's thread rather than in the channel).",
    resolve: (message) => view(message).threadRootId !== null,
  }),
  thread: t.field({
    type: ThreadRef,
    nullable: true,
    description: "The thread it is in, or starts (null until someone replies in a thread).",
    resolve: (message, _args, ctx) => threads.threadOfMessage(ctx, view(message)),
  }),
}));

builder.prismaObjectField("Channel", "unreadThreadCount", (t) =>
  t.int({
    description:
      "Threads in this channel the viewer follows that have replies by others they have not read.",
    resolve: (channel, _args, ctx) => ctx.loaders.unreadThreads.load(channel.id),
  }),
);

builder.queryField("thread", (t) =>
  t.field({
    type: ThreadRef,
    description:
      "The thread of a message the viewer can see: the one it starts (no replies yet: replyCount 0) or the one it is in. NOT_FOUND otherwise.",
    authScopes: { signedIn: true },
    args: { messageId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => threads.threadOf(ctx, args.messageId),
  }),
);

builder.mutationField("markThreadRead", (t) =>
  t.field({
    type: ThreadRef,
    description:
      "The viewer has read the thread up to upToSeq (a reply's seq; omitted: all of it so far), and follows it. Answers the thread with its new viewerUnreadCount.",
    authScopes: { signedIn: true },
    args: { threadId: t.arg.id({ required: true }), upToSeq: t.arg.int() },
    resolve: (_root, args, ctx) => threads.markThreadRead(ctx, args.threadId, args.upToSeq),
  }),
);
