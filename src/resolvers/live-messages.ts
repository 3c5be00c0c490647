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
import { requireChannelAccess } from "./access.js";
import { type MessageView, messageFromPayload } from "./messages.js";
import { receiptFromPayload } from "./receipts.js";
import { requireViewerId } from "./viewer.js";

const REPLAY_PAGE = 500;

const publicSender = {
  select: {
    id: true,
    username: true,
    displayName: true,
    avatarUrl: true,
    bio: true,
    createdAt: true,
    lastSeenAt: true,
  },
} as const;

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
  if (rawChannelId !== null && rawChannelId !== undefined) {
    const access = await requireChannelAccess(ctx, rawChannelId, "channelId", "member");
    return bus.listen(
      routingKeys.channel(access.id),
      (event) => {
        if (event.type === "channel.left" && event.userIds.includes(viewerId)) handlers.onRemoved();
        else handlers.onChannelEvent(event);
      },
      { onInterrupted: handlers.onInterrupted },
    );
  }
  const followed = new Map<string, Promise<() => Promise<void>>>();
  const follow = (channelId: string) => {
    if (followed.has(channelId)) return followed.get(channelId);
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
  const unfollow = (channelId: string) => {
    const unlisten = followed.get(channelId);
    followed.delete(channelId);
    void unlisten?.then((stop) => stop());
  };
  const stopUser = await bus.listen(routingKeys.user(viewerId), (event) => {
    if (event.type === "channel.joined" && event.userIds.includes(viewerId))
      void follow(event.channelId);
    if (event.type === "channel.left" && event.userIds.includes(viewerId))
      unfollow(event.channelId);
  });
  const memberships = await ctx.prisma.channelMember.findMany({
    where: { userId: viewerId },
    select: { channelId: true },
  });
  await Promise.all(memberships.map((m) => follow(m.channelId)));
  return async () => {
    await stopUser();
    const all = [...followed.values()];
    followed.clear();
    await Promise.all(all.map(async (unlisten) => (await unlisten)()));
  };
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
  const deliver = (messages: MessagePayload[]) => {
    for (const message of messages) {
      // Repeats (a redelivered command, a retried send) have a seq already delivered.
      if (message.seq <= (lastSeq.get(message.channelId) ?? 0)) continue;
      lastSeq.set(message.channelId, message.seq);
      queue.push(messageFromPayload(message, true));
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
    for (;;) {
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
