// The ws-broadcast baseline's client child: plain `ws` sockets that read each frame's
// broadcast id and nothing else.

import WebSocket from "ws";
import type { Broadcast } from "../baselines/broadcast.js";
import { serveReceivers } from "./receivers.js";

serveReceivers(
  (port, onBroadcast) =>
    new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
      socket.on("message", (data) => onBroadcast((JSON.parse(String(data)) as Broadcast).id));
      // Before open, an error fails the run; after, the socket's missed broadcasts count.
      socket.on("error", reject);
      socket.once("open", () => resolve(() => socket.terminate()));
    }),
);
