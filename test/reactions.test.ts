// Reactions: idempotent per user and emoji through the worker, tallied per emoji (count,
// the first few who reacted, whether the viewer did), a bounded set of emoji per message,
// live on reactionChanged across two replicas with the tally and not the body, and the
// worker refusing what the api would have refused.
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_DISTINCT_EMOJI } from "../src/pubsub/reaction-rows.js";
import {
  AddReactionDocument,
  DeleteMessageDocument,
  HistoryReactionsDocument,
  MessageReactionsDocument,
  ReactionChangedDocument,
  RemoveReactionDocument,
} from "./gql/graphql.js";
import {
  mustRequest,
  type RunningApp,
  request,
  useReplicaOf,
  useTestApp,
  wsClient,
} from "./harness/app.js";
import { dbId, unknownId } from "./harness/ids.js";
import { sendAndStore } from "./harness/messages.js";
import { recordLive } from "./harness/subscriptions.js";
import { groupChannel, registerUsers, type Session as User } from "./harness/users.js";
import { eventually } from "./harness/wait.js";

const server = useTestApp({ SEND_RATE_LIMIT: "10000" });
const replica = useReplicaOf(server);
let alice: User;
let bob: User;
let carol: User;
let dave: User;
let outsider: User;
let channelId: string;

beforeAll(async () => {
  [alice, bob, carol, dave, outsider] = (await registerUsers(server, 5)) as [
    User,
    User,
    User,
    User,
    User,
  ];
  channelId = await groupChannel(server, alice, [bob, carol, dave], "Reactions");
}, 120_000);

const react = (who: User, messageId: string, emoji: string, add = true) =>
  add
    ? mustRequest(server, AddReactionDocument, { messageId, emoji }, who.accessToken).then(
        (answer) => answer.addReaction.reactions,
      )
    : mustRequest(server, RemoveReactionDocument, { messageId, emoji }, who.accessToken).then(
        (answer) => answer.removeReaction.reactions,
      );

/** Waits until the message's first emoji has `count` reactions stored. */
const tallyStored = (messageId: string, count: number) =>
  eventually(
    () => storedReactions(alice, messageId),
    (tally) => tally[0]?.count === count,
  );

const storedReactions = async (who: User, messageId: string) =>
  (await mustRequest(server, MessageReactionsDocument, { id: messageId }, who.accessToken)).message!
    .reactions;

const listen = (who: User, target: RunningApp = replica) =>
  recordLive(
    target,
    target === replica
      ? replica.socket(who.accessToken)
      : wsClient(target, { authorization: `Bearer ${who.accessToken}` }),
    ReactionChangedDocument,
    { channelId },
  );

describe("reactions", () => {
  it("a reaction is answered with the new tally, reaches the channel live on the other replica, and is stored", async () => {
    const message = await sendAndStore(server, bob, channelId, "ship it?");
    const live = await listen(bob);
    const answer = await react(alice, message.id, "👍");
    expect(answer).toEqual([
      { emoji: "👍", count: 1, viewerHasReacted: true, users: [{ id: alice.user.id }] },
    ]);
    const [event] = await live.until((data) => data.length > 0);
    // Bob sees Alice's reaction: the same tally, but not his own.
    expect(event!.reactionChanged).toMatchObject({
      emoji: "👍",
      added: true,
      user: { id: alice.user.id },
      message: {
        id: message.id,
        reactions: [
          { emoji: "👍", count: 1, viewerHasReacted: false, users: [{ id: alice.user.id }] },
        ],
      },
    });
    expect(await storedReactions(bob, message.id)).toEqual([
      { emoji: "👍", count: 1, viewerHasReacted: false, users: [{ id: alice.user.id }] },
    ]);
    live.stop();
  });

  it("is idempotent per user and emoji; the tally names the first three and counts the rest; taking back is idempotent too", async () => {
    const message = await sendAndStore(server, alice, channelId, "lunch?");
    const live = await listen(alice);
    // An answer is the stored tally with this change: each waits for the one before to be stored.
    const stored = (events: number) => live.until((data) => data.length >= events);
    await react(bob, message.id, "🍕");
    await stored(1);
    await react(bob, message.id, "🍕"); // again: nothing changes, nothing is announced
    await react(carol, message.id, "🍕");
    await stored(2);
    await react(dave, message.id, "🍕");
    await stored(3);
    const answer = await react(alice, message.id, "🍕");
    expect(answer).toEqual([
      {
        emoji: "🍕",
        count: 4,
        viewerHasReacted: true,
        users: [{ id: bob.user.id }, { id: carol.user.id }, { id: dave.user.id }],
      },
    ]);
    // Four changes, four events: the repeat was not announced.
    const events = await stored(4);
    expect(events.map((d) => d.reactionChanged.user.id)).toEqual([
      bob.user.id,
      carol.user.id,
      dave.user.id,
      alice.user.id,
    ]);

    // Bob takes his back: Alice, the next to react, moves into the first three.
    const afterRemoval = await react(bob, message.id, "🍕", false);
    expect(afterRemoval).toEqual([
      {
        emoji: "🍕",
        count: 3,
        viewerHasReacted: false,
        users: [{ id: carol.user.id }, { id: dave.user.id }, { id: alice.user.id }],
      },
    ]);
    await stored(5);
    await react(bob, message.id, "🍕", false); // again: nothing changes
    await react(carol, message.id, "🎉");
    await live.until((data) => data.some((d) => d.reactionChanged.emoji === "🎉"));
    expect(live.data).toHaveLength(6);
    expect(live.data[4]!.reactionChanged).toMatchObject({
      added: false,
      user: { id: bob.user.id },
    });
    expect(await storedReactions(alice, message.id)).toEqual([
      {
        emoji: "🍕",
        count: 3,
        viewerHasReacted: true,
        users: [{ id: carol.user.id }, { id: dave.user.id }, { id: alice.user.id }],
      },
      { emoji: "🎉", count: 1, viewerHasReacted: false, users: [{ id: carol.user.id }] },
    ]);
    live.stop();
  });

  it("each subscriber's event says whether they reacted, on one replica as on the other, and history pages carry reactions", async () => {
    const message = await sendAndStore(server, alice, channelId, "release is out");
    await react(carol, message.id, "🚀");
    await tallyStored(message.id, 1);
    // Three subscribers of one replica (one event, one shared view) and one elsewhere.
    const lives = {
      carol: await listen(carol),
      bob: await listen(bob),
      alice: await listen(alice),
      dave: await listen(dave, server),
    };
    await react(dave, message.id, "🚀");
    const seen = (data: Array<{ reactionChanged: { user: { id: string } } }>) =>
      data.some((d) => d.reactionChanged.user.id === dave.user.id);
    const reactedAsSeenBy = async (live: (typeof lives)["bob"]) =>
      (await live.until(seen))
        .at(-1)!
        .reactionChanged.message.reactions.map((r) => [r.count, r.viewerHasReacted]);
    expect(await reactedAsSeenBy(lives.carol)).toEqual([[2, true]]);
    expect(await reactedAsSeenBy(lives.bob)).toEqual([[2, false]]);
    expect(await reactedAsSeenBy(lives.alice)).toEqual([[2, false]]);
    expect(await reactedAsSeenBy(lives.dave)).toEqual([[2, true]]);
    const history = await mustRequest(
      server,
      HistoryReactionsDocument,
      { channelId },
      bob.accessToken,
    );
    const node = history.channel!.messages.edges.find((edge) => edge.node.id === message.id)!.node;
    expect(node.reactions).toEqual([
      {
        emoji: "🚀",
        count: 2,
        viewerHasReacted: false,
        users: [{ id: carol.user.id }, { id: dave.user.id }],
      },
    ]);
    for (const live of Object.values(lives)) live.stop();
  });

  it(`a message carries at most ${MAX_DISTINCT_EMOJI} different emoji`, async () => {
    const message = await sendAndStore(server, alice, channelId, "vote");
    const emoji = [..."😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗"];
    expect(emoji).toHaveLength(MAX_DISTINCT_EMOJI);
    for (const e of emoji) await react(bob, message.id, e);
    // One more that got past the api while those were still queued: the worker refuses it.
    await server.app.services.bus.sendCommand({
      type: "reaction.add",
      messageId: dbId(message.id),
      channelId: dbId(channelId),
      userId: dbId(dave.user.id),
      emoji: "🙃",
      at: new Date().toISOString(),
    });
    await react(carol, message.id, "😀");
    await eventually(
      () => storedReactions(alice, message.id),
      (tally) => tally[0]?.count === 2,
    );
    expect((await storedReactions(alice, message.id)).map((r) => r.emoji)).toEqual(emoji);
    // Once the 20 are stored, the api refuses a 21st itself.
    const refused = await request(
      server,
      AddReactionDocument,
      { messageId: message.id, emoji: "🤔" },
      carol.accessToken,
    );
    expect(refused.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "emoji",
    });
    // One of those is still fine.
    const answer = await react(dave, message.id, "😁");
    expect(answer).toHaveLength(MAX_DISTINCT_EMOJI);
    expect(answer[1]).toMatchObject({ emoji: "😁", count: 2, viewerHasReacted: true });
  });

  it("refuses bad emoji, unknown and deleted messages, and people outside the channel, with typed errors", async () => {
    const message = await sendAndStore(server, alice, channelId, "to be deleted");
    const errorOf = async (who: User, messageId: string, emoji: string) =>
      (await request(server, AddReactionDocument, { messageId, emoji }, who.accessToken))
        .errors?.[0]?.extensions;
    for (const bad of ["", "ok", "👍👍", "👍 ", ":Caps:", "x".repeat(40)])
      expect(await errorOf(bob, message.id, bad)).toMatchObject({
        code: "BAD_USER_INPUT",
        field: "emoji",
      });
    for (const good of ["👋🏽", "🇫🇷", "1️⃣", "👩‍💻", ":party_parrot:"])
      expect(await errorOf(bob, message.id, good)).toBeUndefined();
    expect(await errorOf(bob, unknownId("Message"), "👍")).toMatchObject({
      code: "NOT_FOUND",
      field: "messageId",
    });
    expect(await errorOf(bob, "not-an-id", "👍")).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "messageId",
    });
    expect(await errorOf(outsider, message.id, "👍")).toMatchObject({
      code: "NOT_FOUND",
      field: "messageId",
    });
    await mustRequest(server, DeleteMessageDocument, { id: message.id }, alice.accessToken);
    await eventually(
      () => errorOf(bob, message.id, "👍"),
      (error) => error?.code === "NOT_FOUND",
    );
    // A deleted message shows no reactions.
    expect(await storedReactions(alice, message.id)).toEqual([]);
  });

  it("the worker refuses a reaction from outside the channel that reached it anyway", async () => {
    const message = await sendAndStore(server, alice, channelId, "members only");
    const live = await listen(alice);
    const command = (userId: string) => ({
      type: "reaction.add" as const,
      messageId: dbId(message.id),
      channelId: dbId(channelId),
      userId,
      emoji: "👀",
      at: new Date().toISOString(),
    });
    await server.app.services.bus.sendCommand(command(dbId(outsider.user.id)));
    // A member's reaction after it, on the same shard: when it is announced, the first was judged.
    await server.app.services.bus.sendCommand(command(dbId(bob.user.id)));
    const [event] = await live.until((data) => data.length > 0);
    expect(event!.reactionChanged.user.id).toBe(bob.user.id);
    expect(event!.reactionChanged.message.reactions).toEqual([
      { emoji: "👀", count: 1, viewerHasReacted: false, users: [{ id: bob.user.id }] },
    ]);
    live.stop();
  });
});
