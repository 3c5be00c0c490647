// The RabbitMQ adapter of the bus port (see topology.ts for exchanges and queues).
// Commands and events are published on a confirm channel, so "sent" means the broker has
// it; commands are also `mandatory`, so one that no queue takes is an error, not a silent
// drop. What is sent together travels together: a shard's commands of one turn of the
// event loop, and a run of events of one routing key, as one message (bundles.ts).
// Consumers of command shards and of the dead letters live in consumers.ts. The
// live side (listen) is one queue per process bound once per followed routing key
// (replica-queue.ts), its listeners refcounted here.
//
// Connection loss: amqplib does not reconnect, so this class does. While disconnected, sends fail fast (SERVICE_UNAVAILABLE) and ping() fails
// (/ready answers 503). It reconnects with backoff, re-declares the topology and
// re-attaches its consumers. Live listeners are told (onInterrupted) rather than silently
// rebound: events published during the outage are gone, so the client must resume from
// its last position to get them; a silent rebind would leave a gap nobody knows about.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import amqp, { type ChannelModel, type ConfirmChannel, type Options } from "amqplib";
import {
  type Bus,
  BusUnavailableError,
  type CommandBatchHandler,
  type CommandConsumerOptions,
  type DeadLetterHandler,
  type ListenOptions,
} from "../bus.js";
import { type Command, shardOf } from "../commands.js";
import type { BusEvent } from "../events.js";
import { bundleRuns, encodeBundle, SendCoalescer } from "./bundles.js";
import { type AttachedConsumer, DeadLetterConsumer, ShardConsumer } from "./consumers.js";
import { ReplicaQueue } from "./replica-queue.js";
import { declareTopology, type TopologyNames, topologyNames } from "./topology.js";

export interface AmqpBusOptions {
  url: string;
  /** Prefix of every exchange and queue name (default "chat"); tests use their own. */
  prefix?: string;
  /** Number of command shards (default 8). Every process must agree. */
  shards?: number;
  /**
   * Deliveries of one command before the broker gives up on it and dead-letters it
   * (default 100). Only crashes, hand-overs and reconnections redeliver a command (the
   * worker retries outages itself), but on RabbitMQ before 4.3 each of those counts for
   * every command the shard had been handed: the limit is a backstop against a command
   * that crashes every worker, not a retry budget.
   */
  maxDeliveries?: number;
  /** A publish not confirmed within this many ms fails (default 5000). */
  confirmTimeoutMs?: number;
  /** Longest wait between reconnection attempts (default 5000 ms; it starts at 100 ms). */
  maxReconnectDelayMs?: number;
  /** Told of every event that arrives for a key this process listens to (metrics), and of each reconnection. */
  observe?: { event(event: BusEvent): void; reconnected(): void };
  /** Shown by RabbitMQ for this process's connection (default the prefix). */
  connectionName?: string;
  log?: (message: string, error?: unknown) => void;
}

const JSON_PROPS = { contentType: "application/json", persistent: true } as const;

/** What exists while connected; replaced as a whole on reconnection. */
export interface Session {
  connection: ChannelModel;
  publish: ConfirmChannel;
  /** The live side: this process's queue of events (PubSubEngine-shaped). */
  pubsub: ReplicaQueue;
  /** Publishes whose message id came back unroutable (basic.return precedes the confirm). */
  returned: Set<string>;
}

interface Listening {
  listener: (event: BusEvent) => void;
  onInterrupted?: () => void;
}

/** One bound routing key of a session and the listeners it feeds. */
interface BoundKey {
  session: Session;
  /** Resolves once the key is bound (to its subscription id). */
  bound: Promise<number>;
  listeners: Set<Listening>;
}

export class AmqpBus implements Bus {
  readonly kind = "amqp" as const;
  readonly names: TopologyNames;
  readonly shards: number;
  #session: Session | undefined;
  #closing = false;
  /** Why the broker blocks our publishes (a resource alarm), if it does. */
  #blocked: string | undefined;
  #reconnecting: Promise<void> | undefined;
  readonly #consumers = new Set<AttachedConsumer>();
  readonly #keys = new Map<string, BoundKey>();
  /** A shard's commands sent in the same turn of the event loop go as one message (bundles.ts). */
  readonly #commands = new SendCoalescer<number>((shard, content) =>
    this.#publish(this.names.commands, String(shard), content, { mandatory: true }),
  );

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
      // amqplib leaves Nagle's algorithm on: a small frame (an event, an ack) written while
      // an earlier one is unacknowledged waits for the broker's delayed ACK, up to 40 ms.
      // The worker spent 30 of its 38 ms per batch waiting so (ingest 1,000 messages/s).
      noDelay: true,
    });
    // Without an 'error' listener amqplib's errors would crash the process.
    connection.on("error", (error) => this.options.log?.("amqp connection error", error));
    // A broker in a memory or disk alarm blocks publishers: not ready, though connected.
    connection.on("blocked", (reason: unknown) => {
      this.#blocked = String(reason);
      this.options.log?.(`amqp connection blocked by the broker: ${this.#blocked}`);
    });
    connection.on("unblocked", () => {
      this.#blocked = undefined;
    });
    try {
      const publish = await connection.createConfirmChannel();
      publish.on("error", (error) => this.options.log?.("amqp publish channel error", error));
      // A channel can die alone (a broker-side error); without it nothing can be sent, so
      // start over with a fresh connection rather than stay "up" and useless.
      publish.on("close", () => void connection.close().catch(() => {}));
      const returned = new Set<string>();
      publish.on("return", (message: { properties: { messageId?: string } }) => {
        if (message.properties.messageId) returned.add(message.properties.messageId);
      });
      await declareTopology(
        connection,
        this.names,
        this.shards,
        this.options.maxDeliveries ?? 100,
        this.options.log,
      );
      // Its channel closing alone would silently stop every live listener: start over
      // with a fresh connection, as for the publish channel.
      const pubsub = await ReplicaQueue.open(connection, {
        exchange: this.names.events,
        prefix: this.names.events,
        onClosed: () => void connection.close().catch(() => {}),
      });
      if (this.#closing) throw new Error("bus closed while connecting");
      const session: Session = { connection, publish, pubsub, returned };
      connection.on("close", () => this.#lost(session));
      this.#session = session;
      for (const consumer of this.#consumers) consumer.attach(session);
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
  }

  #lost(session: Session) {
    if (this.#session !== session) return;
    this.#session = undefined;
    this.#blocked = undefined;
    for (const [routingKey, key] of this.#keys) {
      if (key.session !== session) continue;
      this.#keys.delete(routingKey);
      for (const listening of key.listeners) listening.onInterrupted?.();
    }
    // Deliveries of a lost connection cannot be settled; the broker hands them out again.
    for (const consumer of this.#consumers) consumer.detach(session);
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
        this.options.observe?.reconnected();
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
  #publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    extra: Options.Publish = {},
  ): Promise<void> {
    const session = this.#current();
    const timeoutMs = this.options.confirmTimeoutMs ?? 5000;
    const messageId = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new BusUnavailableError("RabbitMQ did not confirm in time")),
        timeoutMs,
      );
      try {
        session.publish.publish(
          exchange,
          routingKey,
          content,
          { ...JSON_PROPS, ...extra, messageId },
          (error) => {
            clearTimeout(timer);
            const unroutable = session.returned.delete(messageId);
            if (error)
              reject(new BusUnavailableError(`RabbitMQ refused the message: ${String(error)}`));
            else if (unroutable)
              reject(
                new BusUnavailableError(`no queue took the message (${exchange} ${routingKey})`),
              );
            else resolve();
          },
        );
      } catch (error) {
        clearTimeout(timer);
        reject(new BusUnavailableError(`RabbitMQ publish failed: ${String(error)}`));
      }
    });
  }

  sendCommand(command: Command) {
    this.#current(); // fail fast while disconnected, not a turn later
    return this.#commands.send(shardOf(command.channelId, this.shards), JSON.stringify(command));
  }

  /** Publishes a refused command to the dead letters (confirmed), saying why. */
  deadLetter(content: Buffer, headers: Record<string, unknown>, reason: string) {
    return this.#publish(this.names.deadLetters, "", content, {
      headers: { ...headers, [REFUSED_REASON_HEADER]: reason },
      mandatory: true,
    });
  }

  /**
   * Consecutive events of one routing key go as one message (bundles.ts): a batch's
   * messages to a channel are one publish, one routing and one delivery per replica. Only
   * consecutive ones, so a replica receives them in exactly the order given.
   */
  async publishEvents(events: Array<{ routingKey: string; event: BusEvent }>) {
    const bundles = bundleRuns(
      events.map(({ routingKey, event }) => ({ key: routingKey, json: JSON.stringify(event) })),
    );
    await Promise.all(
      bundles.map(({ key, items }) => this.#publish(this.names.events, key, encodeBundle(items))),
    );
  }

  /**
   * A key is bound once for all its listeners here; they all wait for the same bind, so
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
          this.options.observe?.event(content as BusEvent);
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
      // On a lost session, or a bus closing, the queue goes with the connection (exclusive,
      // auto-delete): nothing to unbind. (Streams ending as their app closed logged one
      // failed unbind each.)
      const gone = () => this.#session !== session || this.#closing;
      if (gone()) return;
      try {
        await session.pubsub.unsubscribe(await bound.bound);
      } catch (error) {
        if (!gone()) this.options.log?.("amqp unsubscribe failed", error);
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

  async commandConsumer(handler: CommandBatchHandler, options: CommandConsumerOptions = {}) {
    const consumer = new ShardConsumer({
      bus: this,
      handler,
      batchSize: options.batchSize ?? 100,
      log: this.options.log,
      onStop: () => this.#consumers.delete(consumer),
    });
    this.#consumers.add(consumer);
    if (this.#session) consumer.attach(this.#session);
    return consumer;
  }

  async consumeDeadLetters(handler: DeadLetterHandler) {
    const consumer = new DeadLetterConsumer({ bus: this, handler, log: this.options.log });
    this.#consumers.add(consumer);
    if (this.#session) consumer.attach(this.#session);
    return async () => {
      this.#consumers.delete(consumer);
      await consumer.stop();
    };
  }

  /** Whether `session` is still the live one (consumers settle only on it). */
  isCurrent(session: Session) {
    return this.#session === session && !this.#closing;
  }

  async ping() {
    this.#current();
    if (this.#blocked)
      throw new BusUnavailableError(`RabbitMQ blocks publishing: ${this.#blocked}`);
  }

  async close() {
    this.#closing = true;
    await this.#reconnecting;
    for (const consumer of [...this.#consumers]) {
      this.#consumers.delete(consumer);
      await consumer.stop();
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

/** Header of a dead-lettered command that says why the worker refused it. */
export const REFUSED_REASON_HEADER = "x-refused-reason";
