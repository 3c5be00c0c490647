// Per-user caps on what a user holds open, counted across every replica: sockets, and
// streams that no counted socket carries (server-sent events, and subscriptions
// authenticated per operation on an anonymous socket).
//
// A counted semaphore over the cache: a user has `cap` numbered slots, a socket or stream
// claims a free one with the cache's atomic `add` and holds it as a lease. Leases are
// renewed while held and expire on their own, so a replica that crashes frees its users'
// slots within a TTL instead of leaking them forever (a shared counter decremented on
// close would). While the shared cache is down, slots are claimed in this process's own
// cache: the cap then holds per replica, a looser bound but never none.
import type { Cache } from "../cache/cache.js";

export type SlotKind = "sockets" | "streams";

export interface SlotLease {
  /** Frees the slot; safe to call twice. */
  release(): Promise<void>;
}

export interface UserSlotsOptions {
  cache: Cache;
  /** Where slots are claimed while `cache` cannot answer. */
  localCache: Cache;
  /** Makes each lease's value unique across replicas. */
  serverId: string;
  /** A lease not renewed for this long is free again (default 60). */
  ttlSeconds?: number;
  log?: (message: string, error?: unknown) => void;
}

interface Held {
  cache: Cache;
  value: string;
}

export class UserSlots {
  readonly #held = new Map<string, Held>();
  readonly #ttlSeconds: number;
  #issued = 0;
  #renewer: NodeJS.Timeout | undefined;

  constructor(private readonly options: UserSlotsOptions) {
    this.#ttlSeconds = options.ttlSeconds ?? 60;
  }

  /** Renews every held lease three times per TTL. */
  start() {
    this.#renewer ??= setInterval(() => void this.#renew(), (this.#ttlSeconds * 1000) / 3);
    this.#renewer.unref();
  }

  stop() {
    clearInterval(this.#renewer);
    this.#renewer = undefined;
  }

  /** How many leases this process holds (for tests and metrics). */
  get held() {
    return this.#held.size;
  }

  /** A free slot of the user's `cap`, or null when all are taken. */
  async claim(kind: SlotKind, userId: string, cap: number): Promise<SlotLease | null> {
    const value = `${this.options.serverId}:${++this.#issued}`;
    let cache = this.options.cache;
    // Start at a random slot: claims racing for the same user mostly try different ones.
    const offset = Math.floor(Math.random() * cap);
    for (let tried = 0; tried < cap; tried++) {
      const key = `slots:${kind}:${userId}:${(offset + tried) % cap}`;
      let claimed: boolean;
      try {
        claimed = await cache.add(key, value, this.#ttlSeconds);
      } catch (error) {
        if (cache === this.options.localCache) throw error;
        this.options.log?.("user slots: the shared cache failed; counting in this process", error);
        cache = this.options.localCache;
        tried = -1; // start over in the local cache
        continue;
      }
      if (claimed) return this.#lease(key, { cache, value });
    }
    return null;
  }

  #lease(key: string, held: Held): SlotLease {
    this.#held.set(key, held);
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        if (this.#held.get(key) === held) this.#held.delete(key);
        // Had ours lapsed and another holder taken the slot, this frees theirs until their
        // next renewal writes it back: at worst one slot too many for a few seconds.
        await held.cache.delete(key).catch((error) => {
          // It lapses by itself within a TTL.
          this.options.log?.("user slots: could not free a slot", error);
        });
      },
    };
  }

  async #renew() {
    const renewals = [...this.#held].map(([key, { cache, value }]) =>
      cache.set(key, value, this.#ttlSeconds),
    );
    const failed = (await Promise.allSettled(renewals)).filter((r) => r.status === "rejected");
    if (failed.length > 0)
      this.options.log?.(`user slots: ${failed.length} lease(s) not renewed; retrying next round`);
  }
}
