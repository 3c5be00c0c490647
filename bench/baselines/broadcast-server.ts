// The server child's side of the broadcast harness (broadcast.ts): reports its port,
// its subscribers, RSS and CPU, and runs the broadcasts it is asked for, back to back. The
// transport (ws, Socket.IO) is the caller's; this module is transport-free.

import type { Broadcast, FromServer, ToServer } from "./broadcast.js";

export interface BroadcastServer {
  port: number;
  subscribers(): number;
  /** Sends one message to every subscriber, serializing it once. */
  broadcast(message: Broadcast): void;
  close(): Promise<void>;
}

export async function serveBroadcasts(start: () => Promise<BroadcastServer>): Promise<void> {
  const reply = (message: FromServer) => process.connected && process.send?.(message);
  // After a collection, so the figures are live memory more than garbage.
  const rss = () => {
    globalThis.gc?.();
    return process.memoryUsage.rss();
  };
  try {
    const server = await start();
    process.on("message", (message: ToServer) => {
      switch (message.type) {
        case "stats":
          reply({ type: "stats", subscribers: server.subscribers(), rss: rss() });
          break;
        case "cpu": {
          const { user, system } = process.cpuUsage();
          reply({ type: "cpu", cpuMs: (user + system) / 1000 });
          break;
        }
        case "broadcast":
          broadcastAll(server, message.count, message.payloadBytes).then((sentAt) =>
            reply({ type: "sent", sentAt }),
          );
          break;
        case "close":
          process.disconnect();
          break;
      }
    });
    // Asked to close, or the parent is gone.
    process.on("disconnect", () => void server.close());
    reply({ type: "listening", port: server.port });
  } catch (error) {
    reply({ type: "error", message: String(error) });
    process.disconnect();
  }
}

/** Back to back: one event-loop turn between broadcasts, no waiting for arrivals. */
async function broadcastAll(server: BroadcastServer, count: number, payloadBytes: number) {
  const overhead = JSON.stringify({
    id: count,
    sentAt: Date.now(),
    pad: "",
  } satisfies Broadcast).length;
  const pad = "x".repeat(Math.max(0, payloadBytes - overhead));
  const sentAt: number[] = [];
  for (let id = 0; id < count; id++) {
    const now = Date.now();
    sentAt.push(now);
    server.broadcast({ id, sentAt: now, pad });
    await new Promise((resolve) => setImmediate(resolve));
  }
  return sentAt;
}
