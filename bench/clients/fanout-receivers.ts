// Fan-out receivers: this process's share of a channel's subscribers, each a graphql-ws
// socket subscribed to `messageAdded(channelId)`, recording when each message arrives.
// With a failover address (the reconnect storm), a socket whose replica goes away
// reconnects there with graphql-ws's own retry and backoff, and resumes: its subscription
// asks for what came after the last seq it saw (afterSeq), as a client that must not miss
// anything does.
//
// Commands: `setup` (connect and subscribe every socket, bounded concurrency), `await`
// (report, once every socket has the messages of `tags` or the timeout passes, how many
// arrived and when), `close`.
import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";
import { globalId } from "../../src/resolvers/global-ids.js";
import { type ChildMessage, serveParent } from "../lib/child.js";

export interface Subscriber {
  token: string;
  wsUrl: string;
  /** Where to reconnect when `wsUrl` goes away (none: the socket is not retried). */
  failoverUrl?: string;
}

export interface ArrivalsResult extends ChildMessage {
  type: "arrivals";
  /** Per tag: how many sockets got it, and arrival times (ms since epoch) sorted. */
  tags: Record<string, { count: number; arrivals: number[] }>;
  /** Sockets of this process that connected again after losing their replica. */
  reconnected: number;
  /** How its sockets were closed or failed, counted (close code, or the error). */
  closes: Record<string, number>;
}

const FOLLOW = `subscription Follow($channelId: ID!, $afterSeq: Int) { messageAdded(channelId: $channelId, afterSeq: $afterSeq) { id seq body } }`;
const CONNECT_CONCURRENCY = 200;

const clients: Client[] = [];
const arrivals = new Map<string, number[]>();
/** Sockets that connected again after losing their replica. */
let reconnected = 0;
/** How sockets were closed or failed (close code, or the error), for the report. */
const closes: Record<string, number> = {};
let expected = 0;
let onArrival: (() => void) | undefined;

async function setup(command: { subscribers: Subscriber[]; channelId: string }) {
  const started = Date.now();
  expected = command.subscribers.length;
  const queue = [...command.subscribers];
  const connectOne = async (subscriber: Subscriber) => {
    let connects = 0;
    const client = createClient({
      url: () => (connects === 0 ? subscriber.wsUrl : (subscriber.failoverUrl ?? subscriber.wsUrl)),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${subscriber.token}` },
      // graphql-ws's default randomised exponential backoff between attempts; every
      // failure is retried, a network error too (a replica killed mid-read resets its
      // sockets: ECONNRESET comes before the close, and by default is not retried).
      retryAttempts: subscriber.failoverUrl ? 10 : 0,
      shouldRetry: () => true,
      lazy: false,
    });
    clients.push(client);
    await new Promise<void>((resolve, reject) => {
      client.on("connected", () => {
        if (++connects > 1) reconnected++;
        resolve();
      });
      client.on("closed", (event) => reject(new Error(`closed ${(event as CloseEvent).code}`)));
    });
    const count = (what: string) => (closes[what] = (closes[what] ?? 0) + 1);
    client.on("closed", (event) => count(`closed ${(event as CloseEvent).code}`));
    client.on("error", (error) => count(describe(error)));
    // graphql-ws subscribes again with this same payload after a reconnect: the variables
    // then carry the last seq seen, and the server replays what came after it.
    const variables: { channelId: string; afterSeq?: number } = {
      channelId: globalId("Channel", command.channelId),
    };
    client.subscribe<{ messageAdded: { seq: number; body: string } }>(
      { query: FOLLOW, variables },
      {
        next: (result) => {
          const message = result.data?.messageAdded;
          if (!message) return;
          if (subscriber.failoverUrl) variables.afterSeq = message.seq;
          const body = message.body;
          const at = Date.now();
          const list = arrivals.get(body) ?? [];
          list.push(at);
          arrivals.set(body, list);
          onArrival?.();
        },
        error: (error) =>
          process.send?.({ type: "error", message: `receiver: ${describe(error)}` }),
        complete: () => {},
      },
    );
  };
  await Promise.all(
    Array.from({ length: CONNECT_CONCURRENCY }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await connectOne(next);
    }),
  );
  return { type: "connected", connectMs: Date.now() - started };
}

async function awaitTags(command: { tags: string[]; timeoutMs: number }): Promise<ArrivalsResult> {
  const complete = () => command.tags.every((tag) => (arrivals.get(tag)?.length ?? 0) >= expected);
  const deadline = Date.now() + command.timeoutMs;
  while (!complete() && Date.now() < deadline) {
    await new Promise<void>((resolve) => {
      onArrival = resolve;
      setTimeout(resolve, 100);
    });
  }
  onArrival = undefined;
  const tags: ArrivalsResult["tags"] = {};
  for (const tag of command.tags) {
    const list = [...(arrivals.get(tag) ?? [])].sort((a, b) => a - b);
    tags[tag] = { count: list.length, arrivals: list };
    arrivals.delete(tag);
  }
  return { type: "arrivals", tags, reconnected, closes };
}

/** A subscription's error as a line: GraphQL errors, or a close event's code and reason. */
function describe(error: unknown) {
  if (Array.isArray(error)) return JSON.stringify(error);
  const close = error as { code?: unknown; reason?: unknown };
  if (close && typeof close === "object" && "code" in close)
    return `socket closed ${String(close.code)} ${String(close.reason ?? "")}`;
  // A socket's error event (its cause inside), or anything else.
  const event = error as { type?: unknown; message?: unknown; error?: unknown };
  if (event && typeof event === "object")
    return `${String(event.type ?? "error")}: ${String(event.message ?? event.error ?? JSON.stringify(event))}`;
  return String(error);
}

serveParent(async (message) => {
  if (message.type === "setup")
    return setup(message as unknown as { subscribers: Subscriber[]; channelId: string });
  if (message.type === "await")
    return awaitTags(message as unknown as { tags: string[]; timeoutMs: number });
  if (message.type === "close") {
    await Promise.all(clients.map((client) => client.dispose()));
    return { type: "closed" };
  }
  throw new Error(`unknown command ${message.type}`);
});
