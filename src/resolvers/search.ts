// searchMessages: PostgreSQL full-text search over the messages of the channels the viewer
// is in (never another channel's, never a deleted one). The `search` column is computed by
// PostgreSQL from the body (message_search migration, English stemming) and GIN-indexed
// with the channel (message_search_by_channel), so only the viewer's channels are read;
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

/**
 * One page of hits: $1 viewer, $2 query text, $3 channel or null, $4 limit, $5 headline
 * options, $6 offset, $7 candidates. The newest matches in the viewer's channels are found
 * first (the planner's choice: messages_created_at_idx walked newest first until enough
 * match, or the (channel_id, search) GIN index per channel of the viewer), then ranked:
 * ranking every match of a common word in a million messages costs ~150 ms, the newest
 * few hundred a few. The tsquery is written where it is used, not in a CTE: the planner then
 * sees the words and estimates how many rows match (from a CTE it guessed 5,490 for
 * 183,163 and sorted them all). Exported for the benchmark's baseline.
 */
export const SEARCH_SQL = `WITH candidates AS (
       SELECT m.id, m.channel_id, m.sender_id, m.client_message_id, m.seq, m.body,
              m.created_at, m.edited_at, m.deleted_at, m.pinned_at, m.pinned_by_id, m.search
         FROM messages m
         JOIN channel_members cm ON cm.channel_id = m.channel_id AND cm.user_id = $1::uuid
        WHERE m.search @@ websearch_to_tsquery('english', $2)
          AND m.deleted_at IS NULL
          AND ($3::uuid IS NULL OR m.channel_id = $3::uuid)
        ORDER BY m.created_at DESC
        LIMIT $7)
SELECT c.id::text, c.channel_id::text AS "channelId", c.sender_id::text AS "senderId",
       c.client_message_id AS "clientMessageId", c.seq, c.body,
       c.created_at AS "createdAt", c.edited_at AS "editedAt", c.deleted_at AS "deletedAt",
       c.pinned_at AS "pinnedAt", c.pinned_by_id::text AS "pinnedById",
       ts_rank_cd(c.search, websearch_to_tsquery('english', $2))::float8 AS rank,
       ts_headline('english', c.body, websearch_to_tsquery('english', $2), $5) AS headline
  FROM candidates c
 ORDER BY rank DESC, c.created_at DESC, c.id
 LIMIT $4 OFFSET $6`;

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
    viewerId,
    text,
    channelId,
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
