// Batched lookups by id, one set per request (or per subscription operation). Pothos
// plans queries for what it loads itself; these serve objects that arrive another way,
// such as messages from an event payload or from sendMessage's answer.
import DataLoader from "dataloader";
import type { Loaders } from "../context.js";
import type { PrismaClient } from "../db/database.js";
import type { Queries } from "../db/sql.js";
import { loadAttachments } from "../pubsub/attachment-rows.js";
import { loadReactionTallies } from "../pubsub/reaction-rows.js";
import { loadThreadParticipants } from "../pubsub/thread-rows.js";
import { presenceVisibleAmong } from "../rules/visibility.js";
import { viewerRelations } from "./contacts.js";
import { mentionsOfMessages, messagesMentioning, unreadMentionCounts } from "./mentions.js";
import { viewerReactionsTo } from "./reactions.js";
import { channelMemberPositions, channelReceiptStates } from "./receipts.js";
import { unreadThreadCounts, viewerThreadStates } from "./threads.js";

/** Plain SQL through Prisma, for the reads the worker shares (pubsub/*-rows.ts). */
const prismaQueries = (prisma: PrismaClient): Queries => ({
  query: (text, params = []) => prisma.$queryRawUnsafe(text, ...params),
});

/** A loader's answers from a per-key map of lists (a key with nothing: an empty list). */
const listsFor =
  <T>(load: (ids: readonly string[]) => Promise<Map<string, T[]>>) =>
  async (ids: readonly string[]) => {
    const found = await load(ids);
    return ids.map((id) => found.get(id) ?? []);
  };

function byId<T extends { id: string }>(rows: T[], ids: readonly string[]) {
  const found = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => found.get(id) ?? null);
}

export function createLoaders(prisma: PrismaClient, viewerId: string | null = null): Loaders {
  return new RequestLoaders(prisma, viewerId);
}

/**
 * Each loader is made when first used. A subscription keeps its context (and so these) for
 * its whole life, and most use none or one of them: made up front, the sixteen loaders,
 * their maps and closures were about 8 KiB of every idle subscribed socket.
 */
class RequestLoaders implements Loaders {
  #lastSeenVisible?: Loaders["lastSeenVisible"];
  #user?: Loaders["user"];
  #channel?: Loaders["channel"];
  #receiptState?: Loaders["receiptState"];
  #memberPositions?: Loaders["memberPositions"];
  #viewerRelation?: Loaders["viewerRelation"];
  #unreadMentions?: Loaders["unreadMentions"];
  #mentionsViewer?: Loaders["mentionsViewer"];
  #mentionsOf?: Loaders["mentionsOf"];
  #reactionsOf?: Loaders["reactionsOf"];
  #message?: Loaders["message"];
  #unreadThreads?: Loaders["unreadThreads"];
  #attachmentsOf?: Loaders["attachmentsOf"];
  #threadParticipants?: Loaders["threadParticipants"];
  #viewerThreads?: Loaders["viewerThreads"];
  #viewerReactions?: Loaders["viewerReactions"];

  constructor(
    private readonly prisma: PrismaClient,
    private readonly viewerId: string | null,
  ) {}

  /** Whose last seen the viewer may see (the presence rule), one statement per request. */
  get lastSeenVisible() {
    const { prisma, viewerId } = this;
    this.#lastSeenVisible ??= new DataLoader(async (ids) => {
      if (!viewerId) return ids.map(() => false);
      const visible = await presenceVisibleAmong(prisma, viewerId, ids);
      return ids.map((id) => visible.has(id));
    });
    return this.#lastSeenVisible;
  }

  get user() {
    const { prisma } = this;
    this.#user ??= new DataLoader(async (ids) =>
      byId(await prisma.user.findMany({ where: { id: { in: [...ids] } } }), ids),
    );
    return this.#user;
  }

  get channel() {
    const { prisma } = this;
    this.#channel ??= new DataLoader(async (ids) =>
      byId(await prisma.channel.findMany({ where: { id: { in: [...ids] } } }), ids),
    );
    return this.#channel;
  }

  /** Not cached: positions move while a subscription (one context) lives. */
  get receiptState() {
    const { prisma } = this;
    this.#receiptState ??= new DataLoader((ids) => channelReceiptStates(prisma, ids), {
      cache: false,
    });
    return this.#receiptState;
  }

  /** Not cached: positions move while a subscription (one context) lives. */
  get memberPositions() {
    const { prisma } = this;
    this.#memberPositions ??= new DataLoader((ids) => channelMemberPositions(prisma, ids), {
      cache: false,
    });
    return this.#memberPositions;
  }

  get viewerRelation() {
    const { prisma, viewerId } = this;
    this.#viewerRelation ??= new DataLoader(async (ids) =>
      viewerId ? viewerRelations(prisma, viewerId, ids) : ids.map(() => null),
    );
    return this.#viewerRelation;
  }

  /** Not cached: read positions move while a subscription (one context) lives. */
  get unreadMentions() {
    const { prisma, viewerId } = this;
    this.#unreadMentions ??= new DataLoader(
      async (keys) => (viewerId ? unreadMentionCounts(prisma, viewerId, keys) : keys.map(() => 0)),
      { cache: false },
    );
    return this.#unreadMentions;
  }

  get mentionsViewer() {
    const { prisma, viewerId } = this;
    this.#mentionsViewer ??= new DataLoader(async (ids) =>
      viewerId ? messagesMentioning(prisma, viewerId, ids) : ids.map(() => false),
    );
    return this.#mentionsViewer;
  }

  get mentionsOf() {
    const { prisma } = this;
    this.#mentionsOf ??= new DataLoader((ids) => mentionsOfMessages(prisma, ids));
    return this.#mentionsOf;
  }

  /** Not cached: reactions change while a subscription (one context) lives. */
  get reactionsOf() {
    const { prisma } = this;
    this.#reactionsOf ??= new DataLoader(
      listsFor((ids) => loadReactionTallies(prismaQueries(prisma), ids)),
      { cache: false },
    );
    return this.#reactionsOf;
  }

  /** Not cached: a root's counters move while a subscription (one context) lives. */
  get message() {
    const { prisma } = this;
    this.#message ??= new DataLoader(
      async (ids) => byId(await prisma.message.findMany({ where: { id: { in: [...ids] } } }), ids),
      { cache: false },
    );
    return this.#message;
  }

  /** Not cached: read positions move while a subscription (one context) lives. */
  get unreadThreads() {
    const { prisma, viewerId } = this;
    this.#unreadThreads ??= new DataLoader(
      async (ids) => (viewerId ? unreadThreadCounts(prisma, viewerId, ids) : ids.map(() => 0)),
      { cache: false },
    );
    return this.#unreadThreads;
  }

  get attachmentsOf() {
    const { prisma } = this;
    this.#attachmentsOf ??= new DataLoader(
      listsFor((ids) => loadAttachments(prismaQueries(prisma), ids)),
    );
    return this.#attachmentsOf;
  }

  /** Not cached: a thread's participants change while a subscription (one context) lives. */
  get threadParticipants() {
    const { prisma } = this;
    this.#threadParticipants ??= new DataLoader(
      listsFor((ids) => loadThreadParticipants(prismaQueries(prisma), ids)),
      { cache: false },
    );
    return this.#threadParticipants;
  }

  /** Not cached: read positions move while a subscription (one context) lives. */
  get viewerThreads() {
    const { prisma, viewerId } = this;
    this.#viewerThreads ??= new DataLoader(
      async (ids) => (viewerId ? viewerThreadStates(prisma, viewerId, ids) : ids.map(() => null)),
      { cache: false },
    );
    return this.#viewerThreads;
  }

  /** Not cached: reactions change while a subscription (one context) lives. */
  get viewerReactions() {
    const { prisma, viewerId } = this;
    this.#viewerReactions ??= new DataLoader(
      async (ids) =>
        viewerId ? viewerReactionsTo(prisma, viewerId, ids) : ids.map(() => new Set<string>()),
      { cache: false },
    );
    return this.#viewerReactions;
  }
}
