// Moderation: owners and admins delete others' messages and mute members; every such
// action is recorded (who, what, when, whose) and readable by owners and admins only. A
// muted member's sends are refused by the api and, whatever a replica's cache thought,
// by the worker.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AddReactionDocument,
  CreateGroupDocument,
  DeleteMessageDocument,
  MessageReactionsDocument,
  ModerationLogDocument,
  MuteGroupMemberDocument,
  NodeDocument,
  SendMessageDocument,
  SetGroupMemberRoleDocument,
  UnmuteGroupMemberDocument,
} from "./gql/graphql.js";
import { mustRequest, request, useTestApp } from "./harness/app.js";
import { dbId } from "./harness/ids.js";
import { sendAndStore, sendPastTheApi } from "./harness/messages.js";
import { registerUsers, type Session as User } from "./harness/users.js";
import { eventually } from "./harness/wait.js";

const server = useTestApp({ SEND_RATE_LIMIT: "10000" });
let owner: User;
let admin: User;
let member: User;
let groupId: string;
let channelId: string;

const logOf = async (who: User) =>
  (
    await mustRequest(server, ModerationLogDocument, { id: groupId }, who.accessToken)
  ).group!.moderationLog.edges.map((edge) => edge.node);

beforeAll(async () => {
  [owner, admin, member] = (await registerUsers(server, 3)) as [User, User, User];
  const group = await mustRequest(
    server,
    CreateGroupDocument,
    { input: { name: "Moderated", memberIds: [admin.user.id, member.user.id] } },
    owner.accessToken,
  );
  groupId = group.createGroup.id;
  channelId = group.createGroup.channels.edges[0]!.node.id;
  await mustRequest(
    server,
    SetGroupMemberRoleDocument,
    { groupId, userId: admin.user.id, role: "ADMIN" },
    owner.accessToken,
  );
});

describe("moderation log", () => {
  it("an admin deleting a member's message is recorded (who, what, when, whose); a sender deleting their own is not", async () => {
    const theirs = await sendAndStore(server, member, channelId, "out of line");
    const own = await sendAndStore(server, admin, channelId, "my typo");
    await mustRequest(server, DeleteMessageDocument, { id: own.id }, admin.accessToken);
    await mustRequest(server, DeleteMessageDocument, { id: theirs.id }, admin.accessToken);
    const log = await eventually(
      () => logOf(owner),
      (entries) => entries.length > 0,
    );
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({
      action: "DELETE_MESSAGE",
      actor: { id: admin.user.id },
      target: { id: member.user.id },
      messageId: theirs.id,
    });
    expect(await logOf(admin)).toHaveLength(1);
    // The entry refetches by its id, for owners and admins only.
    const entryId = log[0]!.id;
    expect(
      (await mustRequest(server, NodeDocument, { id: entryId }, owner.accessToken)).node,
    ).toEqual({
      __typename: "ModerationAction",
      id: entryId,
    });
    expect(
      (await mustRequest(server, NodeDocument, { id: entryId }, member.accessToken)).node,
    ).toBeNull();
  });

  it("a plain member may not read the log", async () => {
    const result = await request(
      server,
      ModerationLogDocument,
      { id: groupId },
      member.accessToken,
    );
    expect(result.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});

describe("muting a member", () => {
  const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();
  const send = (who: User, body: string) =>
    request(
      server,
      SendMessageDocument,
      { input: { channelId, body, clientMessageId: randomUUID() } },
      who.accessToken,
    );

  it("an admin mutes a member: their sends and reactions are FORBIDDEN with the end time until an unmute, and both are logged", async () => {
    const until = inAnHour();
    const muted = await mustRequest(
      server,
      MuteGroupMemberDocument,
      { groupId, userId: member.user.id, until },
      admin.accessToken,
    );
    expect(muted.muteGroupMember).toMatchObject({ role: "MEMBER", mutedUntil: until });

    const refused = await send(member, "let me speak");
    expect(refused.data).toBeNull();
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: "FORBIDDEN", mutedUntil: until });
    // No reactions either.
    const earlier = await sendAndStore(server, admin, channelId, "react to this");
    const reaction = await request(
      server,
      AddReactionDocument,
      { messageId: earlier.id, emoji: "👎" },
      member.accessToken,
    );
    expect(reaction.errors?.[0]?.extensions).toMatchObject({
      code: "FORBIDDEN",
      mutedUntil: until,
    });
    // Others still speak.
    expect((await send(admin, "calm down")).errors).toBeUndefined();

    const unmuted = await mustRequest(
      server,
      UnmuteGroupMemberDocument,
      { groupId, userId: member.user.id },
      admin.accessToken,
    );
    expect(unmuted.unmuteGroupMember.mutedUntil).toBeNull();
    await sendAndStore(server, member, channelId, "thank you");
    // Unmuting someone who is not muted is no action and is not logged.
    await mustRequest(
      server,
      UnmuteGroupMemberDocument,
      { groupId, userId: member.user.id },
      admin.accessToken,
    );

    const log = await logOf(owner);
    expect(log.slice(0, 2)).toMatchObject([
      { action: "UNMUTE_MEMBER", actor: { id: admin.user.id }, target: { id: member.user.id } },
      {
        action: "MUTE_MEMBER",
        actor: { id: admin.user.id },
        target: { id: member.user.id },
        until,
        messageId: null,
      },
    ]);
    expect(log.filter((entry) => entry.action === "UNMUTE_MEMBER")).toHaveLength(1);
  });

  it("the worker refuses a muted member's send and reaction that a replica accepted on a stale answer", async () => {
    const until = inAnHour();
    await mustRequest(
      server,
      MuteGroupMemberDocument,
      { groupId, userId: member.user.id, until },
      owner.accessToken,
    );
    // What a replica whose cached answer predates the mute does: enqueue the send.
    const status = await sendPastTheApi(server, member, channelId, "slipped through");
    expect(status.state).toBe("REFUSED");
    expect(status.reason).toBe(`muted in this group until ${until}`);
    // Nor a reaction: the member's, then the admin's on the same shard; once the admin's
    // is stored, the member's was judged.
    const target = await sendAndStore(server, owner, channelId, "react past the api");
    const reaction = (who: User) => ({
      type: "reaction.add" as const,
      messageId: dbId(target.id),
      channelId: dbId(channelId),
      userId: dbId(who.user.id),
      emoji: "🙈",
      at: new Date().toISOString(),
    });
    await server.app.services.bus.sendCommand(reaction(member));
    await server.app.services.bus.sendCommand(reaction(admin));
    const tally = await eventually(
      async () =>
        (await mustRequest(server, MessageReactionsDocument, { id: target.id }, owner.accessToken))
          .message!.reactions,
      (reactions) => reactions.length > 0,
    );
    expect(tally).toMatchObject([{ emoji: "🙈", count: 1, users: [{ id: admin.user.id }] }]);
    await mustRequest(
      server,
      UnmuteGroupMemberDocument,
      { groupId, userId: member.user.id },
      owner.accessToken,
    );
  });

  it("who may mute whom, and until when", async () => {
    const codeOf = async (who: User, userId: string, until: string) => {
      const result = await request(
        server,
        MuteGroupMemberDocument,
        { groupId, userId, until },
        who.accessToken,
      );
      return result.errors?.[0]?.extensions;
    };
    // Admins mute members only; members mute no one; no one mutes themself.
    expect(await codeOf(admin, owner.user.id, inAnHour())).toMatchObject({ code: "FORBIDDEN" });
    expect(await codeOf(member, admin.user.id, inAnHour())).toMatchObject({ code: "FORBIDDEN" });
    expect(await codeOf(owner, owner.user.id, inAnHour())).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "userId",
    });
    const past = new Date(Date.now() - 1000).toISOString();
    expect(await codeOf(owner, member.user.id, past)).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "until",
    });
    const [outsider] = await registerUsers(server, 1);
    expect(await codeOf(owner, outsider!.user.id, inAnHour())).toMatchObject({
      code: "NOT_FOUND",
      field: "userId",
    });
    // An owner may mute an admin.
    expect(await codeOf(owner, admin.user.id, inAnHour())).toBeUndefined();
    await mustRequest(
      server,
      UnmuteGroupMemberDocument,
      { groupId, userId: admin.user.id },
      owner.accessToken,
    );
  });
});
