// Per-address limits (sign-in attempts, registrations) need the client's address. Behind
// a load balancer the socket's peer is the proxy, shared by every client: counting it
// would let one attacker exhaust the limit for everyone. With TRUSTED_PROXY_HOPS = n,
// the address is the one the n-th proxy from us saw (the n-th entry from the right of
// X-Forwarded-For, which each proxy appends to); entries further left are whatever the
// client wrote and are never trusted.
import { isIP } from "node:net";

export function clientAddress(
  peerAddress: string | undefined,
  forwardedFor: string | string[] | undefined,
  trustedHops: number,
): string | null {
  if (trustedHops === 0) return peerAddress ?? null;
  const entries = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : (forwardedFor ?? ""))
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
  // Fewer entries than proxies: the request did not come through them all; the nearest
  // entry we have is still better than the proxy's own address.
  const candidate = entries[Math.max(0, entries.length - trustedHops)];
  return candidate && isIP(candidate) ? candidate : (peerAddress ?? null);
}
