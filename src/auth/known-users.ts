// A token is only as good as its account: a validly signed access token for a user that
// does not exist (a database restored without them, a secret reused across deployments)
// is not valid. Answers are kept for a short while per process, so this costs a query
// per user per minute, not per request; users asked about together (a reconnect storm)
// share one statement.
import { LocalMemo } from "../cache/local-memo.js";
import { BatchedLookup, uuidKey } from "../db/batched-lookup.js";
import type { Sql } from "../db/sql.js";

export class KnownUsers {
  readonly #known: LocalMemo<true>;
  readonly #lookup: BatchedLookup<string, { id: string }>;

  constructor(
    sql: Sql,
    /** How long an existing user is trusted without asking again (default 60 s). */
    private readonly ttlMs = 60_000,
    /** Bound on memory; the oldest entries go first (default 100,000). */
    maxEntries = 100_000,
  ) {
    this.#known = new LocalMemo(maxEntries);
    this.#lookup = new BatchedLookup(
      (ids) => sql.query("SELECT id::text FROM users WHERE id = ANY($1::uuid[])", [ids]),
      (row) => row.id,
    );
  }

  async exists(userId: string): Promise<boolean> {
    if (this.#known.get(userId)) return true;
    const key = uuidKey(userId);
    if (key === undefined) return false;
    let found: boolean;
    try {
      found = (await this.#lookup.get(key)) !== undefined;
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
