// The fan-out receivers (clients/fanout-receivers.ts) spread over load-generator
// processes: start them, hand each its share of the subscribers, and gather what they all
// received. Shared by the fan-out and reconnect-storm scenarios.
import type { ArrivalsResult, Subscriber } from "../clients/fanout-receivers.js";
import { Child } from "./child.js";

export function startReceivers(processes: number): Promise<Child[]> {
  return Promise.all(
    Array.from({ length: processes }, () => Child.start("clients/fanout-receivers.ts")),
  );
}

/** Connects and subscribes every subscriber (spread over the processes); the slowest share's ms. */
export async function connectReceivers(
  generators: Child[],
  channelId: string,
  subscribers: Subscriber[],
): Promise<number> {
  const connected = await Promise.all(
    generators.map((generator, g) => {
      generator.send({
        type: "setup",
        channelId,
        subscribers: subscribers.filter((_, i) => i % generators.length === g),
      });
      return generator.next<{ type: string; connectMs: number }>("connected");
    }),
  );
  return Math.max(...connected.map((c) => c.connectMs));
}

/**
 * Once every socket has the messages of `tags` (or `timeoutMs` passed): per tag, when each
 * arrival came; the sockets that reconnected; how sockets closed or failed.
 */
export async function awaitArrivals(generators: Child[], tags: string[], timeoutMs: number) {
  const parts = await Promise.all(
    generators.map((generator) => {
      generator.send({ type: "await", tags, timeoutMs });
      return generator.next<ArrivalsResult>("arrivals");
    }),
  );
  const closes: Record<string, number> = {};
  for (const part of parts)
    for (const [what, n] of Object.entries(part.closes)) closes[what] = (closes[what] ?? 0) + n;
  return {
    arrivals: tags.map((tag) => parts.flatMap((p) => p.tags[tag]?.arrivals ?? [])),
    reconnected: parts.reduce((sum, p) => sum + p.reconnected, 0),
    closes,
  };
}
