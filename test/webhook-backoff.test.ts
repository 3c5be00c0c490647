// The webhook retry schedule and signature, as pure functions (the delivery itself is
// tested against a real receiver in webhooks.test.ts).
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { backoffMs, signWebhook } from "../src/worker/webhook-dispatcher.js";

describe("webhook backoff", () => {
  it("doubles from the base per attempt, within ±20%, and stops growing at 10 minutes", () => {
    const middle = () => 0.5;
    expect([1, 2, 3, 4].map((n) => backoffMs(1000, n, middle))).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffMs(1000, 30, middle)).toBe(600_000);
    expect(backoffMs(1000, 3, () => 0)).toBe(3200);
    expect(backoffMs(1000, 3, () => 1)).toBe(4800);
  });

  it("signs timestamp and body with HMAC-SHA256 as t=<seconds>,v1=<hex>", () => {
    const mac = createHmac("sha256", "k").update('1700000000.{"a":1}').digest("hex");
    expect(signWebhook("k", 1_700_000_000, '{"a":1}')).toBe(`t=1700000000,v1=${mac}`);
  });
});
