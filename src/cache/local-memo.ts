// A bounded in-process memo: answers kept until their own deadline, the oldest dropped
// first when full. For what a process may answer from memory for a short while (known
// users, membership for the send path, verified tokens); shared state lives in the cache
// port instead.
export class LocalMemo<V> {
  readonly #entries = new Map<string, { value: V; until: number }>();

  constructor(
    /** Bound on memory; the oldest entries go first. */
    private readonly maxEntries: number,
  ) {}

  /** The value, unless absent or past its deadline (then it is dropped). */
  get(key: string, now = Date.now()): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.until > now) return entry.value;
    this.#entries.delete(key);
    return undefined;
  }

  /** Keeps `value` until `until` (ms since the epoch). */
  set(key: string, value: V, until: number) {
    this.#entries.delete(key); // re-inserted last: eviction order is by last write
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, until });
  }

  delete(key: string) {
    this.#entries.delete(key);
  }

  clear() {
    this.#entries.clear();
  }

  get size() {
    return this.#entries.size;
  }
}
