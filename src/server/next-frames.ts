// A live subscription's results, written to its socket as graphql-ws `next` frames with
// each result serialized once for every subscriber it goes to.
//
// graphql-ws sends each result itself: per subscriber and event it copies the result twice
// (to drop an absent `errors`), validates and stringifies the whole message, and awaits a
// hook nobody set. Results of one event are one object for all subscribers that share its
// execution (shared-event-execution.ts), so the payload's JSON can be made once and each
// subscriber's frame is its id around it: in a fan-out to 10,000 that took the replicas'
// CPU per delivery from 31.6 to 26.1 µs (five alternating runs each, a scratch lab; a
// plain `ws` server writing one pre-serialized frame takes 11.7, Socket.IO 20.4; issue 10),
// for about 1.1 KiB more per idle subscribed socket (NextFrameWriter). The payload is kept
// encoded and each frame assembled as bytes (frameOf): about a tenth less again (the
// replicas' CPU per delivery 30.6 → 27.5 µs, 12 bursts each, alternating; allocation per
// delivery 4.6 → 4.0 KiB).
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

/**
 * A result's payload, encoded, with the frame's closing brace, per result object: one
 * serialization (and one UTF-8 encoding) for everyone the result is shared by.
 */
const serialized = new WeakMap<object, Buffer>();

function payloadBytes(result: object) {
  let bytes = serialized.get(result);
  if (bytes === undefined) {
    // As graphql-ws's own frame: GraphQLErrors by their toJSON, an absent `errors` left out.
    bytes = Buffer.from(`${JSON.stringify(result)}}`);
    serialized.set(result, bytes);
  }
  return bytes;
}

/**
 * A subscriber's frame: its prefix (`prefixBytes` long in UTF-8), then the shared payload,
 * copied as bytes. Built as a string, each frame was a new string the size of the payload
 * to flatten and then encode per subscriber (issue 10). The prefix stays a string: as a
 * Buffer it would be a slice of Node's shared pool, and hold a whole 8 KiB slab for the
 * subscription's life.
 */
function frameOf(prefix: string, prefixBytes: number, payload: Buffer) {
  const frame = Buffer.allocUnsafe(prefixBytes + payload.length);
  frame.write(prefix, 0, prefixBytes);
  payload.copy(frame, prefixBytes);
  return frame;
}

/** Sent as text: graphql-ws messages are text frames (a Buffer would go as binary). */
const TEXT = { binary: false };

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };
const ignore = () => {};

/**
 * Writes a subscription's results as its `next` frames, and is the stream graphql-ws holds
 * for it in their place. An idle subscribed socket holds one of these for its whole life:
 * as a class, its steps bound once, it adds about 1.1 KiB to the socket's live heap (6,000
 * sockets, after a full collection); as closures around a promise chain it added 1.7 KiB,
 * and as a suspended async function more. A frame's write reports to a bound callback
 * rather than a promise of its own: a promise, its resolving functions and a callback per
 * delivery less.
 */
class NextFrameWriter implements AsyncIterableIterator<never> {
  readonly #source: AsyncIterator<object>;
  readonly #socket: WebSocket;
  /** The frame up to its payload: `{"id":…,"type":"next","payload":`. */
  readonly #prefix: string;
  /** Its length in UTF-8 (the id is the client's). */
  readonly #prefixBytes: number;
  #stopped = false;
  readonly #ended: Promise<IteratorResult<never>>;
  #end: () => void = ignore;
  #fail: (error: unknown) => void = ignore;

  constructor(results: AsyncIterable<object>, target: FrameTarget) {
    this.#source = results[Symbol.asyncIterator]();
    this.#socket = target.socket;
    this.#prefix = `{"id":${JSON.stringify(target.id)},"type":"next","payload":`;
    this.#prefixBytes = Buffer.byteLength(this.#prefix);
    this.#ended = new Promise((resolve, reject) => {
      this.#end = () => resolve(DONE as IteratorResult<never>);
      this.#fail = reject;
    });
    // graphql-ws may never ask (a client that completed before the stream was handed
    // over): a failure nobody awaits is not an unhandled rejection.
    this.#ended.catch(ignore);
    this.#pull();
  }

  // Nothing thrown in these steps may escape: it would be a rejection nobody handles.
  readonly #pull = (): void => {
    try {
      this.#source.next().then(this.#take, this.#fail);
    } catch (error) {
      this.#fail(error);
    }
  };

  readonly #take = (step: IteratorResult<object>): void => {
    try {
      if (step.done || this.#stopped) {
        this.#end();
        return;
      }
      // graphql-ws's own send does the same for a socket that is closing or closed.
      if (this.#socket.readyState !== WebSocket.OPEN) {
        this.#pull();
        return;
      }
      const frame = frameOf(this.#prefix, this.#prefixBytes, payloadBytes(step.value));
      this.#socket.send(frame, TEXT, this.#written);
    } catch (error) {
      this.#fail(error);
    }
  };

  /** ws's callback once a frame is written (or could not be): the next, or the failure. */
  readonly #written = (error?: Error): void => {
    if (error) this.#fail(error);
    else this.#pull();
  };

  [Symbol.asyncIterator]() {
    return this;
  }

  /** Settles once: done after the last frame was written, or with the failure. */
  next() {
    return this.#ended;
  }

  /** The client's `complete`, or the socket closing (graphql-ws calls nothing else). */
  async return(): Promise<IteratorResult<never>> {
    this.#stopped = true;
    this.#end();
    await this.#source.return?.();
    return DONE as IteratorResult<never>;
  }
}

/**
 * Writes `results` to `target` as `next` frames; returns the stream graphql-ws is to hold
 * for this subscription in their place.
 */
export function writeNextFrames(
  results: AsyncIterable<object>,
  target: FrameTarget,
): AsyncIterableIterator<never> {
  return new NextFrameWriter(results, target);
}
