// Chooses the cache adapter: Memcached when servers are configured, else in-process.
import type { Cache } from "./cache.js";
import { MemcachedCache } from "./memcached-cache.js";
import { MemoryCache } from "./memory-cache.js";

export function openCache(servers: string | undefined, prefix: string): Cache {
  return servers ? new MemcachedCache({ servers, prefix: `${prefix}:` }) : new MemoryCache();
}
