// What every resolver receives. A new object per request (HTTP) or per operation
// (WebSocket), built by app/context.ts; `services` is shared by all of them.

import type DataLoader from "dataloader";
import type { AccessTokens } from "./auth/access-tokens.js";
import type { KnownUsers } from "./auth/known-users.js";
import type { RefreshTokens } from "./auth/refresh-tokens.js";
import type { Cache } from "./cache/cache.js";
import type { Config } from "./config.js";
import type { Database, PrismaClient } from "./db/database.js";
import type { Channel, Message, User } from "./db/generated/prisma/client.js";
import type { Logger } from "./logger.js";
import type { PresenceTracker } from "./presence/tracker.js";
import type { Bus } from "./pubsub/bus.js";
import type { AttachmentPayload, PublicUserPayload, ReactionPayload } from "./pubsub/events.js";
import type { EventChannels } from "./resolvers/event-channels.js";
import type { MembershipCache } from "./resolvers/membership-cache.js";
import type { ChannelReceiptState, MemberPositions } from "./resolvers/receipts.js";
import type { AccessWatch } from "./resolvers/streams/access-watch.js";
import type { Metrics } from "./server/metrics.js";
import type { UserSlots } from "./server/user-slots.js";
import type { AttachmentStorage } from "./storage/storage.js";
import type { RunningWorker } from "./worker/index.js";

export interface Services {
  config: Config;
  /** Structured logs (pino), with this process's server id and role. */
  logger: Logger;
  /** This process's Prometheus metrics (GET /metrics). */
  metrics: Metrics;
  db: Database;
  accessTokens: AccessTokens;
  /** Refuses tokens of users that do not exist. */
  knownUsers: KnownUsers;
  refreshTokens: RefreshTokens;
  /** Commands to the worker, events to every replica. */
  bus: Bus;
  /** Where attachments live (local disk or S3). */
  storage: AttachmentStorage;
  /** Shared short-lived state: Memcached, or in-process in the embedded default. */
  cache: Cache;
  /** This process's own counters: where rate limits count while the shared cache is down. */
  localLimits: Cache;
  membershipCache: MembershipCache;
  /** The channels live events name, looked up once per event for all local subscribers. */
  eventChannels: EventChannels;
  /** Memberships, blocks and presence visibility that live streams check per event. */
  accessWatch: AccessWatch;
  /** Per-user caps on open sockets and streams, across replicas. */
  userSlots: UserSlots;
  /** Who is online across replicas (api role). */
  presence: PresenceTracker;
  /** The worker of this process (role `all` or `worker`), once started. */
  worker?: RunningWorker;
  /** Set once the process drains on its way out: /ready answers 503 from then on. */
  lifecycle: { draining: boolean };
}

export interface Viewer {
  id: string;
}

export interface Context {
  services: Services;
  prisma: PrismaClient;
  /** The signed-in user, or null for an anonymous request. */
  viewer: Viewer | null;
  /** Why a presented token was not accepted (so UNAUTHENTICATED can say so). */
  authProblem: "expired" | "invalid" | null;
  /** When the access token that authenticated this request expires (ms since epoch); null when anonymous. */
  tokenExpiresAt: number | null;
  /** The peer's address (HTTP request or WebSocket), for per-address limits; null if unknown. */
  clientAddress: string | null;
  /** Per-request memo for authorization lookups (resolvers/access.ts). */
  memo: Map<string, Promise<unknown>>;
  /** Batched lookups for objects that did not come from a Pothos-planned query (event payloads). */
  loaders: Loaders;
}

export interface Loaders {
  /** May the viewer see this user's last seen (the presence visibility rule)? */
  lastSeenVisible: DataLoader<string, boolean>;
  user: DataLoader<string, User | null>;
  channel: DataLoader<string, Channel | null>;
  /** Per channel: its least advanced receipt positions (messages' status for their senders). */
  receiptState: DataLoader<string, ChannelReceiptState>;
  /** Per channel: every member's receipt positions (messages' receipts). */
  memberPositions: DataLoader<string, MemberPositions[]>;
  /** Per user: in the viewer's contacts, blocked by the viewer, or neither (null). */
  viewerRelation: DataLoader<string, "CONTACT" | "BLOCKED" | null>;
  /** Per "channelId:readSeq": the viewer's mentions in the channel after that seq. */
  unreadMentions: DataLoader<string, number>;
  /** Per message: whether it mentions the viewer (by name, or @channel by someone else). */
  mentionsViewer: DataLoader<string, boolean>;
  /** Per message: what it names, as the worker recorded it (members named, and @channel/@here). */
  mentionsOf: DataLoader<string, { userIds: string[]; everyone: boolean }>;
  /** Per message: its reactions tallied per emoji. */
  reactionsOf: DataLoader<string, ReactionPayload[]>;
  /** Per message: the emoji the viewer reacted with. */
  viewerReactions: DataLoader<string, Set<string>>;
  /** Per id: the stored message (replies' parents, threads' roots). */
  message: DataLoader<string, Message | null>;
  /** Per thread root: its first repliers. */
  threadParticipants: DataLoader<string, PublicUserPayload[]>;
  /** Per channel: followed threads with unread replies (the viewer's). */
  unreadThreads: DataLoader<string, number>;
  /** Per message: its attachments, in upload order. */
  attachmentsOf: DataLoader<string, AttachmentPayload[]>;
  /** Per thread root: the viewer's read position and unread replies, or null (not following). */
  viewerThreads: DataLoader<string, { lastReadSeq: number; unread: number } | null>;
}
