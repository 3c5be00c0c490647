// The RabbitMQ adapter of the bus port (see topology.ts for exchanges and queues).
// Commands and events are published on confirm channels, so "sent" means the broker has
// it. The live side (listen) uses graphql-amqp-subscriptions, which binds one exclusive
// auto-delete queue per routing key per process and refcounts its listeners.
import amqp, { type ChannelModel, type ConfirmChannel, type ConsumeMessage } from "amqplib";
import { AMQPPubSub } from "graphql-amqp-subscriptions";
import {
  type Bus,
  BusUnavailableError,
  type CommandBatchHandler,
  type CommandConsumerOptions,
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
  /** Shown by RabbitMQ for this process's connection (default the prefix). */
  connectionName?: string;
  onDeadLetter?: (command: Command, error: unknown) => void;
  log?: (message: string, error?: unknown) => void;
}

const JSON_PROPS = { contentType: "application/json", persistent: true } as const;

export class AmqpBus implements Bus {
  readonly kind = "amqp" as const;
  readonly names: TopologyNames;
  readonly shards: number;
  #connection: ChannelModel | undefined;
  #publishChannel: ConfirmChannel | undefined;
  #pubsub: AMQPPubSub | undefined;
  #open = false;
  readonly #stops = new Set<() => Promise<void>>();

  private constructor(private readonly options: AmqpBusOptions) {
    this.names = topologyNames(options.prefix ?? "chat");
    this.shards = options.shards ?? 8;
  }

  static async connect(options: AmqpBusOptions): Promise<AmqpBus> {
    const bus = new AmqpBus(options);
    await bus.#connect();
    return bus;
  }

  async #connect() {
    const connection = await amqp.connect(this.options.url, {
      clientProperties: { connection_name: this.options.connectionName ?? this.names.commands },
    });
    // Without listeners an 'error' would crash the process; the 'close' that follows marks
    // the bus unavailable so senders get SERVICE_UNAVAILABLE instead of hanging.
    connection.on("error", (error) => this.options.log?.("amqp connection error", error));
    connection.on("close", () => {
      this.#open = false;
    });
    const channel = await connection.createConfirmChannel();
    channel.on("error", (error) => this.options.log?.("amqp publish channel error", error));
    await declareTopology(channel, this.names, this.shards, this.options.maxAttempts ?? 5);
    this.#connection = connection;
    this.#publishChannel = channel;
    this.#pubsub = new AMQPPubSub({
      // The library's types want amqplib's older Connection type; the object is the same.
      connection: connection as never,
      exchange: { name: this.names.events, type: "topic", options: { durable: true } },
      queue: { options: { exclusive: true, durable: false, autoDelete: true } },
    });
    this.#open = true;
  }

  #channel(): ConfirmChannel {
    if (!this.#open || !this.#publishChannel)
      throw new BusUnavailableError("RabbitMQ is not connected");
    return this.#publishChannel;
  }

  /** Publishes and waits for the broker's confirm (or fails after the timeout). */
  #publish(exchange: string, routingKey: string, payload: unknown): Promise<void> {
    const channel = this.#channel();
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

  async listen(routingKey: string, listener: (event: BusEvent) => void) {
    if (!this.#open || !this.#pubsub) throw new BusUnavailableError("RabbitMQ is not connected");
    const pubsub = this.#pubsub;
    const id = await pubsub.subscribe(routingKey, (content: unknown) =>
      listener(content as BusEvent),
    );
    return async () => {
      try {
        await pubsub.unsubscribe(id);
      } catch (error) {
        // The connection is gone: so is the queue (exclusive, auto-delete).
        this.options.log?.("amqp unsubscribe failed", error);
      }
    };
  }

  async consumeCommands(handler: CommandBatchHandler, options: CommandConsumerOptions = {}) {
    if (!this.#connection) throw new BusUnavailableError("RabbitMQ is not connected");
    const batchSize = options.batchSize ?? 100;
    const channel = await this.#connection.createChannel();
    channel.on("error", (error) => this.options.log?.("amqp consumer channel error", error));
    await channel.prefetch(batchSize * 2);
    const consumerTags: string[] = [];
    const shardWork: Array<Promise<void>> = [];
    for (let shard = 0; shard < this.shards; shard++) {
      const buffer: ConsumeMessage[] = [];
      let running: Promise<void> | undefined;
      const flush = async () => {
        while (buffer.length > 0) {
          const deliveries = buffer.splice(0, batchSize);
          await this.#handleBatch(channel, deliveries, handler);
        }
        running = undefined;
      };
      const { consumerTag } = await channel.consume(this.names.shardQueue(shard), (delivery) => {
        if (!delivery) return;
        buffer.push(delivery);
        // Deliveries that arrive together are persisted together: the first schedules
        // the flush, the rest of the burst joins its batch.
        running ??= new Promise<void>((resolve) => setImmediate(resolve)).then(flush);
        shardWork[shard] = running;
      });
      consumerTags.push(consumerTag);
    }
    const stop = async () => {
      this.#stops.delete(stop);
      for (const tag of consumerTags) await channel.cancel(tag).catch(() => {});
      await Promise.allSettled(shardWork);
      await channel.close().catch(() => {});
    };
    this.#stops.add(stop);
    return stop;
  }

  async #handleBatch(
    channel: amqp.Channel,
    deliveries: ConsumeMessage[],
    handler: CommandBatchHandler,
  ) {
    const commands = deliveries.map((d) => JSON.parse(d.content.toString()) as Command);
    let batchError: unknown;
    try {
      await handler(commands);
      for (const delivery of deliveries) channel.ack(delivery);
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
        channel.ack(delivery);
      } catch (error) {
        const attempts = Number(delivery.properties.headers?.["x-delivery-count"] ?? 0) + 1;
        if (attempts >= (this.options.maxAttempts ?? 5))
          this.options.onDeadLetter?.(command, error);
        channel.nack(delivery, false, true);
      }
    }
  }

  async ping() {
    this.#channel();
  }

  async close() {
    for (const stop of [...this.#stops]) await stop();
    this.#open = false;
    await this.#connection?.close().catch(() => {});
  }

  /** Removes every exchange and queue of this prefix (tests clean up after themselves). */
  async deleteTopology() {
    if (!this.#connection) return;
    const channel = await this.#connection.createChannel();
    for (let shard = 0; shard < this.shards; shard++)
      await channel.deleteQueue(this.names.shardQueue(shard));
    await channel.deleteQueue(this.names.deadLetterQueue);
    for (const exchange of [this.names.commands, this.names.events, this.names.deadLetters]) {
      await channel.deleteExchange(exchange);
    }
    await channel.close();
  }
}
