// The ws-broadcast baseline's server child: a bare `ws` server that serializes each
// broadcast once into a Buffer and writes that same Buffer, as a text frame, to every
// socket. Nothing is done per socket but framing and the write: the fan-out ceiling.

import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { serveBroadcasts } from "./broadcast-server.js";

await serveBroadcasts(async () => {
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    backlog: 4096,
    perMessageDeflate: false,
  });
  // A socket's protocol error only closes it; the run counts what it missed.
  wss.on("connection", (socket) => socket.on("error", () => {}));
  await once(wss, "listening");
  return {
    port: (wss.address() as AddressInfo).port,
    subscribers: () => wss.clients.size,
    broadcast(message) {
      const frame = Buffer.from(JSON.stringify(message));
      for (const socket of wss.clients) socket.send(frame, { binary: false });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of wss.clients) socket.terminate();
        wss.close(() => resolve());
      }),
  };
});
