// Scenarios 1 and 2: direct messages between pairs, the sender on one replica and the
// partner subscribed on the other, every message persisted by the worker before it is
// delivered. Half the pairs send on A and receive on B, half the other way round, as a
// load balancer would spread them: both replicas accept sends and deliver. Closed loop for
// the highest sustained throughput (after a warm-up step on the same loop: the first
// seconds of fresh processes run unoptimized code); open loop at fixed rates for latency.
import type { Pair, RunCommand, RunResult } from "../clients/direct-load.js";
import type { BenchContext } from "../lib/bench-context.js";
import { Child, closeChildren } from "../lib/child.js";
import { type CpuUsage, measureCpu, systemParts } from "../lib/cpu-usage.js";
import { seedDirectChannels, seedUsers } from "../lib/seed.js";
import { type LatencySummary, round, summarize } from "../lib/stats.js";

export interface DirectStep {
  label: string;
  durationMs: number;
  /** Open loop, messages/s in all. */
  rate?: number;
  /** Closed loop, messages outstanding in all. */
  inFlight?: number;
  /**
   * Run and reported like any step, but measured against no target: it finds every
   * process cold (V8 has optimized none of the code yet) and warms it up for the rest.
   */
  warmUp?: boolean;
}

export interface DirectStepResult {
  label: string;
  /** The warm-up (DirectStep.warmUp): what cold processes do, not the sustained rate. */
  warmUp?: boolean;
  offeredPerSecond: number | null;
  sent: number;
  received: number;
  failed: number;
  /** Why sends failed (a few distinct reasons). */
  failures: string[];
  deliveredPerSecond: number;
  latency: LatencySummary;
  /** Send → the api's answer: what of the latency the api itself takes. */
  accept: LatencySummary;
  /** CPU per part of the system over the step (including its drain), when measurable. */
  cpu?: CpuUsage;
}

export async function runDirect(
  ctx: BenchContext,
  options: { pairs: number; generators: number; steps: DirectStep[]; drainMs: number },
): Promise<DirectStepResult[]> {
  const users = await seedUsers(ctx.pool, options.pairs * 2, ctx.jwtSecret);
  const userPairs = Array.from(
    { length: options.pairs },
    (_, i) => [users[2 * i], users[2 * i + 1]] as [(typeof users)[0], (typeof users)[0]],
  );
  const channelIds = await seedDirectChannels(ctx.pool, userPairs);
  const [replicaA, replicaB] = ctx.topology.replicas;
  const pairs: Pair[] = userPairs.map(([sender, receiver], i) => {
    const [sendOn, receiveOn] = i % 2 === 0 ? [replicaA, replicaB] : [replicaB, replicaA];
    return {
      senderToken: sender.token,
      receiverToken: receiver.token,
      channelId: channelIds[i] as string,
      sendUrl: sendOn.url,
      receiveWsUrl: receiveOn.wsUrl,
    };
  });
  const generators = await Promise.all(
    Array.from({ length: options.generators }, () => Child.start("clients/direct-load.ts")),
  );
  try {
    await Promise.all(
      generators.map((generator, g) => {
        generator.send({
          type: "setup",
          pairs: pairs.filter((_, i) => i % options.generators === g),
        });
        return generator.next("ready");
      }),
    );
    ctx.log(`direct: ${options.pairs} pairs subscribed and warm`);
    const cpuParts = systemParts(ctx.topology, generators);
    const results: DirectStepResult[] = [];
    for (const step of options.steps) {
      const command: RunCommand = {
        type: "run",
        durationMs: step.durationMs,
        drainMs: options.drainMs,
        ...(step.rate ? { rate: step.rate / options.generators } : {}),
        ...(step.inFlight
          ? { inFlight: Math.max(1, Math.round(step.inFlight / options.generators)) }
          : {}),
      };
      const cpu = measureCpu(cpuParts);
      const parts = await Promise.all(
        generators.map((generator) => {
          generator.send(command as never);
          return generator.next<RunResult>("result");
        }),
      );
      const received = parts.reduce((n, p) => n + p.received, 0);
      const first = Math.min(...parts.map((p) => p.firstSendAt));
      const last = Math.max(...parts.map((p) => p.lastReceiveAt));
      const result: DirectStepResult = {
        label: step.label,
        ...(step.warmUp ? { warmUp: true } : {}),
        offeredPerSecond: step.rate ?? null,
        sent: parts.reduce((n, p) => n + p.sent, 0),
        received,
        failed: parts.reduce((n, p) => n + p.failed, 0),
        failures: [...new Set(parts.flatMap((p) => p.failures))].slice(0, 3),
        deliveredPerSecond: last > first ? round(received / ((last - first) / 1000)) : 0,
        latency: summarize(parts.flatMap((p) => p.latenciesMs)),
        accept: summarize(parts.flatMap((p) => p.acceptMs)),
        cpu: cpu(),
      };
      ctx.log(
        `direct ${step.label}: ${result.deliveredPerSecond}/s delivered, p50 ${result.latency.p50Ms} ms, p99 ${result.latency.p99Ms} ms, answered p50 ${result.accept.p50Ms} ms (${result.received}/${result.sent}, ${result.failed} failed${result.failures.length ? `: ${result.failures.join(" | ")}` : ""})`,
      );
      results.push(result);
    }
    return results;
  } finally {
    await closeChildren(generators);
  }
}
