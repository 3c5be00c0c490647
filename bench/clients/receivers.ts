// The client child's side of the broadcast harness (bench/baselines/broadcast.ts): opens
// its share of sockets, 200 at a time, and tallies for each broadcast id how many of its
// sockets got it and when the last one did (Date.now() on arrival). The transport (ws,
// socket.io-client) is the caller's.

import type { FromClient, ToClient } from "../baselines/broadcast.js";

/** Opens one socket that reports each broadcast's id; resolves, once open, with its closer. */
export type OpenSocket = (port: number, onBroadcast: (id: number) => void) => Promise<() => void>;

const CONCURRENCY = 200;

export function serveReceivers(open: OpenSocket): void {
  const reply = (message: FromClient) => process.connected && process.send?.(message);
  const closers: Array<() => void> = [];
  let closing = false;
  let counts: number[] = [];
  let lastArrivals: number[] = [];
  let expected = 0;
  let received = 0;
  const onBroadcast = (id: number) => {
    const now = Date.now();
    if (!(id >= 0 && id < counts.length)) return;
    counts[id] = (counts[id] ?? 0) + 1;
    lastArrivals[id] = now;
    if (++received === expected) reply({ type: "complete" });
  };

  const connect = async (port: number, sockets: number) => {
    let next = 0;
    const opener = async () => {
      while (next < sockets && !closing) {
        next++;
        const close = await open(port, onBroadcast);
        if (closing) close();
        else closers.push(close);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, sockets) }, opener));
  };

  process.on("message", (message: ToClient) => {
    switch (message.type) {
      case "connect":
        counts = new Array(message.broadcasts).fill(0);
        lastArrivals = new Array(message.broadcasts).fill(0);
        expected = message.sockets * message.broadcasts;
        connect(message.port, message.sockets).then(
          () => {
            reply({ type: "connected" });
            if (expected === 0) reply({ type: "complete" });
          },
          (error: unknown) => reply({ type: "error", message: String(error) }),
        );
        break;
      case "report":
        reply({ type: "report", counts, lastArrivals });
        break;
      case "close":
        process.disconnect();
        break;
    }
  });
  // Asked to close, or the parent is gone.
  process.on("disconnect", () => {
    closing = true;
    for (const close of closers) close();
  });
  reply({ type: "ready" });
}
