// "Is this user in this channel?" answered from memory for the send path, so a busy
// channel does not cost a PostgreSQL query per message. Entries expire after a short
// TTL and are dropped at once when this process changes membership; another replica's
// change is seen within the TTL. The worker re-checks membership when it persists, so a
// stale "yes" can never write a message into a channel its sender has left.
import { LocalMemo } from "../cache/local-memo.js";
import type { Sql } from "../db/sql.js";

export class MembershipCache {
  readonly #entries: LocalMemo<boolean>;

  constructor(
    /** How long an answer is trusted (default 10 s). */
    private readonly ttlMs = 10_000,
    /** Bound on memory; the oldest entries go first (default 100,000). */
    maxEntries = 100_000,
  ) {
    this.#entries = new LocalMemo(maxEntries);
  }

  async isMember(sql: Sql, channelId: string, userId: string): Promise<boolean> {
    const key = `${channelId}:${userId}`;
    const cached = this.#entries.get(key);
    if (cached !== undefined) return cached;
    const found = await sql.query(
      "SELECT 1 FROM channel_members WHERE channel_id = $1::uuid AND user_id = $2::uuid",
      [channelId, userId],
    );
    const member = found.length > 0;
    this.#entries.set(key, member, Date.now() + this.ttlMs);
    return member;
  }

  forget(channelId: string, userIds: string[]) {
    for (const userId of userIds) this.#entries.delete(`${channelId}:${userId}`);
  }
}
