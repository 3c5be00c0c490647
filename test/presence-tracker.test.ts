// The presence tracker's cost per connect, on the in-process cache adapter with every call
// counted: a connect must cost the same however many users the replica already holds
// (issue 10: it rewrote the replica's whole user list and read all 64 replica slots).
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Cache } from "../src/cache/cache.js";
import { MemoryCache } from "../src/cache/memory-cache.js";
import { PresenceTracker, type PresenceTransition } from "../src/presence/tracker.js";

/** The memory cache, counting calls and the bytes written. */
function countingCache() {
  const inner = new MemoryCache();
  const counts = { calls: 0, bytesWritten: 0 };
  const cache = new Proxy(inner, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        counts.calls++;
        if (property === "set" || property === "append")
          counts.bytesWritten += String(args[1]).length;
        return value.apply(target, args);
      };
    },
  }) as Cache;
  return { cache, counts, close: () => inner.close() };
}

const trackers: PresenceTracker[] = [];
afterEach(async () => {
  await Promise.all(trackers.splice(0).map((t) => t.stop()));
});

async function trackerWith(cache: Cache, transitions: PresenceTransition[] = []) {
  const tracker = new PresenceTracker({
    cache,
    serverId: "replica",
    ttlSeconds: 30,
    onTransition: async (t) => void transitions.push(t),
  });
  trackers.push(tracker);
  await tracker.start();
  return tracker;
}

/** Cache calls and bytes written by one more connect after `existing` users connected. */
async function costOfOneConnect(existing: number) {
  const { cache, counts, close } = countingCache();
  const tracker = await trackerWith(cache);
  for (let i = 0; i < existing; i++) await tracker.connected(`user-${i}`);
  const before = { ...counts };
  await tracker.connected("one-more");
  const cost = {
    calls: counts.calls - before.calls,
    bytes: counts.bytesWritten - before.bytesWritten,
  };
  await close();
  return cost;
}

/** Cache calls of one heartbeat (after the first) with `users` connected: fake time. */
async function costOfOneHeartbeat(users: number) {
  vi.useFakeTimers();
  try {
    const { cache, counts, close } = countingCache();
    const tracker = await trackerWith(cache); // ttl 30 s: a heartbeat every 10 s
    for (let i = 0; i < users; i++) await tracker.connected(`user-${i}`);
    await vi.advanceTimersByTimeAsync(10_000); // the first timed heartbeat
    const before = counts.calls;
    await vi.advanceTimersByTimeAsync(10_000); // the one measured
    const calls = counts.calls - before;
    await tracker.stop();
    await close();
    return calls;
  } finally {
    vi.useRealTimers();
  }
}

describe("presence tracker", () => {
  it("an idle heartbeat costs the same cache calls with 10 or 2,000 users on the replica", async () => {
    const few = await costOfOneHeartbeat(10);
    const many = await costOfOneHeartbeat(2_000);
    expect(few).toBeGreaterThan(0);
    expect(many).toBe(few);
  });

  it("a connect costs the same cache work with 10 or 2,000 users on the replica", async () => {
    const few = await costOfOneConnect(10);
    const many = await costOfOneConnect(2_000);
    expect(many).toEqual(few);
    // Its key, one append, and a look for the user on the other live replicas (none here).
    expect(few.calls).toBeLessThanOrEqual(3);
  });

  it("announces ONLINE on a first socket and OFFLINE when the last one closes", async () => {
    const { cache, close } = countingCache();
    const transitions: PresenceTransition[] = [];
    const tracker = await trackerWith(cache, transitions);
    await tracker.connected("u");
    await tracker.connected("u");
    await tracker.disconnected("u");
    await tracker.disconnected("u");
    expect(transitions.map((t) => t.status)).toEqual(["ONLINE", "OFFLINE"]);
    await close();
  });
});
