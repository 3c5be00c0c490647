// RabbitMQ topology, declared (idempotently) by every process that connects:
//   <prefix>.commands  direct exchange -> <prefix>.commands.<shard> quorum queues, one per
//                      shard, single active consumer (one worker at a time per shard keeps
//                      a channel's commands in order, whatever the workers' shard leases
//                      say for a moment), a delivery limit as a backstop against a command
//                      that crashes every worker -> <prefix>.dead
//   <prefix>.dead      fanout -> <prefix>.commands.dead: refused commands (with the reason in
//                      a header) and given-up ones; the worker drains it, records each and
//                      tells its sender
//   <prefix>.events    topic exchange; routing keys channel.<id>, user.<id>
import type { ChannelModel } from "amqplib";

export interface TopologyNames {
  commands: string;
  events: string;
  deadLetters: string;
  deadLetterQueue: string;
  shardQueue(shard: number): string;
}

export function topologyNames(prefix: string): TopologyNames {
  return {
    commands: `${prefix}.commands`,
    events: `${prefix}.events`,
    deadLetters: `${prefix}.dead`,
    deadLetterQueue: `${prefix}.commands.dead`,
    shardQueue: (shard) => `${prefix}.commands.${shard}`,
  };
}

/**
 * Declares everything on a channel of its own (a refused declaration closes its channel).
 * A shard queue that exists with other arguments (declared by an older build, e.g. with
 * another delivery limit) is used as it is, with a warning, rather than keeping every
 * process from starting: RabbitMQ cannot change a queue's arguments in place.
 */
export async function declareTopology(
  connection: ChannelModel,
  names: TopologyNames,
  shards: number,
  maxDeliveries: number,
  log?: (message: string) => void,
) {
  let channel = await connection.createChannel();
  channel.on("error", () => {});
  try {
    await channel.assertExchange(names.commands, "direct", { durable: true });
    await channel.assertExchange(names.events, "topic", { durable: true });
    await channel.assertExchange(names.deadLetters, "fanout", { durable: true });
    await channel.assertQueue(names.deadLetterQueue, { durable: true });
    await channel.bindQueue(names.deadLetterQueue, names.deadLetters, "");
    for (let shard = 0; shard < shards; shard++) {
      const queue = names.shardQueue(shard);
      try {
        await channel.assertQueue(queue, {
          durable: true,
          arguments: {
            "x-queue-type": "quorum",
            "x-single-active-consumer": true,
            // The limit counts redeliveries: maxDeliveries deliveries in all.
            "x-delivery-limit": maxDeliveries - 1,
            "x-dead-letter-exchange": names.deadLetters,
          },
        });
      } catch (error) {
        if ((error as { code?: unknown }).code !== 406) throw error;
        log?.(
          `amqp: queue ${queue} exists with other arguments (an older build?); using it as it is. Drain and delete it to apply the current ones.`,
        );
        channel = await connection.createChannel();
        channel.on("error", () => {});
        await channel.checkQueue(queue);
      }
      await channel.bindQueue(queue, names.commands, String(shard));
    }
  } finally {
    await channel.close().catch(() => {});
  }
}
