// searchMessages: PostgreSQL full-text search, only over the viewer's channels, never a
// deleted message, ranked, with highlighted snippets, paged, and bad input typed.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { SEARCH_CANDIDATES } from "../src/resolvers/search.js";
import {
  DeleteMessageDocument,
  EditMessageDocument,
  SearchMessagesDocument,
} from "./gql/graphql.js";
import { mustRequest, request, useTestApp } from "./harness/app.js";
import { dbId } from "./harness/ids.js";
import { sendAndStore } from "./harness/messages.js";
import { groupChannel, registerUsers, type Session as User } from "./harness/users.js";
import { eventually } from "./harness/wait.js";

const server = useTestApp({ SEND_RATE_LIMIT: "10000" });
let alice: User;
let bob: User;
let outsider: User;
let team: string;
let other: string;
let theirs: string;

const search = (
  who: User,
  variables: { query: string; channelId?: string; first?: number; after?: string },
) => request(server, SearchMessagesDocument, variables, who.accessToken);
const bodiesFor = async (who: User, query: string, channelId?: string) =>
  (
    await mustRequest(server, SearchMessagesDocument, { query, channelId }, who.accessToken)
  ).searchMessages.edges.map((edge) => edge.node.body);

const channelOf = (owner: User, members: User[], name: string) =>
  groupChannel(server, owner, members, name);

beforeAll(async () => {
  [alice, bob, outsider] = (await registerUsers(server, 3)) as [User, User, User];
  team = await channelOf(alice, [bob], "Team");
  other = await channelOf(alice, [], "Notes");
  theirs = await channelOf(outsider, [], "Theirs");
  for (const body of [
    "The release meeting moved to Thursday",
    "meeting notes: the release meeting and the budget meeting",
    "lunch?",
    "Budget review is done",
  ])
    await sendAndStore(server, alice, team, body);
  await sendAndStore(server, alice, other, "meeting with the dentist");
  await sendAndStore(server, outsider, theirs, "secret meeting about the release");
});

describe("searchMessages", () => {
  it("finds words by their stem in the viewer's channels, best match first, with highlighted snippets", async () => {
    const { searchMessages } = await mustRequest(
      server,
      SearchMessagesDocument,
      { query: "meetings" },
      alice.accessToken,
    );
    const bodies = searchMessages.edges.map((edge) => edge.node.body);
    expect(bodies).toHaveLength(3);
    // Three matches outrank one.
    expect(bodies[0]).toBe("meeting notes: the release meeting and the budget meeting");
    expect(bodies).toEqual(expect.arrayContaining(["meeting with the dentist"]));
    expect(bodies).not.toContain("secret meeting about the release");
    const ranks = searchMessages.edges.map((edge) => edge.rank);
    expect([...ranks].sort((a, b) => b - a)).toEqual(ranks);
    const top = searchMessages.edges[0]!.snippet;
    expect(top.filter((part) => part.highlighted).map((part) => part.text)).toEqual([
      "meeting",
      "meeting",
      "meeting",
    ]);
    expect(top.map((part) => part.text).join("")).toBe(
      "meeting notes: the release meeting and the budget meeting",
    );
  });

  it("reads queries as people type them: phrases, exclusions, or", async () => {
    expect(await bodiesFor(alice, '"release meeting"')).toEqual(
      expect.arrayContaining([
        "The release meeting moved to Thursday",
        "meeting notes: the release meeting and the budget meeting",
      ]),
    );
    expect(await bodiesFor(alice, "meeting -release")).toEqual(["meeting with the dentist"]);
    expect((await bodiesFor(alice, "lunch or dentist")).sort()).toEqual([
      "lunch?",
      "meeting with the dentist",
    ]);
  });

  it("never shows another channel's messages: not to outsiders, not with a channelId they are not in", async () => {
    expect(await bodiesFor(bob, "meeting")).toHaveLength(2);
    expect(await bodiesFor(outsider, "meeting")).toEqual(["secret meeting about the release"]);
    expect(await bodiesFor(alice, "meeting", other)).toEqual(["meeting with the dentist"]);
    const foreign = await search(bob, { query: "meeting", channelId: theirs });
    expect(foreign.errors?.[0]?.extensions).toEqual({ code: "NOT_FOUND", field: "channelId" });
  });

  it("follows edits and deletions: new words are found, old and deleted ones are not", async () => {
    const message = await sendAndStore(server, alice, other, "the quarterly forecast");
    expect(await bodiesFor(alice, "forecast")).toEqual(["the quarterly forecast"]);
    await mustRequest(
      server,
      EditMessageDocument,
      { id: message.id, body: "the yearly outlook" },
      alice.accessToken,
    );
    expect(
      await eventually(
        () => bodiesFor(alice, "outlook"),
        (found) => found.length === 1,
      ),
    ).toEqual(["the yearly outlook"]);
    expect(await bodiesFor(alice, "forecast")).toEqual([]);
    await mustRequest(server, DeleteMessageDocument, { id: message.id }, alice.accessToken);
    expect(
      await eventually(
        () => bodiesFor(alice, "outlook"),
        (found) => found.length === 0,
      ),
    ).toEqual([]);
  });

  it("pages forward with first/after, with no repeat and no gap", async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 5; page++) {
      const { searchMessages } = await mustRequest(
        server,
        SearchMessagesDocument,
        { query: "meeting", first: 1, after },
        alice.accessToken,
      );
      seen.push(...searchMessages.edges.map((edge) => edge.node.id));
      expect(searchMessages.pageInfo.hasPreviousPage).toBe(page > 0);
      if (!searchMessages.pageInfo.hasNextPage) break;
      after = searchMessages.pageInfo.endCursor!;
    }
    expect(seen).toHaveLength(3);
    expect(new Set(seen).size).toBe(3);
  });

  it("ranks among the newest SEARCH_CANDIDATES (200) matches: a broader query pages through those only", async () => {
    const channelId = await channelOf(alice, [], "Broad");
    const prisma = server.database.db.prisma;
    const base = Date.now() - 3_600_000;
    await prisma.message.createMany({
      data: Array.from({ length: SEARCH_CANDIDATES + 50 }, (_, i) => ({
        id: randomUUID(),
        channelId: dbId(channelId),
        senderId: dbId(alice.user.id),
        clientMessageId: `broad-${i}`,
        seq: i + 1,
        body: `alpha number ${i}`,
        createdAt: new Date(base + i * 1000),
      })),
    });
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const { searchMessages } = await mustRequest(
        server,
        SearchMessagesDocument,
        { query: "alpha", channelId, first: 100, after },
        alice.accessToken,
      );
      seen.push(...searchMessages.edges.map((edge) => edge.node.body!));
      if (!searchMessages.pageInfo.hasNextPage) break;
      after = searchMessages.pageInfo.endCursor!;
    }
    expect(seen).toHaveLength(SEARCH_CANDIDATES);
    // The 50 oldest are the ones left out.
    expect(seen).not.toContain("alpha number 49");
    expect(seen).toContain("alpha number 50");
  });

  it("bad input is typed: an empty query, a page too large, a foreign cursor, a bad channel id", async () => {
    const cases = [
      [{ query: "   " }, { code: "BAD_USER_INPUT", field: "query" }],
      [{ query: "x".repeat(201) }, { code: "BAD_USER_INPUT", field: "query" }],
      [
        { query: "meeting", first: 101 },
        { code: "PAGE_TOO_LARGE", field: "first", limit: 100 },
      ],
      [
        { query: "meeting", first: -1 },
        { code: "BAD_USER_INPUT", field: "first" },
      ],
      [
        { query: "meeting", after: "bm9wZQ==" },
        { code: "BAD_USER_INPUT", field: "after" },
      ],
      [
        { query: "meeting", channelId: "nope" },
        { code: "BAD_USER_INPUT", field: "channelId" },
      ],
    ] as const;
    for (const [variables, expected] of cases)
      expect((await search(alice, variables)).errors?.[0]?.extensions).toEqual(expected);
    const anonymous = await request(server, SearchMessagesDocument, { query: "meeting" });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});
