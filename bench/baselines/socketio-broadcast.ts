// Baseline: fan-out with Socket.IO, every socket in one room, io.to(room).emit(): the
// ceiling for fan-out through a mainstream real-time library (an event encoded once per
// room, no per-subscriber work), beside the bare-ws ceiling (ws-broadcast.ts). Harness
// and figures: broadcast.ts.
//
//   npx tsx bench/baselines/socketio-broadcast.ts '{"sockets":500,"clientProcesses":2,"broadcasts":5}'

import { type BroadcastOptions, type BroadcastResult, runBroadcast } from "./broadcast.js";
import { isMain, runCli } from "./cli.js";

export function runSocketIoBroadcast(o: BroadcastOptions): Promise<BroadcastResult> {
  return runBroadcast(
    {
      server: new URL("./socketio-broadcast-server.ts", import.meta.url).href,
      client: new URL("../clients/socketio-receivers.ts", import.meta.url).href,
    },
    o,
  );
}

if (isMain(import.meta.url)) runCli(runSocketIoBroadcast);
