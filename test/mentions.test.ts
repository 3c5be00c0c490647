// Mentions: the worker records the members a message names (@username); @channel and
// @here name every member but the sender. Unread mentions follow the read position;
// naming someone outside the channel does nothing.
import { beforeAll, describe, expect, it } from "vitest";
import { mentionedNames } from "../src/worker/persist-mentions.js";
import {
  ChannelMentionsDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  MarkReadDocument,
  MentionsDocument,
} from "./gql/graphql.js";
import { mustRequest, useTestApp } from "./harness/app.js";
import { sendAndStore } from "./harness/messages.js";
import { groupChannel, registerUsers, type Session as User } from "./harness/users.js";
import { eventually } from "./harness/wait.js";

const server = useTestApp({ SEND_RATE_LIMIT: "10000" });
let alice: User;
let bob: User;
let carol: User;
let outsider: User;
let channelId: string;

const mentionsOf = async (who: User) =>
  (await mustRequest(server, MentionsDocument, { first: 50 }, who.accessToken)).mentions.edges.map(
    (edge) => edge.node,
  );
const countsOf = async (who: User) =>
  (await mustRequest(server, ChannelMentionsDocument, { id: channelId }, who.accessToken)).channel!;

beforeAll(async () => {
  [alice, bob, carol, outsider] = (await registerUsers(server, 4)) as [User, User, User, User];
  channelId = await groupChannel(server, alice, [bob, carol], "Mentions");
});

describe("mentions", () => {
  it("parses @usernames as people write them, not emails or @channel", () => {
    expect(mentionedNames("hi @Bob_1, and @carol! mail x@example.com @channel @here")).toEqual([
      "bob_1",
      "carol",
    ]);
  });

  it("a member named is mentioned; someone outside the channel, or the sender, is not", async () => {
    const said = await sendAndStore(
      server,
      alice,
      channelId,
      `@${bob.user.username} look, and @${outsider.user.username} too, says @${alice.user.username}`,
    );
    const forBob = await mentionsOf(bob);
    expect(forBob.map((m) => m.id)).toContain(said.id);
    // Structured: clients render the named members without parsing the body.
    expect(forBob.find((m) => m.id === said.id)).toMatchObject({
      mentionsViewer: true,
      mentionsEveryone: false,
      mentions: [{ id: bob.user.id }],
    });
    expect((await mentionsOf(outsider)).map((m) => m.id)).not.toContain(said.id);
    expect((await mentionsOf(alice)).map((m) => m.id)).not.toContain(said.id);
    expect((await mentionsOf(carol)).map((m) => m.id)).not.toContain(said.id);
  });

  it("an edit names whom its new body names", async () => {
    const said = await sendAndStore(server, alice, channelId, `@${bob.user.username} can you?`);
    expect((await mentionsOf(bob)).map((m) => m.id)).toContain(said.id);
    await mustRequest(
      server,
      EditMessageDocument,
      { id: said.id, body: `@${carol.user.username} can you?` },
      alice.accessToken,
    );
    await eventually(
      () => mentionsOf(carol),
      (found) => found.some((m) => m.id === said.id),
    );
    expect((await mentionsOf(bob)).map((m) => m.id)).not.toContain(said.id);
    expect((await mentionsOf(carol)).map((m) => m.id)).toContain(said.id);
  });

  it("@channel mentions every member but the sender; unread mentions follow the read position and deletions", async () => {
    const before = (await countsOf(carol)).unreadMentionCount;
    const everyone = await sendAndStore(server, bob, channelId, "standup now @channel");
    const plain = await sendAndStore(server, bob, channelId, "no mention here");
    expect((await countsOf(carol)).unreadMentionCount).toBe(before + 1);
    expect((await countsOf(bob)).unreadMentionCount).toBe(0);
    expect((await mentionsOf(carol)).find((m) => m.id === everyone.id)).toMatchObject({
      mentionsEveryone: true,
      mentions: [],
    });
    // Reading past it: no unread mention left (and markRead's answer says so at once).
    await mustRequest(
      server,
      MarkReadDocument,
      { channelId, upToSeq: plain.seq! },
      carol.accessToken,
    );
    expect(
      (
        await eventually(
          () => countsOf(carol),
          (c) => c.unreadCount === 0,
        )
      ).unreadMentionCount,
    ).toBe(0);
    // A deleted mention is no longer one.
    const again = await sendAndStore(server, alice, channelId, `@${carol.user.username} ping`);
    expect((await countsOf(carol)).unreadMentionCount).toBe(1);
    await mustRequest(server, DeleteMessageDocument, { id: again.id }, alice.accessToken);
    expect(
      (
        await eventually(
          () => countsOf(carol),
          (c) => c.unreadMentionCount === 0,
        )
      ).unreadMentionCount,
    ).toBe(0);
    expect((await mentionsOf(carol)).map((m) => m.id)).not.toContain(again.id);
  });
});
