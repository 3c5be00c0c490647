// The RabbitMQ adapter of the bus port (see topology.ts for exchanges and queues).
// Commands and events are published on confirm channels, so "sent" means the broker has
// it. The live side (listen) uses graphql-amqp-subscriptions, which binds one exclusive
// auto-delete queue per routing key per process and refcounts its listeners.
//
// Connection loss: neither amqplib nor graphql-amqp-subscriptions reconnects, so this
// class does. While disconnected, sends fail fast (SERVICE_UNAVAILABLE) and ping() fails
// (/ready answers 503). It reconnects with backoff, re-declares the topology and resumes
// its consumers. Live listeners are told (onInterrupted) rather than silently rebound:
// events published during the outage are gone, so the client must resume from its last
// seq to get them; a silent rebind would leave a gap nobody knows about.
import { setTimeout as sleep } from "node:timers/promises";
import amqp, {
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
} from "amqplib";
import { AMQPPubSub } from "graphql-amqp-subscriptions";
import {
  type Bus,
  BusUnavailableError,
  type CommandBatchHandler,
  type CommandConsumerOptions,
  type ListenOptions,
} from "../bus.js";
import { type Command, shardOf } from "../commands.js";
import type { BusEvent } from "../events.js";
import { declareTopology, type TopologyNames, topologyNames } from "./topology.js";

export interface AmqpBusOptions {
  url: string;
  /** Prefix of every exchange and queue name (default "chat"); tests use their own. */
  prefix?: string;
  /** Number of command shards (default 8). Every process must agree. */
  shards?: number;
  /** Deliveries per command before it is dead-lettered (default 5). */
  maxAttempts?: number;
  /** A publish not confirmed within this many ms fails (default 5000). */
  confirmTimeoutMs?: number;
  /** Longest wait between reconnection attempts (default 5000 ms; it starts at 100 ms). */
  maxReconnectDelayMs?: number;
  /** Shown by RabbitMQ for this process's connection (default the prefix). */
  connectionName?: string;
  onDeadLetter?: (command: Command, error: unknown) => void;
  log?: (message: string, error?: unknown) => void;
}

const JSON_PROPS = { contentType: "application/json", persistent: true } as const;

/** What exists while connected; replaced as a whole on reconnection. */
interface Session {
  connection: ChannelModel;
  publish: ConfirmChannel;
  pubsub: AMQPPubSub;
}

interface Consumer {
  handler: CommandBatchHandler;
  batchSize: number;
  /** Stops the consumption on the current session, if any. */
  stopCurrent?: () => Promise<void>;
}

interface Listening {
  session: Session;
  id: number;
  onInterrupted?: () => void;
}

export class AmqpBus implements Bus {
  readonly kind = "amqp" as const;
  readonly names: TopologyNames;
  readonly shards: number;
  #session: Session | undefined;
  #closing = false;
  #reconnecting: Promise<void> | undefined;
  readonly #consumers = new Set<Consumer>();
  readonly #listening = new Set<Listening>();

  private constructor(private readonly options: AmqpBusOptions) {
    this.names = topologyNames(options.prefix ?? "chat");
    this.shards = options.shards ?? 8;
  }

  /** Connects once; fails if the broker cannot be reached at start-up. */
  static async connect(options: AmqpBusOptions): Promise<AmqpBus> {
    const bus = new AmqpBus(options);
    await bus.#open();
    return bus;
  }

  async #open() {
    const connection = await amqp.connect(this.options.url, {
      clientProperties: { connection_name: this.options.connectionName ?? this.names.commands },
    });
    // Without an 'error' listener amqplib's errors would crash the process.
    connection.on("error", (error) => this.options.log?.("amqp connection error", error));
    try {
      const publish = await connection.createConfirmChannel();
      publish.on("error", (error) => this.options.log?.("amqp publish channel error", error));
      await declareTopology(publish, this.names, this.shards, this.options.maxAttempts ?? 5);
      const pubsub = new AMQPPubSub({
        // The library's types want amqplib's older Connection type; the object is the same.
        connection: connection as never,
        exchange: { name: this.names.events, type: "topic", options: { durable: true } },
        queue: { options: { exclusive: true, durable: false, autoDelete: true } },
      });
      const session: Session = { connection, publish, pubsub };
      connection.on("close", () => this.#lost(session));
      this.#session = session;
      for (const consumer of this.#consumers)
        consumer.stopCurrent = await this.#consume(session, consumer);
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
  }

  #lost(session: Session) {
    if (this.#session !== session) return;
    this.#session = undefined;
    for (const listening of this.#listening)
      if (listening.session === session) listening.onInterrupted?.();
    for (const consumer of this.#consumers) consumer.stopCurrent = undefined;
    if (this.#closing) return;
    this.options.log?.("amqp connection lost; reconnecting");
    this.#reconnecting ??= this.#reconnect().finally(() => {
      this.#reconnecting = undefined;
    });
  }

  async #reconnect() {
    let delay = 100;
    while (!this.#closing && !this.#session) {
      try {
        await this.#open();
        this.options.log?.("amqp reconnected");
        return;
      } catch (error) {
        this.options.log?.(`amqp reconnect failed (${String(error)}); next attempt in ${delay} ms`);
        await sleep(delay + Math.random() * delay * 0.2);
        delay = Math.min(delay * 2, this.options.maxReconnectDelayMs ?? 5000);
      }
    }
  }

  #current(): Session {
    if (!this.#session) throw new BusUnavailableError("RabbitMQ is not connected");
    return this.#session;
  }

  /** Publishes and waits for the broker's confirm (or fails after the timeout). */
  #publish(exchange: string, routingKey: string, payload: unknown): Promise<void> {
    const channel = this.#current().publish;
    const timeoutMs = this.options.confirmTimeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new BusUnavailableError("RabbitMQ did not confirm in time")),
        timeoutMs,
      );
      try {
        channel.publish(
          exchange,
          routingKey,
          Buffer.from(JSON.stringify(payload)),
          JSON_PROPS,
          (error) => {
            clearTimeout(timer);
            error
              ? reject(new BusUnavailableError(`RabbitMQ refused the message: ${String(error)}`))
              : resolve();
          },
        );
      } catch (error) {
        clearTimeout(timer);
        reject(new BusUnavailableError(`RabbitMQ publish failed: ${String(error)}`));
      }
    });
  }

  sendCommand(command: Command) {
    return this.#publish(
      this.names.commands,
      String(shardOf(command.channelId, this.shards)),
      command,
    );
  }

  async publishEvents(events: Array<{ routingKey: string; event: BusEvent }>) {
    await Promise.all(
      events.map(({ routingKey, event }) => this.#publish(this.names.events, routingKey, event)),
    );
  }

  async listen(
    routingKey: string,
    listener: (event: BusEvent) => void,
    options: ListenOptions = {},
  ) {
    const session = this.#current();
    const id = await session.pubsub.subscribe(routingKey, (content: unknown) =>
      listener(content as BusEvent),
    );
    const listening: Listening = { session, id, onInterrupted: options.onInterrupted };
    this.#listening.add(listening);
    return async () => {
      if (!this.#listening.delete(listening)) return;
      // On a lost session the queue went with the connection (exclusive, auto-delete).
      if (this.#session !== session) return;
      await session.pubsub
        .unsubscribe(id)
        .catch((error) => this.options.log?.("amqp unsubscribe failed", error));
    };
  }

  async consumeCommands(handler: CommandBatchHandler, options: CommandConsumerOptions = {}) {
    const consumer: Consumer = { handler, batchSize: options.batchSize ?? 100 };
    this.#consumers.add(consumer);
    if (this.#session) consumer.stopCurrent = await this.#consume(this.#session, consumer);
    return async () => {
      this.#consumers.delete(consumer);
      await consumer.stopCurrent?.();
    };
  }

  /** Consumes every shard queue on `session`; resolves to the function that stops it. */
  async #consume(session: Session, consumer: Consumer) {
    const channel = await session.connection.createChannel();
    channel.on("error", (error) => this.options.log?.("amqp consumer channel error", error));
    await channel.prefetch(consumer.batchSize * 2);
    const consumerTags: string[] = [];
    const running = new Set<Promise<void>>();
    for (let shard = 0; shard < this.shards; shard++) {
      const buffer: ConsumeMessage[] = [];
      let flushing: Promise<void> | undefined;
      const flush = async () => {
        while (buffer.length > 0) {
          await this.#handleBatch(channel, buffer.splice(0, consumer.batchSize), consumer.handler);
        }
      };
      const { consumerTag } = await channel.consume(this.names.shardQueue(shard), (delivery) => {
        if (!delivery) return;
        buffer.push(delivery);
        // Deliveries that arrive together are persisted together: the first schedules
        // the flush, the rest of the burst joins its batch.
        if (flushing) return;
        flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(flush).finally(() => {
          running.delete(flushing as Promise<void>);
          flushing = undefined;
        });
        running.add(flushing);
      });
      consumerTags.push(consumerTag);
    }
    return async () => {
      for (const tag of consumerTags) await channel.cancel(tag).catch(() => {});
      await Promise.allSettled([...running]);
      await channel.close().catch(() => {});
    };
  }

  async #handleBatch(channel: Channel, deliveries: ConsumeMessage[], handler: CommandBatchHandler) {
    // An ack on a channel that died with its connection throws; the broker redelivers
    // those commands after reconnection and the idempotent worker makes that harmless.
    const settle = (action: () => void) => {
      try {
        action();
      } catch (error) {
        this.options.log?.("amqp ack/nack failed (connection lost?)", error);
      }
    };
    const commands = deliveries.map((d) => JSON.parse(d.content.toString()) as Command);
    let batchError: unknown;
    try {
      await handler(commands);
      for (const delivery of deliveries) settle(() => channel.ack(delivery));
      return;
    } catch (error) {
      batchError = error;
      this.options.log?.(`batch of ${commands.length} failed; retrying one by one`, error);
    }
    // Find the poison: the others are persisted and acked; it goes back to the queue,
    // whose delivery limit dead-letters it after a bounded number of attempts. (A batch
    // of one was that command's attempt already.)
    for (const [i, delivery] of deliveries.entries()) {
      const command = commands[i] as Command;
      try {
        if (deliveries.length === 1) throw batchError;
        await handler([command]);
        settle(() => channel.ack(delivery));
      } catch (error) {
        const attempts = Number(delivery.properties.headers?.["x-delivery-count"] ?? 0) + 1;
        if (attempts >= (this.options.maxAttempts ?? 5))
          this.options.onDeadLetter?.(command, error);
        settle(() => channel.nack(delivery, false, true));
      }
    }
  }

  async ping() {
    this.#current();
  }

  async close() {
    this.#closing = true;
    for (const consumer of [...this.#consumers]) {
      this.#consumers.delete(consumer);
      await consumer.stopCurrent?.();
    }
    const session = this.#session;
    this.#session = undefined;
    await session?.connection.close().catch(() => {});
  }

  /** Removes every exchange and queue of this prefix (tests clean up after themselves). */
  async deleteTopology() {
    const channel = await this.#current().connection.createChannel();
    for (let shard = 0; shard < this.shards; shard++)
      await channel.deleteQueue(this.names.shardQueue(shard));
    await channel.deleteQueue(this.names.deadLetterQueue);
    for (const exchange of [this.names.commands, this.names.events, this.names.deadLetters]) {
      await channel.deleteExchange(exchange);
    }
    await channel.close();
  }
}
