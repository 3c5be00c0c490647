// Prometheus metrics of one api replica (`GET /metrics`), one registry per app so tests
// that build several apps in one process keep them apart. Live subscriptions are counted
// where graphql-ws knows a client is subscribed (its streams are bound), which is also
// how tests wait for a subscription to be live instead of sleeping.
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";

export interface Metrics {
  registry: Registry;
  /** Subscriptions whose stream was set up (monotonic). */
  subscriptionsStarted: Counter;
  /** Subscriptions live now. */
  subscriptionsActive: Gauge;
  /** Executions of subscription selections for live events (shared ones count once). */
  liveEventExecutions: Counter;
  /** Results of live events handed to subscriptions. */
  liveEventResults: Counter;
}

export function createMetrics(labels: { server: string }): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    subscriptionsStarted: new Counter({
      name: "chat_subscriptions_started_total",
      help: "WebSocket subscriptions whose stream was set up (the client is subscribed).",
      registers: [registry],
    }),
    subscriptionsActive: new Gauge({
      name: "chat_subscriptions_active",
      help: "WebSocket subscriptions live now.",
      registers: [registry],
    }),
    liveEventExecutions: new Counter({
      name: "chat_live_event_executions_total",
      help: "Executions of subscription selections for live events; subscribers asking the same of the same event share one.",
      registers: [registry],
    }),
    liveEventResults: new Counter({
      name: "chat_live_event_results_total",
      help: "Results of live events handed to subscriptions (over all transports).",
      registers: [registry],
    }),
  };
}
