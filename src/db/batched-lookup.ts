// Keyed single-row lookups that many concurrent callers make (each connecting socket asks
// whether its user exists, reads its profile, checks its channel; each closing one stores
// its user's last seen, an UPDATE ... RETURNING keyed the same way) gathered into one
// statement per event-loop turn: a reconnect storm of thousands of sockets costs a few
// dozen round trips instead of thousands (issue 10: on these machines a round trip costs
// the api about 0.35 ms of CPU and PostgreSQL as much again). Nothing is cached: every
// caller gets what the database says now. With one caller it is one statement, as before,
// and waits no longer than the current turn of the event loop.
import DataLoader from "dataloader";
import type { Sql } from "./sql.js";

/** Most keys asked in one statement. */
const MAX_BATCH = 1_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The id as PostgreSQL prints a uuid (lower case), or undefined when it is not one: a
 * malformed key must find nothing, not fail the statement of every key batched with it.
 */
export function uuidKey(id: string): string | undefined {
  const key = id.toLowerCase();
  return UUID.test(key) ? key : undefined;
}

export class BatchedLookup<K, V> {
  readonly #loader: DataLoader<K, V | undefined, string>;

  constructor(
    /** Every key's row, in any order, found by `keyOf`; absent keys simply have no row. */
    load: (keys: readonly K[]) => Promise<V[]>,
    keyOf: (row: V) => string,
    cacheKey: (key: K) => string = String,
  ) {
    this.#loader = new DataLoader(
      async (keys) => {
        const rows = new Map((await load(keys)).map((row) => [keyOf(row), row]));
        return keys.map((key) => rows.get(cacheKey(key)));
      },
      {
        cache: false,
        cacheKeyFn: cacheKey,
        maxBatchSize: MAX_BATCH,
        // After this turn's I/O callbacks, not after this microtask queue: requests from
        // different sockets arrive in different callbacks of the same turn.
        batchScheduleFn: (callback) => setImmediate(callback),
      },
    );
  }

  /** The row of `key`, or undefined when there is none. */
  get(key: K): Promise<V | undefined> {
    return this.#loader.load(key);
  }
}

/**
 * One lookup per database, made on first use: resolvers reach the database through their
 * context, and tests run several apps (databases) in one process.
 */
export function lookupPerDatabase<K, V>(
  create: (sql: Sql) => BatchedLookup<K, V>,
): (sql: Sql) => BatchedLookup<K, V> {
  const lookups = new WeakMap<Sql, BatchedLookup<K, V>>();
  return (sql) => {
    let lookup = lookups.get(sql);
    if (!lookup) {
      lookup = create(sql);
      lookups.set(sql, lookup);
    }
    return lookup;
  };
}
