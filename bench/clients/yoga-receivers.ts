// The yoga-broadcast baseline's client child: graphql-ws clients, one socket each,
// subscribed to `broadcast`, reading each result's broadcast id and nothing else.

import { createClient } from "graphql-ws";
import WebSocket from "ws";
import type { Broadcast } from "../baselines/broadcast.js";
import { serveReceivers } from "./receivers.js";

const SUBSCRIBE = "subscription { broadcast { id sentAt pad } }";

serveReceivers(
  (port, onBroadcast) =>
    new Promise((resolve, reject) => {
      const client = createClient({
        url: `ws://127.0.0.1:${port}/graphql`,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: false,
      });
      client.on("closed", reject);
      client.on("connected", () => {
        client.subscribe<{ broadcast: Broadcast }>(
          { query: SUBSCRIBE },
          {
            next: (result) => {
              if (result.data) onBroadcast(result.data.broadcast.id);
            },
            error: () => {},
            complete: () => {},
          },
        );
        resolve(() => void client.dispose());
      });
    }),
);
