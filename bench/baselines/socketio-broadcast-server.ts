// The socketio-broadcast baseline's server child: a Socket.IO server (WebSocket transport
// only) with every socket joined to one room, broadcasting with io.to(room).emit(). The
// in-memory adapter encodes each broadcast once (packet and WebSocket frame) for the room.

import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { serveBroadcasts } from "./broadcast-server.js";

const ROOM = "everyone";

await serveBroadcasts(async () => {
  const http = createServer();
  const io = new Server(http, {
    transports: ["websocket"],
    perMessageDeflate: false,
    serveClient: false,
  });
  io.on("connection", (socket) => socket.join(ROOM));
  http.listen({ host: "127.0.0.1", port: 0, backlog: 4096 });
  await once(http, "listening");
  return {
    port: (http.address() as AddressInfo).port,
    subscribers: () => io.sockets.adapter.rooms.get(ROOM)?.size ?? 0,
    broadcast(message) {
      io.to(ROOM).emit("broadcast", message);
    },
    close: () => new Promise<void>((resolve) => io.close(() => resolve())),
  };
});
