// The in-process bus: the embedded default when no AMQP_URL is given. Same contract as
// RabbitMQ within one process: per-shard FIFO queues drained in batches by one consumer,
// bounded retries then a dead-letter list, and events fanned out per routing key.
import { setTimeout as sleep } from "node:timers/promises";
import type { Bus, CommandBatchHandler, CommandConsumerOptions } from "./bus.js";
import { type Command, shardOf } from "./commands.js";
import type { BusEvent } from "./events.js";

export interface LocalBusOptions {
  /** Number of command shards (default 8). */
  shards?: number;
  /** Attempts per command before it is dead-lettered (default 5). */
  maxAttempts?: number;
  /** Told about each dead-lettered command. */
  onDeadLetter?: (command: Command, error: unknown) => void;
}

interface Pending {
  command: Command;
  attempts: number;
}

export class LocalBus implements Bus {
  readonly kind = "local" as const;
  readonly deadLetters: Command[] = [];
  readonly #queues: Pending[][];
  readonly #draining = new Set<number>();
  readonly #listeners = new Map<string, Set<(event: BusEvent) => void>>();
  readonly #maxAttempts: number;
  #consumer: { handler: CommandBatchHandler; batchSize: number } | undefined;
  #closed = false;

  constructor(private readonly options: LocalBusOptions = {}) {
    this.#queues = Array.from({ length: options.shards ?? 8 }, () => []);
    this.#maxAttempts = options.maxAttempts ?? 5;
  }

  async sendCommand(command: Command) {
    if (this.#closed) throw new Error("bus closed");
    const shard = shardOf(command.channelId, this.#queues.length);
    // A structured clone: the consumer must not share objects with the sender, as over a wire.
    this.#queues[shard]?.push({ command: structuredClone(command), attempts: 0 });
    this.#drain(shard);
  }

  async consumeCommands(handler: CommandBatchHandler, options: CommandConsumerOptions = {}) {
    if (this.#consumer) throw new Error("the local bus has one consumer");
    this.#consumer = { handler, batchSize: options.batchSize ?? 100 };
    for (let shard = 0; shard < this.#queues.length; shard++) this.#drain(shard);
    return async () => {
      this.#consumer = undefined;
      while (this.#draining.size > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    };
  }

  /** Drains one shard: one batch at a time, so a shard's commands stay in order. */
  #drain(shard: number) {
    if (this.#draining.has(shard) || !this.#consumer) return;
    this.#draining.add(shard);
    void (async () => {
      try {
        const queue = this.#queues[shard] ?? [];
        while (queue.length > 0 && this.#consumer && !this.#closed) {
          const { handler, batchSize } = this.#consumer;
          const batch = queue.slice(0, batchSize);
          try {
            await handler(batch.map((p) => p.command));
            queue.splice(0, batch.length);
          } catch (batchError) {
            // Find the poison: retry one by one (a batch of one was that attempt already);
            // the failing one stays at the head until it has used its attempts.
            for (const pending of batch) {
              try {
                if (batch.length === 1) throw batchError;
                await handler([pending.command]);
                queue.splice(queue.indexOf(pending), 1);
              } catch (error) {
                pending.attempts++;
                if (pending.attempts >= this.#maxAttempts) {
                  queue.splice(queue.indexOf(pending), 1);
                  this.deadLetters.push(pending.command);
                  this.options.onDeadLetter?.(pending.command, error);
                } else {
                  // Back off (the shard waits), so a short outage does not burn every attempt.
                  await sleep(Math.min(2000, 50 * 2 ** pending.attempts));
                }
                break;
              }
            }
          }
        }
      } finally {
        this.#draining.delete(shard);
      }
    })();
  }

  async publishEvents(events: Array<{ routingKey: string; event: BusEvent }>) {
    for (const { routingKey, event } of events) {
      const listeners = this.#listeners.get(routingKey);
      if (!listeners) continue;
      const copy = structuredClone(event);
      // Delivered asynchronously, like a broker would: publishers never run listeners inline.
      queueMicrotask(() => {
        for (const listener of listeners) listener(copy);
      });
    }
  }

  async listen(routingKey: string, listener: (event: BusEvent) => void) {
    let listeners = this.#listeners.get(routingKey);
    if (!listeners) {
      listeners = new Set();
      this.#listeners.set(routingKey, listeners);
    }
    listeners.add(listener);
    return async () => {
      listeners.delete(listener);
      if (listeners.size === 0) this.#listeners.delete(routingKey);
    };
  }

  /** Routing keys with at least one listener (tests check nothing leaks). */
  get boundKeys(): number {
    return this.#listeners.size;
  }

  async ping() {
    if (this.#closed) throw new Error("bus closed");
  }

  async close() {
    this.#closed = true;
    this.#listeners.clear();
  }
}
