// The bounded in-process memo behind known users, the membership cache and verified
// tokens: pure logic, driven with explicit clocks.
import { describe, expect, it } from "vitest";
import { LocalMemo } from "../src/cache/local-memo.js";

describe("LocalMemo", () => {
  it("answers until the entry's own deadline, then forgets it", () => {
    const memo = new LocalMemo<string>(10);
    memo.set("a", "first", 1_000);
    expect(memo.get("a", 999)).toBe("first");
    expect(memo.get("a", 1_000)).toBeUndefined();
    expect(memo.size).toBe(0);
  });

  it("holds at most maxEntries, dropping the least recently written first", () => {
    const memo = new LocalMemo<number>(2);
    memo.set("a", 1, 10_000);
    memo.set("b", 2, 10_000);
    memo.set("a", 3, 10_000); // rewritten: now the newest
    memo.set("c", 4, 10_000);
    expect(memo.size).toBe(2);
    expect(memo.get("b", 0)).toBeUndefined();
    expect(memo.get("a", 0)).toBe(3);
    expect(memo.get("c", 0)).toBe(4);
  });

  it("delete forgets at once", () => {
    const memo = new LocalMemo<boolean>(2);
    memo.set("a", true, 10_000);
    memo.delete("a");
    expect(memo.get("a", 0)).toBeUndefined();
  });
});
