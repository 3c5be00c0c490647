// Baseline: fan-out with a bare `ws` server that serializes each broadcast once and writes
// the same frame to every socket: no GraphQL, no subscriptions, no per-socket filtering or
// serialization. What the product's live streams do per event (resolve, serialize per
// subscriber, check access) comes on top of this, so it is the ceiling for fan-out.
// Harness and figures: broadcast.ts.
//
//   npx tsx bench/baselines/ws-broadcast.ts '{"sockets":500,"clientProcesses":2,"broadcasts":5}'

import { type BroadcastOptions, type BroadcastResult, runBroadcast } from "./broadcast.js";
import { isMain, runCli } from "./cli.js";

export function runWsBroadcast(o: BroadcastOptions): Promise<BroadcastResult> {
  return runBroadcast(
    {
      server: new URL("./ws-broadcast-server.ts", import.meta.url).href,
      client: new URL("../clients/ws-receivers.ts", import.meta.url).href,
    },
    o,
  );
}

if (isMain(import.meta.url)) runCli(runWsBroadcast);
