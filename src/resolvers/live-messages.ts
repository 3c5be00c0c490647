// Live message streams for subscriptions. Each stream follows channel routing keys on the
// bus (bound once per process however many sockets follow them) and checks membership
// per event from the membership events on those same keys: no query per event.
//
// messageAdded with afterSeq: the stream starts listening BEFORE it reads the missed
// messages from PostgreSQL, holds live events during the replay, then releases those
// past the replay's end, so there is neither a gap nor a duplicate at the seam.
import type { Context } from "../context.js";
import { badUserInput, forbidden, serviceUnavailable } from "../errors.js";
import { BusUnavailableError } from "../pubsub/bus.js";
import { EventQueue } from "../pubsub/event-queue.js";
import type { BusEvent, MessagePayload } from "../pubsub/events.js";
import { routingKeys } from "../pubsub/events.js";
import { publicUserFields } from "../pubsub/public-user.js";
import { requireChannelAccess } from "./access.js";
import { type MessageView, messageFromPayload } from "./messages.js";
import { receiptFromPayload } from "./receipts.js";
import { requireViewerId } from "./viewer.js";

const REPLAY_PAGE = 500;

const publicSender = { select: publicUserFields } as const;

interface FollowHandlers {
  onChannelEvent(event: BusEvent): void;
  /** The viewer left (or was removed from) the one channel a single-channel stream follows. */
  onRemoved(): void;
  /** Events may have been missed (the bus lost its broker): the stream must end. */
  onInterrupted(): void;
}

/**
 * Follows one channel (the viewer must be a member), or every channel of the viewer when
 * `rawChannelId` is null, including channels joined while following. Returns the
 * function that stops following.
 */
async function followChannels(ctx: Context, rawChannelId: unknown, handlers: FollowHandlers) {
  try {
    return await follow(ctx, rawChannelId, handlers);
  } catch (error) {
    if (error instanceof BusUnavailableError)
      throw serviceUnavailable("Live events are unavailable; retry shortly.");
    throw error;
  }
}

async function follow(ctx: Context, rawChannelId: unknown, handlers: FollowHandlers) {
  const viewerId = requireViewerId(ctx);
  const bus = ctx.services.bus;
  // After a removal nothing more goes out, even if events are already on their way.
  let removed = false;
  const removedFrom = (event: BusEvent) =>
    event.type === "channel.left" && event.userIds.includes(viewerId);
  if (rawChannelId !== null && rawChannelId !== undefined) {
    const access = await requireChannelAccess(ctx, rawChannelId, "channelId", "member");
    return bus.listen(
      routingKeys.channel(access.id),
      (event) => {
        if (removed) return;
        if (removedFrom(event)) {
          removed = true;
          handlers.onRemoved();
        } else handlers.onChannelEvent(event);
      },
      { onInterrupted: handlers.onInterrupted },
    );
  }
  const followed = new Map<string, Promise<() => Promise<void>>>();
  const stopListening = (unlisten: Promise<() => Promise<void>> | undefined) =>
    unlisten
      ?.then((stop) => stop())
      .catch((error) => console.error("unfollowing a channel failed", error));
  const followChannel = (channelId: string) => {
    const existing = followed.get(channelId);
    if (existing) return existing;
    const unlisten = bus.listen(
      routingKeys.channel(channelId),
      (event) => {
        // Checked per event: a channel left a moment ago is no longer followed.
        if (followed.has(channelId)) handlers.onChannelEvent(event);
      },
      { onInterrupted: handlers.onInterrupted },
    );
    followed.set(channelId, unlisten);
    return unlisten;
  };
  const stopAll = async () => {
    const all = [...followed.values()];
    followed.clear();
    await Promise.all(all.map(stopListening));
  };
  let stopUser: (() => Promise<void>) | undefined;
  try {
    stopUser = await bus.listen(
      routingKeys.user(viewerId),
      (event) => {
        if (event.type === "channel.joined" && event.userIds.includes(viewerId)) {
          // A failed bind means missed events: end the stream so the client resumes.
          followChannel(event.channelId).catch(() => handlers.onInterrupted());
        }
        if (removedFrom(event) && event.type === "channel.left") {
          const unlisten = followed.get(event.channelId);
          followed.delete(event.channelId);
          void stopListening(unlisten);
        }
      },
      { onInterrupted: handlers.onInterrupted },
    );
    const memberships = await ctx.prisma.channelMember.findMany({
      where: { userId: viewerId },
      select: { channelId: true },
    });
    await Promise.all(memberships.map((m) => followChannel(m.channelId)));
  } catch (error) {
    await stopUser?.().catch(() => {});
    await stopAll();
    throw error;
  }
  return async () => {
    await stopUser?.();
    await stopAll();
  };
}

/** Recipient sets, computed once per message however many local subscribers check them. */
const recipientSets = new WeakMap<MessagePayload, Set<string>>();
function recipientsOf(message: MessagePayload) {
  let set = recipientSets.get(message);
  if (!set) {
    set = new Set(message.recipientIds);
    recipientSets.set(message, set);
  }
  return set;
}

/** The resolved view of a payload, built once and shared by every local subscriber. */
const views = new WeakMap<MessagePayload, MessageView>();
function sharedView(message: MessagePayload) {
  let view = views.get(message);
  if (!view) {
    view = messageFromPayload(message, true);
    views.set(message, view);
  }
  return view;
}

function tooSlow() {
  return serviceUnavailable("Subscriber fell too far behind; resubscribe with afterSeq to resume.");
}

function interrupted() {
  return serviceUnavailable("Live events were interrupted; resubscribe with afterSeq to resume.");
}

export async function messageAdded(
  ctx: Context,
  args: { channelId?: unknown; afterSeq?: number | null },
) {
  const hasAfterSeq = args.afterSeq !== null && args.afterSeq !== undefined;
  if (hasAfterSeq && (args.channelId === null || args.channelId === undefined)) {
    throw badUserInput("afterSeq", "afterSeq: resume one channel at a time (give channelId)");
  }
  if (hasAfterSeq && (!Number.isInteger(args.afterSeq) || (args.afterSeq as number) < 0)) {
    throw badUserInput("afterSeq", "afterSeq: must be a non-negative integer");
  }
  let stop: (() => Promise<void>) | undefined;
  const queue = new EventQueue<MessageView>(() => stop?.(), 10_000, tooSlow);
  const lastSeq = new Map<string, number>();
  let held: MessagePayload[] | undefined = hasAfterSeq ? [] : undefined;
  const viewerId = requireViewerId(ctx);
  const deliver = (messages: MessagePayload[]) => {
    for (const message of messages) {
      // Belt and braces beside the membership events: the worker wrote who received it.
      if (message.senderId !== viewerId && !recipientsOf(message).has(viewerId)) continue;
      // Repeats (a redelivered command, a retried send) have a seq already delivered.
      if (message.seq <= (lastSeq.get(message.channelId) ?? 0)) continue;
      lastSeq.set(message.channelId, message.seq);
      queue.push(sharedView(message));
    }
  };
  stop = await followChannels(ctx, args.channelId, {
    onChannelEvent: (event) => {
      if (event.type !== "message.created") return;
      if (held) held.push(...event.messages);
      else deliver(event.messages);
    },
    onRemoved: () => queue.fail(forbidden("You are no longer a member of this channel.")),
    onInterrupted: () => queue.fail(interrupted()),
  });
  if (hasAfterSeq) {
    const channelId = args.channelId as string;
    let cursor = args.afterSeq as number;
    lastSeq.set(channelId, cursor);
    try {
      // Stops early when the stream ends (the client left, or fell 10,000 behind and will
      // resume from what it has): a long absence costs what the client reads, no more.
      while (!queue.closed) {
        const page = await ctx.prisma.message.findMany({
          where: { channelId, seq: { gt: cursor } },
          orderBy: { seq: "asc" },
          take: REPLAY_PAGE,
          include: { sender: publicSender },
        });
        for (const row of page) {
          queue.push(row);
          cursor = row.seq;
        }
        if (page.length < REPLAY_PAGE) break;
      }
    } catch (error) {
      await stop();
      throw error;
    }
    lastSeq.set(channelId, cursor);
    const live = held ?? [];
    held = undefined;
    deliver(live.sort((a, b) => a.seq - b.seq));
  }
  return queue;
}

export async function receiptUpdated(ctx: Context, args: { channelId?: unknown }) {
  let stop: (() => Promise<void>) | undefined;
  const queue = new EventQueue<ReturnType<typeof receiptFromPayload>>(
    () => stop?.(),
    10_000,
    tooSlow,
  );
  stop = await followChannels(ctx, args.channelId, {
    onChannelEvent: (event) => {
      if (event.type === "receipts.updated")
        for (const receipt of event.receipts) queue.push(receiptFromPayload(receipt));
    },
    onRemoved: () => queue.fail(forbidden("You are no longer a member of this channel.")),
    onInterrupted: () => queue.fail(interrupted()),
  });
  return queue;
}

export async function messageUpdated(ctx: Context, args: { channelId?: unknown }) {
  let stop: (() => Promise<void>) | undefined;
  const queue = new EventQueue<MessageView>(() => stop?.(), 10_000, tooSlow);
  stop = await followChannels(ctx, args.channelId, {
    onChannelEvent: (event) => {
      if (event.type === "message.updated" || event.type === "message.deleted") {
        queue.push(messageFromPayload(event.message));
      }
    },
    onRemoved: () => queue.fail(forbidden("You are no longer a member of this channel.")),
    onInterrupted: () => queue.fail(interrupted()),
  });
  return queue;
}

export interface RejectionView {
  messageId: string;
  clientMessageId: string;
  channelId: string;
  reason: string;
  at: Date;
}

/** The viewer's messages that were accepted (PENDING) but refused when persisted. */
export async function messageRejected(ctx: Context) {
  const viewerId = requireViewerId(ctx);
  let stop: (() => Promise<void>) | undefined;
  const queue = new EventQueue<RejectionView>(() => stop?.(), 10_000, tooSlow);
  try {
    stop = await ctx.services.bus.listen(
      routingKeys.user(viewerId),
      (event) => {
        if (event.type !== "message.rejected") return;
        const { type: _type, at, ...rest } = event;
        queue.push({ ...rest, at: new Date(at) });
      },
      { onInterrupted: () => queue.fail(interrupted()) },
    );
  } catch (error) {
    if (error instanceof BusUnavailableError)
      throw serviceUnavailable("Live events are unavailable; retry shortly.");
    throw error;
  }
  return queue;
}
