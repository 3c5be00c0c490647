// Moderation log: what owners and admins do to others' content is recorded by the worker
// with the change (who, what, when, whose) and readable by owners and admins only.
import { beforeAll, describe, expect, it } from "vitest";
import {
  CreateGroupDocument,
  DeleteMessageDocument,
  ModerationLogDocument,
  NodeDocument,
  SetGroupMemberRoleDocument,
} from "./gql/graphql.js";
import { mustRequest, request, useTestApp } from "./harness/app.js";
import { sendAndStore } from "./harness/messages.js";
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
