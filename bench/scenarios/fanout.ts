// Scenario 3: one message to a channel of N subscribers split across the two replicas:
// how long until the last subscriber has it, and how many deliveries per second a burst
// of messages sustains. Scenario 4 rides on it: what connecting and subscribing them all
// took (time, CPU, memory per socket), and what the parts spend while they sit idle. Last,
// every socket closes at once (a deploy, a load balancer dropping them): until every user
// is announced offline with last seen stored, which the next scenario must not pay for.
import { randomUUID } from "node:crypto";
import type { Subscriber } from "../clients/fanout-receivers.js";
import { type BenchContext, sendMessage } from "../lib/bench-context.js";
import { closeChildren } from "../lib/child.js";
import { type CpuUsage, measureCpu, residentBytes, systemParts } from "../lib/cpu-usage.js";
import type { HeapSpaces } from "../lib/inspector.js";
import { awaitArrivals, connectReceivers, startReceivers } from "../lib/receivers.js";
import { seedGroupChannel, seedUsers } from "../lib/seed.js";
import { ascending, percentile, round } from "../lib/stats.js";

export interface FanoutResult {
  subscribers: number;
  /** Until every socket was acknowledged (graphql-ws connection_ack). */
  connectMs: number;
  /** Until every subscription was live: a first message reached them all. */
  liveMs: number;
  /** Per measured message: ms from the send until the last subscriber had it. */
  lastDeliveryMs: number[];
  /** Median over subscribers and messages: ms from the send until a subscriber had it. */
  p50DeliveryMs: number;
  burst: { messages: number; deliveries: number; expected: number; deliveredPerSecond: number };
  missing: number;
  /**
   * The api replicas' resident memory growth from before the sockets connected to when
   * all were live, per socket (no forced collection: garbage counts too).
   */
  replicaKiBPerSocket?: number;
  /**
   * The same growth once the sockets have sat idle (after the idle window): what an idle
   * subscribed socket holds, the connect storm's garbage collected as the replicas chose.
   */
  replicaKiBPerIdleSocket?: number;
  /**
   * Where that idle growth is, per socket, from both replicas' V8 heaps read at the same
   * two moments (no collection): the young generation's committed growth (its
   * semi-spaces grow as the replica allocates, to a fixed ceiling per process), the rest
   * of the heap's committed growth and, of the whole heap, the bytes in use (live objects
   * and garbage not yet collected), and what grew outside V8's heap (the socket buffers,
   * the code, malloc's own room).
   */
  idleGrowthKiBPerSocket?: {
    youngGeneration: number;
    restOfHeap: number;
    heapInUse: number;
    outsideHeap: number;
  };
  /**
   * The replicas' JavaScript heap after a full collection once the sockets have had their
   * messages and sit idle, less the same after they all closed, per socket: what an idle
   * subscribed socket keeps alive, without the garbage and the room V8 leaves itself that
   * resident memory counts.
   */
  liveHeapKiBPerIdleSocket?: number;
  /**
   * The replicas' resident memory right after that same full collection, less the same
   * after they all closed, per socket: how the baselines' servers are read (resident after
   * a collection, before and after their sockets), so the two compare.
   */
  collectedKiBPerIdleSocket?: number;
  /**
   * CPU per part while the sockets connected and subscribed, while they sat idle
   * (`idleMs` after as long to settle, nothing sent: pings, heartbeats, leases, access
   * polls), during the burst, and from closing every socket until all their users were
   * announced offline.
   */
  cpu?: { connect?: CpuUsage; idle?: CpuUsage; burst?: CpuUsage; disconnect?: CpuUsage };
  idleMs: number;
  /** From closing every socket at once until every user was offline with last seen stored. */
  disconnectMs?: number;
}

/** How long the replicas may take to announce a closed fan-out's users offline. */
const OFFLINE_TIMEOUT_MS = 180_000;

export async function runFanout(
  ctx: BenchContext,
  options: {
    subscribers: number;
    generators: number;
    messages: number;
    burst: number;
    idleMs: number;
  },
): Promise<FanoutResult> {
  const [owner, ...members] = await seedUsers(ctx.pool, options.subscribers + 1, ctx.jwtSecret);
  if (!owner) throw new Error("no users");
  const channelId = await seedGroupChannel(ctx.pool, owner, members);
  const [replicaA, replicaB] = ctx.topology.replicas;
  const subscribers: Subscriber[] = members.map((member, i) => ({
    token: member.token,
    wsUrl: (i % 2 === 0 ? replicaA : replicaB).wsUrl,
  }));
  const generators = await startReceivers(options.generators);
  const awaitAll = async (tags: string[], timeoutMs: number) =>
    (await awaitArrivals(generators, tags, timeoutMs)).arrivals;
  const send = (tag: string) => sendMessage(replicaA.url, owner.token, channelId, tag);
  const cpuParts = systemParts(ctx.topology, generators);
  let closed = false;
  try {
    const replicaPids = ctx.topology.replicas.flatMap((r) => (r.child.pid ? [r.child.pid] : []));
    const heapBefore = await heapSpaces(ctx);
    const rssBefore = residentBytes(replicaPids);
    const connectCpu = measureCpu(cpuParts);
    const connectStart = Date.now();
    const connectMs = await connectReceivers(generators, channelId, subscribers);
    ctx.log(`fan-out ${options.subscribers}: connected in ${connectMs} ms`);
    // Warm-up: until one message reaches every subscriber (their subscriptions are live).
    // A message sent while the last subscriptions were still binding misses them: the
    // next is sent soon (each attempt waits a second longer than the one before), so
    // "live" is not a whole timeout late. Should some never get one, the run goes on and
    // counts what they miss.
    for (let attempt = 1; ; attempt++) {
      const tag = `warm-${randomUUID()}`;
      await send(tag);
      const [arrived = []] = await awaitAll([tag], 1_000 * attempt);
      if (arrived.length >= options.subscribers) break;
      if (attempt === 12) {
        ctx.log(`fan-out warm-up: only ${arrived.length} of ${options.subscribers} are live`);
        break;
      }
    }
    const liveMs = Date.now() - connectStart;
    const connectUsage = connectCpu();
    const rssGrowth = residentBytes(replicaPids) - rssBefore;
    // Idle: after as long again for the connects' aftermath to settle (collections, the
    // access state's first full re-read), a measurement window; nothing to wait for.
    await new Promise((resolve) => setTimeout(resolve, options.idleMs));
    const idleCpu = measureCpu(cpuParts);
    await new Promise((resolve) => setTimeout(resolve, options.idleMs));
    const idleUsage = idleCpu();
    const rssIdleGrowth = residentBytes(replicaPids) - rssBefore;
    const heapIdle = await heapSpaces(ctx);
    const lastDeliveryMs: number[] = [];
    const allDelays: number[] = [];
    let missing = 0;
    for (let i = 0; i < options.messages; i++) {
      const tag = randomUUID();
      const sentAt = Date.now();
      await send(tag);
      const [arrived = []] = await awaitAll([tag], 60_000);
      missing += options.subscribers - arrived.length;
      lastDeliveryMs.push(arrived.reduce((a, b) => Math.max(a, b), 0) - sentAt);
      allDelays.push(...arrived.map((at) => at - sentAt));
    }
    const burstTags = Array.from({ length: options.burst }, () => randomUUID());
    const burstStart = Date.now();
    const burstCpu = measureCpu(cpuParts);
    for (const tag of burstTags) await send(tag);
    const burstArrivals = (await awaitAll(burstTags, 120_000)).flat();
    const burstUsage = burstCpu();
    const deliveries = burstArrivals.length;
    const expected = options.burst * options.subscribers;
    missing += expected - deliveries;
    // What the sockets, idle again, keep alive apart from the collector's room to grow: the
    // replicas' heap after a full collection now, less the same once the sockets are gone.
    // Read after the deliveries, not before: a forced full collection is not something a
    // replica meets in service, and the next messages' deliveries were 100-500 ms slower
    // right after one (a scratch run at 4,000 sockets, three rounds).
    const idleCollected = await afterFullCollection(ctx, replicaPids);
    // Everyone leaves at once: the replicas announce each user offline and store last seen.
    const disconnectCpu = measureCpu(cpuParts);
    const closing = Date.now();
    closed = true;
    await closeChildren(generators);
    const disconnectMs = await untilOffline(
      ctx,
      members.map((m) => m.id),
      closing,
    );
    const disconnectUsage = disconnectCpu();
    const closedCollected = await afterFullCollection(ctx, replicaPids);
    ctx.log(
      `fan-out ${options.subscribers}: ${disconnectMs === undefined ? "not every user was announced offline" : `every user offline ${disconnectMs} ms after closing`}`,
    );
    const result: FanoutResult = {
      subscribers: options.subscribers,
      connectMs,
      liveMs,
      lastDeliveryMs,
      p50DeliveryMs: round(percentile(ascending(allDelays), 50)),
      burst: {
        messages: options.burst,
        deliveries,
        expected,
        deliveredPerSecond: round(
          deliveries / ((burstArrivals.reduce((a, b) => Math.max(a, b), 0) - burstStart) / 1000),
        ),
      },
      missing,
      cpu: {
        connect: connectUsage,
        idle: idleUsage,
        burst: burstUsage,
        ...(disconnectUsage ? { disconnect: disconnectUsage } : {}),
      },
      idleMs: options.idleMs,
      ...(disconnectMs !== undefined ? { disconnectMs } : {}),
      ...(rssBefore > 0
        ? {
            replicaKiBPerSocket: kibPerSocket(rssGrowth, options.subscribers),
            replicaKiBPerIdleSocket: kibPerSocket(rssIdleGrowth, options.subscribers),
            idleGrowthKiBPerSocket: heapGrowthPerSocket(
              heapBefore,
              heapIdle,
              rssIdleGrowth,
              options.subscribers,
            ),
          }
        : {}),
      liveHeapKiBPerIdleSocket: kibPerSocket(
        idleCollected.heap - closedCollected.heap,
        options.subscribers,
      ),
      ...(idleCollected.resident > 0
        ? {
            collectedKiBPerIdleSocket: kibPerSocket(
              idleCollected.resident - closedCollected.resident,
              options.subscribers,
            ),
          }
        : {}),
    };
    ctx.log(
      `fan-out ${options.subscribers}: last delivery ${lastDeliveryMs.join(", ")} ms; burst ${result.burst.deliveredPerSecond} deliveries/s; missing ${missing}`,
    );
    return result;
  } finally {
    if (!closed) await closeChildren(generators);
  }
}

/**
 * Both replicas' live heap and resident memory right after a full collection of each, in
 * bytes (resident 0 where /proc is not there to read).
 */
async function afterFullCollection(ctx: BenchContext, replicaPids: number[]) {
  const each = await Promise.all(
    ctx.topology.replicas.map(async (replica) => (await replica.inspector()).liveHeapBytes()),
  );
  return { heap: each.reduce((a, b) => a + b, 0), resident: residentBytes(replicaPids) };
}

/** Both replicas' V8 heaps as they stand (no collection), summed. */
async function heapSpaces(ctx: BenchContext): Promise<HeapSpaces> {
  const each = await Promise.all(
    ctx.topology.replicas.map(async (replica) => (await replica.inspector()).heapSpaces()),
  );
  return {
    youngCommitted: each.reduce((total, heap) => total + heap.youngCommitted, 0),
    restCommitted: each.reduce((total, heap) => total + heap.restCommitted, 0),
    used: each.reduce((total, heap) => total + heap.used, 0),
  };
}

/** A resident growth split by where in (or outside) V8's heap it went, per socket. */
function heapGrowthPerSocket(
  before: HeapSpaces,
  after: HeapSpaces,
  residentGrowth: number,
  sockets: number,
): NonNullable<FanoutResult["idleGrowthKiBPerSocket"]> {
  const young = after.youngCommitted - before.youngCommitted;
  const rest = after.restCommitted - before.restCommitted;
  return {
    youngGeneration: kibPerSocket(young, sockets),
    restOfHeap: kibPerSocket(rest, sockets),
    heapInUse: kibPerSocket(after.used - before.used, sockets),
    outsideHeap: kibPerSocket(residentGrowth - young - rest, sockets),
  };
}

/**
 * Ms from `since` until every one of `userIds` has a last seen at or after it (the replica
 * stores it when it announces the user offline); undefined if that takes too long. Not
 * the tests' `until`: its 20 ms polls of a count over 10,000 ids would be PostgreSQL CPU
 * inside the very measurement, so this one backs off.
 */
async function untilOffline(ctx: BenchContext, userIds: string[], since: number) {
  const deadline = Date.now() + OFFLINE_TIMEOUT_MS;
  let backoff = 50;
  while (Date.now() < deadline) {
    const { rows } = await ctx.pool.query<{ waiting: string }>(
      `SELECT count(*) AS waiting FROM users
        WHERE id = ANY($1::uuid[])
          AND (last_seen_at IS NULL OR last_seen_at < $2::timestamptz AT TIME ZONE 'UTC')`,
      [userIds, new Date(since).toISOString()],
    );
    if (Number(rows[0]?.waiting) === 0) return Date.now() - since;
    await new Promise((resolve) => setTimeout(resolve, backoff));
    backoff = Math.min(backoff * 2, 500);
  }
  return undefined;
}

const kibPerSocket = (bytes: number, sockets: number) =>
  Math.round((bytes / 1024 / sockets) * 10) / 10;
