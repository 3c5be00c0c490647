// The live side of the RabbitMQ adapter: ONE exclusive, auto-delete queue per connection
// (per api replica), bound to the events exchange once for each routing key that local
// listeners follow, and one consumer that hands each event to the listeners of its key.
//
// It replaces graphql-amqp-subscriptions for listening (issue 10), keeping that library's
// PubSubEngine shape (subscribe(key, onMessage) → id, unsubscribe(id)) as the seam: the
// library declares a queue and a consumer per routing key, four broker round trips each
// (exchange, queue, bind, consume), so a replica whose sockets follow 10,000 direct
// channels held 10,000 queues and consumers, and an all-channels subscription cost a
// queue per channel of its viewer. Here a key costs one binding (one round trip to add,
// one to remove) and the replica one queue, whatever it follows.
//
// Bind and unbind of one key are serialized, so a key released and followed again at once
// ends up bound. The channel closing on its own (a broker-side error) takes the bindings
// with it: the caller is told through `onClosed` and treats it as a lost connection.
import { randomUUID } from "node:crypto";
import type { Channel, ChannelModel } from "amqplib";
import { decodeBundle } from "./bundles.js";

interface FollowedKey {
  handlers: Map<number, (content: unknown) => void>;
  bound: boolean;
  /** The key's bind/unbind steps, one after another. */
  steps: Promise<void>;
}

export class ReplicaQueue {
  readonly #keys = new Map<string, FollowedKey>();
  readonly #keyOf = new Map<number, string>();
  #nextId = 0;

  private constructor(
    private readonly channel: Channel,
    /** The queue's name (for tests and the broker's tools). */
    readonly name: string,
    private readonly exchange: string,
  ) {}

  static async open(
    connection: ChannelModel,
    options: { exchange: string; prefix: string; onClosed: () => void },
  ): Promise<ReplicaQueue> {
    const channel = await connection.createChannel();
    channel.on("error", () => {}); // its 'close' follows; without a listener it would throw
    channel.on("close", options.onClosed);
    const name = `${options.prefix}.live.${randomUUID()}`;
    await channel.assertQueue(name, { exclusive: true, autoDelete: true, durable: false });
    const queue = new ReplicaQueue(channel, name, options.exchange);
    // Live events are not acknowledged: a lost one is what resuming (afterSeq, cursors) is for.
    await channel.consume(name, (message) => message && queue.#deliver(message), { noAck: true });
    return queue;
  }

  #deliver(message: { fields: { routingKey: string }; content: Buffer }) {
    const key = this.#keys.get(message.fields.routingKey);
    if (!key || key.handlers.size === 0) return;
    // One event, or a bundle of a key's consecutive events (bundles.ts), in order.
    const events = decodeBundle(message.content);
    if (!events) return; // not ours: events are JSON
    for (const event of events) for (const handler of key.handlers.values()) handler(event);
  }

  /** Resolves once events of `routingKey` reach `onMessage`; to the id that unsubscribes. */
  async subscribe(routingKey: string, onMessage: (content: unknown) => void): Promise<number> {
    const id = ++this.#nextId;
    let key = this.#keys.get(routingKey);
    if (!key) {
      key = { handlers: new Map(), bound: false, steps: Promise.resolve() };
      this.#keys.set(routingKey, key);
    }
    key.handlers.set(id, onMessage);
    this.#keyOf.set(id, routingKey);
    const followed = key;
    try {
      await this.#step(followed, async () => {
        if (followed.bound || followed.handlers.size === 0) return;
        await this.channel.bindQueue(this.name, this.exchange, routingKey);
        followed.bound = true;
      });
    } catch (error) {
      this.#forget(id);
      throw error;
    }
    return id;
  }

  async unsubscribe(id: number): Promise<void> {
    const routingKey = this.#keyOf.get(id);
    const key = routingKey === undefined ? undefined : this.#keys.get(routingKey);
    this.#forget(id);
    if (!key || routingKey === undefined || key.handlers.size > 0) return;
    await this.#step(key, async () => {
      if (!key.bound || key.handlers.size > 0) return;
      await this.channel.unbindQueue(this.name, this.exchange, routingKey);
      key.bound = false;
    });
    if (this.#keys.get(routingKey) === key && key.handlers.size === 0 && !key.bound)
      this.#keys.delete(routingKey);
  }

  /** Keys bound now (for tests and metrics). */
  get boundKeys(): number {
    let count = 0;
    for (const key of this.#keys.values()) if (key.bound) count++;
    return count;
  }

  #forget(id: number) {
    const routingKey = this.#keyOf.get(id);
    this.#keyOf.delete(id);
    if (routingKey !== undefined) this.#keys.get(routingKey)?.handlers.delete(id);
  }

  /** Runs `step` after the key's earlier steps; a failed step fails its caller only. */
  #step(key: FollowedKey, step: () => Promise<void>): Promise<void> {
    const run = key.steps.then(step);
    key.steps = run.catch(() => {});
    return run;
  }
}
