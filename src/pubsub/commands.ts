// Commands: what the api asks the worker to do. They travel on durable shard queues;
// the shard is chosen by channel so one channel's commands stay in order.
import { createHash } from "node:crypto";

export interface SendMessageCommand {
  type: "message.send";
  /** Minted by the api (deterministic per sender and clientMessageId, so retries collide). */
  messageId: string;
  channelId: string;
  senderId: string;
  clientMessageId: string;
  body: string;
  /** ISO time the api accepted the message. */
  createdAt: string;
}

export interface EditMessageCommand {
  type: "message.edit";
  messageId: string;
  channelId: string;
  editorId: string;
  body: string;
  at: string;
}

export interface DeleteMessageCommand {
  type: "message.delete";
  messageId: string;
  channelId: string;
  actorId: string;
  at: string;
}

export type Command = SendMessageCommand | EditMessageCommand | DeleteMessageCommand;

/** Which of `shards` queues carries this channel's commands. */
export function shardOf(channelId: string, shards: number): number {
  return createHash("sha1").update(channelId).digest().readUInt32BE(0) % shards;
}
