// The yoga-broadcast baseline's server child: graphql-yoga with graphql-ws, as Yoga's
// documentation wires them (envelop per operation), and Yoga's in-memory pubsub. Every
// socket subscribes to `broadcast { id sentAt pad }`; each broadcast is one publish,
// executed and serialized for every subscriber by the stock stack. What GraphQL
// subscriptions cost before anything of ours: no broker, no database, no access checks.

import { once, setMaxListeners } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { useServer } from "graphql-ws/use/ws";
import { createPubSub, createSchema, createYoga } from "graphql-yoga";
import { WebSocketServer } from "ws";
import type { Broadcast } from "./broadcast.js";
import { serveBroadcasts } from "./broadcast-server.js";

await serveBroadcasts(async () => {
  // One listener per subscriber on the pubsub's event target: thousands, by design.
  const eventTarget = new EventTarget();
  setMaxListeners(0, eventTarget);
  const pubsub = createPubSub<{ broadcast: [Broadcast] }>({ eventTarget });
  let subscribers = 0;
  const yoga = createYoga({
    logging: false,
    graphiql: false,
    schema: createSchema({
      typeDefs: /* GraphQL */ `
        type Query { ok: Boolean! }
        type Broadcast { id: Int! sentAt: Float! pad: String! }
        type Subscription { broadcast: Broadcast! }
      `,
      resolvers: {
        Query: { ok: () => true },
        Subscription: {
          broadcast: {
            // Counted as they subscribe: the harness starts once all have.
            subscribe: () => {
              subscribers++;
              return pubsub.subscribe("broadcast");
            },
            resolve: (message: Broadcast) => message,
          },
        },
      },
    }),
  });
  const http = createServer(yoga);
  const wss = new WebSocketServer({
    server: http,
    path: yoga.graphqlEndpoint,
    perMessageDeflate: false,
  });
  useServer(
    {
      execute: (args) =>
        (args.rootValue as { execute: (a: unknown) => unknown }).execute(args) as never,
      subscribe: (args) =>
        (args.rootValue as { subscribe: (a: unknown) => unknown }).subscribe(args) as never,
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        const document = parse(params.query);
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        return {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
      },
    },
    wss,
  );
  http.listen({ host: "127.0.0.1", port: 0, backlog: 4096 });
  await once(http, "listening");
  return {
    port: (http.address() as AddressInfo).port,
    subscribers: () => subscribers,
    broadcast(message) {
      pubsub.publish("broadcast", message);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of wss.clients) socket.terminate();
        http.close(() => resolve());
      }),
  };
});
