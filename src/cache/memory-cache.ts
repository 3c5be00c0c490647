// The in-process cache: the embedded default when no MEMCACHED_SERVERS is given.
import type { Cache } from "./cache.js";

interface Entry {
  value: string;
  expiresAt: number;
}

export class MemoryCache implements Cache {
  readonly kind = "memory" as const;
  readonly #entries = new Map<string, Entry>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    // Expired entries are dropped on read; the sweep bounds memory for keys never read again.
    this.#sweeper = setInterval(() => this.#sweep(), 30_000);
    this.#sweeper.unref();
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #sweep() {
    const now = this.now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
  }

  async get(key: string) {
    return this.#live(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlSeconds: number) {
    this.#entries.set(key, { value, expiresAt: this.now() + ttlSeconds * 1000 });
  }

  async add(key: string, value: string, ttlSeconds: number) {
    if (this.#live(key)) return false;
    await this.set(key, value, ttlSeconds);
    return true;
  }

  async append(key: string, value: string) {
    const entry = this.#live(key);
    if (!entry) return false;
    entry.value += value;
    return true;
  }

  async delete(key: string) {
    this.#entries.delete(key);
  }

  async increment(key: string, by: number, ttlSeconds: number) {
    const entry = this.#live(key);
    if (!entry) {
      await this.set(key, String(by), ttlSeconds);
      return by;
    }
    entry.value = String(Number(entry.value) + by);
    return Number(entry.value);
  }

  async ping() {}

  async close() {
    clearInterval(this.#sweeper);
    this.#entries.clear();
  }
}
