// Chooses the bus adapter: RabbitMQ when a URL is configured, else the in-process bus.

import { AmqpBus } from "./amqp/amqp-bus.js";
import type { Bus } from "./bus.js";
import type { BusEvent } from "./events.js";
import { LocalBus } from "./local-bus.js";

export interface OpenBusOptions {
  url: string | undefined;
  prefix: string;
  shards: number;
  /** Names this process's broker connection (the replica's SERVER_ID). */
  connectionName: string;
  log: (message: string, error?: unknown) => void;
  /** Events arriving here and reconnections, for the metrics (broker only). */
  observe?: { event(event: BusEvent): void; reconnected(): void };
}

export async function openBus(options: OpenBusOptions): Promise<Bus> {
  if (!options.url) return new LocalBus({ shards: options.shards, log: options.log });
  return AmqpBus.connect({
    url: options.url,
    prefix: options.prefix,
    shards: options.shards,
    connectionName: options.connectionName,
    log: options.log,
    observe: options.observe,
  });
}
