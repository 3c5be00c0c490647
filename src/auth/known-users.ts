// A token is only as good as its account: a validly signed access token for a user that
// does not exist (a database restored without them, a secret reused across deployments)
// is not valid. Answers are kept for a short while per process, so this costs a query
// per user per minute, not per request.
import { LocalMemo } from "../cache/local-memo.js";
import type { Sql } from "../db/sql.js";

export class KnownUsers {
  readonly #known: LocalMemo<true>;

  constructor(
    private readonly sql: Sql,
    /** How long an existing user is trusted without asking again (default 60 s). */
    private readonly ttlMs = 60_000,
    /** Bound on memory; the oldest entries go first (default 100,000). */
    maxEntries = 100_000,
  ) {
    this.#known = new LocalMemo(maxEntries);
  }

  async exists(userId: string): Promise<boolean> {
    if (this.#known.get(userId)) return true;
    let found: boolean;
    try {
      found =
        (await this.sql.query("SELECT 1 FROM users WHERE id = $1::uuid", [userId])).length > 0;
    } catch {
      // The database cannot say: the signature stands (signing in must not need it).
      return true;
    }
    if (!found) {
      this.#known.delete(userId);
      return false;
    }
    this.#known.set(userId, true, Date.now() + this.ttlMs);
    return true;
  }
}
