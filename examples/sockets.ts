// graphql-ws for both example clients: authenticated with a token that is valid now on
// every (re)connect, renewed when the server closes the socket with 4401 (its token
// expired), and reconnecting on every close but 4403 (a refused token: sign in again).
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import type { Session } from "./session.js";

const closeCode = (event: unknown) => (event as { code?: number }).code;

export function chatSockets(wsUrl: string, session: Session) {
  return createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: async () => ({ authorization: `Bearer ${await session.accessToken()}` }),
    on: {
      closed: (event) => {
        if (closeCode(event) === 4401) void session.renew();
      },
    },
    shouldRetry: (event) => closeCode(event) !== 4403,
    retryAttempts: Number.POSITIVE_INFINITY,
  });
}
