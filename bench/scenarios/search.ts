// Scenario: searchMessages over a large history. Messages of word-salad bodies (a fixed
// vocabulary, a seeded generator, so every run searches the same text) are streamed in
// by COPY across group channels: four in five go to a few busy channels, the rest to many
// quiet ones. Two sets of viewers search them: one in some of the busy channels (they see
// a large share of the history), one in some of the quiet channels (a small share, as most
// people in a big workspace). Each query runs through the API (HTTP, a replica) and, as the
// baseline, as the same statement on plain pg. Reported: latency of both, the ratio, and
// any hit from a channel the viewer is not in (must be none).
import { randomUUID } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { from as copyFrom } from "pg-copy-streams";
import { globalId } from "../../src/resolvers/global-ids.js";
import {
  HEADLINE_OPTIONS,
  SEARCH_CANDIDATES,
  SEARCH_SQL,
  VIEWER_CHANNELS_SQL,
} from "../../src/resolvers/search.js";
import type { BenchContext } from "../lib/bench-context.js";
import { type SeededUser, seedGroupChannels, seedUsers } from "../lib/seed.js";
import { type LatencySummary, round, summarize } from "../lib/stats.js";

export interface SearchResult {
  messages: number;
  channels: number;
  /** Quiet channels beside the busy ones: every fifth message goes to one of them. */
  quietChannels: number;
  viewerChannels: number;
  /** COPY of the messages, the tsvector and GIN index kept up to date on the way. */
  seedMs: number;
  queries: Array<{
    query: string;
    /** Whose search: viewers in `viewerChannels` busy channels, or in as many quiet ones. */
    viewers: "busy" | "quiet";
    hits: number;
    /** The query's first search through the API, cold (not in `api`). */
    firstApiMs: number;
    api: LatencySummary;
    sql: LatencySummary;
  }>;
  api: LatencySummary;
  sql: LatencySummary;
  /** Hits from channels the viewer is not in: must be 0. */
  foreignHits: number;
}

const WORDS = (
  "team release meeting notes budget review deploy rollback design sprint ticket customer " +
  "invoice roadmap backlog standup lunch coffee launch metrics dashboard incident outage " +
  "fix patch server client database index query cache latency memory network router " +
  "ticket feature branch merge review approve comment question answer holiday weekend " +
  "monday friday morning evening schedule calendar agenda slides demo draft final"
).split(" ");
const RARE = "zephyr";
const PHRASE = "quarterly forecast";

/** A small deterministic generator (mulberry32): the same bodies on every run. */
function generator(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function* bodies(count: number) {
  const next = generator(42);
  for (let i = 0; i < count; i++) {
    const words = Array.from(
      { length: 6 + Math.floor(next() * 12) },
      () => WORDS[Math.floor(next() * WORDS.length)],
    );
    if (i % 1000 === 7) words.push(...PHRASE.split(" "));
    if (i % 50_000 === 11) words.push(RARE);
    yield words.join(" ");
  }
}

const QUERIES = [
  "meeting",
  "release notes",
  `"${PHRASE}"`,
  RARE,
  "budget -draft",
  "deploy or rollback",
];

export async function runSearch(
  ctx: BenchContext,
  options: {
    messages: number;
    channels: number;
    quietChannels: number;
    viewerChannels: number;
    rounds: number;
  },
): Promise<SearchResult> {
  const [sender] = await seedUsers(ctx.pool, 1, ctx.jwtSecret);
  if (!sender) throw new Error("no sender");
  const seedChannels = async (count: number, viewers: SeededUser[]) => {
    const ids = await seedGroupChannels(
      ctx.pool,
      sender,
      Array.from({ length: count }, (_, i) => (i < options.viewerChannels ? viewers : [])),
    );
    // The viewers' channels as the API names them.
    const mine = new Set(ids.slice(0, options.viewerChannels).map((id) => globalId("Channel", id)));
    return { ids, viewers, mine };
  };
  const busy = await seedChannels(options.channels, await seedUsers(ctx.pool, 10, ctx.jwtSecret));
  const quiet = await seedChannels(
    options.quietChannels,
    await seedUsers(ctx.pool, 10, ctx.jwtSecret),
  );

  const started = Date.now();
  const client = await ctx.pool.connect();
  try {
    const at = new Date().toISOString();
    const seqs = new Map<string, number>();
    await pipeline(
      (function* () {
        let i = 0;
        let chunk = "";
        for (const body of bodies(options.messages)) {
          const channelId = (
            i % 5 === 4
              ? quiet.ids[Math.floor(i / 5) % quiet.ids.length]
              : busy.ids[i % busy.ids.length]
          ) as string;
          const seq = (seqs.get(channelId) ?? 0) + 1;
          seqs.set(channelId, seq);
          const id = randomUUID();
          chunk += `${id}\t${channelId}\t${sender.id}\t${id}\t${seq}\t${body}\t${at}\n`;
          if (++i % 5_000 === 0) {
            yield chunk;
            chunk = "";
          }
        }
        if (chunk) yield chunk;
      })(),
      client.query(
        copyFrom(
          "COPY messages (id, channel_id, sender_id, client_message_id, seq, body, created_at) FROM STDIN",
        ),
      ),
    );
    await client.query(
      "UPDATE channels c SET last_seq = s.seq FROM unnest($1::uuid[], $2::int[]) AS s(id, seq) WHERE c.id = s.id",
      [[...seqs.keys()], [...seqs.values()]],
    );
    // As autovacuum leaves a table after a bulk load: statistics, hint bits, visibility map.
    await client.query("VACUUM ANALYZE messages");
  } finally {
    client.release();
  }
  const seedMs = Date.now() - started;
  ctx.log(
    `search: ${options.messages} messages in ${options.channels} channels seeded in ${seedMs} ms`,
  );

  const api = ctx.topology.replicas[0].url;
  let turn = 0;
  let foreignHits = 0;
  const queries: SearchResult["queries"] = [];
  const allApi: number[] = [];
  const allSql: number[] = [];
  for (const [who, group] of [
    ["busy", busy],
    ["quiet", quiet],
  ] as const) {
    for (const query of QUERIES) {
      const apiMs: number[] = [];
      const sqlMs: number[] = [];
      let hits = 0;
      // One search by the API, then the same statements on plain pg, as the same viewer.
      const searchBoth = async () => {
        // Round robin over the viewers: each stays under its search rate limit.
        const viewer = group.viewers[turn++ % group.viewers.length] as SeededUser;
        const t0 = performance.now();
        const response = await fetch(api, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${viewer.token}`,
          },
          body: JSON.stringify({
            query: `query ($q: String!) { searchMessages(query: $q, first: 20) { edges { snippet { text highlighted } node { id channel { id } } } } }`,
            variables: { q: query },
          }),
        });
        const result = (await response.json()) as {
          data?: { searchMessages: { edges: Array<{ node: { channel: { id: string } } }> } };
          errors?: unknown[];
        };
        const apiTook = performance.now() - t0;
        if (!result.data)
          throw new Error(`searchMessages failed: ${JSON.stringify(result.errors)}`);
        const edges = result.data.searchMessages.edges;
        hits = edges.length;
        foreignHits += edges.filter((edge) => !group.mine.has(edge.node.channel.id)).length;
        // The same two statements: the viewer's channels, then the search in them.
        const t1 = performance.now();
        const channels = await ctx.pool.query<{ id: string }>(VIEWER_CHANNELS_SQL, [viewer.id]);
        await ctx.pool.query(SEARCH_SQL, [
          channels.rows.map((row) => row.id),
          query,
          21,
          HEADLINE_OPTIONS,
          0,
          SEARCH_CANDIDATES,
        ]);
        return { apiMs: apiTook, sqlMs: performance.now() - t1 };
      };
      // The first search of a query reads its pages into PostgreSQL's buffers (128 MiB
      // here, against a 600 MiB table) and the api's code paths warm up; the statements on
      // plain pg, run right after, would find it all warm. So it is reported on its own,
      // and the rounds that compare the two start warm on both sides.
      const first = await searchBoth();
      for (let round = 0; round < options.rounds; round++) {
        const took = await searchBoth();
        apiMs.push(took.apiMs);
        sqlMs.push(took.sqlMs);
      }
      queries.push({
        query,
        viewers: who,
        hits,
        firstApiMs: round(first.apiMs),
        api: summarize(apiMs),
        sql: summarize(sqlMs),
      });
      allApi.push(...apiMs);
      allSql.push(...sqlMs);
      ctx.log(
        `search "${query}" (${who} viewers): ${hits} hits, api p50 ${round(summarize(apiMs).p50Ms)} ms, pg p50 ${round(summarize(sqlMs).p50Ms)} ms`,
      );
    }
  }
  return {
    messages: options.messages,
    channels: options.channels,
    quietChannels: options.quietChannels,
    viewerChannels: options.viewerChannels,
    seedMs,
    queries,
    api: summarize(allApi),
    sql: summarize(allSql),
    foreignHits,
  };
}
