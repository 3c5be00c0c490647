// A token is only as good as its account: a validly signed access token for a user that
// does not exist (a database restored without them, a secret reused across deployments)
// is not valid. Answers are kept for a short while per process, so this costs a query
// per user per minute, not per request; users asked about together (a reconnect storm)
// share one statement.
//
// The check reads the user's public profile, not only the id: a socket that signs in is
// announced online with that profile a few milliseconds later (presence/announce.ts),
// which takes the row read here instead of reading it again (takeRecentProfile). The two
// reads were a third of the statements of connecting a socket (issue 10). Only the row of
// the user's latest check is held: a check answered from memory drops an older row, so a
// connect never announces a profile read before it began (another replica may have
// changed it since).
import { LocalMemo } from "../cache/local-memo.js";
import { BatchedLookup, uuidKey } from "../db/batched-lookup.js";
import type { Sql } from "../db/sql.js";
import { type PublicUserColumns, publicUserColumns } from "../pubsub/public-user.js";

/** How long a profile read by the check may stand for the announcement's own read. */
const PROFILE_REUSE_MS = 2_000;
/**
 * Profiles held for an announcement at once: those read in the last moments (a storm of
 * a few thousand connects a second); past it the oldest go and the announcement reads.
 */
const MAX_RECENT_PROFILES = 2_000;

export class KnownUsers {
  readonly #known: LocalMemo<true>;
  readonly #lookup: BatchedLookup<string, PublicUserColumns>;
  readonly #recentProfiles = new LocalMemo<PublicUserColumns>(MAX_RECENT_PROFILES);

  constructor(
    sql: Sql,
    /** How long an existing user is trusted without asking again (default 60 s). */
    private readonly ttlMs = 60_000,
    /** Bound on memory; the oldest entries go first (default 100,000). */
    maxEntries = 100_000,
  ) {
    this.#known = new LocalMemo(maxEntries);
    this.#lookup = new BatchedLookup(
      (ids) =>
        sql.query<PublicUserColumns>(
          `SELECT ${publicUserColumns("u")} FROM users u WHERE u.id = ANY($1::uuid[])`,
          [ids],
        ),
      (row) => row.user_id,
    );
  }

  async exists(userId: string): Promise<boolean> {
    if (this.#known.get(userId)) {
      this.#recentProfiles.delete(userId);
      return true;
    }
    const key = uuidKey(userId);
    if (key === undefined) return false;
    let row: PublicUserColumns | undefined;
    try {
      row = await this.#lookup.get(key);
    } catch {
      // The database cannot say: the signature stands (signing in must not need it).
      return true;
    }
    if (!row) {
      this.#known.delete(userId);
      return false;
    }
    const now = Date.now();
    this.#known.set(userId, true, now + this.ttlMs);
    this.#recentProfiles.set(userId, row, now + PROFILE_REUSE_MS);
    return true;
  }

  /**
   * The public profile that the user's latest check read, if that was within the last
   * PROFILE_REUSE_MS; handed out once (a later announcement reads its own).
   */
  takeRecentProfile(userId: string): PublicUserColumns | undefined {
    const row = this.#recentProfiles.get(userId);
    this.#recentProfiles.delete(userId);
    return row;
  }
}
