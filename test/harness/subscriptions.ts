// A running subscription that records what it receives, for tests that send while
// listening. `until` waits (bounded) for a condition on what has arrived.
import { setTimeout as sleep } from "node:timers/promises";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { type ExecutionResult, print } from "graphql";
import type { Client } from "graphql-ws";

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

/** Waits until a subscription is live on the server (its first operation ran). */
export async function settle(ms = 150) {
  await sleep(ms);
}
