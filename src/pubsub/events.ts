// The shapes of the events that travel on the bus. They live with the bus (not with the
// resolvers or the worker) because both sides of the bus depend on them. Events are
// JSON: times are ISO strings.

/** Membership changed; live subscriptions use these to follow channels a user joins or leaves. */
export type MembershipEvent =
  /** lastSeq: the channel's last seq when they joined (streams replay what came after it). */
  | { type: "channel.joined"; channelId: string; userIds: string[]; lastSeq?: number }
  | { type: "channel.left"; channelId: string; userIds: string[] }
  | { type: "group.joined"; groupId: string; userIds: string[] }
  | { type: "group.left"; groupId: string; userIds: string[] }
  | {
      type: "group.roleChanged";
      groupId: string;
      userId: string;
      role: "OWNER" | "ADMIN" | "MEMBER";
    };

/** A user's public profile (everything the User type shows to others), times as ISO strings. */
export interface PublicUserPayload {
  id: string;
  username: string;
  displayName: string;
  avatarUrl: string | null;
  bio: string | null;
  createdAt: string;
  lastSeenAt: string | null;
}

/**
 * A persisted message with what a subscriber's selection needs, so no one queries per event.
 * Its recipients do not travel with it (a 100,000-member channel's list is megabytes, past
 * what the broker should carry): a replica knows who is a member (AccessWatch), and a
 * member receives the messages after their join (resolvers/message-streams.ts).
 */
export interface MessagePayload {
  id: string;
  channelId: string;
  senderId: string;
  clientMessageId: string;
  seq: number;
  body: string;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
  pinnedAt: string | null;
  pinnedById: string | null;
  sender: PublicUserPayload;
  /** Its reactions (absent from events older than reactions: read them then). */
  reactions?: ReactionPayload[];
  /** The message it replies to (absent from older events: read it then). */
  replyToId?: string | null;
  /** A thread reply's thread (its root message). */
  threadRootId?: string | null;
  /** On a thread's root: its replies so far, and when the last came. */
  threadReplyCount?: number;
  threadLastReplyAt?: string | null;
  /** On a new reply: the message it replies to, as stored then (one level deep). */
  replyTo?: MessagePayload | null;
  /** On a new thread reply: its thread after the batch that stored it. */
  thread?: ThreadPayload;
  /** On a new message: its attachments (absent: read them then). */
  attachments?: AttachmentPayload[];
}

/** A file attached to a message; its URL is signed per request from `storageKey`. */
export interface AttachmentPayload {
  id: string;
  filename: string;
  contentType: string;
  size: number;
  width: number | null;
  height: number | null;
  storageKey: string;
}

/** A thread as a new reply's event carries it: its root and how far it has got. */
export interface ThreadPayload {
  rootId: string;
  replyCount: number;
  lastReplyAt: string | null;
  /** The first MAX_THREAD_PARTICIPANTS to reply, earliest first. */
  participants: PublicUserPayload[];
}

/** One emoji's reactions to a message: how many, and the first few who reacted. */
export interface ReactionPayload {
  emoji: string;
  count: number;
  /** The earliest MAX_REACTION_USERS to react with it, earliest first. */
  users: PublicUserPayload[];
}

export type MessageEvent =
  /** One event carries all of a worker batch's new messages for one channel, in seq order. */
  | { type: "message.created"; channelId: string; messages: MessagePayload[] }
  | { type: "message.updated"; channelId: string; message: MessagePayload }
  | { type: "message.deleted"; channelId: string; message: MessagePayload }
  /** `user` reacted with `emoji` (added) or took it back; `message.reactions` is the new tally. */
  | {
      type: "message.reactions";
      channelId: string;
      message: MessagePayload;
      emoji: string;
      user: PublicUserPayload;
      added: boolean;
      at: string;
    };

/**
 * A member's receipt position in a channel moved forward: they have on a device
 * (DELIVERED) or have read (READ) every message up to `seq`. Receipts are positions, not
 * a row per message and member, so reading a thousand messages is one receipt.
 */
export interface ReceiptPayload {
  channelId: string;
  /** The newest message the position covers (the one at `seq`). */
  messageId: string;
  seq: number;
  status: "DELIVERED" | "READ";
  at: string;
  user: PublicUserPayload;
  /** After this receipt, every member has read the channel up to here (the least advanced read position). */
  readByAllUpToSeq: number;
  /** After this receipt, every member has the channel up to here on a device. */
  deliveredToAllUpToSeq: number;
}

/**
 * A worker batch's receipts of one channel for one user: published on the user keys of
 * the reader (their other devices) and of the senders of the messages a receipt covers
 * (their ticks), never to the whole channel: a message read by all N members costs N
 * deliveries, not N².
 */
export interface ReceiptEvent {
  type: "receipts.updated";
  channelId: string;
  receipts: ReceiptPayload[];
}

/** A user came online (first socket anywhere) or went offline (last socket, or their replica died). */
export interface PresenceEvent {
  type: "presence.changed";
  userId: string;
  /** The user's public profile, so watchers need not look it up (absent if it could not be read). */
  user?: PublicUserPayload;
  status: "ONLINE" | "OFFLINE";
  lastSeenAt: string | null;
  at: string;
}

/** Ephemeral: never stored, never queued for the worker. */
export interface TypingEvent {
  type: "typing";
  channelId: string;
  user: PublicUserPayload;
  isTyping: boolean;
  at: string;
}

/** The worker refused a message the api had accepted (told to its sender only). */
export interface MessageRejectedEvent {
  type: "message.rejected";
  channelId: string;
  messageId: string;
  clientMessageId: string;
  reason: string;
  at: string;
}

export type BusEvent =
  | MessageEvent
  | MessageRejectedEvent
  | ReceiptEvent
  | MembershipEvent
  | PresenceEvent
  | TypingEvent;

/** Routing keys of the event exchange. */
export const routingKeys = {
  channel: (channelId: string) => `channel.${channelId}`,
  user: (userId: string) => `user.${userId}`,
  presence: (userId: string) => `presence.${userId}`,
};

/** Where a membership event is published: the channel's key and each affected user's key. */
export function membershipRoutingKeys(event: MembershipEvent): string[] {
  switch (event.type) {
    case "channel.joined":
    case "channel.left":
      return [routingKeys.channel(event.channelId), ...event.userIds.map(routingKeys.user)];
    case "group.joined":
    case "group.left":
      return event.userIds.map(routingKeys.user);
    case "group.roleChanged":
      return [routingKeys.user(event.userId)];
  }
}
