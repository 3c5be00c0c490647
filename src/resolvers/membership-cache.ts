// "Is this user in this channel, and may they send there?" answered from memory for the
// send path, so a busy channel does not cost a PostgreSQL query per message. Entries
// expire after a short TTL and are dropped at once when this process changes membership
// or mutes someone; another replica's change is seen within the TTL. The worker re-checks
// membership and mutes when it persists, so a stale answer can never write a message into
// a channel its sender has left or been muted in.
import { LocalMemo } from "../cache/local-memo.js";
import type { Sql } from "../db/sql.js";
import { forbidden } from "../errors.js";

/** A member's standing in a channel: muted in its group until a time, or not. */
export interface ChannelStanding {
  mutedUntil: Date | null;
}

/** A member muted in the channel's group may not post (send, react) until the end: FORBIDDEN with it. */
export function refuseIfMuted(standing: ChannelStanding | null, now = new Date()) {
  if (standing?.mutedUntil && standing.mutedUntil > now)
    throw forbidden("You are muted in this group.", {
      mutedUntil: standing.mutedUntil.toISOString(),
    });
}

export class MembershipCache {
  readonly #entries: LocalMemo<ChannelStanding | null>;

  constructor(
    /** How long an answer is trusted (default 10 s). */
    private readonly ttlMs = 10_000,
    /** Bound on memory; the oldest entries go first (default 100,000). */
    maxEntries = 100_000,
  ) {
    this.#entries = new LocalMemo(maxEntries);
  }

  /** The user's standing in the channel; null when they are not a member. */
  async standing(sql: Sql, channelId: string, userId: string): Promise<ChannelStanding | null> {
    const key = `${channelId}:${userId}`;
    const cached = this.#entries.get(key);
    if (cached !== undefined) return cached;
    const [row] = await sql.query<{ muted_until: Date | null }>(
      `SELECT gm.muted_until AT TIME ZONE 'UTC' AS muted_until FROM channel_members cm
         JOIN channels c ON c.id = cm.channel_id
         LEFT JOIN group_members gm ON gm.group_id = c.group_id AND gm.user_id = cm.user_id
        WHERE cm.channel_id = $1::uuid AND cm.user_id = $2::uuid`,
      [channelId, userId],
    );
    const standing = row ? { mutedUntil: row.muted_until } : null;
    this.#entries.set(key, standing, Date.now() + this.ttlMs);
    return standing;
  }

  async isMember(sql: Sql, channelId: string, userId: string): Promise<boolean> {
    return (await this.standing(sql, channelId, userId)) !== null;
  }

  forget(channelId: string, userIds: string[]) {
    for (const userId of userIds) this.#entries.delete(`${channelId}:${userId}`);
  }

  /** Forgets everything (a mute covers all of a group's channels; mutes are rare). */
  clear() {
    this.#entries.clear();
  }
}
