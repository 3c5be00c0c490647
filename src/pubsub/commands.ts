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
  /** The message it replies to (same channel), quoted inline or, with `inThread`, in its thread. */
  replyToId?: string | null;
  /** A thread reply: it joins the thread of `replyToId` (started by it, or the one it is in). */
  inThread?: boolean;
  /** Files the sender uploaded for this channel (createUpload), attached when it is stored. */
  attachmentIds?: string[];
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

/** Pins or unpins a message in its channel. */
export interface PinMessageCommand {
  type: "message.pin" | "message.unpin";
  messageId: string;
  channelId: string;
  actorId: string;
  at: string;
}

/** The user reacts to a message with an emoji, or takes that reaction back. */
export interface ReactionCommand {
  type: "reaction.add" | "reaction.remove";
  messageId: string;
  channelId: string;
  userId: string;
  emoji: string;
  at: string;
}

/** The user has read a thread up to this seq (a reply's). */
export interface ReadThreadCommand {
  type: "thread.read";
  rootId: string;
  channelId: string;
  userId: string;
  upToSeq: number;
  at: string;
}

/** The user mutes the channel for themself until `until` (null: unmutes). */
export interface MuteChannelCommand {
  type: "channel.mute";
  channelId: string;
  userId: string;
  until: string | null;
  at: string;
}

/** The user has these messages of one channel on a device. */
export interface MarkDeliveredCommand {
  type: "receipt.delivered";
  channelId: string;
  userId: string;
  messageIds: string[];
  at: string;
}

/** The user has read the channel up to this seq. */
export interface MarkReadCommand {
  type: "receipt.read";
  channelId: string;
  userId: string;
  upToSeq: number;
  at: string;
}

export type MessageCommand =
  | SendMessageCommand
  | EditMessageCommand
  | DeleteMessageCommand
  | PinMessageCommand;
export type ReceiptCommand = MarkDeliveredCommand | MarkReadCommand;
export type Command =
  | MessageCommand
  | ReceiptCommand
  | ReactionCommand
  | ReadThreadCommand
  | MuteChannelCommand;

/** A short description for logs. */
export function describeCommand(command: Command): string {
  const subject =
    "messageId" in command ? `message ${command.messageId}` : `user ${command.userId}`;
  return `${command.type} (${subject}, channel ${command.channelId})`;
}

/** Which of `shards` queues carries this channel's commands. */
export function shardOf(channelId: string, shards: number): number {
  return createHash("sha1").update(channelId).digest().readUInt32BE(0) % shards;
}
