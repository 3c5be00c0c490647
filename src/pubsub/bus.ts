// The bus port. Two adapters honour it: RabbitMQ (amqp-bus.ts) and the in-process one
// (local-bus.ts); test/bus-contract.test.ts runs the same suite against both.
import type { Command } from "./commands.js";
import type { BusEvent } from "./events.js";

export interface CommandConsumerOptions {
  /** Most commands handed to the handler at once (default 100). */
  batchSize?: number;
}

export interface BatchContext {
  /** The shard the commands came from (all of a batch's commands share it). */
  shard: number;
  /**
   * Aborted when this batch can no longer be settled here (the consumer stops or loses
   * the shard, the broker connection is gone): stop retrying; the commands are handed
   * out again later, in the same order.
   */
  signal: AbortSignal;
}

/** A command that can never succeed, by its index in the batch, and why. */
export interface RefusedCommand {
  index: number;
  reason: string;
}

/**
 * Settles a batch of one shard's commands, in order. Resolving means every command is
 * done except the `refused` ones, which the bus dead-letters (and hands to the
 * dead-letter consumer). Throwing means nothing is done: the whole batch is handed out
 * again, in order, after a pause. The handler owns the retry policy (worker/).
 */
export type CommandBatchHandler = (
  commands: Command[],
  context: BatchContext,
) => Promise<{ refused?: RefusedCommand[] } | undefined>;

/** Which shards one process consumes; the worker's shard leases move them between processes. */
export interface CommandConsumer {
  /** Starts consuming a shard (no-op when already consuming it). */
  add(shard: number): Promise<void>;
  /**
   * Stops consuming a shard. A batch in progress is aborted; whatever the shard had
   * handed to this process and was not settled goes back to the queue in order, ahead
   * of later commands, for whoever consumes the shard next.
   */
  remove(shard: number): Promise<void>;
  /** The shards consumed now. */
  readonly shards: ReadonlySet<number>;
  /** Stops consuming every shard. */
  stop(): Promise<void>;
}

/**
 * A dead-lettered command and why it was given up on. Idempotent: a command may be handed
 * over again (its handler failed, or a letter the broker gave up on held several commands
 * and a later one's failed).
 */
export type DeadLetterHandler = (command: Command, reason: string) => Promise<void>;

export interface Bus {
  readonly kind: "amqp" | "local";
  /** How many command shards there are (every process agrees). */
  readonly shards: number;
  /**
   * Durably enqueues a command; resolves once the broker has it on its shard queue
   * (publisher confirm; an unroutable command is an error, not a silent drop).
   */
  sendCommand(command: Command): Promise<void>;
  /** Worker side: a consumer of no shard yet; add the shards this process should take. */
  commandConsumer(
    handler: CommandBatchHandler,
    options?: CommandConsumerOptions,
  ): Promise<CommandConsumer>;
  /**
   * Worker side: every dead-lettered command (refused by a handler, or given up on by the
   * broker) is handed to `handler` once it resolves, so each one is recorded and its
   * sender told. Resolves to a function that stops consuming.
   */
  consumeDeadLetters(handler: DeadLetterHandler): Promise<() => Promise<void>>;
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
