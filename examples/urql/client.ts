// The urql client of the chat API: Graphcache (cache.ts) in front of HTTP for queries
// and mutations and graphql-ws for subscriptions, both authenticated by the session's
// access token. A socket closed with 4401 (its token expired) reconnects with a renewed
// token, and live subscriptions resubscribe on their own.
import {
  Client,
  fetchExchange,
  mapExchange,
  type Operation,
  subscriptionExchange,
} from "@urql/core";
import { createClient as createWsClient } from "graphql-ws";
import WebSocket from "ws";
import { introspection } from "../schema.js";
import type { Session } from "../session.js";
import { chatCache } from "./cache.js";

export interface ChatClientOptions {
  /** e.g. http://localhost:4000/graphql */
  url: string;
  /** e.g. ws://localhost:4000/graphql */
  wsUrl: string;
  session: Session;
  onCacheWarning?: (message: string) => void;
  /** Every operation that goes to the network (past the cache). */
  onNetwork?: (operation: Operation) => void;
}

export function createChatClient(options: ChatClientOptions) {
  const { session } = options;
  const sockets = createWsClient({
    url: options.wsUrl,
    webSocketImpl: WebSocket,
    // Asked again on every (re)connect: a renewed token after a 4401.
    connectionParams: async () => ({ authorization: `Bearer ${await session.accessToken()}` }),
    on: {
      closed: (event) => {
        if ((event as { code?: number }).code === 4401) void session.renew();
      },
    },
    // Reconnect on every close but a refused token (4403: signing in again is the fix).
    shouldRetry: (event) => (event as { code?: number }).code !== 4403,
    retryAttempts: Number.POSITIVE_INFINITY,
  });
  const client = new Client({
    url: options.url,
    exchanges: [
      chatCache({
        viewer: { id: session.user.id, displayName: session.user.displayName },
        schema: introspection,
        onWarning: options.onCacheWarning,
      }),
      mapExchange({
        onOperation: (operation) => {
          if (operation.kind !== "teardown") options.onNetwork?.(operation);
        },
      }),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({
            unsubscribe: sockets.subscribe({ ...request, query: request.query ?? "" }, sink),
          }),
        }),
      }),
    ],
    // Each HTTP request carries a token that is valid now.
    fetch: async (input, init) =>
      fetch(input, {
        ...init,
        headers: {
          ...(init?.headers as Record<string, string>),
          authorization: `Bearer ${await session.accessToken()}`,
        },
      }),
  });
  return { client, close: () => sockets.dispose() };
}
