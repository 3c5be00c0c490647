// Load generator for direct messages: each pair's sender posts `sendMessage` over HTTP to
// one replica, its partner is subscribed (graphql-ws) on the other, and this process sees
// both ends, so send→receive latency is measured on one clock.
//
// Commands from the parent: `setup` (open the receivers, warm every pair up with one
// message), `run` (send for `durationMs`, open loop at `rate`/s or closed loop with
// `inFlight` outstanding), `close`.
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";
import { globalId } from "../../src/resolvers/global-ids.js";
import { type ChildMessage, serveParent } from "../lib/child.js";

export interface Pair {
  senderToken: string;
  receiverToken: string;
  channelId: string;
  /** Where the sender posts (HTTP GraphQL endpoint) and where its partner subscribes (ws). */
  sendUrl: string;
  receiveWsUrl: string;
}

export interface SetupCommand {
  type: "setup";
  pairs: Pair[];
}

export interface RunCommand {
  type: "run";
  durationMs: number;
  /** Open loop: messages per second from this process. */
  rate?: number;
  /** Closed loop: messages sent and not yet received, at most. */
  inFlight?: number;
  /** How long to wait for stragglers after the last send. */
  drainMs: number;
}

export interface RunResult extends ChildMessage {
  type: "result";
  sent: number;
  received: number;
  failed: number;
  /** The first few distinct reasons sends failed. */
  failures: string[];
  latenciesMs: number[];
  /** Send → the api's answer (PENDING): the api's share of the latency. */
  acceptMs: number[];
  firstSendAt: number;
  lastReceiveAt: number;
}

const SEND = `mutation Send($input: SendMessageInput!) { sendMessage(input: $input) { id } }`;
const FOLLOW = `subscription Follow($channelId: ID!) { messageAdded(channelId: $channelId) { id seq body } }`;

let pairs: Pair[] = [];
const receivers: Client[] = [];
/** clientMessageId (also the body) → when its send started. */
const pending = new Map<string, number>();
let onReceived: ((body: string) => void) | undefined;

async function send(pair: Pair, tag: string) {
  const response = await fetch(pair.sendUrl, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${pair.senderToken}` },
    body: JSON.stringify({
      query: SEND,
      variables: {
        input: { channelId: globalId("Channel", pair.channelId), body: tag, clientMessageId: tag },
      },
    }),
  });
  const result = (await response.json()) as { errors?: unknown[] };
  if (result.errors) throw new Error(`sendMessage failed: ${JSON.stringify(result.errors)}`);
}

async function setup(command: SetupCommand) {
  pairs = command.pairs;
  for (const pair of pairs) {
    const client = createClient({
      url: pair.receiveWsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${pair.receiverToken}` },
      retryAttempts: 0,
      lazy: false,
    });
    receivers.push(client);
    client.subscribe<{ messageAdded: { body: string } }>(
      { query: FOLLOW, variables: { channelId: globalId("Channel", pair.channelId) } },
      {
        next: (result) => {
          const body = result.data?.messageAdded.body;
          if (body) onReceived?.(body);
        },
        error: (error) => process.send?.({ type: "error", message: `receiver: ${String(error)}` }),
        complete: () => {},
      },
    );
  }
  // Warm-up: a message seen by each pair's receiver proves its subscription is live. A
  // message sent before the subscription was live is not delivered again (a resend with
  // the same clientMessageId is the same message), so each retry is a new message.
  const cold = new Set(pairs);
  const pairOfTag = new Map<string, Pair>();
  onReceived = (body) => {
    const pair = pairOfTag.get(body);
    if (pair) cold.delete(pair);
  };
  for (let round = 0; cold.size > 0; round++) {
    if (round === 50) throw new Error(`${cold.size} receivers never got a message`);
    await Promise.all(
      [...cold].map((pair) => {
        const tag = `warm-${randomUUID()}`;
        pairOfTag.set(tag, pair);
        return send(pair, tag);
      }),
    );
    const deadline = performance.now() + 1_000;
    while (cold.size > 0 && performance.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
  }
  onReceived = undefined;
  return { type: "ready" };
}

async function run(command: RunCommand): Promise<RunResult> {
  const latencies: number[] = [];
  const accepts: number[] = [];
  let sent = 0;
  let failed = 0;
  const failures = new Set<string>();
  let lastReceiveAt = 0;
  let next = 0;
  let wake: (() => void) | undefined;
  onReceived = (body) => {
    const started = pending.get(body);
    if (started === undefined) return;
    pending.delete(body);
    latencies.push(performance.now() - started);
    lastReceiveAt = Date.now();
    wake?.();
  };
  const fire = () => {
    const pair = pairs[next++ % pairs.length] as Pair;
    const tag = randomUUID();
    const started = performance.now();
    pending.set(tag, started);
    sent++;
    send(pair, tag)
      .then(() => accepts.push(performance.now() - started))
      .catch((error: unknown) => {
        pending.delete(tag);
        failed++;
        const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
        const reason = [String((error as Error)?.message ?? error), cause?.code ?? cause?.message]
          .filter(Boolean)
          .join(": ")
          .slice(0, 300);
        if (failures.size < 3) failures.add(reason);
        wake?.();
      });
  };
  const firstSendAt = Date.now();
  const until = performance.now() + command.durationMs;
  if (command.rate) {
    // Open loop: the due number of sends every 10 ms, whatever comes back.
    const start = performance.now();
    while (performance.now() < until) {
      const due = Math.floor(((performance.now() - start) / 1000) * command.rate);
      while (sent < due) fire();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } else {
    const limit = command.inFlight ?? 32;
    while (performance.now() < until) {
      while (pending.size < limit) fire();
      // Woken by a receive or a failure; the timer bounds a wait on nothing coming back.
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  }
  const drainUntil = performance.now() + command.drainMs;
  while (pending.size > 0 && performance.now() < drainUntil) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  onReceived = undefined;
  const received = latencies.length;
  pending.clear();
  return {
    type: "result",
    sent,
    received,
    failed,
    failures: [...failures],
    latenciesMs: latencies,
    acceptMs: accepts,
    firstSendAt,
    lastReceiveAt,
  };
}

serveParent(async (message) => {
  if (message.type === "setup") return setup(message as unknown as SetupCommand);
  if (message.type === "run") return run(message as unknown as RunCommand);
  if (message.type === "close") {
    await Promise.all(receivers.map((client) => client.dispose()));
    return { type: "closed" };
  }
  throw new Error(`unknown command ${message.type}`);
});
