// Bundles (src/pubsub/amqp/bundles.ts): pure logic, so its publish is a recording function.
// What travels over a real broker is proven in bus-contract.test.ts.
import { describe, expect, it } from "vitest";
import {
  BUNDLE_MAX_BYTES,
  BUNDLE_MAX_ITEMS,
  bundleRuns,
  decodeBundle,
  encodeBundle,
  SendCoalescer,
} from "../src/pubsub/amqp/bundles.js";

const json = (n: number) => JSON.stringify({ n });

describe("bundle encoding", () => {
  it("one item travels as itself, as before bundles; several as an array, in order", () => {
    expect(encodeBundle([json(1)]).toString()).toBe('{"n":1}');
    expect(encodeBundle([json(1), json(2)]).toString()).toBe('[{"n":1},{"n":2}]');
    expect(decodeBundle(encodeBundle([json(1)]))).toEqual([{ n: 1 }]);
    expect(decodeBundle(encodeBundle([json(1), json(2), json(3)]))).toEqual([
      { n: 1 },
      { n: 2 },
      { n: 3 },
    ]);
  });

  it("a message that is not JSON decodes to nothing, not to an error", () => {
    expect(decodeBundle(Buffer.from("{not json"))).toBeUndefined();
  });
});

describe("bundleRuns", () => {
  it("bundles consecutive items of a key only, so the order across keys is kept", () => {
    const runs = bundleRuns([
      { key: "a", json: json(1) },
      { key: "a", json: json(2) },
      { key: "b", json: json(3) },
      { key: "a", json: json(4) },
    ]);
    expect(runs).toEqual([
      { key: "a", items: [json(1), json(2)] },
      { key: "b", items: [json(3)] },
      { key: "a", items: [json(4)] },
    ]);
  });

  it("starts a new bundle at the item limit and at the byte limit; an item past the byte limit goes alone", () => {
    const many = Array.from({ length: BUNDLE_MAX_ITEMS * 2 + 1 }, (_, n) => ({
      key: "k",
      json: json(n),
    }));
    expect(bundleRuns(many).map((b) => b.items.length)).toEqual([
      BUNDLE_MAX_ITEMS,
      BUNDLE_MAX_ITEMS,
      1,
    ]);
    const big = JSON.stringify({ body: "x".repeat(BUNDLE_MAX_BYTES / 3) });
    const huge = JSON.stringify({ body: "y".repeat(BUNDLE_MAX_BYTES) });
    const runs = bundleRuns([big, big, big, huge, big].map((item) => ({ key: "k", json: item })));
    expect(runs.map((b) => b.items.length)).toEqual([2, 1, 1, 1]);
    expect(runs[2]?.items).toEqual([huge]);
    for (const run of runs.filter((r) => r.items.length > 1))
      expect(encodeBundle(run.items).length).toBeLessThanOrEqual(BUNDLE_MAX_BYTES);
  });
});

describe("SendCoalescer", () => {
  function recording() {
    const published: Array<{ key: string; items: unknown[] }> = [];
    const coalescer = new SendCoalescer<string>(async (key, content) => {
      published.push({ key, items: decodeBundle(content) ?? [] });
    });
    return { published, coalescer };
  }

  it("what is sent for a key in one turn is published once, in order, after the turn; each key apart", async () => {
    const { published, coalescer } = recording();
    const sent = [
      coalescer.send("a", json(1)),
      coalescer.send("b", json(2)),
      coalescer.send("a", json(3)),
    ];
    expect(published).toEqual([]);
    await Promise.all(sent);
    expect(published).toEqual([
      { key: "a", items: [{ n: 1 }, { n: 3 }] },
      { key: "b", items: [{ n: 2 }] },
    ]);
  });

  it("a later turn opens a new bundle", async () => {
    const { published, coalescer } = recording();
    await coalescer.send("a", json(1));
    await coalescer.send("a", json(2));
    expect(published.map((p) => p.items)).toEqual([[{ n: 1 }], [{ n: 2 }]]);
  });

  it("a full bundle is published at once, and the next items open another", async () => {
    const { published, coalescer } = recording();
    const sent = Array.from({ length: BUNDLE_MAX_ITEMS + 1 }, (_, n) =>
      coalescer.send("a", json(n)),
    );
    // The full one went when the item past it was sent, before the turn ended.
    expect(published.map((p) => p.items.length)).toEqual([BUNDLE_MAX_ITEMS]);
    await Promise.all(sent);
    expect(published.map((p) => p.items.length)).toEqual([BUNDLE_MAX_ITEMS, 1]);
    expect(published.flatMap((p) => p.items)).toEqual(
      Array.from({ length: BUNDLE_MAX_ITEMS + 1 }, (_, n) => ({ n })),
    );
  });

  it("a failed publish fails every item it carried, and only those", async () => {
    let calls = 0;
    const coalescer = new SendCoalescer<string>(async () => {
      if (++calls === 1) throw new Error("not confirmed");
    });
    const first = [coalescer.send("a", json(1)), coalescer.send("a", json(2))];
    const outcomes = await Promise.allSettled(first);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"]);
    expect((outcomes[0] as PromiseRejectedResult).reason).toEqual(new Error("not confirmed"));
    await expect(coalescer.send("a", json(3))).resolves.toBeUndefined();
  });

  it("a publish that throws at once (no broker connection) rejects its items", async () => {
    const coalescer = new SendCoalescer<string>(() => {
      throw new Error("RabbitMQ is not connected");
    });
    await expect(coalescer.send("a", json(1))).rejects.toThrow("RabbitMQ is not connected");
  });
});
