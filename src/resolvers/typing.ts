// Typing indicators: straight to the event exchange (no worker, no database write),
// rate limited per user, ending by themselves TYPING_TTL_SECONDS after the last refresh.
import type { Context } from "../context.js";
import { forbidden } from "../errors.js";
import { type PublicUserPayload, routingKeys } from "../pubsub/events.js";
import { blockedInDirect } from "../rules/visibility.js";
import { recordTyping, TYPING_TTL_SECONDS } from "../typing/typing-state.js";
import { requireChannelAccess } from "./access.js";
import { viaBus } from "./bus-errors.js";
import { publicProfile } from "./profiles-cache.js";
import { consume, type Limit } from "./rate-limits.js";
import { EventQueue } from "./streams/event-queue.js";
import { type ChannelEvent, followChannel } from "./streams/follow.js";
import { parseId } from "./validation.js";
import { requireViewerId } from "./viewer.js";

/** A client refreshes about every 3 s while typing; 20 per 10 s leaves room for several channels. */
export const TYPING_LIMIT: Limit = { name: "typing", max: 20, windowSeconds: 10 };

export interface TypingView {
  channelId: string;
  user: PublicUserPayload;
  isTyping: boolean;
  at: Date;
}

export async function setTyping(
  ctx: Context,
  rawChannelId: unknown,
  isTyping: boolean,
): Promise<{ channelId: string; isTyping: boolean; expiresAt: Date | null }> {
  const viewerId = requireViewerId(ctx);
  const channelId = parseId("channelId", rawChannelId, "Channel");
  const member = await ctx.services.membershipCache
    .isMember(ctx.services.db.sql, channelId, viewerId)
    .catch(() => false);
  if (!member) await requireChannelAccess(ctx, channelId, "channelId", "member");
  await consume(ctx, TYPING_LIMIT, viewerId);
  // A block ends a direct conversation both ways, typing included.
  if (await blockedInDirect(ctx.prisma, channelId, viewerId))
    throw forbidden("This conversation is blocked.");
  const user = await publicProfile(ctx, viewerId);
  await recordTyping(ctx.services.cache, user, channelId, isTyping);
  await viaBus(() =>
    ctx.services.bus.publishEvents([
      {
        routingKey: routingKeys.channel(channelId),
        event: { type: "typing", channelId, user, isTyping, at: new Date().toISOString() },
      },
    ]),
  );
  const expiresAt = isTyping ? new Date(Date.now() + TYPING_TTL_SECONDS * 1000) : null;
  return { channelId, isTyping, expiresAt };
}

/**
 * Who is typing in a channel, for its other members (never across a block in a direct
 * channel; ends with FORBIDDEN when the viewer leaves). Each typer's state ends by itself
 * when no refresh came for TYPING_TTL_SECONDS (a client that vanished mid-word).
 */
export async function typingStream(ctx: Context, rawChannelId: unknown) {
  const viewerId = requireViewerId(ctx);
  const access = await requireChannelAccess(
    ctx,
    parseId("channelId", rawChannelId, "Channel"),
    "channelId",
    "member",
  );
  const timers = new Map<string, NodeJS.Timeout>();
  let stop: (() => Promise<void>) | undefined;
  const queue = new EventQueue<TypingView>(async () => {
    for (const timer of timers.values()) clearTimeout(timer);
    timers.clear();
    await stop?.();
  });
  const stopped = (user: PublicUserPayload) => {
    clearTimeout(timers.get(user.id));
    if (timers.delete(user.id))
      queue.push({ channelId: access.id, user, isTyping: false, at: new Date() });
  };
  const onEvent = (event: ChannelEvent) => {
    if (event.type !== "typing" || event.user.id === viewerId) return;
    if (!event.isTyping) return stopped(event.user);
    // Only transitions go out: a refresh just extends the state.
    if (!timers.has(event.user.id)) {
      queue.push({
        channelId: access.id,
        user: event.user,
        isTyping: true,
        at: new Date(event.at),
      });
    }
    clearTimeout(timers.get(event.user.id));
    timers.set(
      event.user.id,
      setTimeout(() => stopped(event.user), TYPING_TTL_SECONDS * 1000),
    );
  };
  const following = await followChannel(ctx, access.id, {
    onEvent,
    onFail: (error, how) => queue.fail(error, { discardQueued: how?.revoked }),
  });
  stop = following.stop;
  if (queue.closed) await following.stop();
  return queue;
}
