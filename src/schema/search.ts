// searchMessages: full-text search over the viewer's channels (resolvers/search.ts).
import * as search from "../resolvers/search.js";
import { builder } from "./builder.js";
import { MessageRef } from "./message.js";
import { pageFirst } from "./page-size.js";

const SnippetPart = builder.objectRef<search.SnippetPart>("SnippetPart").implement({
  description:
    "A piece of a search snippet: render the highlighted ones emphasized. Plain text, never markup.",
  fields: (t) => ({
    text: t.exposeString("text"),
    highlighted: t.exposeBoolean("highlighted"),
  }),
});

const MessageSearchEdge = builder.objectRef<search.SearchHit>("MessageSearchEdge").implement({
  fields: (t) => ({
    cursor: t.string({ resolve: (hit) => search.searchCursor(hit.offset) }),
    node: t.field({ type: MessageRef, resolve: (hit) => hit.message as never }),
    rank: t.exposeFloat("rank", { description: "Higher is a better match (ts_rank_cd)." }),
    snippet: t.field({
      type: [SnippetPart],
      description: "Up to two fragments of the body around the matched words.",
      resolve: (hit) => hit.snippet,
    }),
  }),
});

type SearchPage = Awaited<ReturnType<typeof search.searchMessages>>;

const MessageSearchConnection = builder.objectRef<SearchPage>("MessageSearchConnection").implement({
  fields: (t) => ({
    edges: t.field({ type: [MessageSearchEdge], resolve: (page) => page.hits }),
    pageInfo: t.field({
      type: builder.pageInfoRef(),
      resolve: (page) => {
        const [first, last] = [page.hits[0], page.hits.at(-1)];
        return {
          hasNextPage: page.hasNextPage,
          hasPreviousPage: page.hasPreviousPage,
          startCursor: first ? search.searchCursor(first.offset) : null,
          endCursor: last ? search.searchCursor(last.offset) : null,
        };
      },
    }),
  }),
});

builder.queryField("searchMessages", (t) =>
  t.field({
    type: MessageSearchConnection,
    description:
      "Messages of the viewer's channels (or of one, channelId) matching `query` as a search engine reads it: words (stemmed: 'meetings' finds 'meeting'), \"a phrase\", -excluded, or. Best match among the newest 200 matches first, then newest (a broader query is narrowed, not ranked); deleted messages never. `first` as in every connection (20, at most 100), forward only with `after`. RATE_LIMITED past 30 searches in 10 s.",
    authScopes: { signedIn: true },
    args: {
      query: t.arg.string({ required: true, description: "1-200 characters." }),
      channelId: t.arg.id(),
      first: t.arg.int(),
      after: t.arg.string(),
    },
    resolve: (_root, args, ctx) =>
      search.searchMessages(ctx, { ...args, first: pageFirst(args.first) }),
  }),
);
