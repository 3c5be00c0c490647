// A user's subscriptions that no signed-in socket carries (server-sent events over HTTP,
// and subscriptions authenticated per operation on an anonymous socket) each hold one of
// the user's MAX_STREAMS_PER_USER stream slots, across replicas, for as long as they run.
// Subscriptions on a socket signed in with connectionParams count under that socket's
// slot instead (at most 100 per socket, websocket.ts). Past the cap a subscription is
// answered with TOO_MANY_STREAMS (and the cap in `extensions.limit`).
import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Context } from "../context.js";
import type { ErrorCode } from "../errors.js";
import type { SocketContext } from "./yoga.js";

export function useStreamCaps(): Plugin<Context & SocketContext> {
  return {
    async onSubscribe({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as Context & SocketContext;
      if (!ctx.viewer || ctx.carriedBySocket) return undefined;
      const cap = ctx.services.config.maxStreamsPerUser;
      const slot = await ctx.services.userSlots.claim("streams", ctx.viewer.id, cap);
      if (!slot) {
        setResultAndStopExecution({
          errors: [
            new GraphQLError(
              `Too many open subscriptions for this user outside a signed-in socket (at most ${cap}); close one, or subscribe over a socket signed in with connectionParams.`,
              { extensions: { code: "TOO_MANY_STREAMS" satisfies ErrorCode, limit: cap } },
            ),
          ],
        });
        return undefined;
      }
      return {
        onSubscribeResult({ result }) {
          // Refused at subscribe time (an error, not a stream): nothing is held.
          if (!(typeof result === "object" && result && Symbol.asyncIterator in result)) {
            void slot.release();
            return undefined;
          }
          // Ends however the stream does: completed, unsubscribed or its client gone.
          return { onEnd: () => void slot.release() };
        },
      };
    },
  };
}
