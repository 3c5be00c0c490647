// A minimal authenticated subscription: proves a WebSocket session works end to end
// (auth in connectionParams, context, streaming) before any domain event exists.
import { Repeater } from "graphql-yoga";
import { requireViewerId } from "../resolvers/viewer.js";
import { builder } from "./builder.js";

interface Heartbeat {
  at: Date;
  serverId: string;
  viewerId: string;
}

const HeartbeatRef = builder.objectRef<Heartbeat>("Heartbeat").implement({
  fields: (t) => ({
    at: t.expose("at", { type: "DateTime" }),
    serverId: t.exposeString("serverId", { description: "The replica serving this socket." }),
    viewer: t.prismaField({
      type: "User",
      resolve: (query, beat, _args, ctx) =>
        ctx.prisma.user.findUniqueOrThrow({ ...query, where: { id: beat.viewerId } }),
    }),
  }),
});

builder.subscriptionField("heartbeat", (t) =>
  t.field({
    type: HeartbeatRef,
    description:
      "Emits at once, then every `intervalSeconds` (1-60, default 15): a liveness check.",
    authScopes: { signedIn: true },
    args: { intervalSeconds: t.arg.int({ defaultValue: 15 }) },
    subscribe: (_root, args, ctx) => {
      const viewerId = requireViewerId(ctx);
      const interval = Math.min(60, Math.max(1, args.intervalSeconds ?? 15)) * 1000;
      const serverId = ctx.services.config.serverId;
      const beat = (): Heartbeat => ({ at: new Date(), serverId, viewerId });
      // A Repeater (not a generator with sleep) so unsubscribing clears the timer at once.
      return new Repeater<Heartbeat>(async (push, stop) => {
        await push(beat());
        const timer = setInterval(() => void push(beat()), interval);
        await stop;
        clearInterval(timer);
      });
    },
    resolve: (beat) => beat,
  }),
);
