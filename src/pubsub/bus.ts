// The bus port. Two adapters honour it: RabbitMQ (amqp-bus.ts) and the in-process one
// (local-bus.ts); test/bus-contract.test.ts runs the same suite against both.
import type { Command } from "./commands.js";
import type { BusEvent } from "./events.js";

export interface CommandConsumerOptions {
  /** Most commands handed to the handler at once (default 100). */
  batchSize?: number;
}

/**
 * Persists a batch of one shard's commands, in order. Throwing means "not done": the
 * bus retries the commands one by one, and a command that keeps failing is
 * dead-lettered after a bounded number of attempts so it never blocks its shard.
 */
export type CommandBatchHandler = (commands: Command[]) => Promise<void>;

export interface Bus {
  readonly kind: "amqp" | "local";
  /** Durably enqueues a command; resolves once the broker has it (publisher confirm). */
  sendCommand(command: Command): Promise<void>;
  /** Worker side: consumes every shard; resolves to a function that stops consuming. */
  consumeCommands(
    handler: CommandBatchHandler,
    options?: CommandConsumerOptions,
  ): Promise<() => Promise<void>>;
  /** Publishes events to the event exchange; resolves once the broker has them. */
  publishEvents(events: Array<{ routingKey: string; event: BusEvent }>): Promise<void>;
  /**
   * Listens to one routing key. A process binds each key once however many listeners
   * it has, and releases it with the last one.
   */
  listen(
    routingKey: string,
    listener: (event: BusEvent) => void,
    options?: ListenOptions,
  ): Promise<() => Promise<void>>;
  /** Throws when the bus cannot take commands (used by /ready and to fail fast). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface ListenOptions {
  /**
   * Called when events may have been missed (the broker connection was lost). The
   * listener is no longer bound; the owner should end its stream so the client resumes.
   */
  onInterrupted?: () => void;
}

export class BusUnavailableError extends Error {
  override name = "BusUnavailableError";
}
