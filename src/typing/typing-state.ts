// Where a user is typing, in the shared cache (so the replica that sees their last socket
// close can announce "stopped typing" whichever replica took their setTyping calls).
import type { Cache } from "../cache/cache.js";
import type { PublicUserPayload } from "../pubsub/events.js";

/** A typing state ends by itself this long after its last refresh. */
export const TYPING_TTL_SECONDS = 6;

interface Stored {
  user: PublicUserPayload;
  channelIds: string[];
}

const key = (userId: string) => `typing:${userId}`;

async function read(cache: Cache, userId: string): Promise<Stored | null> {
  const raw = await cache.get(key(userId)).catch(() => null);
  return raw ? (JSON.parse(raw) as Stored) : null;
}

export async function recordTyping(
  cache: Cache,
  user: PublicUserPayload,
  channelId: string,
  isTyping: boolean,
) {
  const stored = (await read(cache, user.id)) ?? { user, channelIds: [] };
  const channelIds = new Set(stored.channelIds);
  if (isTyping) channelIds.add(channelId);
  else channelIds.delete(channelId);
  if (channelIds.size === 0) await cache.delete(key(user.id)).catch(() => {});
  else
    await cache
      .set(key(user.id), JSON.stringify({ user, channelIds: [...channelIds] }), TYPING_TTL_SECONDS)
      .catch(() => {});
}

export async function typingChannels(cache: Cache, userId: string) {
  const stored = await read(cache, userId);
  return {
    user: stored?.user,
    channelIds: stored?.channelIds ?? [],
    clear: () => cache.delete(key(userId)).catch(() => {}),
  };
}
