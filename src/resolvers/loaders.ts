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
  return {
    // Whose last seen the viewer may see (the presence rule), one statement per request.
    lastSeenVisible: new DataLoader(async (ids) => {
      if (!viewerId) return ids.map(() => false);
      const visible = await presenceVisibleAmong(prisma, viewerId, ids);
      return ids.map((id) => visible.has(id));
    }),
    user: new DataLoader(async (ids) =>
      byId(await prisma.user.findMany({ where: { id: { in: [...ids] } } }), ids),
    ),
    channel: new DataLoader(async (ids) =>
      byId(await prisma.channel.findMany({ where: { id: { in: [...ids] } } }), ids),
    ),
    // Not cached: positions move while a subscription (one context) lives.
    receiptState: new DataLoader((ids) => channelReceiptStates(prisma, ids), { cache: false }),
    memberPositions: new DataLoader((ids) => channelMemberPositions(prisma, ids), {
      cache: false,
    }),
    viewerRelation: new DataLoader(async (ids) =>
      viewerId ? viewerRelations(prisma, viewerId, ids) : ids.map(() => null),
    ),
    // Not cached: read positions move while a subscription (one context) lives.
    unreadMentions: new DataLoader(
      async (keys) => (viewerId ? unreadMentionCounts(prisma, viewerId, keys) : keys.map(() => 0)),
      { cache: false },
    ),
    mentionsViewer: new DataLoader(async (ids) =>
      viewerId ? messagesMentioning(prisma, viewerId, ids) : ids.map(() => false),
    ),
    mentionsOf: new DataLoader((ids) => mentionsOfMessages(prisma, ids)),
    // Not cached: reactions change while a subscription (one context) lives.
    reactionsOf: new DataLoader(
      listsFor((ids) => loadReactionTallies(prismaQueries(prisma), ids)),
      { cache: false },
    ),
    // Not cached: a root's counters move while a subscription (one context) lives.
    message: new DataLoader(
      async (ids) => byId(await prisma.message.findMany({ where: { id: { in: [...ids] } } }), ids),
      { cache: false },
    ),
    // Not cached: read positions move while a subscription (one context) lives.
    unreadThreads: new DataLoader(
      async (ids) => (viewerId ? unreadThreadCounts(prisma, viewerId, ids) : ids.map(() => 0)),
      { cache: false },
    ),
    attachmentsOf: new DataLoader(listsFor((ids) => loadAttachments(prismaQueries(prisma), ids))),
    threadParticipants: new DataLoader(
      listsFor((ids) => loadThreadParticipants(prismaQueries(prisma), ids)),
      { cache: false },
    ),
    viewerThreads: new DataLoader(
      async (ids) => (viewerId ? viewerThreadStates(prisma, viewerId, ids) : ids.map(() => null)),
      { cache: false },
    ),
    viewerReactions: new DataLoader(
      async (ids) =>
        viewerId ? viewerReactionsTo(prisma, viewerId, ids) : ids.map(() => new Set()),
      { cache: false },
    ),
  };
}
