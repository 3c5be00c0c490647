// Presence as users see it: who is online (from the cache), last seen, and transitions of
// the people the viewer may see: themself, their contacts, and anyone they share a
// channel with, unless that person blocked them.
import { z } from "zod";
import type { Context } from "../context.js";
import { serviceUnavailable } from "../errors.js";
import { type BusEvent, type PresenceEvent, routingKeys } from "../pubsub/events.js";
import { fromPublicUserPayload, type PublicUserRow } from "../pubsub/public-user.js";
import { visibilitySql } from "../rules/visibility.js";
import { viaBus } from "./bus-errors.js";
import { EventQueue } from "./streams/event-queue.js";
import { AuthorizedGate } from "./streams/follow.js";
import { nodeId, parseInput } from "./validation.js";
import { requireViewerId } from "./viewer.js";

export interface PresenceView {
  userId: string;
  /** The public profile, when it came with the event. */
  user?: PublicUserRow;
  status: "ONLINE" | "OFFLINE";
  lastSeenAt: Date | null;
}

const MAX_USERS = 500;
const userIds = z.array(nodeId("User")).max(MAX_USERS, `must list at most ${MAX_USERS} users`);

/** Of `ids`, the users the viewer may see (one statement). */
async function visibleAmong(ctx: Context, viewerId: string, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await ctx.prisma.$queryRawUnsafe<Array<{ id: string }>>(
    `SELECT u.id::text FROM users u
      WHERE u.id = ANY($2::uuid[]) AND ${visibilitySql.presenceVisible("$1::uuid", "u.id")}`,
    viewerId,
    ids,
  );
  return rows.map((row) => row.id);
}

/** The default watch list: contacts and direct-conversation partners. */
async function defaultWatchList(ctx: Context, viewerId: string): Promise<string[]> {
  const rows = await ctx.prisma.$queryRawUnsafe<Array<{ id: string }>>(
    `SELECT c.contact_id::text AS id FROM contacts c WHERE c.owner_id = $1::uuid AND NOT c.blocked
     UNION
     SELECT o.user_id::text FROM channel_members a
       JOIN channels ch ON ch.id = a.channel_id AND ch.kind = 'DIRECT'
       JOIN channel_members o ON o.channel_id = a.channel_id AND o.user_id <> a.user_id
      WHERE a.user_id = $1::uuid`,
    viewerId,
  );
  return visibleAmong(
    ctx,
    viewerId,
    rows.map((row) => row.id),
  );
}

/** Current presence of the visible ones among `rawIds` (others are left out). */
export async function presence(ctx: Context, rawIds: unknown): Promise<PresenceView[]> {
  const viewerId = requireViewerId(ctx);
  const ids = [...new Set(parseInput(userIds, rawIds, "userIds"))];
  const visible = await visibleAmong(ctx, viewerId, ids);
  let online: Map<string, boolean>;
  try {
    online = await ctx.services.presence.isOnline(visible);
  } catch {
    throw serviceUnavailable("Presence is unavailable (the cache does not answer); retry shortly.");
  }
  const lastSeen = await ctx.prisma.user.findMany({
    where: { id: { in: visible } },
    select: { id: true, lastSeenAt: true },
  });
  const seen = new Map(lastSeen.map((u) => [u.id, u.lastSeenAt]));
  return visible.map((userId) => ({
    userId,
    status: online.get(userId) ? "ONLINE" : "OFFLINE",
    lastSeenAt: seen.get(userId) ?? null,
  }));
}

/**
 * Transitions of the given users (default: contacts and direct partners) the viewer may
 * see, re-checked per event: someone who blocks the viewer (or stops sharing anything
 * with them) is no longer shown, within the access watch's bound.
 */
export async function presenceChanged(ctx: Context, rawIds: unknown) {
  const viewerId = requireViewerId(ctx);
  const watched =
    rawIds === null || rawIds === undefined
      ? await defaultWatchList(ctx, viewerId)
      : await visibleAmong(ctx, viewerId, [...new Set(parseInput(userIds, rawIds, "userIds"))]);
  const stops: Array<() => Promise<void> | void> = [];
  const stopAll = () => Promise.all(stops.map((stop) => stop()));
  const queue = new EventQueue<PresenceView>(async () => {
    await stopAll();
  });
  const watch = ctx.services.accessWatch;
  // Several replicas may announce the same transition: pass on changes only.
  const last = new Map<string, string>();
  const gate = new AuthorizedGate<PresenceEvent>(
    watch,
    (event) => (watch.canSeePresence(viewerId, event.userId) ? event : null),
    (event) => {
      if (last.get(event.userId) === event.status) return;
      last.set(event.userId, event.status);
      queue.push({
        userId: event.userId,
        ...(event.user ? { user: fromPublicUserPayload(event.user) } : {}),
        status: event.status,
        lastSeenAt: event.lastSeenAt ? new Date(event.lastSeenAt) : null,
      });
    },
    (error) => queue.fail(error),
  );
  const onEvent = (event: BusEvent) => {
    if (event.type === "presence.changed") gate.offer(event);
  };
  try {
    // Registered together: one read for all of them.
    const registered = await Promise.allSettled(
      watched.map((subjectId) =>
        watch.watch({
          kind: "presence",
          viewerId,
          subjectId,
          // Blocked by them (or no longer sharing anything): they disappear, as OFFLINE
          // with no last seen, rather than stay frozen at their last status.
          onHidden: () => {
            if (last.get(subjectId) === "OFFLINE") return;
            last.set(subjectId, "OFFLINE");
            queue.push({ userId: subjectId, status: "OFFLINE", lastSeenAt: null });
          },
        }),
      ),
    );
    for (const result of registered) if (result.status === "fulfilled") stops.push(result.value);
    for (const result of registered) if (result.status === "rejected") throw result.reason;
    for (const userId of watched) {
      stops.push(
        await viaBus(() =>
          ctx.services.bus.listen(routingKeys.presence(userId), onEvent, {
            onInterrupted: () =>
              queue.fail(serviceUnavailable("Presence events were interrupted; resubscribe.")),
          }),
        ),
      );
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  return queue;
}
