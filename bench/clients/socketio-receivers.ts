// The socketio-broadcast baseline's client child: socket.io-client sockets, WebSocket
// transport only, one connection each (forceNew: by default every io() to the same URL
// would share one connection), reading each broadcast's id and nothing else.

import { io } from "socket.io-client";
import type { Broadcast } from "../baselines/broadcast.js";
import { serveReceivers } from "./receivers.js";

serveReceivers(
  (port, onBroadcast) =>
    new Promise((resolve, reject) => {
      const socket = io(`http://127.0.0.1:${port}`, {
        transports: ["websocket"],
        forceNew: true,
        reconnection: false,
      });
      socket.on("broadcast", (message: Broadcast) => onBroadcast(message.id));
      socket.once("connect_error", reject);
      socket.once("connect", () => resolve(() => socket.disconnect()));
    }),
);
