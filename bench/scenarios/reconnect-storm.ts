// Scenario 6: a reconnect storm. N sockets, all on replica A, follow one channel; A is
// killed (SIGKILL: no goodbye, as a crash or a lost host). Each socket reconnects to B
// with graphql-ws's own randomised backoff (1 s plus 0.3-3 s for the first retry, as
// Apollo's and urql's clients do by default) and resumes with afterSeq from the last seq
// it saw. A message sent while they are away must reach every one (replayed), and so
// must one sent after: how long until all have both, what B spent meanwhile, and
// whether anything was missed or repeated. Replica A stays down: this runs last among
// the product's scenarios.
import { randomUUID } from "node:crypto";
import type { Subscriber } from "../clients/fanout-receivers.js";
import { type BenchContext, sendMessage } from "../lib/bench-context.js";
import { closeChildren } from "../lib/child.js";
import { type CpuUsage, measureCpu, systemParts } from "../lib/cpu-usage.js";
import { awaitArrivals, connectReceivers, startReceivers } from "../lib/receivers.js";
import { seedGroupChannel, seedUsers } from "../lib/seed.js";

export interface StormResult {
  sockets: number;
  /** Until every socket, on replica A, had a first message. */
  liveMs: number;
  /** From the kill until every socket had the message sent while they were away. */
  resumedMs: number;
  /** From the kill until every socket also had the message sent after they were back. */
  recoveredMs: number;
  /** Sockets that connected again (to replica B). */
  reconnected: number;
  /** How the sockets were closed or failed on the way (close code or error: count). */
  closes: Record<string, number>;
  /** Deliveries of the two messages that never came. */
  missing: number;
  /** Deliveries of the two messages beyond one per socket. */
  repeated: number;
  /** CPU per part from the kill until all had both messages. */
  cpu?: CpuUsage;
}

export async function runReconnectStorm(
  ctx: BenchContext,
  options: { sockets: number; generators: number },
): Promise<StormResult> {
  const [owner, ...members] = await seedUsers(ctx.pool, options.sockets + 1, ctx.jwtSecret);
  if (!owner) throw new Error("no users");
  const channelId = await seedGroupChannel(ctx.pool, owner, members);
  const [replicaA, replicaB] = ctx.topology.replicas;
  const subscribers: Subscriber[] = members.map((member) => ({
    token: member.token,
    wsUrl: replicaA.wsUrl,
    failoverUrl: replicaB.wsUrl,
  }));
  const generators = await startReceivers(options.generators);
  const awaitAll = (tags: string[], timeoutMs: number) =>
    awaitArrivals(generators, tags, timeoutMs);
  // Sent through B: A is the replica that goes away.
  const send = (tag: string) => sendMessage(replicaB.url, owner.token, channelId, tag);
  try {
    const started = Date.now();
    await connectReceivers(generators, channelId, subscribers);
    for (let attempt = 1; ; attempt++) {
      const tag = `warm-${randomUUID()}`;
      await send(tag);
      const [arrived = []] = (await awaitAll([tag], 20_000)).arrivals;
      if (arrived.length >= options.sockets || attempt === 5) break;
    }
    const liveMs = Date.now() - started;

    const cpu = measureCpu(systemParts(ctx.topology, generators));
    const killedAt = Date.now();
    replicaA.child.kill("SIGKILL");
    const away = `away-${randomUUID()}`;
    await send(away);
    const awayArrivals = (await awaitAll([away], 120_000)).arrivals[0] ?? [];
    const back = `back-${randomUUID()}`;
    await send(back);
    const { arrivals, reconnected, closes } = await awaitAll([back], 60_000);
    const backArrivals = arrivals[0] ?? [];
    const usage = cpu();
    const latest = (list: number[]) => list.reduce((a, b) => Math.max(a, b), 0);
    const result: StormResult = {
      sockets: options.sockets,
      liveMs,
      resumedMs: latest(awayArrivals) - killedAt,
      recoveredMs: latest(backArrivals) - killedAt,
      reconnected,
      closes,
      missing:
        Math.max(0, options.sockets - awayArrivals.length) +
        Math.max(0, options.sockets - backArrivals.length),
      repeated:
        Math.max(0, awayArrivals.length - options.sockets) +
        Math.max(0, backArrivals.length - options.sockets),
      ...(usage ? { cpu: usage } : {}),
    };
    ctx.log(
      `reconnect storm ${options.sockets}: all resumed ${result.resumedMs} ms after the kill, live again ${result.recoveredMs} ms; reconnected ${reconnected}, missing ${result.missing}, repeated ${result.repeated}`,
    );
    return result;
  } finally {
    await closeChildren(generators);
  }
}
