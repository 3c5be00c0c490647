// RabbitMQ topology, declared (idempotently) by every process that connects:
//   <prefix>.commands  direct exchange -> <prefix>.commands.<shard> quorum queues, one per
//                      shard, single active consumer (one worker at a time per shard keeps
//                      a channel's commands in order; standby workers take over on failure),
//                      delivery limit -> dead-lettered to <prefix>.dead -> <prefix>.commands.dead
//   <prefix>.events    topic exchange; routing keys channel.<id>, user.<id>
import type { Channel } from "amqplib";

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

export async function declareTopology(
  channel: Channel,
  names: TopologyNames,
  shards: number,
  maxAttempts: number,
) {
  await channel.assertExchange(names.commands, "direct", { durable: true });
  await channel.assertExchange(names.events, "topic", { durable: true });
  await channel.assertExchange(names.deadLetters, "fanout", { durable: true });
  await channel.assertQueue(names.deadLetterQueue, { durable: true });
  await channel.bindQueue(names.deadLetterQueue, names.deadLetters, "");
  for (let shard = 0; shard < shards; shard++) {
    const queue = names.shardQueue(shard);
    await channel.assertQueue(queue, {
      durable: true,
      arguments: {
        "x-queue-type": "quorum",
        "x-single-active-consumer": true,
        // The limit counts redeliveries: maxAttempts deliveries in all.
        "x-delivery-limit": maxAttempts - 1,
        "x-dead-letter-exchange": names.deadLetters,
      },
    });
    await channel.bindQueue(queue, names.commands, String(shard));
  }
}
