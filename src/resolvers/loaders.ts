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

type Make<K extends keyof Loaders> = (prisma: PrismaClient, viewerId: string | null) => Loaders[K];

/** How each loader is made. "Not cached": what it reads moves while a subscription (one context) lives. */
const MAKE: { [K in keyof Loaders]: Make<K> } = {
  // Whose last seen the viewer may see (the presence rule), one statement per request.
  lastSeenVisible: (prisma, viewerId) =>
    new DataLoader(async (ids) => {
      if (!viewerId) return ids.map(() => false);
      const visible = await presenceVisibleAmong(prisma, viewerId, ids);
      return ids.map((id) => visible.has(id));
    }),
  user: (prisma) =>
    new DataLoader(async (ids) =>
      byId(await prisma.user.findMany({ where: { id: { in: [...ids] } } }), ids),
    ),
  channel: (prisma) =>
    new DataLoader(async (ids) =>
      byId(await prisma.channel.findMany({ where: { id: { in: [...ids] } } }), ids),
    ),
  // Not cached: positions.
  receiptState: (prisma) =>
    new DataLoader((ids) => channelReceiptStates(prisma, ids), { cache: false }),
  memberPositions: (prisma) =>
    new DataLoader((ids) => channelMemberPositions(prisma, ids), { cache: false }),
  viewerRelation: (prisma, viewerId) =>
    new DataLoader(async (ids) =>
      viewerId ? viewerRelations(prisma, viewerId, ids) : ids.map(() => null),
    ),
  // Not cached: read positions.
  unreadMentions: (prisma, viewerId) =>
    new DataLoader(
      async (keys) => (viewerId ? unreadMentionCounts(prisma, viewerId, keys) : keys.map(() => 0)),
      { cache: false },
    ),
  mentionsViewer: (prisma, viewerId) =>
    new DataLoader(async (ids) =>
      viewerId ? messagesMentioning(prisma, viewerId, ids) : ids.map(() => false),
    ),
  mentionsOf: (prisma) => new DataLoader((ids) => mentionsOfMessages(prisma, ids)),
  // Not cached: reactions.
  reactionsOf: (prisma) =>
    new DataLoader(
      listsFor((ids) => loadReactionTallies(prismaQueries(prisma), ids)),
      { cache: false },
    ),
  // Not cached: a root's counters.
  message: (prisma) =>
    new DataLoader(
      async (ids) => byId(await prisma.message.findMany({ where: { id: { in: [...ids] } } }), ids),
      { cache: false },
    ),
  // Not cached: read positions.
  unreadThreads: (prisma, viewerId) =>
    new DataLoader(
      async (ids) => (viewerId ? unreadThreadCounts(prisma, viewerId, ids) : ids.map(() => 0)),
      { cache: false },
    ),
  attachmentsOf: (prisma) =>
    new DataLoader(listsFor((ids) => loadAttachments(prismaQueries(prisma), ids))),
  // Not cached: a thread's participants.
  threadParticipants: (prisma) =>
    new DataLoader(
      listsFor((ids) => loadThreadParticipants(prismaQueries(prisma), ids)),
      { cache: false },
    ),
  // Not cached: read positions.
  viewerThreads: (prisma, viewerId) =>
    new DataLoader(
      async (ids) => (viewerId ? viewerThreadStates(prisma, viewerId, ids) : ids.map(() => null)),
      { cache: false },
    ),
  // Not cached: reactions.
  viewerReactions: (prisma, viewerId) =>
    new DataLoader(
      async (ids) =>
        viewerId ? viewerReactionsTo(prisma, viewerId, ids) : ids.map(() => new Set<string>()),
      { cache: false },
    ),
};

/**
 * Each loader is made when first used. A subscription keeps its context (and so these) for
 * its whole life, and most use none or one of them: made up front, the sixteen loaders,
 * their maps and closures were about 8 KiB of every idle subscribed socket. The getters
 * live on the prototype (one per loader, defined below from MAKE): nothing per loader in
 * an instance until it is asked for.
 */
class RequestLoaders {
  readonly made: Partial<Loaders> = {};

  constructor(
    readonly prisma: PrismaClient,
    readonly viewerId: string | null,
  ) {}
}

for (const name of Object.keys(MAKE) as Array<keyof Loaders>) {
  Object.defineProperty(RequestLoaders.prototype, name, {
    get(this: RequestLoaders) {
      const made = this.made as Record<keyof Loaders, unknown>;
      made[name] ??= MAKE[name](this.prisma, this.viewerId);
      return made[name];
    },
  });
}

export function createLoaders(prisma: PrismaClient, viewerId: string | null = null): Loaders {
  // The getters defined above make it a Loaders.
  return new RequestLoaders(prisma, viewerId) as unknown as Loaders;
}
