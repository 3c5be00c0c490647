// Every subscription ends when the access token that authorized it expires, whatever
// the transport: a WebSocket authenticated in connectionParams (which is also closed
// with 4401), one authenticated per operation (GraphiQL's Headers tab), or server-sent
// events over HTTP. The stream's last result is an UNAUTHENTICATED error; the client
// refreshes its session and subscribes again (resuming with afterSeq or its cursor).

import { type ExecutionResult, GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Context } from "../context.js";

/** setTimeout cannot wait longer than this (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function useStreamExpiry(): Plugin<Context> {
  return {
    onSubscribe({ args }) {
      const expiresAtMs = (args.contextValue as Context).tokenExpiresAt;
      if (expiresAtMs === null || expiresAtMs === undefined) return undefined;
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          setResult(endingAt(result[Symbol.asyncIterator](), expiresAtMs));
        },
      };
    },
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<ExecutionResult> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

/**
 * The source's results until `expiresAtMs`, then one UNAUTHENTICATED result and the end.
 * Hand-written rather than an async generator: a generator's return() waits for the
 * pending next(), so an unsubscribe would hold the stream until its next event.
 */
function endingAt(
  source: AsyncIterator<ExecutionResult>,
  expiresAtMs: number,
): AsyncIterableIterator<ExecutionResult> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<"expired">((resolve) => {
    timer = setTimeout(
      () => resolve("expired"),
      Math.min(MAX_TIMER_MS, Math.max(0, expiresAtMs - Date.now())),
    );
  });
  let done = false;
  const finish = async () => {
    done = true;
    clearTimeout(timer);
    await source.return?.();
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (done) return { value: undefined, done: true };
      const next = await Promise.race([source.next(), expired]);
      if (next !== "expired") {
        if (next.done) done = true;
        return next;
      }
      await finish();
      return {
        value: {
          errors: [
            new GraphQLError("The access token expired; refresh the session and subscribe again.", {
              extensions: { code: "UNAUTHENTICATED" },
            }),
          ],
        },
        done: false,
      };
    },
    async return() {
      await finish();
      return { value: undefined, done: true };
    },
    async throw(error: unknown) {
      await finish();
      throw error;
    },
  };
}
