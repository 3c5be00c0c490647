// One contract, two adapters: the in-process TTL map and Memcached.
import { randomBytes } from "node:crypto";
import { Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import type { Cache } from "../src/cache/cache.js";
import { MemcachedCache } from "../src/cache/memcached-cache.js";
import { MemoryCache } from "../src/cache/memory-cache.js";
import { memcachedServers } from "./harness/memcached.js";
import { until } from "./harness/wait.js";

const servers = await memcachedServers();
const caches: Cache[] = [];
afterAll(async () => {
  for (const cache of caches) await cache.close();
});

const adapters: Array<{ name: string; make(): Cache }> = [
  { name: "in-process", make: () => new MemoryCache() },
];
if (servers) {
  adapters.push({
    name: "Memcached",
    make: () => new MemcachedCache({ servers, prefix: `t${randomBytes(4).toString("hex")}:` }),
  });
} else {
  describe.skip("Memcached adapter (no TEST_MEMCACHED_SERVERS and no Docker engine)", () => {
    it("runs the same contract", () => {});
  });
}

describe.each(adapters)("cache contract: $name", ({ make }) => {
  const cache = make();
  caches.push(cache);

  it("stores, reads and deletes; an absent key reads null", async () => {
    expect(await cache.get("absent")).toBeNull();
    await cache.set("k", "v1", 60);
    expect(await cache.get("k")).toBe("v1");
    await cache.set("k", "v2", 60);
    expect(await cache.get("k")).toBe("v2");
    await cache.delete("k");
    expect(await cache.get("k")).toBeNull();
    await cache.ping();
  });

  it("forgets a key when its TTL has passed", async () => {
    // Memcached's clock ticks in whole seconds: a TTL of 1 may end within the same
    // millisecond (set just before a tick), so the shortest TTL sure to outlive the read
    // right after it is 2 (CI once read null here).
    await cache.set("short", "x", 2);
    expect(await cache.get("short")).toBe("x");
    // Wait for expiry, bounded, rather than guess its moment.
    await until(async () => (await cache.get("short")) === null, 10_000, "the key to expire");
    expect(await cache.get("short")).toBeNull();
  });

  it("add is an atomic claim: of 10 concurrent adds exactly one wins", async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => cache.add("claim", String(i), 60)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await cache.add("claim", "late", 60)).toBe(false);
  });

  it("append extends a present value in order and keeps its TTL; an absent key is not created", async () => {
    expect(await cache.append("log", ",a")).toBe(false);
    expect(await cache.get("log")).toBeNull();
    await cache.set("log", "x", 2);
    expect(await cache.append("log", ",a")).toBe(true);
    expect(await cache.append("log", ",b")).toBe(true);
    expect(await cache.get("log")).toBe("x,a,b");
    // Expiry is still the set's: the appends did not extend it.
    await until(async () => (await cache.get("log")) === null, 10_000, "the list to expire");
  });

  it("increment counts in a fixed window: created at `by`, 20 concurrent increments all counted, gone after the TTL", async () => {
    expect(await cache.increment("counter", 1, 2)).toBe(1);
    const values = await Promise.all(
      Array.from({ length: 20 }, () => cache.increment("counter", 1, 2)),
    );
    expect(values.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    await until(async () => (await cache.get("counter")) === null, 10_000, "the window to end");
    expect(await cache.increment("counter", 5, 2)).toBe(5);
  });
});

describe.skipIf(!servers)("Memcached adapter: writes", () => {
  it("sends the requests of one turn of the event loop in one write, each answered on its own", async () => {
    const [host, port] = (servers ?? "").split(",")[0]?.split(":") ?? [];
    const cache = new MemcachedCache({
      servers: `${host}:${port}`,
      prefix: `t${randomBytes(4).toString("hex")}:`,
    });
    caches.push(cache);
    await cache.set("warm", "up", 60); // the connection is up before counting
    // Each write the connection's socket hands to the system (one buffer or several).
    let writes = 0;
    const { _write, _writev } = Socket.prototype;
    const counted = <F extends (...args: never[]) => unknown>(original: F) =>
      function (this: Socket, ...args: Parameters<F>) {
        if (String(this.remotePort) === port) writes++;
        return original.apply(this, args);
      };
    Socket.prototype._write = counted(_write);
    Socket.prototype._writev = _writev && counted(_writev);
    let values: Array<string | null>;
    try {
      values = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          i % 2 === 0 ? cache.set(`k${i}`, `v${i}`, 60).then(() => "set") : cache.get("warm"),
        ),
      );
    } finally {
      Socket.prototype._write = _write;
      Socket.prototype._writev = _writev;
    }
    expect(writes).toBe(1);
    expect(values).toEqual(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? "set" : "up")));
    expect(await cache.get("k18")).toBe("v18");
  });
});
