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
  };
}
