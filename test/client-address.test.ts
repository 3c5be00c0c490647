// Which address per-address limits count: pure logic (the security suite runs it through
// a proxied app).
import { describe, expect, it } from "vitest";
import { clientAddress } from "../src/server/client-address.js";

describe("client address", () => {
  it("is the socket's peer when no proxy is trusted, whatever X-Forwarded-For claims", () => {
    expect(clientAddress("10.0.0.9", "1.2.3.4", 0)).toBe("10.0.0.9");
  });

  it("is what the trusted proxy saw: the n-th X-Forwarded-For entry from the right", () => {
    expect(clientAddress("10.0.0.9", "203.0.113.7", 1)).toBe("203.0.113.7");
    // The client wrote the left entries itself: never trusted.
    expect(clientAddress("10.0.0.9", "1.2.3.4, 203.0.113.7", 1)).toBe("203.0.113.7");
    expect(clientAddress("10.0.0.9", ["1.2.3.4, 203.0.113.7", "10.0.0.2"], 2)).toBe("203.0.113.7");
  });

  it("falls back to the peer when the header is missing or not an address", () => {
    expect(clientAddress("10.0.0.9", undefined, 1)).toBe("10.0.0.9");
    expect(clientAddress("10.0.0.9", "not-an-ip", 1)).toBe("10.0.0.9");
    expect(clientAddress(undefined, undefined, 1)).toBeNull();
  });
});
