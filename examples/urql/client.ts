// The urql client of the chat API: Graphcache (cache.ts) in front of HTTP for queries
// and mutations and graphql-ws (sockets.ts) for subscriptions, both authenticated by the
// session's access token; live subscriptions resubscribe on their own after a reconnect.
import {
  Client,
  fetchExchange,
  mapExchange,
  type Operation,
  subscriptionExchange,
} from "@urql/core";
import { introspection } from "../schema.js";
import type { Session } from "../session.js";
import { chatSockets } from "../sockets.js";
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
  const sockets = chatSockets(options.wsUrl, session);
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
