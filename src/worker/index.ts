// The worker process: consumes its share of the command shards in batches, persists each
// batch in one transaction together with the events that announce it (the outbox), and
// lets the bus ack it once committed; its events are published while the shard's next
// batch is persisted, and that batch's only after them. A crash at any point means
// redelivery (handled idempotently) or an outbox row published later, never loss.
// Outages pause the shard (batch-runner.ts); a command that fails on its own is refused,
// dead-lettered, recorded and told to its sender (refusals.ts).
import { setTimeout as sleep } from "node:timers/promises";
import type { WebhookConfig } from "../config.js";
import type { Database } from "../db/database.js";
import type { Bus, CommandBatchHandler } from "../pubsub/bus.js";
import { type Command, describeCommand, shardOf } from "../pubsub/commands.js";
import type { Metrics } from "../server/metrics.js";
import { accessChangesPruner } from "./access-changes.js";
import { runBatch } from "./batch-runner.js";
import { Outbox, type OutboxWrite, writeOutbox } from "./outbox.js";
import { persistBatch } from "./persist-batch.js";
import { recordRefusals } from "./refusals.js";
import { ShardLeases } from "./shard-leases.js";
import { WebhookDispatcher } from "./webhook-dispatcher.js";

export interface WorkerDeps {
  db: Database;
  bus: Bus;
  /** Prefix of the worker's advisory locks (the deployment's NAMESPACE). */
  namespace: string;
  /**
   * PostgreSQL URL for the shard leases' own connection. Without it (embedded PGlite) this
   * worker consumes every shard.
   */
  databaseUrl?: string;
  /** Commands per transaction (default 100). */
  batchSize?: number;
  /** Outage backoff bounds (ms); tests shorten them. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  log?: (message: string, error?: unknown) => void;
  /** Batch sizes and durations, messages stored, commands refused. */
  metrics?: Metrics;
  /** Outgoing webhooks (WEBHOOK_URLS), and who is online (mentions are pushed to the offline). */
  webhooks?: {
    config: WebhookConfig;
    isOnline(userIds: string[]): Promise<Map<string, boolean>>;
  };
}

export interface WorkerStatus {
  /** True while the worker cannot make progress: a shard waits out an outage, or its leases are lost. */
  paused: boolean;
  /** Shards waiting for the database or the broker to come back, and since when. */
  waiting: Map<number, Date>;
  /** Shards this worker consumes now. */
  shards: ReadonlySet<number>;
}

export interface RunningWorker {
  status(): WorkerStatus;
  /** Events committed and not yet published, all shards. */
  outboxBacklog(): Promise<number>;
  stop(): Promise<void>;
}

/** How often leftover outbox events are looked for, and how old they must be (ms). */
const SWEEP_INTERVAL_MS = 1000;
const SWEEP_AGE_MS = 2000;
/** How often old access changes are deleted. */
const PRUNE_INTERVAL_MS = 60_000;
const HEALTH_TIMEOUT_MS = 2000;
/** A dead letter may be anything: only a well-formed id can name a stored message. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createWorker(deps: WorkerDeps) {
  const { db, bus, log, metrics } = deps;
  const webhookUrls = deps.webhooks?.config.urls ?? [];
  const webhooks = deps.webhooks
    ? new WebhookDispatcher({
        sql: db.sql,
        config: deps.webhooks.config,
        isOnline: deps.webhooks.isOnline,
        metrics,
        log,
      })
    : undefined;
  const outbox = new Outbox(db.sql, bus, deps.namespace);
  const waiting = new Map<number, Date>();
  const minBackoff = deps.minBackoffMs ?? 100;
  const maxBackoff = deps.maxBackoffMs ?? 5000;

  const healthy = async () => {
    // The timer ends with the probe: one probe per failed attempt must not leave a timer
    // behind for HEALTH_TIMEOUT_MS each.
    const done = new AbortController();
    const timeout = sleep(HEALTH_TIMEOUT_MS, undefined, { signal: done.signal }).then(() => {
      throw new Error("health probe timed out");
    });
    timeout.catch(() => {}); // aborted when the probe answers first
    try {
      await Promise.race([Promise.all([db.ping(), bus.ping()]), timeout]);
      return true;
    } finally {
      done.abort();
    }
  };

  const onOutage = (shard: number) => (isWaiting: boolean, error?: unknown) => {
    if (isWaiting) {
      if (waiting.has(shard)) return;
      waiting.set(shard, new Date());
      log?.(`shard ${shard}: the database or the broker is unavailable; pausing`, error);
    } else if (waiting.delete(shard)) {
      log?.(`shard ${shard}: resumed`);
    }
  };

  /** Publishes the shard's outbox, waiting out broker or database outages. */
  const flushOutbox = async (shard: number, signal: AbortSignal) => {
    let backoff = minBackoff;
    for (;;) {
      try {
        await outbox.flush(shard);
        onOutage(shard)(false);
        return;
      } catch (error) {
        signal.throwIfAborted();
        onOutage(shard)(true, error);
        await sleep(backoff, undefined, { signal });
        backoff = Math.min(backoff * 2, maxBackoff);
      }
    }
  };

  /**
   * Per shard, the last batch's events being published from memory, and their outbox
   * rows. A shard's batches take turns with PostgreSQL (its channels' seqs are handed out
   * in order), so the worker and the database each waited while the other worked; a
   * batch's publish now runs while the next batch is persisted, which then waits for it
   * before its own events go (they must follow). False: its publish failed (its rows were
   * flushed after, or wait for the next flush), and the next batch takes the flush too:
   * that flush may have published the next batch's rows already, which from memory would
   * go twice.
   */
  const publishing = new Map<number, { ids: string[]; done: Promise<boolean> }>();

  const handleBatch: CommandBatchHandler = async (commands, { shard, signal }) => {
    const stopTimer = metrics?.workerBatchSeconds.startTimer();
    metrics?.workerBatchSize.observe(commands.length);
    const previous = publishing.get(shard);
    try {
      const writes: OutboxWrite[] = [];
      const refused = await runBatch(commands, signal, {
        persist: async (batch) => {
          writes.push(
            await persistBatch(
              db.sql,
              shard,
              batch,
              outbox.lockOf(shard),
              webhookUrls,
              previous?.ids,
            ),
          );
        },
        healthy,
        onOutage: onOutage(shard),
        minBackoffMs: minBackoff,
        maxBackoffMs: maxBackoff,
      });
      for (const { index, reason } of refused) {
        const command = commands[index];
        if (command) log?.(`refused ${describeCommand(command)}: ${reason}`);
      }
      // The previous batch's events leave first.
      const previousPublished = previous ? await previous.done : true;
      if (publishing.get(shard) === previous) publishing.delete(shard);
      // One transaction that found nothing waiting but the previous batch's rows, which
      // are out now: its events go straight out, and the next batch need not wait for
      // them. Anything else (older events waiting, the previous publish failed, a batch
      // split into several transactions) goes through the flush, oldest first, before
      // the ack. A shard being handed over (aborted) takes the locked flush too: its new
      // owner may have published these events and newer ones already.
      const [only] = writes;
      if (
        previousPublished &&
        writes.length === 1 &&
        only &&
        !only.olderWaiting &&
        only.entries.length > 0 &&
        !signal.aborted
      ) {
        // Failed, the shard's outbox is flushed from here, waiting out the outage as a
        // batch would (the next batch waits for it); a shard handed over meanwhile
        // (aborted) leaves what is left to its next owner's flush.
        const done = outbox
          .publishWritten(only)
          .catch(() => false)
          .then((sent) => sent || flushOutbox(shard, signal).then(() => false))
          .catch(() => false);
        publishing.set(shard, { ids: only.ids, done });
      } else {
        await flushOutbox(shard, signal);
      }
      webhooks?.nudge();
      stopTimer?.();
      for (const write of writes)
        for (const { event } of write.entries)
          if (event.type === "message.created")
            metrics?.messagesPersisted.inc(event.messages.length);
      return { refused };
    } finally {
      // Settled or handed back (the shard may go to another worker): not waiting here now.
      onOutage(shard)(false);
    }
  };

  /**
   * Resolves once the events of the shard's last batch (of every shard: none given) are
   * published, or failed and left to a flush: before a shard goes to another worker.
   */
  const published = async (shard?: number) => {
    const shards = shard === undefined ? [...publishing.keys()] : [shard];
    await Promise.all(shards.map((s) => publishing.get(s)?.done));
  };

  /** A dead letter (refused here, or given up by the broker): recorded, its sender told. */
  const handleDeadLetter = async (command: Command, reason: string) => {
    // The broker may give up on a send that was stored (committed, then its ack was lost
    // in hand-overs): that send was not refused.
    if (command.type === "message.send" && UUID.test(String(command.messageId))) {
      const stored = await db.prisma.message.count({ where: { id: command.messageId } });
      if (stored > 0) return;
    }
    metrics?.commandsRefused.inc({ type: String(command.type) });
    const shard =
      typeof command.channelId === "string" ? shardOf(command.channelId, bus.shards) : 0;
    await db.sql.transaction(
      async (tx) => {
        await writeOutbox(tx, shard, await recordRefusals(tx, [{ command, reason }]));
      },
      { statementTimeoutMs: 30_000 },
    );
    await outbox.flush(shard);
  };

  return { handleBatch, handleDeadLetter, published, outbox, waiting, webhooks };
}

export async function startWorker(deps: WorkerDeps): Promise<RunningWorker> {
  const { bus, log } = deps;
  const worker = createWorker(deps);
  const consumer = await bus.commandConsumer(worker.handleBatch, {
    batchSize: deps.batchSize ?? 100,
  });
  const stopDeadLetters = await bus.consumeDeadLetters(worker.handleDeadLetter);
  worker.webhooks?.start();

  let leases: ShardLeases | undefined;
  // Leases split the broker's shard queues between worker processes; the in-process bus
  // has one consumer, which takes every shard. A shard's lease is given up only once its
  // last batch's events are out: its next owner's must not overtake them.
  if (deps.databaseUrl && deps.db.kind === "postgres" && bus.kind === "amqp") {
    leases = new ShardLeases({
      url: deps.databaseUrl,
      namespace: deps.namespace,
      shards: bus.shards,
      consumer: {
        add: (shard) => consumer.add(shard),
        remove: async (shard) => {
          await consumer.remove(shard);
          await worker.published(shard);
        },
        get shards() {
          return consumer.shards;
        },
        stop: () => consumer.stop(),
      },
      log,
    });
    await leases.start();
  } else {
    for (let shard = 0; shard < bus.shards; shard++) await consumer.add(shard);
  }

  // Events left in the outbox by a crash or an outage, of shards nobody is flushing.
  let sweeping: Promise<void> | undefined;
  const sweep = setInterval(() => {
    sweeping ??= (async () => {
      try {
        for (const shard of await worker.outbox.staleShards(SWEEP_AGE_MS))
          await worker.outbox.flush(shard);
      } catch (error) {
        log?.("outbox sweep failed; next sweep retries", error);
      }
    })().finally(() => {
      sweeping = undefined;
    });
  }, SWEEP_INTERVAL_MS);

  // Old access changes, once a minute (any worker may; deleting twice is harmless).
  const pruneAccessChanges = accessChangesPruner(deps.db.sql);
  const prune = setInterval(() => {
    pruneAccessChanges().catch((error) =>
      log?.("pruning access changes failed; the next round retries", error),
    );
  }, PRUNE_INTERVAL_MS);
  prune.unref();

  return {
    outboxBacklog: () => worker.outbox.backlog(),
    status: () => ({
      paused: worker.waiting.size > 0 || (leases?.lost ?? false),
      waiting: new Map(worker.waiting),
      shards: consumer.shards,
    }),
    async stop() {
      clearInterval(sweep);
      clearInterval(prune);
      await sweeping;
      // Consuming stops first (each shard's batch in progress finishes and is acked), its
      // last events are published, and only then are the shards' leases given back to
      // the other workers.
      await consumer.stop();
      await worker.published();
      await leases?.stop();
      await stopDeadLetters();
      await worker.webhooks?.stop();
    },
  };
}
