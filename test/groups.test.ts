// Groups and their channels: the lifecycle, and every role rule (owner / admin /
// member / outsider) for every mutation and query.
import { beforeAll, describe, expect, it } from "vitest";
import {
  AddChannelMembersDocument,
  AddGroupMembersDocument,
  ChannelDocument,
  CreateChannelDocument,
  CreateGroupDocument,
  GroupDocument,
  GroupsDocument,
  InboxDocument,
  JoinChannelDocument,
  LeaveChannelDocument,
  LeaveGroupDocument,
  MembershipKeysDocument,
  RemoveGroupMemberDocument,
  SetGroupMemberRoleDocument,
  UpdateGroupDocument,
} from "./gql/graphql.js";
import { type GraphQLResponse, mustRequest, request, useTestApp } from "./harness/app.js";
import { dbId, globalId, unknownId } from "./harness/ids.js";
import { registerUser } from "./harness/users.js";

const server = useTestApp();
type Session = Awaited<ReturnType<typeof registerUser>>;

function errorOf(result: GraphQLResponse<unknown>) {
  return result.errors?.[0]?.extensions;
}

let owner: Session;
let admin: Session;
let member: Session;
let outsider: Session;
let spare: Session[];

beforeAll(async () => {
  const users = await Promise.all(Array.from({ length: 9 }, () => registerUser(server)));
  [owner, admin, member, outsider] = users as [Session, Session, Session, Session];
  spare = users.slice(4);
});

/** A fresh group: owner, admin (promoted), member. */
async function newGroup(name = "Team") {
  const created = await mustRequest(
    server,
    CreateGroupDocument,
    { input: { name, description: "ours", memberIds: [admin.user.id, member.user.id] } },
    owner.accessToken,
  );
  const groupId = created.createGroup.id;
  await mustRequest(
    server,
    SetGroupMemberRoleDocument,
    { groupId, userId: admin.user.id, role: "ADMIN" },
    owner.accessToken,
  );
  const general = created.createGroup.channels.edges[0]!.node;
  return { groupId, generalId: general.id, created: created.createGroup };
}

describe("group lifecycle", () => {
  it("createGroup makes the creator OWNER, the listed users MEMBERs and a #general with all of them", async () => {
    const { created, generalId } = await newGroup();
    expect(created.viewerRole).toBe("OWNER");
    expect(created.memberCount).toBe(3);
    const roles = Object.fromEntries(
      created.members.edges.map((e) => [e.node.user.id, e.node.role]),
    );
    expect(roles).toEqual({
      [owner.user.id]: "OWNER",
      [admin.user.id]: "MEMBER",
      [member.user.id]: "MEMBER",
    });
    expect(created.channels.edges.map((e) => e.node.name)).toEqual(["general"]);
    const general = await mustRequest(
      server,
      ChannelDocument,
      { id: generalId },
      member.accessToken,
    );
    expect(general.channel?.members.edges.map((e) => e.node.user.id).sort()).toEqual(
      [owner.user.id, admin.user.id, member.user.id].sort(),
    );
  });

  it("memberships name their group or channel and user, so a normalized cache can key them", async () => {
    const { groupId, generalId } = await newGroup("Keys");
    const { group } = await mustRequest(
      server,
      MembershipKeysDocument,
      { id: groupId },
      member.accessToken,
    );
    const groupMembers = group!.members.edges.map((e) => e.node);
    expect(groupMembers.map((m) => m.group.id)).toEqual(groupMembers.map(() => groupId));
    expect(groupMembers.map((m) => m.user.id).sort()).toEqual(
      [owner.user.id, admin.user.id, member.user.id].sort(),
    );
    const general = group!.channels.edges.find((e) => e.node.id === generalId)!.node;
    expect(general.members.edges.map((e) => e.node.channel.id)).toEqual(
      general.members.edges.map(() => generalId),
    );
    expect(general.members.edges).toHaveLength(3);
  });

  it("groups lists the viewer's groups only", async () => {
    const { groupId } = await newGroup("Listed");
    const mine = await mustRequest(server, GroupsDocument, { first: 50 }, member.accessToken);
    expect(mine.groups.edges.map((e) => e.node.id)).toContain(groupId);
    const theirs = await mustRequest(server, GroupsDocument, { first: 50 }, outsider.accessToken);
    expect(theirs.groups.edges.map((e) => e.node.id)).not.toContain(groupId);
  });

  it("removing a user from a group removes them from all its channels", async () => {
    const { groupId } = await newGroup();
    const extra = await mustRequest(
      server,
      CreateChannelDocument,
      { input: { groupId, name: "random" } },
      owner.accessToken,
    );
    await mustRequest(
      server,
      JoinChannelDocument,
      { channelId: extra.createChannel.id },
      member.accessToken,
    );
    await mustRequest(
      server,
      RemoveGroupMemberDocument,
      { groupId, userId: member.user.id },
      owner.accessToken,
    );
    const inbox = await mustRequest(server, InboxDocument, { first: 100 }, member.accessToken);
    const rows = await server.database.db.prisma.channelMember.count({
      where: { userId: dbId(member.user.id), channel: { groupId: dbId(groupId) } },
    });
    expect(rows).toBe(0);
    expect(inbox.channels.edges.map((e) => e.node.id)).not.toContain(extra.createChannel.id);
    const lookup = await request(server, GroupDocument, { id: groupId }, member.accessToken);
    expect(errorOf(lookup)).toEqual({ code: "NOT_FOUND", field: "id" });
  });

  it("the last owner cannot leave while others remain; the last member leaving deletes the group", async () => {
    const { groupId } = await newGroup();
    const refused = await request(server, LeaveGroupDocument, { groupId }, owner.accessToken);
    expect(errorOf(refused)).toEqual({ code: "BAD_USER_INPUT", field: "groupId" });
    await mustRequest(
      server,
      SetGroupMemberRoleDocument,
      { groupId, userId: admin.user.id, role: "OWNER" },
      owner.accessToken,
    );
    // Each answer names the group and the membership that is gone, for the client's cache.
    const left = await mustRequest(server, LeaveGroupDocument, { groupId }, owner.accessToken);
    expect(left.leaveGroup).toEqual({
      groupId,
      groupExists: true,
      removedMemberId: globalId("GroupMember", dbId(groupId), dbId(owner.user.id)),
    });
    expect(
      (await mustRequest(server, LeaveGroupDocument, { groupId }, member.accessToken)).leaveGroup
        .groupExists,
    ).toBe(true);
    expect(
      (await mustRequest(server, LeaveGroupDocument, { groupId }, admin.accessToken)).leaveGroup
        .groupExists,
    ).toBe(false);
    expect(await server.database.db.prisma.group.count({ where: { id: dbId(groupId) } })).toBe(0);
    expect(
      await server.database.db.prisma.channel.count({ where: { groupId: dbId(groupId) } }),
    ).toBe(0);
  });
});

describe("role rules for every group mutation", () => {
  it("updateGroup: owner and admin yes, member FORBIDDEN, outsider NOT_FOUND", async () => {
    const { groupId } = await newGroup();
    for (const who of [owner, admin]) {
      const ok = await mustRequest(
        server,
        UpdateGroupDocument,
        { groupId, input: { name: "Renamed" } },
        who.accessToken,
      );
      expect(ok.updateGroup.name).toBe("Renamed");
    }
    const asMember = await request(
      server,
      UpdateGroupDocument,
      { groupId, input: { name: "x" } },
      member.accessToken,
    );
    expect(errorOf(asMember)?.code).toBe("FORBIDDEN");
    const asOutsider = await request(
      server,
      UpdateGroupDocument,
      { groupId, input: { name: "x" } },
      outsider.accessToken,
    );
    expect(errorOf(asOutsider)).toEqual({ code: "NOT_FOUND", field: "groupId" });
  });

  it("addGroupMembers: owner and admin yes (new members join #general), member FORBIDDEN, outsider NOT_FOUND", async () => {
    const { groupId, generalId } = await newGroup();
    await mustRequest(
      server,
      AddGroupMembersDocument,
      { groupId, userIds: [spare[0]!.user.id] },
      owner.accessToken,
    );
    const byAdmin = await mustRequest(
      server,
      AddGroupMembersDocument,
      { groupId, userIds: [spare[1]!.user.id] },
      admin.accessToken,
    );
    expect(byAdmin.addGroupMembers.memberCount).toBe(5);
    const general = await mustRequest(
      server,
      ChannelDocument,
      { id: generalId },
      spare[1]!.accessToken,
    );
    expect(general.channel?.viewerIsMember).toBe(true);
    const asMember = await request(
      server,
      AddGroupMembersDocument,
      { groupId, userIds: [spare[2]!.user.id] },
      member.accessToken,
    );
    expect(errorOf(asMember)?.code).toBe("FORBIDDEN");
    const asOutsider = await request(
      server,
      AddGroupMembersDocument,
      { groupId, userIds: [spare[2]!.user.id] },
      outsider.accessToken,
    );
    expect(errorOf(asOutsider)?.code).toBe("NOT_FOUND");
  });

  it("removeGroupMember: owner removes anyone, admin removes members but not admins, member FORBIDDEN, outsider NOT_FOUND", async () => {
    const { groupId } = await newGroup();
    await mustRequest(
      server,
      AddGroupMembersDocument,
      { groupId, userIds: spare.slice(0, 3).map((s) => s.user.id) },
      owner.accessToken,
    );
    const asMember = await request(
      server,
      RemoveGroupMemberDocument,
      { groupId, userId: spare[0]!.user.id },
      member.accessToken,
    );
    expect(errorOf(asMember)?.code).toBe("FORBIDDEN");
    const asOutsider = await request(
      server,
      RemoveGroupMemberDocument,
      { groupId, userId: spare[0]!.user.id },
      outsider.accessToken,
    );
    expect(errorOf(asOutsider)?.code).toBe("NOT_FOUND");
    await mustRequest(
      server,
      RemoveGroupMemberDocument,
      { groupId, userId: spare[0]!.user.id },
      admin.accessToken,
    );
    await mustRequest(
      server,
      SetGroupMemberRoleDocument,
      { groupId, userId: spare[1]!.user.id, role: "ADMIN" },
      owner.accessToken,
    );
    const adminVsAdmin = await request(
      server,
      RemoveGroupMemberDocument,
      { groupId, userId: spare[1]!.user.id },
      admin.accessToken,
    );
    expect(errorOf(adminVsAdmin)?.code).toBe("FORBIDDEN");
    const removed = await mustRequest(
      server,
      RemoveGroupMemberDocument,
      { groupId, userId: spare[1]!.user.id },
      owner.accessToken,
    );
    expect(removed.removeGroupMember).toEqual({
      group: { id: groupId, memberCount: 4 },
      removedMemberId: globalId("GroupMember", dbId(groupId), dbId(spare[1]!.user.id)),
    });
  });

  it("setGroupMemberRole: owner only; admin and member FORBIDDEN, outsider NOT_FOUND; the last owner cannot step down", async () => {
    const { groupId } = await newGroup();
    for (const who of [admin, member]) {
      const denied = await request(
        server,
        SetGroupMemberRoleDocument,
        { groupId, userId: member.user.id, role: "ADMIN" },
        who.accessToken,
      );
      expect(errorOf(denied)?.code).toBe("FORBIDDEN");
    }
    const asOutsider = await request(
      server,
      SetGroupMemberRoleDocument,
      { groupId, userId: member.user.id, role: "ADMIN" },
      outsider.accessToken,
    );
    expect(errorOf(asOutsider)?.code).toBe("NOT_FOUND");
    const stepDown = await request(
      server,
      SetGroupMemberRoleDocument,
      { groupId, userId: owner.user.id, role: "MEMBER" },
      owner.accessToken,
    );
    expect(errorOf(stepDown)).toEqual({ code: "BAD_USER_INPUT", field: "role" });
    // The answer is the member with their new role, keyed like every GroupMember.
    const promoted = await mustRequest(
      server,
      SetGroupMemberRoleDocument,
      { groupId, userId: member.user.id, role: "ADMIN" },
      owner.accessToken,
    );
    expect(promoted.setGroupMemberRole).toEqual({
      id: globalId("GroupMember", dbId(groupId), dbId(member.user.id)),
      role: "ADMIN",
    });
    expect(
      await server.database.db.prisma.groupMember.count({
        where: { groupId: dbId(groupId), role: "OWNER" },
      }),
    ).toBe(1);
  });

  it("leaveGroup: a member leaves; an outsider gets NOT_FOUND", async () => {
    const { groupId } = await newGroup();
    const asOutsider = await request(server, LeaveGroupDocument, { groupId }, outsider.accessToken);
    expect(errorOf(asOutsider)?.code).toBe("NOT_FOUND");
    expect(
      (await mustRequest(server, LeaveGroupDocument, { groupId }, member.accessToken)).leaveGroup
        .groupExists,
    ).toBe(true);
  });
});

describe("channels", () => {
  it("createChannel: owner and admin yes, member FORBIDDEN, outsider NOT_FOUND", async () => {
    const { groupId } = await newGroup();
    await mustRequest(
      server,
      CreateChannelDocument,
      { input: { groupId, name: "by-owner" } },
      owner.accessToken,
    );
    const byAdmin = await mustRequest(
      server,
      CreateChannelDocument,
      { input: { groupId, name: "By-Admin" } },
      admin.accessToken,
    );
    expect(byAdmin.createChannel).toMatchObject({
      name: "by-admin",
      memberCount: 1,
      viewerIsMember: true,
      kind: "GROUP",
    });
    const asMember = await request(
      server,
      CreateChannelDocument,
      { input: { groupId, name: "nope" } },
      member.accessToken,
    );
    expect(errorOf(asMember)?.code).toBe("FORBIDDEN");
    const asOutsider = await request(
      server,
      CreateChannelDocument,
      { input: { groupId, name: "nope" } },
      outsider.accessToken,
    );
    expect(errorOf(asOutsider)).toEqual({ code: "NOT_FOUND", field: "input.groupId" });
  });

  it("public channels: group members see and join them; outsiders get NOT_FOUND", async () => {
    const { groupId } = await newGroup();
    const channel = (
      await mustRequest(
        server,
        CreateChannelDocument,
        { input: { groupId, name: "open" } },
        owner.accessToken,
      )
    ).createChannel;
    const preview = await mustRequest(
      server,
      ChannelDocument,
      { id: channel.id },
      member.accessToken,
    );
    expect(preview.channel?.viewerIsMember).toBe(false);
    const joined = await mustRequest(
      server,
      JoinChannelDocument,
      { channelId: channel.id },
      member.accessToken,
    );
    expect(joined.joinChannel).toMatchObject({ viewerIsMember: true, memberCount: 2 });
    const again = await mustRequest(
      server,
      JoinChannelDocument,
      { channelId: channel.id },
      member.accessToken,
    );
    expect(again.joinChannel.memberCount).toBe(2);
    for (const result of [
      await request(server, ChannelDocument, { id: channel.id }, outsider.accessToken),
      await request(server, JoinChannelDocument, { channelId: channel.id }, outsider.accessToken),
      await request(server, LeaveChannelDocument, { channelId: channel.id }, outsider.accessToken),
      await request(
        server,
        AddChannelMembersDocument,
        { channelId: channel.id, userIds: [outsider.user.id] },
        outsider.accessToken,
      ),
    ]) {
      expect(errorOf(result)?.code).toBe("NOT_FOUND");
    }
    const left = await mustRequest(
      server,
      LeaveChannelDocument,
      { channelId: channel.id },
      member.accessToken,
    );
    // A public channel stays visible to a group member, one member less.
    expect(left.leaveChannel).toEqual({
      channel: { id: channel.id, viewerIsMember: false, memberCount: expect.any(Number) },
      removedMemberId: globalId("ChannelMember", dbId(channel.id), dbId(member.user.id)),
    });
  });

  it("private channels are invisible to group members outside them, who enter only when added", async () => {
    const { groupId } = await newGroup();
    const secret = (
      await mustRequest(
        server,
        CreateChannelDocument,
        { input: { groupId, name: "secret", isPrivate: true } },
        admin.accessToken,
      )
    ).createChannel;
    for (const result of [
      await request(server, ChannelDocument, { id: secret.id }, member.accessToken),
      await request(server, JoinChannelDocument, { channelId: secret.id }, member.accessToken),
    ]) {
      expect(errorOf(result)).toEqual({
        code: "NOT_FOUND",
        field: result.data && "channel" in result.data ? "id" : "channelId",
      });
    }
    const group = await mustRequest(server, GroupDocument, { id: groupId }, member.accessToken);
    expect(group.group?.channels.edges.map((e) => e.node.name)).toEqual(["general"]);
    const notInGroup = await request(
      server,
      AddChannelMembersDocument,
      { channelId: secret.id, userIds: [outsider.user.id] },
      admin.accessToken,
    );
    expect(errorOf(notInGroup)).toEqual({ code: "BAD_USER_INPUT", field: "userIds" });
    const added = await mustRequest(
      server,
      AddChannelMembersDocument,
      { channelId: secret.id, userIds: [member.user.id] },
      admin.accessToken,
    );
    expect(added.addChannelMembers.memberCount).toBe(2);
    const twice = await request(
      server,
      AddChannelMembersDocument,
      { channelId: secret.id, userIds: [member.user.id] },
      admin.accessToken,
    );
    expect(errorOf(twice)).toEqual({ code: "BAD_USER_INPUT", field: "userIds" });
    const visible = await mustRequest(
      server,
      ChannelDocument,
      { id: secret.id },
      member.accessToken,
    );
    expect(visible.channel?.viewerIsMember).toBe(true);
  });

  it("#general and direct conversations cannot be left", async () => {
    const { generalId } = await newGroup();
    const result = await request(
      server,
      LeaveChannelDocument,
      { channelId: generalId },
      member.accessToken,
    );
    expect(errorOf(result)).toEqual({ code: "BAD_USER_INPUT", field: "channelId" });
  });
});

describe("bad input", () => {
  it("empty or 200-character names, unknown and malformed ids: typed errors, nothing written", async () => {
    const before = await server.database.db.prisma.group.count();
    const cases = [
      [{ name: "" }, { code: "BAD_USER_INPUT", field: "name" }],
      [{ name: "n".repeat(200) }, { code: "BAD_USER_INPUT", field: "name" }],
      [
        { name: "ok", memberIds: [unknownId("User")] },
        { code: "NOT_FOUND", field: "memberIds" },
      ],
      [
        { name: "ok", memberIds: ["not-an-id"] },
        { code: "BAD_USER_INPUT", field: "memberIds.0" },
      ],
    ] as const;
    for (const [input, expected] of cases) {
      const result = await request(
        server,
        CreateGroupDocument,
        { input: { ...input, memberIds: [...(("memberIds" in input && input.memberIds) || [])] } },
        owner.accessToken,
      );
      expect(errorOf(result)).toEqual(expected);
    }
    expect(await server.database.db.prisma.group.count()).toBe(before);

    const { groupId } = await newGroup();
    for (const name of ["", "c".repeat(200), "has space"]) {
      const result = await request(
        server,
        CreateChannelDocument,
        { input: { groupId, name } },
        owner.accessToken,
      );
      expect(errorOf(result)).toEqual({ code: "BAD_USER_INPUT", field: "input.name" });
    }
    const duplicate = await request(
      server,
      CreateChannelDocument,
      { input: { groupId, name: "general" } },
      owner.accessToken,
    );
    expect(errorOf(duplicate)).toEqual({ code: "BAD_USER_INPUT", field: "input.name" });
    expect(
      await server.database.db.prisma.channel.count({ where: { groupId: dbId(groupId) } }),
    ).toBe(1);

    const unknownGroup = await request(
      server,
      GroupDocument,
      { id: unknownId("Group") },
      owner.accessToken,
    );
    expect(errorOf(unknownGroup)).toEqual({ code: "NOT_FOUND", field: "id" });
    const unknownChannel = await request(
      server,
      JoinChannelDocument,
      { channelId: unknownId("Channel") },
      owner.accessToken,
    );
    expect(errorOf(unknownChannel)).toEqual({ code: "NOT_FOUND", field: "channelId" });
    const malformed = await request(server, ChannelDocument, { id: "42" }, owner.accessToken);
    expect(errorOf(malformed)).toEqual({ code: "BAD_USER_INPUT", field: "id" });
  });

  it("adding a member twice fails whole: nobody in the batch is added", async () => {
    const { groupId } = await newGroup();
    const result = await request(
      server,
      AddGroupMembersDocument,
      { groupId, userIds: [spare[3]!.user.id, member.user.id] },
      owner.accessToken,
    );
    expect(errorOf(result)).toEqual({ code: "BAD_USER_INPUT", field: "userIds" });
    expect(
      await server.database.db.prisma.groupMember.count({ where: { groupId: dbId(groupId) } }),
    ).toBe(3);
  });

  it("the same user added by 10 concurrent calls: one succeeds, the rest are BAD_USER_INPUT, one row", async () => {
    const { groupId } = await newGroup();
    const target = spare[2]!;
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        request(
          server,
          AddGroupMembersDocument,
          { groupId, userIds: [target.user.id] },
          owner.accessToken,
        ),
      ),
    );
    expect(results.filter((r) => r.data?.addGroupMembers).length).toBe(1);
    expect(results.filter((r) => errorOf(r)?.code === "BAD_USER_INPUT").length).toBe(9);
    expect(
      await server.database.db.prisma.groupMember.count({
        where: { groupId: dbId(groupId), userId: dbId(target.user.id) },
      }),
    ).toBe(1);
  });

  it("removing the last owner is refused", async () => {
    const { groupId } = await newGroup();
    await mustRequest(
      server,
      AddGroupMembersDocument,
      { groupId, userIds: [spare[4]!.user.id] },
      owner.accessToken,
    );
    await mustRequest(
      server,
      SetGroupMemberRoleDocument,
      { groupId, userId: spare[4]!.user.id, role: "OWNER" },
      owner.accessToken,
    );
    await mustRequest(
      server,
      RemoveGroupMemberDocument,
      { groupId, userId: owner.user.id },
      spare[4]!.accessToken,
    );
    const lastOwner = await request(
      server,
      RemoveGroupMemberDocument,
      { groupId, userId: spare[4]!.user.id },
      spare[4]!.accessToken,
    );
    expect(errorOf(lastOwner)).toEqual({ code: "BAD_USER_INPUT", field: "userId" });
    expect(
      await server.database.db.prisma.groupMember.count({
        where: { groupId: dbId(groupId), role: "OWNER" },
      }),
    ).toBe(1);
  });
});
