// BatchedLookup gathers the keyed lookups of one event-loop turn into one statement (a
// reconnect storm's per-socket reads, issue 10); pure logic over a counting loader.
import { describe, expect, it } from "vitest";
import { BatchedLookup, uuidKey } from "../src/db/batched-lookup.js";

interface Row {
  id: string;
  name: string;
}

function countingLookup(rows: Row[], fail?: Error) {
  const batches: string[][] = [];
  const lookup = new BatchedLookup<string, Row>(
    async (ids) => {
      batches.push([...ids]);
      if (fail) throw fail;
      return rows.filter((row) => ids.includes(row.id));
    },
    (row) => row.id,
  );
  return { lookup, batches };
}

/** `count` callers, each in its own callback of the same event-loop turn (as sockets are). */
function fromSeparateCallbacks<T>(count: number, ask: (i: number) => Promise<T>) {
  return Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        new Promise<T>((resolve, reject) => setImmediate(() => ask(i).then(resolve, reject))),
    ),
  );
}

describe("BatchedLookup", () => {
  it("asks once for every key requested in the same turn, from separate callbacks", async () => {
    const rows = Array.from({ length: 40 }, (_, i) => ({ id: `k${i}`, name: `row ${i}` }));
    const { lookup, batches } = countingLookup(rows);
    const found = await fromSeparateCallbacks(50, (i) => lookup.get(`k${i}`));
    expect(batches).toHaveLength(1);
    expect(batches[0]).toHaveLength(50);
    expect(found.slice(0, 40).map((row) => row?.name)).toEqual(rows.map((row) => row.name));
    // Keys without a row find nothing rather than another key's row.
    expect(found.slice(40)).toEqual(Array(10).fill(undefined));
  });

  it("caches nothing: a later turn asks the database again and sees what changed", async () => {
    const rows = [{ id: "a", name: "first" }];
    const { lookup, batches } = countingLookup(rows);
    expect((await lookup.get("a"))?.name).toBe("first");
    (rows[0] as Row).name = "renamed";
    expect((await lookup.get("a"))?.name).toBe("renamed");
    expect(batches).toEqual([["a"], ["a"]]);
  });

  it("fails every caller of a batch whose statement failed, and the next batch recovers", async () => {
    const { lookup, batches } = countingLookup([], new Error("database gone"));
    const outcomes = await Promise.allSettled([lookup.get("a"), lookup.get("b")]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"]);
    expect(batches).toEqual([["a", "b"]]);
  });
});

describe("uuidKey", () => {
  it("lower-cases a UUID as PostgreSQL prints it and refuses anything else", () => {
    expect(uuidKey("8A3F1C2E-0B4D-4E5F-9A6B-7C8D9E0F1A2B")).toBe(
      "8a3f1c2e-0b4d-4e5f-9a6b-7c8d9e0f1a2b",
    );
    expect(uuidKey("not-a-uuid")).toBeUndefined();
    expect(uuidKey("8a3f1c2e-0b4d-4e5f-9a6b-7c8d9e0f1a2b'; drop table users;--")).toBeUndefined();
  });
});
