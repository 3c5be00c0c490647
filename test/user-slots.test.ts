// The per-user slot semaphore as pure logic over the in-process cache with a fake clock
// (the security suite runs it on Memcached across two replicas).
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Cache } from "../src/cache/cache.js";
import { MemoryCache } from "../src/cache/memory-cache.js";
import { UserSlots } from "../src/server/user-slots.js";

afterEach(() => {
  vi.useRealTimers();
});

function slotsOn(cache: Cache, localCache: Cache = new MemoryCache(), serverId = "a") {
  return new UserSlots({ cache, localCache, serverId, ttlSeconds: 30 });
}

describe("user slots", () => {
  it("grants at most `cap` leases per user and kind; a released one is free again", async () => {
    const slots = slotsOn(new MemoryCache());
    const leases = await Promise.all([1, 2, 3].map(() => slots.claim("sockets", "u", 3)));
    expect(leases.every(Boolean)).toBe(true);
    expect(await slots.claim("sockets", "u", 3)).toBeNull();
    expect(await slots.claim("streams", "u", 3)).not.toBeNull(); // another kind
    expect(await slots.claim("sockets", "v", 3)).not.toBeNull(); // another user
    await leases[0]!.release();
    await leases[0]!.release(); // twice is harmless: it frees nothing of anyone else's
    expect(await slots.claim("sockets", "u", 3)).not.toBeNull();
    expect(await slots.claim("sockets", "u", 3)).toBeNull();
  });

  it("a replica that stops renewing (crashed) frees its users' slots within a TTL; a live one keeps them", async () => {
    vi.useFakeTimers();
    const cache = new MemoryCache(() => Date.now());
    const crashed = slotsOn(cache, undefined, "crashed");
    const live = slotsOn(cache, undefined, "live");
    live.start();
    expect(await crashed.claim("sockets", "u", 2)).not.toBeNull();
    expect(await live.claim("sockets", "u", 2)).not.toBeNull();
    expect(await live.claim("sockets", "u", 2)).toBeNull();
    await vi.advanceTimersByTimeAsync(31_000);
    // The crashed replica's lease lapsed; the live one's was renewed.
    expect(await live.claim("sockets", "u", 2)).not.toBeNull();
    expect(await live.claim("sockets", "u", 2)).toBeNull();
    live.stop();
  });

  it("while the shared cache fails, slots are counted in this process (never unlimited)", async () => {
    const down: Cache = Object.assign(new MemoryCache(), {
      add: () => Promise.reject(new Error("ECONNREFUSED")),
    });
    const slots = slotsOn(down);
    expect(await slots.claim("sockets", "u", 2)).not.toBeNull();
    expect(await slots.claim("sockets", "u", 2)).not.toBeNull();
    expect(await slots.claim("sockets", "u", 2)).toBeNull();
  });
});
