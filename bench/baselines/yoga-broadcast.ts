// Baseline: fan-out with graphql-yoga + graphql-ws and Yoga's in-memory pubsub, the stock
// stack executing and serializing each event per subscriber: where GraphQL subscriptions
// stand before a broker, a database or access checks. Harness and figures: broadcast.ts.
//
//   npx tsx bench/baselines/yoga-broadcast.ts '{"sockets":500,"clientProcesses":2,"broadcasts":5}'

import { type BroadcastOptions, type BroadcastResult, runBroadcast } from "./broadcast.js";
import { isMain, runCli } from "./cli.js";

export function runYogaBroadcast(o: BroadcastOptions): Promise<BroadcastResult> {
  return runBroadcast(
    {
      server: new URL("./yoga-broadcast-server.ts", import.meta.url).href,
      client: new URL("../clients/yoga-receivers.ts", import.meta.url).href,
    },
    o,
  );
}

if (isMain(import.meta.url)) runCli(runYogaBroadcast);
