// Prometheus metrics of one process (`GET /metrics`, on every role's PORT): one registry
// per app, so tests that build several apps in one process keep them apart. Together they
// show a message's path: a command published by the api, persisted by a worker (batch
// sizes and durations, the outbox still to publish, refusals), its event reaching each
// replica (the send-to-replica latency) and handed to its subscribers. Live subscriptions
// are counted where graphql-ws knows a client is subscribed (its streams are bound), which
// is also how tests wait for a subscription to be live instead of sleeping.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { BusEvent } from "../pubsub/events.js";
import type { RunningWorker } from "../worker/index.js";

export interface Metrics {
  registry: Registry;
  /** Subscriptions whose stream was set up (monotonic). */
  subscriptionsStarted: Counter;
  /** Subscriptions live now. */
  subscriptionsActive: Gauge;
  /** WebSocket connections open now. */
  socketsOpen: Gauge;
  /** Executions of subscription selections for live events (shared ones count once). */
  liveEventExecutions: Counter;
  /** Results of live events handed to subscriptions: events delivered to subscribers. */
  liveEventResults: Counter;
  /** Commands the api handed to the bus, by type. */
  commandsPublished: Counter<"type">;
  /** Requests refused by a rate limit, by limit. */
  rateLimited: Counter<"limit">;
  /** Reconnections to the broker after a lost connection. */
  busReconnects: Counter;
  /** From the api accepting a send to its stored message's event reaching this process. */
  sendToEvent: Histogram;
  /** Messages a worker stored (new ones, not repeats). */
  messagesPersisted: Counter;
  /** Commands per worker batch, and how long a batch took to settle (stored, announced, acked). */
  workerBatchSize: Histogram;
  workerBatchSeconds: Histogram;
  /** Commands a worker refused or the broker gave up on (the dead letters), by type. */
  commandsRefused: Counter<"type">;
  /** Outgoing webhook attempts by outcome: delivered, retried, failed (given up), skipped (a mention of someone online). */
  webhooks: Counter<"outcome">;
  /** Counts what a live event adds to the metrics (called once per event arriving here). */
  observeEvent(event: BusEvent): void;
}

export function createMetrics(labels: { server: string }): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const sendToEvent = new Histogram({
    name: "chat_send_to_event_seconds",
    help: "From the api accepting a send to its stored message's event reaching this replica (then written to each local subscriber). Clocks of different hosts add their skew.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  return {
    registry,
    subscriptionsStarted: new Counter({
      name: "chat_subscriptions_started_total",
      help: "WebSocket subscriptions whose stream was set up (the client is subscribed).",
      registers,
    }),
    subscriptionsActive: new Gauge({
      name: "chat_subscriptions_active",
      help: "WebSocket subscriptions live now.",
      registers,
    }),
    socketsOpen: new Gauge({
      name: "chat_sockets_open",
      help: "WebSocket connections open now.",
      registers,
    }),
    liveEventExecutions: new Counter({
      name: "chat_live_event_executions_total",
      help: "Executions of subscription selections for live events; subscribers asking the same of the same event share one.",
      registers,
    }),
    liveEventResults: new Counter({
      name: "chat_live_event_results_total",
      help: "Results of live events handed to subscriptions (over all transports): events delivered to subscribers.",
      registers,
    }),
    commandsPublished: new Counter({
      name: "chat_commands_published_total",
      help: "Commands handed to the bus for the workers (confirmed by the broker), by type.",
      labelNames: ["type"],
      registers,
    }),
    rateLimited: new Counter({
      name: "chat_rate_limited_total",
      help: "Requests refused with RATE_LIMITED, by limit.",
      labelNames: ["limit"],
      registers,
    }),
    busReconnects: new Counter({
      name: "chat_bus_reconnects_total",
      help: "Reconnections to RabbitMQ after a lost connection.",
      registers,
    }),
    sendToEvent,
    messagesPersisted: new Counter({
      name: "chat_messages_persisted_total",
      help: "Messages a worker stored (a redelivered send counts once).",
      registers,
    }),
    workerBatchSize: new Histogram({
      name: "chat_worker_batch_size",
      help: "Commands per worker batch.",
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers,
    }),
    workerBatchSeconds: new Histogram({
      name: "chat_worker_batch_seconds",
      help: "How long a worker batch took to settle: stored, announced and acked.",
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    }),
    commandsRefused: new Counter({
      name: "chat_commands_refused_total",
      help: "Commands refused by a worker or given up on by the broker (the dead letters), by type.",
      labelNames: ["type"],
      registers,
    }),
    webhooks: new Counter({
      name: "chat_webhooks_total",
      help: "Outgoing webhook attempts by outcome: delivered, retried, failed (given up), skipped (a mention of someone online).",
      labelNames: ["outcome"],
      registers,
    }),
    observeEvent(event) {
      if (event.type !== "message.created") return;
      const now = Date.now();
      for (const message of event.messages) {
        const sent = Date.parse(message.createdAt);
        if (Number.isFinite(sent)) sendToEvent.observe(Math.max(0, now - sent) / 1000);
      }
    },
  };
}

/** What only a process running a worker reports, read when scraped. */
export function registerWorkerGauges(metrics: Metrics, worker: RunningWorker) {
  const registers = [metrics.registry];
  new Gauge({
    name: "chat_worker_shards",
    help: "Command shards this worker consumes.",
    registers,
    collect() {
      this.set(worker.status().shards.size);
    },
  });
  new Gauge({
    name: "chat_worker_paused",
    help: "1 while a shard waits out a database or broker outage, or the shard leases are lost.",
    registers,
    collect() {
      this.set(worker.status().paused ? 1 : 0);
    },
  });
  new Gauge({
    name: "chat_outbox_backlog",
    help: "Events committed by workers and not yet confirmed by the broker (all shards).",
    registers,
    async collect() {
      this.set(await worker.outboxBacklog().catch(() => Number.NaN));
    },
  });
}
