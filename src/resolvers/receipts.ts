// Delivery and read receipts: validated here, persisted by the worker (through the bus,
// like messages), announced to the channel: every current member receives them live
// (across a block in a direct channel, nobody), and only members may read them.
import { z } from "zod";
import type { Context } from "../context.js";
import type { PrismaClient } from "../db/database.js";
import { badUserInput, notFound } from "../errors.js";
import type { ReceiptPayload } from "../pubsub/events.js";
import { fromPublicUserPayload, type PublicUserRow } from "../pubsub/public-user.js";
import { requireChannelAccess } from "./access.js";
import { enqueue } from "./enqueue.js";
import { consume, type Limit } from "./rate-limits.js";
import { EventQueue } from "./streams/event-queue.js";
import { followAllChannels, followChannel, tooSlow } from "./streams/follow.js";
import { id, parseInput } from "./validation.js";
import { requireViewerId } from "./viewer.js";

/** Most message ids per markDelivered call. */
export const MAX_DELIVERED_IDS = 1000;

/** Receipt calls per user (each is a worker command): plenty for clients, a wall for loops. */
export const RECEIPT_LIMIT: Limit = { name: "receipts", max: 120, windowSeconds: 10 };

export type ReceiptStatus = "SENT" | "DELIVERED" | "READ";

/** One recipient's state for one message, from a stored row or a receipt event. */
export interface ReceiptView {
  messageId: string;
  userId: string;
  status: ReceiptStatus;
  deliveredAt: Date | null;
  readAt: Date | null;
  /** When the receipt reached this status (events; stored rows use their timestamps). */
  at: Date | null;
  user?: PublicUserRow;
}

/**
 * The viewer has these messages. Every id must be a message the viewer received (or sent:
 * clients may mark whatever arrived, their own echoes included); otherwise NOT_FOUND and
 * nothing is enqueued.
 */
export async function markDelivered(ctx: Context, rawIds: unknown): Promise<boolean> {
  const viewerId = requireViewerId(ctx);
  await consume(ctx, RECEIPT_LIMIT, viewerId);
  const ids = [
    ...new Set(
      parseInput(
        z
          .array(id)
          .min(1, "must list at least one message")
          .max(MAX_DELIVERED_IDS, `must list at most ${MAX_DELIVERED_IDS} messages`),
        rawIds,
        "messageIds",
      ),
    ),
  ];
  const rows = await ctx.prisma.message.findMany({
    where: {
      id: { in: ids },
      OR: [{ senderId: viewerId }, { recipients: { some: { userId: viewerId } } }],
    },
    select: { id: true, channelId: true, senderId: true },
  });
  if (rows.length !== ids.length) throw notFound("Message", "messageIds");
  const byChannel = new Map<string, string[]>();
  for (const row of rows) {
    if (row.senderId === viewerId) continue;
    byChannel.set(row.channelId, [...(byChannel.get(row.channelId) ?? []), row.id]);
  }
  const at = new Date().toISOString();
  await enqueue(
    ctx,
    ...[...byChannel].map(([channelId, messageIds]) => ({
      type: "receipt.delivered" as const,
      channelId,
      userId: viewerId,
      messageIds,
      at,
    })),
  );
  return true;
}

/** The viewer has read the channel up to `upToSeq` (which must exist). */
export async function markRead(
  ctx: Context,
  rawChannelId: unknown,
  upToSeq: number,
): Promise<boolean> {
  const viewerId = requireViewerId(ctx);
  await consume(ctx, RECEIPT_LIMIT, viewerId);
  const access = await requireChannelAccess(ctx, rawChannelId, "channelId", "member");
  if (!Number.isInteger(upToSeq) || upToSeq < 1)
    throw badUserInput("upToSeq", "upToSeq: must be a positive integer");
  // The channel's last seq came with the access check (one statement for both).
  if (upToSeq > access.lastSeq) {
    throw badUserInput("upToSeq", `upToSeq: the channel's last message is ${access.lastSeq}`);
  }
  await enqueue(ctx, {
    type: "receipt.read",
    channelId: access.id,
    userId: viewerId,
    upToSeq,
    at: new Date().toISOString(),
  });
  return true;
}

export function receiptFromPayload(
  payload: ReceiptPayload,
): ReceiptView & { channelId: string; seq: number } {
  const at = new Date(payload.at);
  return {
    messageId: payload.messageId,
    channelId: payload.channelId,
    seq: payload.seq,
    userId: payload.user.id,
    status: payload.status,
    deliveredAt: at,
    readAt: payload.status === "READ" ? at : null,
    at,
    user: fromPublicUserPayload(payload.user),
  };
}

/** The sender's view of each message: the least advanced recipient (SENT with none). */
export async function messageStatuses(
  prisma: PrismaClient,
  messageIds: readonly string[],
): Promise<ReceiptStatus[]> {
  const rows = await prisma.$queryRawUnsafe<Array<{ message_id: string; status: ReceiptStatus }>>(
    `SELECT message_id::text, MIN(status)::text AS status FROM message_recipients
      WHERE message_id = ANY($1::uuid[]) GROUP BY message_id`,
    [...messageIds],
  );
  const found = new Map(rows.map((row) => [row.message_id, row.status]));
  return messageIds.map((messageId) => found.get(messageId) ?? "SENT");
}

/** Receipts moving forward in one channel or in all of the viewer's, for members only. */
export async function receiptUpdated(ctx: Context, args: { channelId?: unknown }) {
  let stop: (() => Promise<void>) | undefined;
  const queue = new EventQueue<ReturnType<typeof receiptFromPayload>>(
    () => stop?.(),
    10_000,
    tooSlow,
  );
  const handlers = {
    onEvent: (event: { type: string; receipts?: ReceiptPayload[] }) => {
      if (event.type === "receipts.updated")
        for (const receipt of event.receipts ?? []) queue.push(receiptFromPayload(receipt));
    },
    onFail: (error: unknown, how?: { revoked: boolean }) =>
      queue.fail(error, { discardQueued: how?.revoked }),
  };
  const following =
    args.channelId === null || args.channelId === undefined
      ? await followAllChannels(ctx, handlers)
      : await followChannel(
          ctx,
          (await requireChannelAccess(ctx, args.channelId, "channelId", "member")).id,
          handlers,
        );
  stop = following.stop;
  if (queue.closed) await following.stop();
  return queue;
}

/** Rule: a message's receipts are for the members of its channel (FORBIDDEN for viewers who are not). */
export async function requireReceiptAccess(ctx: Context, channelId: string) {
  await requireChannelAccess(ctx, channelId, "receipts", "member");
}
