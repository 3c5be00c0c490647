// What happens when someone comes online or goes offline: everyone watching hears it (on
// presence.<user>), going offline persists last seen and ends the user's typing.
import type { Cache } from "../cache/cache.js";
import type { PrismaClient } from "../db/database.js";
import type { Bus } from "../pubsub/bus.js";
import { type BusEvent, routingKeys } from "../pubsub/events.js";
import type { PresenceTransition } from "./tracker.js";
import { typingChannels } from "./typing-state.js";

export interface AnnounceDeps {
  bus: Bus;
  cache: Cache;
  prisma: PrismaClient;
}

export function announcePresence({ bus, cache, prisma }: AnnounceDeps) {
  return async (transition: PresenceTransition) => {
    const at = transition.at.toISOString();
    const events: Array<{ routingKey: string; event: BusEvent }> = [];
    if (transition.status === "OFFLINE") {
      await prisma.user.updateMany({
        where: { id: transition.userId },
        data: { lastSeenAt: transition.at },
      });
      await cache.delete(`profile:${transition.userId}`).catch(() => {});
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
        status: transition.status,
        lastSeenAt: transition.status === "OFFLINE" ? at : null,
        at,
      },
    });
    await bus.publishEvents(events);
  };
}
