// The in-process bus: the embedded default when no AMQP_URL is given. Same contract as
// RabbitMQ within one process: per-shard FIFO queues drained in batches, a batch that
// is not settled stays at the head of its shard (order is kept whatever fails), refused
// commands go to a dead-letter queue that the dead-letter consumer drains, and events
// fan out per routing key.
import { setTimeout as sleep } from "node:timers/promises";
import type {
  Bus,
  CommandBatchHandler,
  CommandConsumer,
  CommandConsumerOptions,
  DeadLetterHandler,
} from "./bus.js";
import { type Command, shardOf } from "./commands.js";
import type { BusEvent } from "./events.js";

export interface LocalBusOptions {
  /** Number of command shards (default 8). */
  shards?: number;
  log?: (message: string, error?: unknown) => void;
}

/** Pause before handing out again a batch whose handler threw (the handler retries outages itself). */
const REDELIVERY_PAUSE_MS = 200;

export class LocalBus implements Bus {
  readonly kind = "local" as const;
  readonly shards: number;
  /** Every command dead-lettered so far, with its reason (tests read it). */
  readonly deadLetters: Array<{ command: Command; reason: string }> = [];
  readonly #queues: Command[][];
  readonly #listeners = new Map<string, Set<(event: BusEvent) => void>>();
  /** Dead letters not yet handed to (and settled by) the dead-letter consumer. */
  readonly #deadLetterQueue: Array<{ command: Command; reason: string }> = [];
  #deadLetterConsumer: { handler: DeadLetterHandler; draining?: Promise<void> } | undefined;
  #consumer: LocalConsumer | undefined;
  #closed = false;

  constructor(private readonly options: LocalBusOptions = {}) {
    this.shards = options.shards ?? 8;
    this.#queues = Array.from({ length: this.shards }, () => []);
  }

  async sendCommand(command: Command) {
    if (this.#closed) throw new Error("bus closed");
    const shard = shardOf(command.channelId, this.shards);
    // A structured clone: the consumer must not share objects with the sender, as over a wire.
    this.#queues[shard]?.push(structuredClone(command));
    this.#consumer?.wake(shard);
  }

  async commandConsumer(handler: CommandBatchHandler, options: CommandConsumerOptions = {}) {
    if (this.#consumer) throw new Error("the local bus has one command consumer");
    const consumer = new LocalConsumer(
      this.#queues,
      handler,
      options.batchSize ?? 100,
      (command, reason) => this.#deadLetter(command, reason),
      this.options.log,
      () => {
        if (this.#consumer === consumer) this.#consumer = undefined;
      },
    );
    this.#consumer = consumer;
    return consumer;
  }

  #deadLetter(command: Command, reason: string) {
    this.deadLetters.push({ command, reason });
    this.#deadLetterQueue.push({ command, reason });
    this.#drainDeadLetters();
  }

  async consumeDeadLetters(handler: DeadLetterHandler) {
    if (this.#deadLetterConsumer) throw new Error("the local bus has one dead-letter consumer");
    const consumer: { handler: DeadLetterHandler; draining?: Promise<void> } = { handler };
    this.#deadLetterConsumer = consumer;
    this.#drainDeadLetters();
    return async () => {
      if (this.#deadLetterConsumer === consumer) this.#deadLetterConsumer = undefined;
      await consumer.draining;
    };
  }

  #drainDeadLetters() {
    const consumer = this.#deadLetterConsumer;
    if (!consumer || consumer.draining) return;
    consumer.draining = (async () => {
      while (this.#deadLetterConsumer === consumer && !this.#closed) {
        const next = this.#deadLetterQueue[0];
        if (!next) break;
        try {
          await consumer.handler(next.command, next.reason);
          this.#deadLetterQueue.shift();
        } catch (error) {
          this.options.log?.("dead-letter handler failed; retrying", error);
          await sleep(REDELIVERY_PAUSE_MS);
        }
      }
    })().finally(() => {
      consumer.draining = undefined;
      // Something may have arrived after the last look.
      if (this.#deadLetterQueue.length > 0 && this.#deadLetterConsumer === consumer)
        this.#drainDeadLetters();
    });
  }

  async publishEvents(events: Array<{ routingKey: string; event: BusEvent }>) {
    if (this.#closed) throw new Error("bus closed");
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
    // Each listen gets its own entry, so releasing it twice, or after the same function
    // listened again, never removes someone else's.
    const entry = (event: BusEvent) => listener(event);
    listeners.add(entry);
    return async () => {
      if (!listeners.delete(entry)) return;
      if (listeners.size === 0 && this.#listeners.get(routingKey) === listeners)
        this.#listeners.delete(routingKey);
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
    await this.#consumer?.stop();
    await this.#deadLetterConsumer?.draining;
    this.#listeners.clear();
  }
}

/** Drains the shards it was given, one batch at a time per shard. */
interface Active {
  abort: AbortController;
  draining?: Promise<void>;
}

class LocalConsumer implements CommandConsumer {
  readonly #active = new Map<number, Active>();
  /** Drains of removed shards still finishing their batch. */
  readonly #finishing = new Map<number, Promise<void>>();

  constructor(
    private readonly queues: Command[][],
    private readonly handler: CommandBatchHandler,
    private readonly batchSize: number,
    private readonly deadLetter: (command: Command, reason: string) => void,
    private readonly log: LocalBusOptions["log"],
    private readonly onStop: () => void,
  ) {}

  get shards(): ReadonlySet<number> {
    return new Set(this.#active.keys());
  }

  async add(shard: number) {
    if (this.#active.has(shard)) return;
    if (shard < 0 || shard >= this.queues.length) throw new Error(`no shard ${shard}`);
    const active: Active = { abort: new AbortController() };
    this.#active.set(shard, active);
    // A removed drain of this shard may still be finishing its batch: one drain at a time.
    const finishing = this.#finishing.get(shard);
    if (finishing) {
      await finishing;
      if (this.#finishing.get(shard) === finishing) this.#finishing.delete(shard);
    }
    if (this.#active.get(shard) === active) this.wake(shard);
  }

  async remove(shard: number) {
    const active = this.#active.get(shard);
    if (!active) return;
    this.#active.delete(shard);
    active.abort.abort();
    if (active.draining) this.#finishing.set(shard, active.draining);
    await active.draining;
    if (this.#finishing.get(shard) === active.draining) this.#finishing.delete(shard);
  }

  async stop() {
    await Promise.all([...this.#active.keys()].map((shard) => this.remove(shard)));
    this.onStop();
  }

  wake(shard: number) {
    const active = this.#active.get(shard);
    if (!active || active.draining || this.#finishing.has(shard)) return;
    active.draining = this.#drain(shard, active).finally(() => {
      active.draining = undefined;
      // A command may have arrived between the loop's last look and now.
      if (!active.abort.signal.aborted && (this.queues[shard]?.length ?? 0) > 0) this.wake(shard);
    });
  }

  async #drain(shard: number, active: Active) {
    const queue = this.queues[shard] ?? [];
    const { signal } = active.abort;
    while (queue.length > 0 && !signal.aborted) {
      const batch = queue.slice(0, this.batchSize);
      let outcome: Awaited<ReturnType<CommandBatchHandler>>;
      try {
        outcome = await this.handler(batch, { shard, signal });
      } catch (error) {
        // Not settled: the batch stays at the head of its shard, so order holds.
        if (!signal.aborted) {
          this.log?.(`shard ${shard}: batch not settled; handing it out again`, error);
          await sleep(REDELIVERY_PAUSE_MS);
        }
        continue;
      }
      queue.splice(0, batch.length);
      for (const { index, reason } of outcome?.refused ?? []) {
        const command = batch[index];
        if (command) this.deadLetter(command, reason);
      }
    }
  }
}
