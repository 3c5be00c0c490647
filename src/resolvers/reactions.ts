// Reactions as the api sees them. Adding or taking one back is a command (the worker
// stores it idempotently and announces the new tally: worker/persist-reactions.ts); the
// answer is the message with the tally it will have. A message's reactions come from the
// event that carries them (live), or one statement per page of messages (queries).
import { z } from "zod";
import type { Context } from "../context.js";
import type { Sql } from "../db/sql.js";
import { badUserInput, forbidden, notFound } from "../errors.js";
import type { ReactionPayload } from "../pubsub/events.js";
import { fromPublicUserPayload, type PublicUserRow } from "../pubsub/public-user.js";
import {
  loadReactionTallies,
  MAX_DISTINCT_EMOJI,
  MAX_REACTION_USERS,
  tallyAfter,
} from "../pubsub/reaction-rows.js";
import { blockedInDirect } from "../rules/visibility.js";
import { requireChannelAccess } from "./access.js";
import { enqueue } from "./enqueue.js";
import { refuseIfMuted } from "./membership-cache.js";
import { type EventLoads, type MessageView, visibleMessage } from "./messages.js";
import { publicProfile } from "./profiles-cache.js";
import { consume, type Limit } from "./rate-limits.js";
import { parseInput } from "./validation.js";
import { requireViewerId } from "./viewer.js";

/** Reactions per user: a burst of taps is fine, a script is not. */
export const REACTION_LIMIT: Limit = { name: "reactions", max: 120, windowSeconds: 60 };

const graphemes = new Intl.Segmenter("en", { granularity: "grapheme" });

/**
 * One emoji: a single grapheme that is a pictograph, a flag or a keycap (skin tones and
 * ZWJ sequences included), or a custom emoji's :shortcode:.
 */
export function isEmoji(value: string): boolean {
  if (/^:[a-z0-9_+-]{1,32}:$/.test(value)) return true;
  if (value.length > 32 || [...graphemes.segment(value)].length !== 1) return false;
  return /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3/u.test(value);
}

const emojiInput = z
  .string()
  .refine(isEmoji, "must be one emoji, or a :shortcode: of 1-32 of a-z 0-9 _ + -");

/** One emoji's reactions to a message, as the Reaction type resolves them. */
export interface ReactionView {
  messageId: string;
  emoji: string;
  count: number;
  /** The first few to react with it, earliest first. */
  users: PublicUserRow[];
  /** Known when the answer says so (a mutation's); otherwise looked up. */
  viewerHasReacted?: boolean;
  /** On a live event's message: who reacted, read once per event for every local subscriber. */
  eventLoads?: EventLoads;
}

export function reactionViews(
  messageId: string,
  tally: ReactionPayload[],
  extra: Pick<ReactionView, "eventLoads"> & { viewerEmoji?: Set<string> } = {},
): ReactionView[] {
  return tally.map((reaction) => ({
    messageId,
    emoji: reaction.emoji,
    count: reaction.count,
    users: reaction.users.map(fromPublicUserPayload),
    ...(extra.viewerEmoji ? { viewerHasReacted: extra.viewerEmoji.has(reaction.emoji) } : {}),
    ...(extra.eventLoads ? { eventLoads: extra.eventLoads } : {}),
  }));
}

/** Per message id: the emoji the viewer reacted with. */
export async function viewerReactionsTo(
  prisma: Context["prisma"],
  viewerId: string,
  messageIds: readonly string[],
): Promise<Array<Set<string>>> {
  const rows = await prisma.messageReaction.findMany({
    where: { userId: viewerId, messageId: { in: [...messageIds] } },
    select: { messageId: true, emoji: true },
  });
  const byMessage = new Map(messageIds.map((id) => [id, new Set<string>()]));
  for (const row of rows) byMessage.get(row.messageId)?.add(row.emoji);
  return messageIds.map((id) => byMessage.get(id) ?? new Set());
}

/** A message's reactions: from the view that carries them, or loaded (batched per request). */
export async function messageReactions(ctx: Context, message: MessageView) {
  if (message.deletedAt) return [];
  if (message.reactions) return message.reactions;
  return reactionViews(message.id, await ctx.loaders.reactionsOf.load(message.id));
}

/** Whether the viewer reacted with this emoji. */
export async function viewerHasReacted(ctx: Context, reaction: ReactionView): Promise<boolean> {
  if (reaction.viewerHasReacted !== undefined) return reaction.viewerHasReacted;
  const viewerId = ctx.viewer?.id;
  if (!viewerId) return false;
  if (reaction.eventLoads) {
    reaction.eventLoads.reactors ??= reactorsOf(ctx.services.db.sql, reaction.messageId);
    return (await reaction.eventLoads.reactors).get(reaction.emoji)?.has(viewerId) ?? false;
  }
  return (await ctx.loaders.viewerReactions.load(reaction.messageId)).has(reaction.emoji);
}

/** Per emoji: everyone who reacted to the message with it. */
async function reactorsOf(sql: Sql, messageId: string): Promise<Map<string, Set<string>>> {
  const rows = await sql.query<{ emoji: string; user_ids: string[] }>(
    `SELECT emoji, array_agg(user_id::text) AS user_ids FROM message_reactions
      WHERE message_id = $1::uuid GROUP BY emoji`,
    [messageId],
  );
  return new Map(rows.map((row) => [row.emoji, new Set(row.user_ids)]));
}

/**
 * The viewer adds (or takes back) a reaction: a member of the channel (not muted in its
 * group, to add), to a message that is not deleted, not across a block. Always enqueued (an earlier tap may still be on its
 * way; the worker makes a repeat change nothing); the answer is the tally as it will be.
 */
export async function react(
  ctx: Context,
  rawMessageId: unknown,
  rawEmoji: unknown,
  add: boolean,
): Promise<MessageView> {
  const viewerId = requireViewerId(ctx);
  await consume(ctx, REACTION_LIMIT, viewerId);
  const message = await visibleMessage(ctx, rawMessageId, "messageId");
  const emoji = parseInput(emojiInput, rawEmoji, "emoji");
  if (message.deletedAt) throw notFound("Message", "messageId");
  await requireChannelAccess(ctx, message.channelId, "messageId", "member");
  if (await blockedInDirect(ctx.prisma, message.channelId, viewerId))
    throw forbidden("This conversation is blocked.");
  // Muted in the group: no reactions either (taking one back is always allowed).
  if (add)
    refuseIfMuted(
      await ctx.services.membershipCache.standing(ctx.services.db.sql, message.channelId, viewerId),
    );
  // One reactor more than a tally keeps: if the viewer leaves the first few, the next shows.
  const [tallies, mine, user] = await Promise.all([
    loadReactionTallies(ctx.services.db.sql, [message.id], MAX_REACTION_USERS + 1),
    ctx.loaders.viewerReactions.load(message.id),
    publicProfile(ctx, viewerId),
  ]);
  const tally = tallies.get(message.id) ?? [];
  const hadReacted = mine.has(emoji);
  const newEmoji = !tally.some((reaction) => reaction.emoji === emoji);
  if (add && newEmoji && tally.length >= MAX_DISTINCT_EMOJI)
    throw badUserInput(
      "emoji",
      `emoji: a message carries at most ${MAX_DISTINCT_EMOJI} different emoji; add one of those`,
    );
  await enqueue(ctx, {
    type: add ? "reaction.add" : "reaction.remove",
    messageId: message.id,
    channelId: message.channelId,
    userId: viewerId,
    emoji,
    at: new Date().toISOString(),
  });
  const viewerEmoji = new Set(mine);
  if (add) viewerEmoji.add(emoji);
  else viewerEmoji.delete(emoji);
  return {
    ...message,
    reactions: reactionViews(message.id, tallyAfter(tally, { user, emoji, add, hadReacted }), {
      viewerEmoji,
    }),
  };
}
