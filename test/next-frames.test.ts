// next-frames.ts: a live stream's results written as graphql-ws `next` frames, each result
// serialized once for all it is shared by. Pure logic against a socket that records what
// it is sent (the transport itself is exercised end to end by every stream suite).
import { GraphQLError } from "graphql";
import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { writeNextFrames } from "../src/server/next-frames.js";

/**
 * A socket that keeps each frame (as the text the client reads) and lets the test finish
 * its writes. Every frame must go as a text message: graphql-ws clients parse text, and
 * ws sends a Buffer as binary unless told otherwise.
 */
function recordingSocket() {
  const frames: string[] = [];
  const sentAsText: boolean[] = [];
  const pendingWrites: Array<(error?: Error) => void> = [];
  const socket = {
    readyState: WebSocket.OPEN as number,
    send(frame: Buffer | string, options: { binary?: boolean }, done: (error?: Error) => void) {
      frames.push(String(frame));
      sentAsText.push(options.binary === false);
      pendingWrites.push(done);
    },
  };
  const flush = () => {
    for (const done of pendingWrites.splice(0)) done();
  };
  return {
    socket: socket as unknown as WebSocket,
    frames,
    sentAsText,
    pendingWrites,
    flush,
    raw: socket,
  };
}

/** A stream the test feeds by hand; records whether it was ended from outside. */
function handFedStream<T>() {
  const queue: T[] = [];
  const waiting: Array<(step: IteratorResult<T>) => void> = [];
  let failure: unknown;
  let returned = false;
  let pulls = 0;
  const iterator: AsyncIterableIterator<T> = {
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      pulls++;
      if (failure) return Promise.reject(failure);
      const value = queue.shift();
      if (value !== undefined) return Promise.resolve({ value, done: false });
      if (returned) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => waiting.push(resolve));
    },
    async return() {
      returned = true;
      for (const resolve of waiting.splice(0)) resolve({ value: undefined, done: true });
      return { value: undefined, done: true };
    },
  };
  return {
    iterator,
    push(value: T) {
      const resolve = waiting.shift();
      if (resolve) resolve({ value, done: false });
      else queue.push(value);
    },
    end() {
      returned = true;
      for (const resolve of waiting.splice(0)) resolve({ value: undefined, done: true });
    },
    fail(error: unknown) {
      failure = error;
    },
    get returned() {
      return returned;
    },
    get pulls() {
      return pulls;
    },
  };
}

/** Resolves once `check` holds, polling the event loop (no fixed sleep). */
async function until(check: () => boolean) {
  for (let turn = 0; turn < 1000 && !check(); turn++)
    await new Promise((resolve) => setImmediate(resolve));
  expect(check()).toBe(true);
}

describe("next frames", () => {
  it("writes each result as the next message graphql-ws would send (a text message), its errors by their toJSON", async () => {
    const { socket, frames, sentAsText, flush } = recordingSocket();
    const stream = handFedStream<object>();
    const held = writeNextFrames(stream.iterator, { socket, id: 'op "1"' });
    const error = new GraphQLError("Gone.", { extensions: { code: "FORBIDDEN" } });
    stream.push({ data: { messageAdded: { id: "m1", seq: 1 } } });
    await until(() => frames.length === 1);
    flush();
    stream.push({ data: null, errors: [error] });
    await until(() => frames.length === 2);
    flush();
    expect(frames.map((frame) => JSON.parse(frame))).toEqual([
      { id: 'op "1"', type: "next", payload: { data: { messageAdded: { id: "m1", seq: 1 } } } },
      { id: 'op "1"', type: "next", payload: { data: null, errors: [error.toJSON()] } },
    ]);
    expect(sentAsText).toEqual([true, true]);
    stream.end();
    // The stream graphql-ws holds yields nothing and ends after the last frame was written.
    await expect(held.next()).resolves.toEqual({ value: undefined, done: true });
  });

  it("serializes a result shared by many subscribers once", async () => {
    let reads = 0;
    const shared = {
      get data() {
        reads++;
        return { messageAdded: { id: "m1" } };
      },
    };
    const sockets = Array.from({ length: 3 }, () => recordingSocket());
    const streams = sockets.map(({ socket }, i) => {
      const stream = handFedStream<object>();
      writeNextFrames(stream.iterator, { socket, id: String(i) });
      return stream;
    });
    for (const stream of streams) stream.push(shared);
    await until(() => sockets.every(({ frames }) => frames.length === 1));
    expect(reads).toBe(1);
    expect(sockets.map(({ frames }) => JSON.parse(frames[0] as string))).toEqual(
      [0, 1, 2].map((i) => ({ id: String(i), type: "next", payload: { data: shared.data } })),
    );
  });

  it("an id and a payload beyond ASCII arrive whole (their lengths are counted in bytes)", async () => {
    const { socket, frames } = recordingSocket();
    const stream = handFedStream<object>();
    const id = "opération-😀-1";
    writeNextFrames(stream.iterator, { socket, id });
    const data = { messageAdded: { body: "héllo 👋🏽 — 世界", seq: 7 } };
    stream.push({ data });
    await until(() => frames.length === 1);
    expect(JSON.parse(frames[0] as string)).toEqual({ id, type: "next", payload: { data } });
  });

  it("takes the next result only once the previous frame was written (a slow reader holds its events upstream)", async () => {
    const { socket, frames, pendingWrites, flush } = recordingSocket();
    const stream = handFedStream<object>();
    writeNextFrames(stream.iterator, { socket, id: "1" });
    stream.push({ data: 1 });
    stream.push({ data: 2 });
    await until(() => frames.length === 1);
    // The write is not finished: the second result stays in the stream.
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(frames).toHaveLength(1);
    expect(stream.pulls).toBe(1);
    expect(pendingWrites).toHaveLength(1);
    flush();
    await until(() => frames.length === 2);
  });

  it("return() (the client's complete, the socket closing) ends the source and the held stream", async () => {
    const { socket } = recordingSocket();
    const stream = handFedStream<object>();
    const held = writeNextFrames(stream.iterator, { socket, id: "1" });
    const pending = held.next();
    await expect(held.return?.()).resolves.toEqual({ value: undefined, done: true });
    expect(stream.returned).toBe(true);
    await expect(pending).resolves.toEqual({ value: undefined, done: true });
  });

  it("a failing source fails the held stream with its error (graphql-ws sends it as the error message)", async () => {
    const { socket } = recordingSocket();
    const stream = handFedStream<object>();
    const error = new GraphQLError("Live events were interrupted.", {
      extensions: { code: "SERVICE_UNAVAILABLE" },
    });
    stream.fail(error);
    const held = writeNextFrames(stream.iterator, { socket, id: "1" });
    await expect(held.next()).rejects.toBe(error);
  });

  it("a failed write fails the held stream; a socket no longer open is skipped, as graphql-ws skips it", async () => {
    const failing = recordingSocket();
    const stream = handFedStream<object>();
    const held = writeNextFrames(stream.iterator, { socket: failing.socket, id: "1" });
    stream.push({ data: 1 });
    await until(() => failing.pendingWrites.length === 1);
    const broken = new Error("write EPIPE");
    failing.pendingWrites[0]?.(broken);
    await expect(held.next()).rejects.toBe(broken);

    const closing = recordingSocket();
    closing.raw.readyState = WebSocket.CLOSING;
    const next = handFedStream<object>();
    const quiet = writeNextFrames(next.iterator, { socket: closing.socket, id: "2" });
    next.push({ data: 1 });
    next.end();
    await expect(quiet.next()).resolves.toEqual({ value: undefined, done: true });
    expect(closing.frames).toEqual([]);
  });

  it("a result that cannot be serialized fails the held stream", async () => {
    const { socket, frames } = recordingSocket();
    const stream = handFedStream<object>();
    const held = writeNextFrames(stream.iterator, { socket, id: "1" });
    stream.push({ data: { count: 1n } });
    await expect(held.next()).rejects.toThrow(/BigInt/);
    expect(frames).toEqual([]);
  });

  it("a stream nobody iterates and that then fails is no unhandled rejection", async () => {
    const { socket } = recordingSocket();
    const stream = handFedStream<object>();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      stream.fail(new Error("source failed"));
      writeNextFrames(stream.iterator, { socket, id: "1" });
      await until(() => stream.pulls === 1);
      for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
