// Sending, editing and deleting messages. The api validates, authorizes and enqueues a
// command; it writes nothing to PostgreSQL. The worker persists and announces.
import { v5 as uuidv5 } from "uuid";
import { z } from "zod";
import type { Context } from "../context.js";
import { BatchedLookup, lookupPerDatabase } from "../db/batched-lookup.js";
import type { Message } from "../db/generated/prisma/client.js";
import { badUserInput, forbidden, notFound } from "../errors.js";
import { isOutage } from "../outages.js";
import type { MessagePayload } from "../pubsub/events.js";
import {
  fromPublicUserPayload,
  type PublicUserRow,
  publicUserFields,
} from "../pubsub/public-user.js";
import { requireChannelAccess, roleAtLeast, viewerChannelAccess } from "./access.js";
import {
  type AttachmentView,
  attachmentFromPayload,
  checkAttachments,
  MAX_ATTACHMENTS,
} from "./attachments.js";
import { enqueue } from "./enqueue.js";
import { refuseIfMuted } from "./membership-cache.js";
import { consume, type Limit } from "./rate-limits.js";
import { type ReactionView, reactionViews } from "./reactions.js";
import type { ReceiptStatus } from "./receipts.js";
import { type ThreadView, threadFromPayload } from "./threads.js";
import { nodeId, parseId, parseInput, visible } from "./validation.js";
import { requireViewerId } from "./viewer.js";

/** Longest accepted message body, in characters. */
export const MAX_BODY_LENGTH = 4000;

/** Fixed namespace for message ids: uuidv5(senderId + clientMessageId) is the same on every retry. */
const MESSAGE_ID_NAMESPACE = "4b7e1f0e-7d3c-4f5e-9a51-2f1d7c0b9e11";

/** The id a sender's message with this clientMessageId has (or will have). */
export function messageIdFor(senderId: string, clientMessageId: string) {
  return uuidv5(`${senderId}:${clientMessageId}`, MESSAGE_ID_NAMESPACE);
}

export const clientMessageId = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, "must be 1-64 letters, digits or _ . : -");

const bodyText = z.string().max(MAX_BODY_LENGTH, `must be at most ${MAX_BODY_LENGTH} characters`);
const body = bodyText.refine(
  visible,
  "must not be empty (spaces and invisible marks alone are not a message)",
);

const sendMessageInput = z
  .object({
    channelId: nodeId("Channel"),
    // Empty only with attachments: a file alone is a message.
    body: bodyText,
    clientMessageId,
    replyTo: nodeId("Message").nullish(),
    inThread: z.boolean().nullish(),
    attachmentIds: z
      .array(nodeId("Attachment"))
      .max(MAX_ATTACHMENTS, `must list at most ${MAX_ATTACHMENTS} attachments`)
      .transform((ids) => [...new Set(ids)])
      .nullish(),
  })
  .refine((input) => visible(input.body) || (input.attachmentIds ?? []).length > 0, {
    message: "must not be empty (spaces and invisible marks alone are not a message)",
    path: ["body"],
  })
  .refine((input) => !input.inThread || input.replyTo, {
    message: "needs replyTo: the message whose thread to reply in",
    path: ["inThread"],
  });

/** A message as the API shows it: a stored row, or one accepted but not yet stored. */
export type MessageView = Omit<Message, "seq" | "mentionsChannel"> & {
  seq: number | null;
  /** Known without a lookup: PENDING (just accepted) or SENT (just stored). */
  status?: "PENDING" | "SENT";
  /** The sender's public profile, when it came with the message (event payloads, replays). */
  sender?: PublicUserRow;
  /** On a live event's view, shared by every local subscriber (see EventLoads). */
  eventLoads?: EventLoads;
  /** Its reactions, when they came with it (events, a reaction's answer). */
  reactions?: ReactionView[];
  /** The message it replies to, when it came with it (a new reply's event). */
  replyTo?: MessageView | null;
  /** Its thread, when it came with it (a new thread reply's event). */
  thread?: ThreadView;
  /** Its attachments, when they came with it (a new message's event). */
  attachments?: AttachmentView[];
};

/**
 * What a live event's message needs looked up (its status after an edit), loaded once per
 * event for every local subscriber instead of once per subscriber: it does not depend on
 * who is looking. (Its channel: EventChannels.)
 */
export interface EventLoads {
  status?: Promise<ReceiptStatus>;
  /** Per emoji, who reacted (Reaction.viewerHasReacted). */
  reactors?: Promise<Map<string, Set<string>>>;
}

export async function sendMessage(ctx: Context, raw: unknown): Promise<MessageView> {
  const senderId = requireViewerId(ctx);
  const input = parseInput(sendMessageInput, raw, "input");
  const messageId = messageIdFor(senderId, input.clientMessageId);
  // The rate limit (the shared cache), membership (cached) and the stored-message lookup
  // (the database) are independent reads: a send waits for the slowest, not their sum.
  // A retry of a send that is stored already answers with the stored message (its seq
  // and status), so a client cache keyed by id never sees it go back to PENDING; the
  // same key for a different message is a client bug, said so rather than ignored.
  // Sending must not need PostgreSQL (the queue is there to ride out its outages): when
  // it does not answer, the send is queued and the worker's idempotency does the rest.
  const limit = consume(
    ctx,
    { name: "send", max: ctx.services.config.sendRateLimit, windowSeconds: 10 },
    senderId,
  );
  const membership = ctx.services.membershipCache.standing(
    ctx.services.db.sql,
    input.channelId,
    senderId,
  );
  const lookup = findStored(ctx, messageId);
  const parent = input.replyTo ? replyTarget(ctx, input.replyTo, input.channelId) : null;
  await Promise.allSettled([limit, membership, lookup, parent]);
  // Judged in this order: a refused attempt is RATE_LIMITED whatever else is wrong with it.
  await limit;
  // Not a member: the access rule says NOT_FOUND or FORBIDDEN (and it reads the database,
  // which is fine off the hot path).
  const standing = await membership;
  if (!standing) await requireChannelAccess(ctx, input.channelId, "input.channelId", "member");
  const stored = await lookup;
  if (stored) {
    // (An edited or deleted message no longer has the body it was sent with: only the
    // channel can be compared then.)
    const sameBody = stored.editedAt || stored.deletedAt || stored.body === input.body;
    if (stored.channelId !== input.channelId || !sameBody)
      throw badUserInput(
        "input.clientMessageId",
        "input.clientMessageId: already used for a different message",
      );
    return stored;
  }
  // (A retry of a send stored before a mute, or before its parent was deleted, is answered
  // above: it is not a new message.)
  refuseIfMuted(standing);
  const replyingTo = await parent;
  const attachmentIds = input.attachmentIds ?? [];
  const attachments = await checkAttachments(
    ctx,
    attachmentIds,
    input.channelId,
    senderId,
    messageId,
  );
  const createdAt = new Date();
  await enqueue(ctx, {
    type: "message.send",
    messageId,
    channelId: input.channelId,
    senderId,
    clientMessageId: input.clientMessageId,
    body: input.body,
    createdAt: createdAt.toISOString(),
    replyToId: replyingTo?.id ?? null,
    inThread: Boolean(input.inThread),
    ...(attachmentIds.length > 0 ? { attachmentIds } : {}),
  });
  return {
    id: messageId,
    channelId: input.channelId,
    senderId,
    clientMessageId: input.clientMessageId,
    seq: null,
    body: input.body,
    createdAt,
    editedAt: null,
    deletedAt: null,
    pinnedAt: null,
    pinnedById: null,
    replyToId: replyingTo?.id ?? null,
    threadRootId: replyingTo && input.inThread ? (replyingTo.threadRootId ?? replyingTo.id) : null,
    threadReplyCount: 0,
    threadLastReplyAt: null,
    attachments,
    status: "PENDING",
  };
}

/**
 * The message a send replies to: in the same channel (BAD_USER_INPUT otherwise) and not
 * deleted (NOT_FOUND, like one that never was). Read only for replies.
 */
async function replyTarget(ctx: Context, replyToId: string, channelId: string) {
  const parent = await ctx.prisma.message.findUnique({
    where: { id: replyToId },
    select: { id: true, channelId: true, threadRootId: true, deletedAt: true },
  });
  if (!parent || parent.deletedAt) throw notFound("Message", "input.replyTo");
  if (parent.channelId !== channelId)
    throw badUserInput("input.replyTo", "input.replyTo: must be a message of the same channel");
  return parent;
}

/**
 * Which message ids are stored, asked once for all the sends of one event-loop turn, per
 * database (a busy replica has dozens in flight). One primary-key probe per id (a LATERAL
 * kept apart with OFFSET 0): as `id = ANY($1)`, dozens of ids against a table without
 * statistics yet (a new deployment's, or one grown since its last ANALYZE) were answered by
 * reading the whole table, about every other send in the bench (issue 10).
 */
const storedIdReader = lookupPerDatabase(
  (sql) =>
    new BatchedLookup<string, { id: string }>(
      (ids) =>
        sql.query(
          `SELECT m.id::text FROM unnest($1::uuid[]) AS k(id)
             CROSS JOIN LATERAL (SELECT id FROM messages WHERE id = k.id OFFSET 0) m`,
          [ids],
        ),
      (row) => row.id,
    ),
);

/**
 * The stored message with this id and its sender, or null (also while the database is
 * out). Nearly every send is new: the existence check is one plain statement shared by
 * concurrent sends (through Prisma it was about a tenth of the api's CPU per send, issue
 * 10); only a retry of a stored send loads the message.
 */
async function findStored(ctx: Context, messageId: string) {
  try {
    if (!(await storedIdReader(ctx.services.db.sql).get(messageId))) return null;
    return await ctx.prisma.message.findUnique({
      where: { id: messageId },
      include: { sender: { select: publicUserFields } },
    });
  } catch (error) {
    if (isOutage(error)) return null;
    throw error;
  }
}

/** Loads a message the viewer may see (NOT_FOUND otherwise). */
export async function visibleMessage(ctx: Context, rawId: unknown, field = "id"): Promise<Message> {
  const messageId = parseId(field, rawId, "Message");
  const message = await ctx.prisma.message.findUnique({ where: { id: messageId } });
  if (!message) throw notFound("Message", field);
  try {
    await requireChannelAccess(ctx, message.channelId, field, "view");
  } catch {
    throw notFound("Message", field);
  }
  return message;
}

/** Edits, deletions and pins per user: each is a worker command, like a send. */
export const CHANGE_LIMIT: Limit = { name: "message-changes", max: 60, windowSeconds: 60 };

/** Every change to a stored message starts here: signed in, within the limit, visible. */
async function messageToChange(ctx: Context, rawId: unknown) {
  const viewerId = requireViewerId(ctx);
  await consume(ctx, CHANGE_LIMIT, viewerId);
  return { viewerId, message: await visibleMessage(ctx, rawId) };
}

export async function editMessage(
  ctx: Context,
  rawId: unknown,
  rawBody: unknown,
): Promise<MessageView> {
  const { viewerId, message } = await messageToChange(ctx, rawId);
  const newBody = parseInput(body, rawBody, "body");
  if (message.senderId !== viewerId) throw forbidden("Only the sender can edit a message.");
  if (message.deletedAt) throw notFound("Message", "id");
  const at = new Date();
  await enqueue(ctx, {
    type: "message.edit",
    messageId: message.id,
    channelId: message.channelId,
    editorId: viewerId,
    body: newBody,
    at: at.toISOString(),
  });
  return { ...message, body: newBody, editedAt: at };
}

export async function deleteMessage(ctx: Context, rawId: unknown): Promise<MessageView> {
  const { viewerId, message } = await messageToChange(ctx, rawId);
  if (message.deletedAt) return message;
  if (message.senderId !== viewerId) {
    const access = await viewerChannelAccess(ctx, message.channelId);
    if (!access?.groupRole || !roleAtLeast(access.groupRole, "ADMIN")) {
      throw forbidden("Only the sender or a group admin can delete a message.");
    }
  }
  const at = new Date();
  await enqueue(ctx, {
    type: "message.delete",
    messageId: message.id,
    channelId: message.channelId,
    actorId: viewerId,
    at: at.toISOString(),
  });
  return { ...message, deletedAt: at };
}

/** An event payload as the Message type resolves it (times back to Dates). */
export function messageFromPayload(payload: MessagePayload, justCreated = false): MessageView {
  const eventLoads: EventLoads = {};
  return {
    eventLoads,
    ...(payload.reactions
      ? { reactions: reactionViews(payload.id, payload.reactions, { eventLoads }) }
      : {}),
    // A message that was just stored has reached no one yet.
    ...(justCreated ? { status: "SENT" as const } : {}),
    id: payload.id,
    channelId: payload.channelId,
    senderId: payload.senderId,
    clientMessageId: payload.clientMessageId,
    seq: payload.seq,
    body: payload.body,
    createdAt: new Date(payload.createdAt),
    editedAt: payload.editedAt ? new Date(payload.editedAt) : null,
    deletedAt: payload.deletedAt ? new Date(payload.deletedAt) : null,
    pinnedAt: payload.pinnedAt ? new Date(payload.pinnedAt) : null,
    pinnedById: payload.pinnedById,
    replyToId: payload.replyToId ?? null,
    threadRootId: payload.threadRootId ?? null,
    threadReplyCount: payload.threadReplyCount ?? 0,
    threadLastReplyAt: payload.threadLastReplyAt ? new Date(payload.threadLastReplyAt) : null,
    ...(payload.replyTo !== undefined
      ? { replyTo: payload.replyTo ? messageFromPayload(payload.replyTo) : null }
      : {}),
    ...(payload.thread ? { thread: threadFromPayload(payload.thread, payload.channelId) } : {}),
    ...(payload.attachments ? { attachments: payload.attachments.map(attachmentFromPayload) } : {}),
    sender: fromPublicUserPayload(payload.sender),
  };
}

/**
 * Pins or unpins a message in its channel: owners and admins of a group, either party of
 * a direct conversation. A command, like an edit; the change arrives on messageUpdated.
 */
export async function setPinned(
  ctx: Context,
  rawId: unknown,
  pinned: boolean,
): Promise<MessageView> {
  const { viewerId, message } = await messageToChange(ctx, rawId);
  if (message.deletedAt) throw notFound("Message", "id");
  const access = await viewerChannelAccess(ctx, message.channelId);
  const allowed =
    access?.kind === "DIRECT"
      ? access.isMember
      : access?.groupRole != null && roleAtLeast(access.groupRole, "ADMIN");
  if (!allowed)
    throw forbidden("Owners and admins pin in a group; either party in a direct conversation.");
  const at = new Date();
  await enqueue(ctx, {
    type: pinned ? "message.pin" : "message.unpin",
    messageId: message.id,
    channelId: message.channelId,
    actorId: viewerId,
    at: at.toISOString(),
  });
  return pinned
    ? { ...message, pinnedAt: message.pinnedAt ?? at, pinnedById: message.pinnedById ?? viewerId }
    : { ...message, pinnedAt: null, pinnedById: null };
}
