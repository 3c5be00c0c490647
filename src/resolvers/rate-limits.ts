// Rate limits kept in the shared cache, so every replica counts together.
//
// A sliding-window counter (the weighted two-window estimate Cloudflare and Kong use):
// attempts are counted per fixed window with the cache's atomic increment, and an attempt
// is refused when `previous window × the part of it still inside the last windowSeconds
// + this window` passes the limit. A fixed window lets twice the limit through around a
// boundary (the whole limit at its end, again at the next one's start); this estimate
// does not, at the price of one more read (in parallel, once per window and process: an
// ended window's count no longer changes). Refused attempts count too: a client that keeps
// hammering stays refused until it honours `retryAfter`.
//
// Why not rate-limiter-flexible: its Memcached store is itself a fixed window and needs
// the `memcached` client, a second client beside memjs for the same servers; the
// algorithm above is a few lines over the cache port we already test on both adapters.
//
// If the cache is down, each process counts on its own (the limit then holds per replica,
// a looser bound but never none): losing Memcached must not take sign-in or chat down
// with it, nor open them to floods.
import type { Cache } from "../cache/cache.js";
import { LocalMemo } from "../cache/local-memo.js";
import type { Context } from "../context.js";
import { rateLimited } from "../errors.js";

export interface Limit {
  /** Names the counter, e.g. "login-attempts". */
  name: string;
  max: number;
  windowSeconds: number;
}

export interface Verdict {
  /** The sliding estimate of attempts in the last windowSeconds, this one included. */
  estimate: number;
  /** Whole seconds until an attempt would be allowed again (0 when this one was). */
  retryAfterSeconds: number;
}

const counterKey = (limit: Limit, key: string, suffix: string | number) =>
  `rate:${limit.name}:${key}:${suffix}`;

/**
 * Where this key's windows start: at its first attempt (as a Memcached counter's TTL
 * would), so a burst from a quiet start is counted exactly rather than split across an
 * arbitrary clock boundary. The first attempt in each window keeps the anchor for two
 * more windows; once it lapses, nothing recent is left for a new grid to forget. Counters
 * are named by their grid, so a new grid never inherits an old one's counts.
 */
async function windowsStart(cache: Cache, limit: Limit, key: string, nowMs: number) {
  const anchorKey = counterKey(limit, key, "start");
  const memo = anchorsKnownIn(cache);
  const remembered = memo.get(anchorKey, nowMs);
  if (remembered !== undefined) return remembered;
  const start = await readOrAnchor(cache, anchorKey, limit, nowMs);
  // The first attempt of every window (this one's, if no other came first) rewrites the
  // anchor for two windows: it cannot lapse before the current window ends, so this
  // process need not ask again until then (one cache round trip fewer on every limited
  // call, issue 10). Lost early (the cache restarted or evicted it), another replica may
  // anchor a new grid meanwhile: their counts are apart for at most the rest of a window.
  const windowMs = limit.windowSeconds * 1000;
  const window = Math.max(0, Math.floor((nowMs - start) / windowMs));
  memo.set(anchorKey, start, start + (window + 1) * windowMs);
  return start;
}

async function readOrAnchor(cache: Cache, anchorKey: string, limit: Limit, nowMs: number) {
  const known = await cache.get(anchorKey);
  if (known !== null) return Number(known);
  if (await cache.add(anchorKey, String(nowMs), 2 * limit.windowSeconds)) return nowMs;
  return Number((await cache.get(anchorKey)) ?? nowMs); // another replica anchored it first
}

/** What this process remembers, per cache (the shared one and the in-process fallback). */
function memoPerCache() {
  const memos = new WeakMap<Cache, LocalMemo<number>>();
  return (cache: Cache) => {
    let memo = memos.get(cache);
    if (!memo) {
      memo = new LocalMemo(100_000);
      memos.set(cache, memo);
    }
    return memo;
  };
}

/** Window anchors this process has read. */
const anchorsKnownIn = memoPerCache();

/**
 * Counts of windows that have ended. An ended window is counted no more (attempts count in
 * the current one), so its count is read once per process and kept while it weighs: one
 * cache round trip fewer on every limited call but a window's first (issue 10: the send
 * path). A replica whose clock lags by a few milliseconds may still add to it meanwhile;
 * the estimate is then that much lenient until the window ends.
 */
const endedCountsIn = memoPerCache();

async function endedCount(cache: Cache, counter: string, nowMs: number, keepUntil: number) {
  const memo = endedCountsIn(cache);
  const known = memo.get(counter, nowMs);
  if (known !== undefined) return known;
  const count = Number((await cache.get(counter)) ?? 0) || 0;
  memo.set(counter, count, keepUntil);
  return count;
}

/**
 * Counts one attempt at `nowMs` in `cache` and judges it. Pure over the cache port, so
 * the unit test drives it with a fake clock.
 */
export async function countAttempt(
  cache: Cache,
  limit: Limit,
  key: string,
  nowMs: number,
): Promise<Verdict> {
  const windowMs = limit.windowSeconds * 1000;
  const start = await windowsStart(cache, limit, key, nowMs);
  const window = Math.max(0, Math.floor((nowMs - start) / windowMs));
  const [current, previous] = await Promise.all([
    // Kept two windows: the next window still weighs this one.
    cache.increment(counterKey(limit, key, `${start}:${window}`), 1, 2 * limit.windowSeconds),
    window > 0
      ? endedCount(
          cache,
          counterKey(limit, key, `${start}:${window - 1}`),
          nowMs,
          start + (window + 1) * windowMs,
        )
      : 0,
  ]);
  if (current === 1) {
    await cache.set(counterKey(limit, key, "start"), String(start), 2 * limit.windowSeconds);
  }
  const elapsed = (nowMs - start - window * windowMs) / windowMs;
  const estimate = previous * (1 - elapsed) + current;
  if (estimate <= limit.max) return { estimate, retryAfterSeconds: 0 };
  return { estimate, retryAfterSeconds: secondsUntilAllowed(limit, previous, current, elapsed) };
}

/**
 * How long until one more attempt (which counts too) fits under the limit, if none is
 * made meanwhile (at least 1 s).
 */
function secondsUntilAllowed(limit: Limit, previous: number, current: number, elapsed: number) {
  const room = limit.max - 1; // what the estimate must fall to before the next attempt
  let windows: number;
  if (current <= room) {
    // Within this window, once enough of the previous one has slid out.
    windows = 1 - (room - current) / previous - elapsed;
  } else {
    // Into the next window, once enough of this one has slid out.
    windows = 1 - elapsed + (1 - room / current);
  }
  return Math.max(1, Math.ceil(windows * limit.windowSeconds));
}

/** Counts one more attempt and throws RATE_LIMITED (with retryAfter) past the limit. */
export async function consume(ctx: Context, limit: Limit, key: string) {
  const now = Date.now();
  let verdict: Verdict;
  try {
    verdict = await countAttempt(ctx.services.cache, limit, key, now);
  } catch {
    try {
      verdict = await countAttempt(ctx.services.localLimits, limit, key, now);
    } catch {
      return; // the in-process map cannot fail; nothing sensible is left to count with
    }
  }
  if (verdict.retryAfterSeconds > 0) {
    ctx.services.metrics.rateLimited.inc({ limit: limit.name });
    throw rateLimited(verdict.retryAfterSeconds);
  }
}

/** Forgets a counter (a success that proves the attempts were the owner's). */
export async function reset(ctx: Context, limit: Limit, key: string) {
  // Dropping the anchor starts a fresh grid: the old windows' counts are never read again.
  for (const cache of [ctx.services.cache, ctx.services.localLimits]) {
    anchorsKnownIn(cache).delete(counterKey(limit, key, "start"));
    await cache.delete(counterKey(limit, key, "start")).catch(() => {});
  }
}
