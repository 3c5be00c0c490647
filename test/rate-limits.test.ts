// The sliding-window limiter as pure logic over the in-process cache with a fake clock
// (the domain suites run it on Memcached through the API).
import { describe, expect, it } from "vitest";
import { MemoryCache } from "../src/cache/memory-cache.js";
import { countAttempt, type Limit } from "../src/resolvers/rate-limits.js";

const limit: Limit = { name: "t", max: 10, windowSeconds: 10 };

function clocked() {
  let now = 1_000_000;
  const cache = new MemoryCache(() => now);
  return {
    at(ms: number) {
      now = ms;
    },
    /** One attempt at the current time: was it allowed, and the advised wait. */
    async attempt(key = "k") {
      const verdict = await countAttempt(cache, limit, key, now);
      return verdict.retryAfterSeconds === 0 ? "ok" : `wait ${verdict.retryAfterSeconds}`;
    },
  };
}

async function attempts(clock: ReturnType<typeof clocked>, n: number) {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await clock.attempt());
  return out;
}

describe("sliding-window rate limit", () => {
  it("allows exactly max attempts in a burst from a quiet start, then refuses with the wait until one fits", async () => {
    const clock = clocked();
    const results = await attempts(clock, 12);
    expect(results.slice(0, 10)).toEqual(Array(10).fill("ok"));
    // n counted: the next attempt fits once n·(1 − g) + 1 ≤ 10, g into the next window:
    // n = 11, g = 2/11: 11.8 s; n = 12, g = 1/4: 12.5 s (rounded up).
    expect(results.slice(10)).toEqual(["wait 12", "wait 13"]);
  });

  it("does not let twice the limit through around a window boundary (a fixed window would)", async () => {
    const clock = clocked();
    clock.at(1_000_000);
    await clock.attempt(); // anchors the key's windows at 1,000,000
    clock.at(1_009_900); // the end of the first window
    expect(await attempts(clock, 9)).toEqual(Array(9).fill("ok"));
    clock.at(1_010_100); // just into the second window: the first still weighs 98 %
    expect(await clock.attempt()).toMatch(/^wait /);
  });

  it("lets attempts through again as the previous window slides out", async () => {
    const clock = clocked();
    await attempts(clock, 10);
    clock.at(1_000_000 + 15_000); // half of the second window: 10·0.5 + 1 = 6 ≤ 10
    expect(await attempts(clock, 5)).toEqual(Array(5).fill("ok"));
    // 10·0.5 + 6 = 11 > 10
    expect(await clock.attempt()).toMatch(/^wait /);
    clock.at(1_000_000 + 40_000); // two quiet windows later: a fresh budget
    expect(await attempts(clock, 10)).toEqual(Array(10).fill("ok"));
  });

  it("counts keys apart", async () => {
    const clock = clocked();
    await attempts(clock, 11);
    expect(await clock.attempt("other")).toBe("ok");
  });

  it("a limit of 1 waits a full window after the allowed attempt", async () => {
    const one: Limit = { name: "one", max: 1, windowSeconds: 10 };
    const cache = new MemoryCache(() => 0);
    expect((await countAttempt(cache, one, "k", 0)).retryAfterSeconds).toBe(0);
    const refused = await countAttempt(cache, one, "k", 0);
    expect(refused.retryAfterSeconds).toBe(20); // 2 counted: this window, then all of the next
  });
});

describe("rate limit cost", () => {
  it("reads a key's window anchor and the ended window's count once per window: later attempts in it cost one cache call", async () => {
    let now = 1_000_000;
    const inner = new MemoryCache(() => now);
    const calls: string[] = [];
    const cache = new Proxy(inner, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          calls.push(String(property));
          return value.apply(target, args);
        };
      },
    });
    await countAttempt(cache, limit, "cost", now); // anchors the grid
    calls.length = 0;
    now += 1_000;
    await countAttempt(cache, limit, "cost", now);
    expect(calls).toEqual(["increment"]);
    // The next window: its first attempt asks for the anchor again (and reads the previous
    // window's count, and refreshes the anchor).
    calls.length = 0;
    now += 10_000;
    await countAttempt(cache, limit, "cost", now);
    expect(calls).toContain("get");
    // The previous window has ended: its count is not read again within this one.
    calls.length = 0;
    now += 1_000;
    await countAttempt(cache, limit, "cost", now);
    expect(calls).toEqual(["increment"]);
  });
});
