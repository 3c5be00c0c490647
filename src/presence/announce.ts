// What happens when someone comes online or goes offline: everyone watching hears it (on
// presence.<user>, with the user's public profile), going offline ends the user's typing and
// persists last seen. Announcing comes first: a database that is down must not keep
// watchers believing someone is still online.
import type { Cache } from "../cache/cache.js";
import { BatchedLookup } from "../db/batched-lookup.js";
import type { Sql } from "../db/sql.js";
import type { Bus } from "../pubsub/bus.js";
import { type BusEvent, routingKeys } from "../pubsub/events.js";
import { type PublicUserColumns, publicUserColumns, publicUserOf } from "../pubsub/public-user.js";
import { typingChannels } from "../typing/typing-state.js";
import type { PresenceTransition } from "./tracker.js";

export interface AnnounceDeps {
  bus: Bus;
  cache: Cache;
  sql: Sql;
  /**
   * The user's profile if one was read moments ago (the sign-in check of the socket that
   * brings them online: auth/known-users.ts), else undefined and it is read here.
   */
  recentProfile?: (userId: string) => PublicUserColumns | undefined;
  log?: (message: string, error?: unknown) => void;
}

export function announcePresence({ bus, cache, sql, recentProfile, log }: AnnounceDeps) {
  // Plain SQL, and one statement for the users of many sockets: a reconnect storm runs
  // this once per socket.
  const profiles = new BatchedLookup<string, PublicUserColumns>(
    (ids) =>
      sql.query<PublicUserColumns>(
        `SELECT ${publicUserColumns("u")} FROM users u WHERE u.id = ANY($1::uuid[])`,
        [ids],
      ),
    (row) => row.user_id,
  );
  // So is storing last seen: when a replica's sockets close together (a deploy, the load
  // balancer, a network blip), thousands of users go offline at once, and a statement each
  // (through Prisma, as it was) kept the replica and PostgreSQL busy for seconds (issue 10).
  // A user twice in one batch keeps the later instant.
  const lastSeen = new BatchedLookup<{ userId: string; at: string }, { user_id: string }>(
    (seen) =>
      sql.query<{ user_id: string }>(
        `UPDATE users u SET last_seen_at = v.at AT TIME ZONE 'UTC', updated_at = now() AT TIME ZONE 'UTC'
           FROM (SELECT id, max(at) AS at FROM unnest($1::uuid[], $2::timestamptz[]) AS t(id, at)
                  GROUP BY id) v
          WHERE u.id = v.id
         RETURNING u.id::text AS user_id`,
        [seen.map((s) => s.userId), seen.map((s) => s.at)],
      ),
    (row) => row.user_id,
    (seen) => seen.userId,
  );
  return async (transition: PresenceTransition) => {
    const at = transition.at.toISOString();
    const offline = transition.status === "OFFLINE";
    const recent = offline ? undefined : recentProfile?.(transition.userId);
    const user = await (recent ? Promise.resolve(recent) : profiles.get(transition.userId))
      .then((row) => {
        if (!row) return undefined;
        const profile = publicUserOf(row);
        return offline ? { ...profile, lastSeenAt: at } : profile;
      })
      .catch(() => undefined);
    const events: Array<{ routingKey: string; event: BusEvent }> = [];
    if (offline) {
      const typing = await typingChannels(cache, transition.userId);
      if (typing.channelIds.length > 0 && typing.user) {
        for (const channelId of typing.channelIds) {
          events.push({
            routingKey: routingKeys.channel(channelId),
            event: { type: "typing", channelId, user: typing.user, isTyping: false, at },
          });
        }
        await typing.clear();
      }
    }
    events.push({
      routingKey: routingKeys.presence(transition.userId),
      event: {
        type: "presence.changed",
        userId: transition.userId,
        ...(user ? { user } : {}),
        status: transition.status,
        lastSeenAt: offline ? at : null,
        at,
      },
    });
    await bus.publishEvents(events);
    if (offline) {
      await lastSeen
        .get({ userId: transition.userId, at: transition.at.toISOString() })
        .catch((error) => log?.(`presence: last seen of ${transition.userId} not stored`, error));
      await cache.delete(`profile:${transition.userId}`).catch(() => {});
    }
  };
}
