// A token is only as good as its account: a validly signed access token for a user that
// does not exist (a database restored without them, a secret reused across deployments)
// is not valid. Answers are kept for a short while per process, so this costs a query
// per user per minute, not per request.
import type { PrismaClient } from "../db/database.js";

export class KnownUsers {
  readonly #known = new Map<string, number>();

  constructor(
    private readonly prisma: PrismaClient,
    /** How long an existing user is trusted without asking again (default 60 s). */
    private readonly ttlMs = 60_000,
    /** Bound on memory; the oldest entries go first (default 100,000). */
    private readonly maxEntries = 100_000,
  ) {}

  async exists(userId: string): Promise<boolean> {
    const until = this.#known.get(userId);
    if (until !== undefined && until > Date.now()) return true;
    let found: boolean;
    try {
      found = (await this.prisma.user.count({ where: { id: userId } })) > 0;
    } catch {
      // The database cannot say: the signature stands (signing in must not need it).
      return true;
    }
    if (!found) {
      this.#known.delete(userId);
      return false;
    }
    if (this.#known.size >= this.maxEntries) {
      const oldest = this.#known.keys().next();
      if (!oldest.done) this.#known.delete(oldest.value);
    }
    this.#known.set(userId, Date.now() + this.ttlMs);
    return true;
  }
}
