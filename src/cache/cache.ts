// The cache port: shared, short-lived state (presence, rate limits, hot lookups). Two
// adapters honour it, Memcached (memcached-cache.ts) and an in-process TTL map
// (memory-cache.ts); test/cache-contract.test.ts runs the same suite against both.
// Nothing durable lives here: losing the cache loses nothing that cannot be rebuilt.
export interface Cache {
  readonly kind: "memcached" | "memory";
  get(key: string): Promise<string | null>;
  /** Stores with a time to live in seconds (at least 1). */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Stores only if the key is absent; true when this call stored it (an atomic claim). */
  add(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  /**
   * Appends `value` to the key's value, keeping its TTL; false when the key is absent
   * (nothing is stored then). O(1) whatever the value's size: a growing list without
   * rewriting it.
   */
  append(key: string, value: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /**
   * Adds `by` to a counter, creating it at `by` with the TTL when absent (the TTL is not
   * extended by later increments: a fixed window). Returns the new value.
   */
  increment(key: string, by: number, ttlSeconds: number): Promise<number>;
  /** Throws when the cache cannot answer (used by /ready). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
