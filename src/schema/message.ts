// Messages: the Message type (from a stored row, an event payload, or sendMessage's
// answer), history, sending/editing/deleting, and the live subscriptions.
import type { Message } from "../db/generated/prisma/client.js";
import { globalId } from "../resolvers/global-ids.js";
import { viewerMentionsFilter } from "../resolvers/mentions.js";
import * as live from "../resolvers/message-streams.js";
import * as messages from "../resolvers/messages.js";
import * as receipts from "../resolvers/receipts.js";
import { type SendStatusView, sendStatus } from "../resolvers/send-status.js";
import { builder } from "./builder.js";
import { ChannelRef } from "./channel.js";
import { pageSize } from "./page-size.js";
import { User } from "./user.js";

const MessageStatus = builder.enumType("MessageStatus", {
  description: "The sender's view of a message: how far it got with every recipient.",
  values: {
    PENDING: { description: "Accepted and queued; not yet stored (no seq yet)." },
    SENT: { description: "Stored, with its seq, and announced to the channel." },
    DELIVERED: { description: "Every recipient has it on a device." },
    READ: { description: "Every recipient has read it." },
  } as const,
});

/** The Message type also resolves objects that did not come from a Prisma query (every domain file's Message fields use these). */
export const view = (message: Message) => message as unknown as messages.MessageView;
export const asMessage = (message: messages.MessageView) => message as unknown as Message;

export const MessageRef = builder.prismaNode("Message", {
  id: { field: "id" },
  fields: (t) => ({
    clientMessageId: t.exposeString("clientMessageId", {
      description:
        "The sender's idempotency key: a retried send with the same key is the same message.",
    }),
    seq: t.int({
      nullable: true,
      description:
        "Position in the channel: 1, 2, 3… with no gaps. Null only on sendMessage's PENDING answer: every message from messageAdded, history, message(id:) or sendStatus has it.",
      resolve: (message) => view(message).seq,
    }),
    status: t.field({
      type: MessageStatus,
      description:
        "PENDING, SENT, DELIVERED (every recipient has it) or READ (every recipient read it); never moves back.",
      // Seq arithmetic on the channel's least advanced receipt positions, batched per
      // request: a page of history costs one query, a fresh live message none, an edited
      // one one per event (not per subscriber).
      resolve: (message, _args, ctx) => {
        const { status, eventLoads, seq } = view(message);
        if (status) return status;
        const load = () =>
          ctx.loaders.receiptState
            .load(message.channelId)
            .then((state) => receipts.messageStatus(state, seq ?? 0));
        if (!eventLoads) return load();
        eventLoads.status ??= load();
        return eventLoads.status;
      },
    }),
    body: t.string({
      nullable: true,
      description: "Null once the message is deleted.",
      resolve: (message) => (message.deletedAt ? null : message.body),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    editedAt: t.expose("editedAt", { type: "DateTime", nullable: true }),
    mentions: t.field({
      type: [User],
      description:
        "The members it names (@username), as the worker recorded them: render them without parsing the body. Empty while PENDING.",
      resolve: async (message, _args, ctx) => {
        const { userIds } = await ctx.loaders.mentionsOf.load(message.id);
        const users = await ctx.loaders.user.loadMany(userIds);
        return users.filter((user) => user && !(user instanceof Error)) as never;
      },
    }),
    mentionsEveryone: t.boolean({
      description: "Whether it mentions every member (@channel or @here).",
      resolve: async (message, _args, ctx) =>
        (await ctx.loaders.mentionsOf.load(message.id)).everyone,
    }),
    mentionsViewer: t.boolean({
      description:
        "Whether it mentions the viewer: by @username (a member of the channel), or @channel / @here by someone else.",
      resolve: (message, _args, ctx) => ctx.loaders.mentionsViewer.load(message.id),
    }),
    pinnedAt: t.expose("pinnedAt", {
      type: "DateTime",
      nullable: true,
      description: "When it was pinned in its channel (null: not pinned).",
    }),
    pinnedBy: t.field({
      type: User,
      nullable: true,
      resolve: async (message, _args, ctx) =>
        message.pinnedById ? ((await ctx.loaders.user.load(message.pinnedById)) as never) : null,
    }),
    deletedAt: t.expose("deletedAt", { type: "DateTime", nullable: true }),
    // Not Prisma relations: payload messages carry their sender, and a list of stored
    // ones loads its senders in one batch.
    sender: t.field({
      type: User,
      resolve: async (message, _args, ctx) => {
        const sender = view(message).sender ?? (await ctx.loaders.user.load(message.senderId));
        if (!sender)
          throw new Error(`sender ${message.senderId} of message ${message.id} is missing`);
        return sender as never;
      },
    }),
    cursor: t.string({
      nullable: true,
      description:
        "On the all-channels messageAdded stream only: its position after this message. Keep the last one and resubscribe with messageAdded(after: cursor) to get exactly what was missed in every channel.",
      resolve: (message) => (message as { cursor?: string }).cursor ?? null,
    }),
    channel: t.field({
      type: ChannelRef,
      resolve: async (message, _args, ctx) => {
        // Once per live event for all its local subscribers, else batched per request.
        const channel = await (view(message).eventLoads
          ? ctx.services.eventChannels.load(ctx.prisma, message.channelId)
          : ctx.loaders.channel.load(message.channelId));
        if (!channel)
          throw new Error(`channel ${message.channelId} of message ${message.id} is missing`);
        return channel;
      },
    }),
  }),
});

/** Every list of messages (history, pins): one connection type. */
export const MessageConnection = builder.connectionObject({
  type: MessageRef,
  name: "MessageConnection",
});

builder.prismaObjectFields("Channel", (t) => ({
  messages: t.relatedConnection(
    "messages",
    {
      ...pageSize,
      cursor: "id",
      description:
        "History, newest first: `first`/`after` go back in time, `last`/`before` forward. Thread replies are included (inThread: true) unless excludeThreadReplies: a channel view shows them under their root (Message.thread).",
      args: { excludeThreadReplies: t.arg.boolean() },
      query: (args) => ({
        where: args.excludeThreadReplies ? { threadRootId: null } : {},
        orderBy: { seq: "desc" },
      }),
    },
    MessageConnection,
  ),
  pinnedMessages: t.relatedConnection(
    "messages",
    {
      ...pageSize,
      cursor: "id",
      description: "The channel's pinned messages, most recently pinned first.",
      query: {
        where: { pinnedAt: { not: null }, deletedAt: null },
        orderBy: [{ pinnedAt: "desc" }, { id: "asc" }],
      },
    },
    MessageConnection,
  ),
}));

const SendMessageInput = builder.inputType("SendMessageInput", {
  fields: (t) => ({
    channelId: t.id({ required: true }),
    body: t.string({
      required: true,
      description: `1-${messages.MAX_BODY_LENGTH} characters, not only spaces (may be empty with attachmentIds).`,
    }),
    clientMessageId: t.string({
      required: true,
      description:
        "Chosen by the client, unique per message (1-64 of A-Z a-z 0-9 _ . : -). Retrying with it never duplicates.",
    }),
    replyTo: t.id({
      description:
        "A message of the same channel this one replies to: quoted inline, or with inThread in its thread.",
    }),
    inThread: t.boolean({
      description:
        "Reply in replyTo's thread (the one it starts, or the one it is in) instead of inline.",
    }),
    attachmentIds: t.idList({
      description:
        "Files uploaded for this channel with createUpload (at most 10): the body may then be empty.",
    }),
  }),
});

builder.queryField("message", (t) =>
  t.field({
    type: MessageRef,
    nullable: true,
    description: "A message of a channel the viewer can see (NOT_FOUND otherwise).",
    authScopes: { signedIn: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => messages.visibleMessage(ctx, args.id),
  }),
);

const SendState = builder.enumType("SendState", {
  description: "What became of a send.",
  values: {
    PENDING: {
      description:
        "Not stored or refused (yet): queued, or never received. Retrying sendMessage with the same clientMessageId is always safe.",
    },
    STORED: { description: "Stored: `message` has its seq and status." },
    REFUSED: { description: "Refused and never to be stored: `reason` says why." },
  } as const,
});

const SendStatusRef = builder.objectRef<SendStatusView>("SendStatus").implement({
  description: "What became of the viewer's send with this clientMessageId.",
  fields: (t) => ({
    clientMessageId: t.exposeString("clientMessageId"),
    state: t.field({ type: SendState, resolve: (status) => status.state }),
    message: t.field({
      type: MessageRef,
      nullable: true,
      resolve: (status) => (status.message ? asMessage(status.message) : null),
    }),
    reason: t.exposeString("reason", { nullable: true }),
    refusedAt: t.expose("refusedAt", { type: "DateTime", nullable: true }),
  }),
});

builder.queryField("sendStatus", (t) =>
  t.field({
    type: SendStatusRef,
    description:
      "What became of the viewer's send with this clientMessageId: PENDING, STORED (with the message) or REFUSED (with the reason).",
    authScopes: { signedIn: true },
    args: { clientMessageId: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => sendStatus(ctx, args.clientMessageId),
  }),
);

builder.mutationFields((t) => ({
  sendMessage: t.field({
    type: MessageRef,
    description:
      "Queues a message and answers at once with status PENDING; it arrives with its seq on messageAdded (or, if refused, on messageRejected). SERVICE_UNAVAILABLE (retryable) when the queue is down: retry with the same clientMessageId. A retry of a stored message answers with the stored message; the same clientMessageId with another body or channel is BAD_USER_INPUT.",
    authScopes: { signedIn: true },
    args: { input: t.arg({ type: SendMessageInput, required: true }) },
    resolve: async (_root, { input }, ctx) => asMessage(await messages.sendMessage(ctx, input)),
  }),
  editMessage: t.field({
    type: MessageRef,
    description: "The sender edits; the change arrives on messageUpdated.",
    authScopes: { signedIn: true },
    args: { id: t.arg.id({ required: true }), body: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) =>
      asMessage(await messages.editMessage(ctx, args.id, args.body)),
  }),
  pinMessage: t.field({
    type: MessageRef,
    description:
      "Pins a message in its channel: owners and admins of a group, either party of a direct conversation (FORBIDDEN otherwise). Idempotent; the change arrives on messageUpdated.",
    authScopes: { signedIn: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => asMessage(await messages.setPinned(ctx, args.id, true)),
  }),
  unpinMessage: t.field({
    type: MessageRef,
    description: "Unpins a message; the same people as pinMessage. Idempotent.",
    authScopes: { signedIn: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => asMessage(await messages.setPinned(ctx, args.id, false)),
  }),
  deleteMessage: t.field({
    type: MessageRef,
    description:
      "The sender, or an owner or admin of the group, deletes; the change arrives on messageUpdated.",
    authScopes: { signedIn: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => asMessage(await messages.deleteMessage(ctx, args.id)),
  }),
}));

const MessageRejectionRef = builder.objectRef<live.RejectionView>("MessageRejection").implement({
  description:
    "A message answered PENDING that was then refused (the sender left the channel, a block, a reused clientMessageId).",
  fields: (t) => ({
    messageId: t.id({ resolve: (rejection) => globalId("Message", rejection.messageId) }),
    clientMessageId: t.exposeString("clientMessageId"),
    channelId: t.id({ resolve: (rejection) => globalId("Channel", rejection.channelId) }),
    reason: t.exposeString("reason"),
    at: t.expose("at", { type: "DateTime" }),
  }),
});

builder.subscriptionFields((t) => ({
  messageRejected: t.field({
    type: MessageRejectionRef,
    description:
      "The viewer's own sends that were accepted (PENDING) but not stored: stop showing them as sending.",
    authScopes: { signedIn: true },
    subscribe: (_root, _args, ctx) => live.messageRejected(ctx),
    resolve: (rejection) => rejection,
  }),
  messageAdded: t.field({
    type: MessageRef,
    description:
      "New messages of one channel, or of all the viewer's channels (including ones joined later, from their join) when channelId is omitted. Resume one channel with afterSeq (at most its last seq), or the all-channels stream with after (the last `cursor` it gave): missed messages come first, then live ones, with no gap or repeat. The one-channel stream ends with FORBIDDEN when the viewer leaves the channel.",
    authScopes: { signedIn: true },
    args: {
      channelId: t.arg.id(),
      afterSeq: t.arg.int(),
      after: t.arg.string({
        description: "Resume the all-channels stream after this `cursor` (from Message.cursor).",
      }),
      threadId: t.arg.id({
        description:
          "Only this thread's replies (a thread view), instead of channelId; resumable with afterSeq.",
      }),
    },
    subscribe: (_root, args, ctx) => live.messageAdded(ctx, args),
    resolve: (message) => asMessage(message),
  }),
  messageUpdated: t.field({
    type: MessageRef,
    description:
      "Edits and deletions (deletedAt set, body null) in one channel, or in all the viewer's channels.",
    authScopes: { signedIn: true },
    args: { channelId: t.arg.id() },
    subscribe: (_root, args, ctx) => live.messageUpdated(ctx, args),
    resolve: (message) => asMessage(message),
  }),
}));

builder.queryField("mentions", (t) =>
  t.prismaConnection(
    {
      ...pageSize,
      type: "Message",
      cursor: "id",
      description:
        "Messages that mention the viewer (by @username, or @channel / @here by someone else) in their channels, newest first.",
      authScopes: { signedIn: true },
      resolve: (query, _root, _args, ctx) =>
        ctx.prisma.message.findMany({
          ...query,
          where: viewerMentionsFilter(ctx),
          orderBy: [{ createdAt: "desc" }, { id: "asc" }],
        }),
    },
    MessageConnection,
  ),
);
