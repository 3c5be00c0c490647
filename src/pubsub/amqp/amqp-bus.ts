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
  listener: (event: BusEvent) => void;
  onInterrupted?: () => void;
}

/** One bound routing key of a session and the listeners it feeds. */
interface BoundKey {
  session: Session;
  /** Resolves once the key's queue is bound (to the library's subscription id). */
  bound: Promise<number>;
  listeners: Set<Listening>;
}

export class AmqpBus implements Bus {
  readonly kind = "amqp" as const;
  readonly names: TopologyNames;
  readonly shards: number;
  #session: Session | undefined;
  #closing = false;
  #reconnecting: Promise<void> | undefined;
  readonly #consumers = new Set<Consumer>();
  readonly #keys = new Map<string, BoundKey>();

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
      // A channel can die alone (a broker-side error); without it nothing can be sent, so
      // start over with a fresh connection rather than stay "up" and useless.
      publish.on("close", () => void connection.close().catch(() => {}));
      await declareTopology(publish, this.names, this.shards, this.options.maxAttempts ?? 5);
      const pubsub = new AMQPPubSub({
        // The library's types want amqplib's older Connection type; the object is the same.
        connection: connection as never,
        exchange: { name: this.names.events, type: "topic", options: { durable: true } },
        queue: { options: { exclusive: true, durable: false, autoDelete: true } },
      });
      if (this.#closing) throw new Error("bus closed while connecting");
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
    for (const [routingKey, key] of this.#keys) {
      if (key.session !== session) continue;
      this.#keys.delete(routingKey);
      for (const listening of key.listeners) listening.onInterrupted?.();
    }
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

  /**
   * The library binds a key once and refcounts it, but answers a second subscriber before
   * the first one's bind has finished. Listeners here all wait for the same bind, so
   * listen() resolving always means "events of this key now reach you".
   */
  async listen(
    routingKey: string,
    listener: (event: BusEvent) => void,
    options: ListenOptions = {},
  ) {
    const session = this.#current();
    let key = this.#keys.get(routingKey);
    if (!key) {
      const listeners = new Set<Listening>();
      key = {
        session,
        listeners,
        bound: session.pubsub.subscribe(routingKey, (content: unknown) => {
          for (const each of listeners) each.listener(content as BusEvent);
        }),
      };
      this.#keys.set(routingKey, key);
    }
    const bound = key;
    const listening: Listening = { listener, onInterrupted: options.onInterrupted };
    bound.listeners.add(listening);
    const release = async () => {
      if (!bound.listeners.delete(listening) || bound.listeners.size > 0) return;
      if (this.#keys.get(routingKey) === bound) this.#keys.delete(routingKey);
      // On a lost session the queue went with the connection (exclusive, auto-delete).
      if (this.#session !== session) return;
      try {
        await session.pubsub.unsubscribe(await bound.bound);
      } catch (error) {
        this.options.log?.("amqp unsubscribe failed", error);
      }
    };
    try {
      await bound.bound;
    } catch (error) {
      await release();
      throw new BusUnavailableError(`RabbitMQ bind failed: ${String(error)}`);
    }
    if (this.#session !== session) {
      // Lost while binding: nobody would ever tell this listener.
      await release();
      throw new BusUnavailableError("RabbitMQ connection lost");
    }
    return release;
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
          // Deliveries of a lost connection cannot be acked; the broker redelivers them.
          if (this.#session !== session) {
            buffer.length = 0;
            return;
          }
          await this.#handleBatch(channel, buffer.splice(0, consumer.batchSize), consumer.handler);
        }
      };
      const { consumerTag } = await channel.consume(this.names.shardQueue(shard), (delivery) => {
        if (!delivery) {
          // The broker cancelled this consumer (queue deleted or moved): reconnect, which
          // re-declares the topology and consumes again.
          this.options.log?.(
            `amqp consumer of shard ${shard} cancelled by the broker; reconnecting`,
          );
          void session.connection.close().catch(() => {});
          return;
        }
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
    // A delivery that is not a command can never succeed: straight to the dead letters.
    const parsed: Array<{ delivery: ConsumeMessage; command: Command }> = [];
    for (const delivery of deliveries) {
      try {
        parsed.push({ delivery, command: JSON.parse(delivery.content.toString()) as Command });
      } catch (error) {
        this.options.log?.("amqp: a command that is not JSON was dead-lettered", error);
        settle(() => channel.reject(delivery, false));
      }
    }
    if (parsed.length === 0) return;
    let batchError: unknown;
    try {
      await handler(parsed.map((p) => p.command));
      for (const { delivery } of parsed) settle(() => channel.ack(delivery));
      return;
    } catch (error) {
      batchError = error;
      this.options.log?.(`batch of ${parsed.length} failed; retrying one by one`, error);
    }
    // Find the poison: the others are persisted and acked; it goes back to the queue,
    // whose delivery limit dead-letters it after a bounded number of attempts. (A batch
    // of one was that command's attempt already.) Commands after it are not held back:
    // requeueing them too would spend their attempts on someone else's failure.
    for (const { delivery, command } of parsed) {
      try {
        if (parsed.length === 1) throw batchError;
        await handler([command]);
        settle(() => channel.ack(delivery));
      } catch (error) {
        const attempts = Number(delivery.properties.headers?.["x-delivery-count"] ?? 0) + 1;
        if (attempts >= (this.options.maxAttempts ?? 5))
          this.options.onDeadLetter?.(command, error);
        // Back off a little (the shard waits), so a short database outage does not burn
        // every attempt within milliseconds.
        await sleep(Math.min(2000, 50 * 2 ** attempts));
        settle(() => channel.reject(delivery, true));
      }
    }
  }

  async ping() {
    this.#current();
  }

  async close() {
    this.#closing = true;
    await this.#reconnecting;
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
