// searchMessages: PostgreSQL full-text search over the messages of the channels the viewer
// is in (never another channel's, never a deleted one). The `search` column is computed by
// PostgreSQL from the body (message_search migration, English stemming) and GIN-indexed
// with the channel (message_search_by_channel), so a search reads the viewer's channels;
// the query is websearch_to_tsquery (what people type: words, "phrases", -not, or),
// the newest SEARCH_CANDIDATES matches are ranked by ts_rank_cd (newest first among
// equals), with a highlighted snippet.
import { z } from "zod";
import type { Context } from "../context.js";
import { badUserInput } from "../errors.js";
import { requireChannelAccess } from "./access.js";
import type { MessageView } from "./messages.js";
import { consume, type Limit } from "./rate-limits.js";
import { parseId, parseInput, visible } from "./validation.js";
import { requireViewerId } from "./viewer.js";

/** Searches per user: each one reads an index and ranks; plenty for people, a wall for loops. */
export const SEARCH_LIMIT: Limit = { name: "search", max: 30, windowSeconds: 10 };

/** Highlight markers ts_headline puts around matched words; message bodies never hold them. */
const START = "\u0002";
const STOP = "\u0003";
export const HEADLINE_OPTIONS = `StartSel=${START}, StopSel=${STOP}, MaxWords=24, MinWords=8, MaxFragments=2, FragmentDelimiter=" … "`;

/**
 * How many of the newest matches are ranked (ten pages of 20): beyond them, a query is too
 * broad to rank. Finding them is what a search costs: over a million messages, with the
 * viewer in a fifth of the channels, `release notes` took 64 ms for 1,000 and 16 ms for 200.
 */
export const SEARCH_CANDIDATES = 200;

/** The channels a viewer searches when they name none: every one they are a member of. */
export const VIEWER_CHANNELS_SQL =
  "SELECT channel_id::text AS id FROM channel_members WHERE user_id = $1::uuid";

/**
 * One page of hits: $1 the channels searched, $2 query text, $3 limit, $4 headline
 * options, $5 offset, $6 candidates. The newest matches in those channels are found first,
 * then ranked: ranking every match of a common word in a million messages costs ~150 ms,
 * the newest few hundred a few.
 *
 * How to find the newest matches is the planner's choice, and it needs to know how much
 * history the channels hold: walking messages_created_at_idx newest first until enough
 * match is quick when they hold much of it and reads the whole table when they hold
 * little; the (channel_id, search) GIN index is the other way round. So the channels
 * arrive as their ids ($1, read by the caller), not as a join on channel_members: with
 * the ids the planner reads each channel's row count from the statistics, and a viewer of
 * busy channels and a viewer of quiet ones both get the plan that suits them (a join let
 * it guess an average channel: 460 ms for `meeting` for a viewer in 10 of 2,000 quiet
 * channels, or 160 ms for a viewer of busy ones; 12 and 7 ms with the ids).
 *
 * The tsquery is written where it is used, not in a CTE: the planner then sees the words
 * and estimates how many rows match (from a CTE it guessed 5,490 for 183,163 and sorted
 * them all). Exported for the benchmark's baseline.
 */
export const SEARCH_SQL = `WITH candidates AS (
       SELECT m.id, m.channel_id, m.sender_id, m.client_message_id, m.seq, m.body,
              m.created_at, m.edited_at, m.deleted_at, m.pinned_at, m.pinned_by_id, m.search
         FROM messages m
        WHERE m.channel_id = ANY($1::uuid[])
          AND m.search @@ websearch_to_tsquery('english', $2)
          AND m.deleted_at IS NULL
        ORDER BY m.created_at DESC
        LIMIT $6)
SELECT c.id::text, c.channel_id::text AS "channelId", c.sender_id::text AS "senderId",
       c.client_message_id AS "clientMessageId", c.seq, c.body,
       c.created_at AS "createdAt", c.edited_at AS "editedAt", c.deleted_at AS "deletedAt",
       c.pinned_at AS "pinnedAt", c.pinned_by_id::text AS "pinnedById",
       ts_rank_cd(c.search, websearch_to_tsquery('english', $2))::float8 AS rank,
       ts_headline('english', c.body, websearch_to_tsquery('english', $2), $4) AS headline
  FROM candidates c
 ORDER BY rank DESC, c.created_at DESC, c.id
 LIMIT $3 OFFSET $5`;

const query = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(200, "must be at most 200 characters")
  .refine(visible, "must not be empty");

/** A part of a snippet: matched words are `highlighted`. */
export interface SnippetPart {
  text: string;
  highlighted: boolean;
}

export interface SearchHit {
  message: MessageView;
  rank: number;
  snippet: SnippetPart[];
  /** Its position in the ranking: the cursor is made of it. */
  offset: number;
}

export interface SearchArgs {
  query: unknown;
  channelId?: unknown;
  first: number;
  after?: string | null;
}

/** Cursors are positions in the ranking (rank order has no stable keyset). */
export const searchCursor = (offset: number) => Buffer.from(`search:${offset}`).toString("base64");

function offsetAfter(cursor: string | null | undefined): number {
  if (cursor == null) return 0;
  const match = /^search:(\d{1,9})$/.exec(Buffer.from(cursor, "base64").toString());
  if (!match) throw badUserInput("after", "after: not a cursor of searchMessages");
  return Number(match[1]) + 1;
}

/** ts_headline's text split at its markers into plain and highlighted parts. */
export function snippetParts(headline: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  for (const [index, piece] of headline.split(new RegExp(`[${START}${STOP}]`)).entries()) {
    if (piece) parts.push({ text: piece, highlighted: index % 2 === 1 });
  }
  return parts;
}

interface Row extends Omit<MessageView, "status" | "sender" | "eventLoads"> {
  rank: number;
  headline: string;
}

async function viewerChannelIds(ctx: Context, viewerId: string) {
  const rows = await ctx.prisma.$queryRawUnsafe<Array<{ id: string }>>(
    VIEWER_CHANNELS_SQL,
    viewerId,
  );
  return rows.map((row) => row.id);
}

/** One page of hits (and whether more follow), best first. */
export async function searchMessages(ctx: Context, args: SearchArgs) {
  const viewerId = requireViewerId(ctx);
  const text = parseInput(query, args.query, "query");
  const offset = offsetAfter(args.after);
  let channelId: string | null = null;
  if (args.channelId != null) {
    channelId = parseId("channelId", args.channelId, "Channel");
    await requireChannelAccess(ctx, channelId, "channelId", "member");
  }
  await consume(ctx, SEARCH_LIMIT, viewerId);
  const rows = await ctx.prisma.$queryRawUnsafe<Row[]>(
    SEARCH_SQL,
    channelId !== null ? [channelId] : await viewerChannelIds(ctx, viewerId),
    text,
    args.first + 1,
    HEADLINE_OPTIONS,
    offset,
    SEARCH_CANDIDATES,
  );
  const hits: SearchHit[] = rows.slice(0, args.first).map(({ rank, headline, ...message }, i) => ({
    message: { ...message, status: undefined },
    rank,
    snippet: snippetParts(headline),
    offset: offset + i,
  }));
  return { hits, hasNextPage: rows.length > args.first, hasPreviousPage: offset > 0 };
}
