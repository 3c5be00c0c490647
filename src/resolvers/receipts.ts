// Delivery and read receipts: validated here, persisted by the worker (through the bus,
// like messages) as members' positions (worker/persist-receipts.ts). A member's state for
// a message, and a message's status for its sender, are seq arithmetic on those
// positions. Receipts reach, live, the reader's other devices and the senders of what they
// cover (never across a block in a direct channel); only members may read them.
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
import { nodeId, parseId, parseInput } from "./validation.js";
import { requireViewerId } from "./viewer.js";

/** Most message ids per markDelivered call. */
export const MAX_DELIVERED_IDS = 1000;

/** Receipt calls per user (each is a worker command): plenty for clients, a wall for loops. */
export const RECEIPT_LIMIT: Limit = { name: "receipts", max: 120, windowSeconds: 10 };

export type ReceiptStatus = "SENT" | "DELIVERED" | "READ";

/** One member's state for one message, from their stored positions or a receipt event. */
export interface ReceiptView {
  messageId: string;
  userId: string;
  status: ReceiptStatus;
  /** When the member's delivered (read) position last moved, if it covers this message. */
  deliveredAt: Date | null;
  readAt: Date | null;
  /** When the receipt reached this status. */
  at: Date | null;
  user?: PublicUserRow;
  /** Live receipts: every member's least advanced positions after this one. */
  readByAllUpToSeq?: number;
  deliveredToAllUpToSeq?: number;
}

/** A channel's least advanced positions: every member has read (has) the messages up to them. */
export interface ChannelReceiptState {
  readByAllUpToSeq: number;
  deliveredToAllUpToSeq: number;
  /** Whether anyone but one member is in the channel (a lone sender's message stays SENT). */
  shared: boolean;
}

/** One member's positions in a channel. */
export interface MemberPositions {
  userId: string;
  joinedSeq: number;
  lastReadSeq: number;
  lastDeliveredSeq: number;
  lastReadAt: Date | null;
  lastDeliveredAt: Date | null;
}

/**
 * The viewer has these messages. Every id must be a message the viewer received (or sent:
 * clients may mark whatever arrived, their own echoes included); otherwise NOT_FOUND and
 * nothing is enqueued.
 */
export async function markDelivered(ctx: Context, rawIds: unknown): Promise<string[]> {
  const viewerId = requireViewerId(ctx);
  await consume(ctx, RECEIPT_LIMIT, viewerId);
  const ids = [
    ...new Set(
      parseInput(
        z
          .array(nodeId("Message"))
          .min(1, "must list at least one message")
          .max(MAX_DELIVERED_IDS, `must list at most ${MAX_DELIVERED_IDS} messages`),
        rawIds,
        "messageIds",
      ),
    ),
  ];
  // Messages of channels the viewer is in that they sent or that came after their join.
  const rows = await ctx.prisma.$queryRawUnsafe<
    Array<{ id: string; channelId: string; senderId: string }>
  >(
    `SELECT m.id::text, m.channel_id::text AS "channelId", m.sender_id::text AS "senderId"
       FROM messages m
       JOIN channel_members cm ON cm.channel_id = m.channel_id AND cm.user_id = $2::uuid
      WHERE m.id = ANY($1::uuid[]) AND (m.sender_id = $2::uuid OR m.seq > cm.joined_seq)`,
    ids,
    viewerId,
  );
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
  return ids;
}

/** The viewer has read the channel up to `upToSeq` (which must exist). */
export async function markRead(
  ctx: Context,
  rawChannelId: unknown,
  upToSeq: number,
): Promise<{ channelId: string; upToSeq: number }> {
  const viewerId = requireViewerId(ctx);
  await consume(ctx, RECEIPT_LIMIT, viewerId);
  const access = await requireChannelAccess(
    ctx,
    parseId("channelId", rawChannelId, "Channel"),
    "channelId",
    "member",
  );
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
  return { channelId: access.id, upToSeq };
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
    readByAllUpToSeq: payload.readByAllUpToSeq,
    deliveredToAllUpToSeq: payload.deliveredToAllUpToSeq,
  };
}

/** A message's status for its sender: how far the least advanced member is. */
export function messageStatus(state: ChannelReceiptState, seq: number): ReceiptStatus {
  if (!state.shared) return "SENT";
  if (seq <= state.readByAllUpToSeq) return "READ";
  return seq <= state.deliveredToAllUpToSeq ? "DELIVERED" : "SENT";
}

/**
 * Each channel's least advanced positions: two index probes per channel, whatever its
 * member count (members who joined later are past its older messages, senders past their
 * own, so the minimum over all members is the minimum over a message's recipients).
 */
export async function channelReceiptStates(
  prisma: PrismaClient,
  channelIds: readonly string[],
): Promise<ChannelReceiptState[]> {
  const rows = await prisma.$queryRawUnsafe<
    Array<{ channel_id: string; read_by_all: number; delivered_to_all: number; shared: boolean }>
  >(
    `SELECT c.id::text AS channel_id,
            (SELECT min(last_read_seq) FROM channel_members WHERE channel_id = c.id) AS read_by_all,
            (SELECT min(last_delivered_seq) FROM channel_members WHERE channel_id = c.id) AS delivered_to_all,
            (SELECT count(*) FROM (SELECT 1 FROM channel_members WHERE channel_id = c.id LIMIT 2) two) > 1 AS shared
       FROM unnest($1::uuid[]) AS c(id)`,
    [...channelIds],
  );
  const found = new Map(rows.map((row) => [row.channel_id, row]));
  return channelIds.map((channelId) => {
    const row = found.get(channelId);
    return {
      readByAllUpToSeq: Number(row?.read_by_all ?? 0),
      deliveredToAllUpToSeq: Number(row?.delivered_to_all ?? 0),
      shared: row?.shared ?? false,
    };
  });
}

/** Every member's positions, per channel. */
export async function channelMemberPositions(
  prisma: PrismaClient,
  channelIds: readonly string[],
): Promise<MemberPositions[][]> {
  const rows = await prisma.channelMember.findMany({
    where: { channelId: { in: [...channelIds] } },
    select: {
      channelId: true,
      userId: true,
      joinedSeq: true,
      lastReadSeq: true,
      lastDeliveredSeq: true,
      lastReadAt: true,
      lastDeliveredAt: true,
    },
    orderBy: { joinedAt: "asc" },
  });
  const byChannel = new Map<string, MemberPositions[]>();
  for (const { channelId, ...row } of rows) {
    const list = byChannel.get(channelId) ?? [];
    list.push(row);
    byChannel.set(channelId, list);
  }
  return channelIds.map((channelId) => byChannel.get(channelId) ?? []);
}

/** Each recipient's state for a message: the members, but its sender, who were there when it came. */
export function receiptsOf(
  message: { id: string; senderId: string; seq: number },
  members: MemberPositions[],
): ReceiptView[] {
  return members
    .filter((member) => member.userId !== message.senderId && member.joinedSeq < message.seq)
    .map((member) => {
      const status: ReceiptStatus =
        member.lastReadSeq >= message.seq
          ? "READ"
          : member.lastDeliveredSeq >= message.seq
            ? "DELIVERED"
            : "SENT";
      const deliveredAt = status === "SENT" ? null : member.lastDeliveredAt;
      const readAt = status === "READ" ? member.lastReadAt : null;
      return {
        messageId: message.id,
        userId: member.userId,
        status,
        deliveredAt,
        readAt,
        at: readAt ?? deliveredAt,
      };
    });
}

/**
 * Receipts that concern the viewer (their messages' recipients', and their own from other
 * devices) in one channel or in all of theirs, for members only.
 */
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
          (
            await requireChannelAccess(
              ctx,
              parseId("channelId", args.channelId, "Channel"),
              "channelId",
              "member",
            )
          ).id,
          handlers,
          // Receipts travel on user keys (the reader's and the senders'), not the channel's.
          { viewerKey: true },
        );
  stop = following.stop;
  if (queue.closed) await following.stop();
  return queue;
}

/** Rule: a message's receipts are for the members of its channel (FORBIDDEN for viewers who are not). */
export async function requireReceiptAccess(ctx: Context, channelId: string) {
  await requireChannelAccess(ctx, channelId, "receipts", "member");
}
