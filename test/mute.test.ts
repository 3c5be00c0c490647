// Muting: a member mutes a channel for themself until a time; unread still counts, other
// members see nothing of it, and bad times or outsiders get typed errors.
import { beforeAll, describe, expect, it } from "vitest";
import { ChannelMuteDocument, MuteChannelDocument, UnmuteChannelDocument } from "./gql/graphql.js";
import { mustRequest, request, useTestApp } from "./harness/app.js";
import { sendAndStore } from "./harness/messages.js";
import { groupChannel, registerUsers, type Session as User } from "./harness/users.js";
import { eventually } from "./harness/wait.js";

const server = useTestApp({ SEND_RATE_LIMIT: "10000" });
let alice: User;
let bob: User;
let outsider: User;
let channelId: string;

const muteOf = async (who: User) =>
  (await mustRequest(server, ChannelMuteDocument, { id: channelId }, who.accessToken)).channel!;

beforeAll(async () => {
  [alice, bob, outsider] = (await registerUsers(server, 3)) as [User, User, User];
  channelId = await groupChannel(server, alice, [bob], "Mute");
});

describe("muting", () => {
  it("mutes for the viewer only, until the time given; unread still counts; unmute ends it", async () => {
    const until = new Date(Date.now() + 86_400_000).toISOString();
    const answer = await mustRequest(
      server,
      MuteChannelDocument,
      { channelId, until },
      bob.accessToken,
    );
    expect(answer.muteChannel.viewerMutedUntil).toBe(until);
    // Stored by the worker: a fresh read says the same.
    expect(
      (
        await eventually(
          () => muteOf(bob),
          (c) => c.viewerMutedUntil !== null,
        )
      ).viewerMutedUntil,
    ).toBe(until);
    expect((await muteOf(alice)).viewerMutedUntil).toBeNull();
    const before = (await muteOf(bob)).unreadCount;
    await sendAndStore(server, alice, channelId, "while you were muted");
    expect((await muteOf(bob)).unreadCount).toBe(before + 1);
    const unmuted = await mustRequest(
      server,
      UnmuteChannelDocument,
      { channelId },
      bob.accessToken,
    );
    expect(unmuted.unmuteChannel.viewerMutedUntil).toBeNull();
    expect(
      (
        await eventually(
          () => muteOf(bob),
          (c) => c.viewerMutedUntil === null,
        )
      ).viewerMutedUntil,
    ).toBeNull();
  });

  it("a time in the past or more than a year ahead is BAD_USER_INPUT on until; outsiders get NOT_FOUND", async () => {
    for (const until of [
      new Date(Date.now() - 1000).toISOString(),
      new Date(Date.now() + 400 * 86_400_000).toISOString(),
    ]) {
      const result = await request(
        server,
        MuteChannelDocument,
        { channelId, until },
        bob.accessToken,
      );
      expect(result.errors?.[0]?.extensions).toEqual({ code: "BAD_USER_INPUT", field: "until" });
    }
    const outside = await request(
      server,
      MuteChannelDocument,
      { channelId, until: new Date(Date.now() + 60_000).toISOString() },
      outsider.accessToken,
    );
    expect(outside.errors?.[0]?.extensions).toEqual({ code: "NOT_FOUND", field: "channelId" });
  });
});
