// Consumers of the RabbitMQ adapter: command shards (each on its own channel, so one
// shard can be handed to another worker without touching the others) and the
// dead-letter queue.
//
// A delivery carries one command or a bundle of them (bundles.ts); batches are made of
// commands, at most batchSize, and a delivery is acked once all of its commands are.
// Order is kept by never requeueing: a batch is acked only once its handler settled
// it; a batch that is not settled (the handler threw, the shard is handed over, the
// connection is lost) is returned by closing the shard's channel, and a quorum queue
// hands returned commands out again ahead of later ones, in their order.
import { setTimeout as sleep } from "node:timers/promises";
import type { Channel, ConsumeMessage } from "amqplib";
import type { CommandBatchHandler, CommandConsumer, DeadLetterHandler } from "../bus.js";
import type { Command } from "../commands.js";
import { type AmqpBus, REFUSED_REASON_HEADER, type Session } from "./amqp-bus.js";
import { decodeBundle } from "./bundles.js";

/** What the bus re-attaches after a reconnection. */
export interface AttachedConsumer {
  attach(session: Session): void;
  /** The session's connection is gone (its channels and deliveries with it). */
  detach(session: Session): void;
  stop(): Promise<void>;
}

type Log = ((message: string, error?: unknown) => void) | undefined;

/** Pause before consuming a shard again after its batch was not settled. */
const RESTART_PAUSE_MS = 500;

interface ShardRun {
  abort: AbortController;
  /** The consuming channel, once open. */
  channel?: Channel;
  /** Resolves once the consumer is registered (or failed to). */
  ready: Promise<void>;
  /** The batches in progress, if any. */
  flushing?: Promise<void>;
  /** Stopping gracefully: the batch in progress finishes (persisted, announced, acked); no next one starts. */
  draining?: boolean;
}

/** On stop, how long the batch in progress may take to finish before it is aborted (its commands then come back). */
const STOP_GRACE_MS = 5000;

export class ShardConsumer implements CommandConsumer, AttachedConsumer {
  readonly #wanted = new Set<number>();
  readonly #runs = new Map<number, ShardRun>();
  #session: Session | undefined;
  #stopped = false;

  constructor(
    private readonly deps: {
      bus: AmqpBus;
      handler: CommandBatchHandler;
      batchSize: number;
      log: Log;
      onStop: () => void;
    },
  ) {}

  get shards(): ReadonlySet<number> {
    return new Set(this.#wanted);
  }

  attach(session: Session) {
    this.#session = session;
    for (const shard of this.#wanted) this.#start(shard);
  }

  detach(session: Session) {
    if (this.#session !== session) return;
    this.#session = undefined;
    for (const run of this.#runs.values()) run.abort.abort();
    this.#runs.clear();
  }

  async add(shard: number) {
    if (shard < 0 || shard >= this.deps.bus.shards) throw new Error(`no shard ${shard}`);
    this.#wanted.add(shard);
    await this.#start(shard)?.ready;
  }

  async remove(shard: number) {
    this.#wanted.delete(shard);
    const run = this.#runs.get(shard);
    this.#runs.delete(shard);
    if (run) await this.#close(run);
  }

  /**
   * Stops consuming. Unlike a hand-over (remove), a stop lets each shard's batch in
   * progress finish and be acked (within STOP_GRACE_MS) before the rest goes back.
   */
  async stop() {
    this.#stopped = true;
    await Promise.all(
      [...this.#wanted].map(async (shard) => {
        const run = this.#runs.get(shard);
        if (run) {
          run.draining = true;
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            run.flushing,
            new Promise((resolve) => {
              timer = setTimeout(resolve, STOP_GRACE_MS);
            }),
          ]);
          clearTimeout(timer);
        }
        await this.remove(shard);
      }),
    );
    this.deps.onStop();
  }

  /** Aborts the batch in progress, lets it finish, then returns what is left to the queue. */
  async #close(run: ShardRun) {
    run.abort.abort();
    await run.ready;
    await run.flushing;
    await run.channel?.close().catch(() => {});
  }

  #start(shard: number): ShardRun | undefined {
    const session = this.#session;
    if (!session || this.#stopped || !this.#wanted.has(shard)) return undefined;
    const existing = this.#runs.get(shard);
    if (existing) return existing;
    const run: ShardRun = { abort: new AbortController(), ready: Promise.resolve() };
    this.#runs.set(shard, run);
    run.ready = this.#consume(session, shard, run).catch((error) => {
      this.deps.log?.(`amqp: consuming shard ${shard} failed`, error);
      this.#restartLater(session, shard, run);
    });
    return run;
  }

  /** A run that ended on its own (not removed, session alive): consume again after a pause. */
  #restartLater(session: Session, shard: number, run: ShardRun) {
    run.abort.abort();
    if (this.#runs.get(shard) !== run) return;
    this.#runs.delete(shard);
    void sleep(RESTART_PAUSE_MS).then(() => {
      if (this.#session === session && this.deps.bus.isCurrent(session)) this.#start(shard);
    });
  }

  async #consume(session: Session, shard: number, run: ShardRun) {
    const channel = await session.connection.createChannel();
    run.channel = channel;
    channel.on("error", (error) => this.deps.log?.(`amqp shard ${shard} channel error`, error));
    channel.on("close", () => {
      if (!run.abort.signal.aborted) {
        // Closed by the broker or by an unsettled batch: consumption must not just stop.
        this.deps.log?.(`amqp: shard ${shard} channel closed; consuming again`);
        this.#restartLater(session, shard, run);
      }
    });
    if (run.abort.signal.aborted) {
      await channel.close().catch(() => {});
      return;
    }
    // One batch being persisted and the next one waiting: with room for one batch only,
    // the next arrived a few deliveries at a time after the acks, and batches under load
    // held half their size (ingest 4,100 messages/s; 6,800/s with room for two). Whatever
    // a hand-over or a reconnection returns to the queue counts as a delivery on RabbitMQ
    // before 4.3: once per hand-over for each command, as with one batch, so no more.
    await channel.prefetch(this.deps.batchSize * 2);
    const buffer: Received[] = [];
    const flush = async () => {
      while (buffer.length > 0 && !run.abort.signal.aborted && !run.draining) {
        const received = takeBatch(buffer, this.deps.batchSize);
        const settled = await this.#settle(session, channel, shard, received, run.abort.signal);
        if (!settled) {
          // Not settled: give back this batch and everything after it, in order.
          buffer.length = 0;
          if (!run.abort.signal.aborted) await channel.close().catch(() => {});
          return;
        }
      }
    };
    await channel.consume(this.deps.bus.names.shardQueue(shard), (delivery) => {
      if (!delivery) {
        // The broker cancelled this consumer (queue deleted or moved): consume again.
        this.deps.log?.(`amqp: consumer of shard ${shard} cancelled by the broker`);
        void channel.close().catch(() => {});
        return;
      }
      buffer.push({ delivery, commands: decodeBundle(delivery.content) as Command[] | undefined });
      // Deliveries that arrive together are persisted together: the first schedules
      // the flush, the rest of the burst joins its batch.
      if (run.flushing) return;
      run.flushing = new Promise<void>((resolve) => setImmediate(resolve))
        .then(flush)
        .finally(() => {
          run.flushing = undefined;
        });
    });
  }

  /**
   * Hands the commands of some deliveries to the handler, at most a batch at a time, then
   * acks each delivery whose commands are all done (stored, or refused and dead-lettered);
   * false when they must be handed out again.
   */
  async #settle(
    session: Session,
    channel: Channel,
    shard: number,
    received: Received[],
    signal: AbortSignal,
  ): Promise<boolean> {
    const ack = (delivery: ConsumeMessage) => {
      try {
        channel.ack(delivery);
      } catch (error) {
        // The channel died; the broker hands the command out again (handled idempotently).
        this.deps.log?.("amqp ack failed (channel closed?)", error);
      }
    };
    const commands: Command[] = [];
    /** Each command's delivery, by index in `received`. */
    const carriedBy: number[] = [];
    const refused: Array<{ from: number; content: Buffer; reason: string }> = [];
    for (const [from, { delivery, commands: carried }] of received.entries()) {
      if (!carried) {
        refused.push({ from, content: delivery.content, reason: "not a command (malformed JSON)" });
        continue;
      }
      for (const command of carried) {
        commands.push(command);
        carriedBy.push(from);
      }
    }
    // A bundle may hold more than what is left of a batch: the handler never gets more.
    for (let start = 0; start < commands.length; start += this.deps.batchSize) {
      const batch = commands.slice(start, start + this.deps.batchSize);
      let outcome: Awaited<ReturnType<CommandBatchHandler>>;
      try {
        outcome = await this.deps.handler(batch, { shard, signal });
      } catch (error) {
        if (!signal.aborted) this.deps.log?.(`shard ${shard}: batch not settled`, error);
        return false;
      }
      for (const { index, reason } of outcome?.refused ?? []) {
        const from = carriedBy[start + index] as number;
        const { delivery, commands: carried } = received[from] as Received;
        // Dead letters are single commands; one that came alone keeps its exact bytes.
        const content =
          carried?.length === 1 ? delivery.content : Buffer.from(JSON.stringify(batch[index]));
        refused.push({ from, content, reason });
      }
    }
    const refusedFrom = new Set(refused.map((r) => r.from));
    for (const [from, { delivery }] of received.entries())
      if (!refusedFrom.has(from)) ack(delivery);
    // A lost connection's acks went nowhere: what it carried comes back anyway.
    if (!this.deps.bus.isCurrent(session)) return false;
    if (refused.length === 0) return true;
    // Published together (their confirms pipelined); a delivery is acked once all of its
    // refused commands are dead-lettered.
    const deadLettered = await Promise.all(
      refused.map(async ({ from, content, reason }) => {
        const { delivery } = received[from] as Received;
        try {
          await this.deps.bus.deadLetter(
            content,
            (delivery.properties.headers ?? {}) as Record<string, unknown>,
            reason,
          );
          return true;
        } catch (error) {
          this.deps.log?.("amqp: dead-lettering failed; the command comes back", error);
          return false;
        }
      }),
    );
    const failedFrom = new Set(refused.filter((_, i) => !deadLettered[i]).map((r) => r.from));
    for (const from of refusedFrom)
      if (!failedFrom.has(from)) ack((received[from] as Received).delivery);
    return failedFrom.size === 0;
  }
}

/** A delivery and the commands it carries (one, or a bundle); none when it is not JSON. */
interface Received {
  delivery: ConsumeMessage;
  commands: Command[] | undefined;
}

/** The next deliveries whose commands make up a batch (at least one delivery, whatever it holds). */
function takeBatch(buffer: Received[], batchSize: number): Received[] {
  let count = 0;
  let taken = 0;
  while (taken < buffer.length && (taken === 0 || count < batchSize)) {
    const next = buffer[taken] as Received;
    const size = next.commands?.length ?? 1;
    if (taken > 0 && count + size > batchSize) break;
    count += size;
    taken++;
  }
  return buffer.splice(0, taken);
}

/** Hands every dead letter to the handler; a failing handler gets it again after a pause. */
export class DeadLetterConsumer implements AttachedConsumer {
  #channel: Channel | undefined;
  #session: Session | undefined;
  #stopped = false;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: { bus: AmqpBus; handler: DeadLetterHandler; log: Log }) {}

  attach(session: Session) {
    if (this.#stopped) return;
    this.#session = session;
    void this.#consume(session).catch((error) => {
      this.deps.log?.("amqp: consuming dead letters failed; trying again", error);
      this.#attachLater(session);
    });
  }

  #attachLater(session: Session) {
    void sleep(RESTART_PAUSE_MS).then(() => {
      if (!this.#stopped && this.#session === session && this.deps.bus.isCurrent(session))
        this.attach(session);
    });
  }

  detach(session: Session) {
    if (this.#session === session) {
      this.#session = undefined;
      this.#channel = undefined;
    }
  }

  async #consume(session: Session) {
    const channel = await session.connection.createChannel();
    channel.on("error", (error) => this.deps.log?.("amqp dead-letter channel error", error));
    channel.on("close", () => {
      if (this.#channel !== channel || this.#stopped) return;
      this.#channel = undefined;
      this.#attachLater(session);
    });
    if (this.#stopped) return void (await channel.close().catch(() => {}));
    this.#channel = channel;
    await channel.prefetch(10);
    await channel.consume(this.deps.bus.names.deadLetterQueue, (delivery) => {
      if (!delivery) return void channel.close().catch(() => {});
      const handling = this.#handle(channel, delivery).finally(() =>
        this.#inFlight.delete(handling),
      );
      this.#inFlight.add(handling);
    });
  }

  async #handle(channel: Channel, delivery: ConsumeMessage) {
    // One command (every refusal), or a bundle the broker gave up on whole (bundles.ts).
    const commands = decodeBundle(delivery.content) as Command[] | undefined;
    if (!commands) {
      this.deps.log?.("amqp: a dead letter that is not a command was dropped");
      return this.#settle(() => channel.ack(delivery));
    }
    const headers = delivery.properties.headers ?? {};
    const death = (headers["x-death"] as Array<{ reason?: string }> | undefined)?.[0];
    const reason =
      typeof headers[REFUSED_REASON_HEADER] === "string"
        ? (headers[REFUSED_REASON_HEADER] as string)
        : `given up by the broker (${death?.reason ?? "unknown"})`;
    try {
      // In order; a failure hands the whole letter out again (the handler is idempotent).
      for (const command of commands) await this.deps.handler(command, reason);
      this.#settle(() => channel.ack(delivery));
    } catch (error) {
      this.deps.log?.("dead-letter handler failed; retrying", error);
      await sleep(RESTART_PAUSE_MS);
      this.#settle(() => channel.nack(delivery, false, true));
    }
  }

  /** Acks and nacks on a channel that closed throw; the broker hands the letter out again. */
  #settle(action: () => void) {
    try {
      action();
    } catch (error) {
      this.deps.log?.("amqp: settling a dead letter failed (channel closed?)", error);
    }
  }

  async stop() {
    this.#stopped = true;
    await Promise.allSettled([...this.#inFlight]);
    await this.#channel?.close().catch(() => {});
  }
}
