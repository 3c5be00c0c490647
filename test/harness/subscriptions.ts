// A running subscription that records what it receives, for tests that send while
// listening. `until` waits (bounded) for a condition on what has arrived.
import { setTimeout as sleep } from "node:timers/promises";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { type ExecutionResult, print } from "graphql";
import type { Client } from "graphql-ws";
import { until } from "./wait.js";

export interface Recording<R> {
  results: Array<ExecutionResult<R>>;
  data: R[];
  error: unknown;
  completed: boolean;
  /** Resolves when `condition` holds; rejects after `timeoutMs` with what arrived so far. */
  until(condition: (data: R[]) => boolean, timeoutMs?: number): Promise<R[]>;
  stop(): void;
}

export function record<R, V extends Record<string, unknown>>(
  client: Client,
  document: TypedDocumentNode<R, V>,
  variables: V,
): Recording<R> {
  const recording: Recording<R> = {
    results: [],
    data: [],
    error: undefined,
    completed: false,
    async until(condition, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!condition(recording.data)) {
        if (recording.error || recording.completed || Date.now() > deadline) {
          throw new Error(
            `subscription condition not met (${recording.data.length} events, error: ${JSON.stringify(recording.error)}, completed: ${recording.completed})`,
          );
        }
        await sleep(20);
      }
      return recording.data;
    },
    stop: () => {},
  };
  recording.stop = client.subscribe<R>(
    { query: print(document), variables },
    {
      next: (result) => {
        recording.results.push(result as ExecutionResult<R>);
        if (result.errors) recording.error = result.errors;
        else if (result.data) recording.data.push(result.data as R);
      },
      error: (error) => {
        recording.error = error;
      },
      complete: () => {
        recording.completed = true;
      },
    },
  );
  return recording;
}

async function metric(target: { url: string }, name: string): Promise<number> {
  const response = await fetch(target.url.replace(/\/graphql$/, "/metrics"));
  const text = await response.text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return Number(line?.split(" ").at(-1) ?? 0);
}

/** How many subscriptions the replica behind `target` has set up so far (its /metrics). */
export function subscriptionsStarted(target: { url: string }): Promise<number> {
  return metric(target, "chat_subscriptions_started_total");
}

/**
 * The replica's executions of subscription selections for live events, and the results
 * it handed to subscriptions (its /metrics).
 */
export async function liveEventCounts(target: { url: string }) {
  const [executions, results] = await Promise.all([
    metric(target, "chat_live_event_executions_total"),
    metric(target, "chat_live_event_results_total"),
  ]);
  return { executions, results };
}

/**
 * How many subscriptions are live on the replica behind `target` now (its /metrics). It
 * drops when the server has ended a subscription, e.g. because its socket closed.
 */
export function subscriptionsActive(target: { url: string }): Promise<number> {
  return metric(target, "chat_subscriptions_active");
}

/**
 * Like `record`, but resolves only once the server says the subscription is set up (its
 * streams are bound), so what the test does next cannot race it. Start them one at a
 * time: each waits for the server's count to pass what it was before.
 */
export async function recordLive<R, V extends Record<string, unknown>>(
  target: { url: string },
  client: Client,
  document: TypedDocumentNode<R, V>,
  variables: V,
): Promise<Recording<R>> {
  const before = await subscriptionsStarted(target);
  const recording = record(client, document, variables);
  await until(
    async () => {
      if (recording.error || recording.completed)
        throw new Error(
          `subscription ended before it was live: ${JSON.stringify(recording.error)}`,
        );
      return (await subscriptionsStarted(target)) > before;
    },
    15_000,
    "the subscription to be live",
  );
  return recording;
}
