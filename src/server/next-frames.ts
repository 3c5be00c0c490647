// A live subscription's results, written to its socket as graphql-ws `next` frames with
// each result serialized once for every subscriber it goes to.
//
// graphql-ws sends each result itself: per subscriber and event it copies the result twice
// (to drop an absent `errors`), validates and stringifies the whole message, and awaits a
// hook nobody set. Results of one event are one object for all subscribers that share its
// execution (shared-event-execution.ts), so the payload's JSON can be made once and each
// subscriber's frame is its id around it: in a fan-out to 10,000 that took the replicas'
// CPU per delivery from 31.6 to 26.1 µs (five alternating runs each, a scratch lab; a
// plain `ws` server writing one pre-serialized frame takes 11.7, Socket.IO 20.4; issue 10).
//
// graphql-ws keeps everything else: it is handed a stream that yields nothing and ends
// when this one has written its last frame (then it sends `complete`) or fails (then it
// sends the `error`), and whose return() (the client's `complete`, the socket closing)
// stops it. Each frame is written only after the previous one was (as graphql-ws does), so
// a subscriber that reads slowly still holds its events upstream, where the stream's own
// bound (resolvers/streams) ends it.
import { WebSocket } from "ws";

/** Where a subscription's frames go: its socket and the id the client gave it. */
export interface FrameTarget {
  socket: WebSocket;
  id: string;
}

/** Payload JSON per result object: one serialization for everyone the result is shared by. */
const serialized = new WeakMap<object, string>();

function payloadJson(result: object) {
  let json = serialized.get(result);
  if (json === undefined) {
    // As graphql-ws's own frame: GraphQLErrors by their toJSON, an absent `errors` left out.
    json = JSON.stringify(result);
    serialized.set(result, json);
  }
  return json;
}

function write(socket: WebSocket, frame: string) {
  return new Promise<void>((resolve, reject) => {
    // graphql-ws's own send does the same for a socket that is closing or closed.
    if (socket.readyState !== WebSocket.OPEN) return resolve();
    socket.send(frame, (error) => (error ? reject(error) : resolve()));
  });
}

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

/**
 * Writes `results` to `target` as `next` frames; returns the stream graphql-ws is to hold
 * for this subscription in their place.
 */
export function writeNextFrames(
  results: AsyncIterable<object>,
  target: FrameTarget,
): AsyncIterableIterator<never> {
  const source = results[Symbol.asyncIterator]();
  const prefix = `{"id":${JSON.stringify(target.id)},"type":"next","payload":`;
  let stopped = false;
  let settle: { end(): void; fail(error: unknown): void } = { end() {}, fail() {} };
  const ended = new Promise<IteratorResult<never>>((resolve, reject) => {
    settle = { end: () => resolve(DONE), fail: reject };
  });
  // graphql-ws may never ask (a client that completed before the stream was handed over):
  // a failure nobody awaits is not an unhandled rejection.
  ended.catch(() => {});
  const stop = async () => {
    stopped = true;
    settle.end();
    await source.return?.();
  };

  void (async () => {
    try {
      for (;;) {
        const step = await source.next();
        if (step.done || stopped) break;
        await write(target.socket, `${prefix}${payloadJson(step.value)}}`);
      }
      settle.end();
    } catch (error) {
      settle.fail(error);
    }
  })();

  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => ended,
    async return() {
      await stop();
      return DONE;
    },
    async throw(error: unknown) {
      await stop();
      throw error;
    },
  };
}
