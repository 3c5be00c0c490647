// Every GraphQL operation the README shows is run against a running server, as written,
// with its placeholders (<userId>, <channelId>, …) filled in from a fixture: queries and
// mutations answer without errors, and each subscription delivers an event. (The README
// test next to this one validates them; this one proves they work.)
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { Kind, type OperationDefinitionNode, parse, print } from "graphql";
import { describe, expect, it } from "vitest";
import type { SendMessageCommand } from "../src/pubsub/commands.js";
import {
  AddContactDocument,
  AddReactionDocument,
  CreateChannelDocument,
  CreateGroupDocument,
  EditMessageDocument,
  JoinChannelDocument,
  LoginDocument,
  MarkReadDocument,
  PresenceDocument,
  RemoveReactionDocument,
  SetTypingDocument,
  UnblockUserDocument,
} from "./gql/graphql.js";
import { mustRequest, onlineSocket, request, useTestApp, wsClient } from "./harness/app.js";
import { dbId, globalId } from "./harness/ids.js";
import { sendAndStore } from "./harness/messages.js";
import { png, upload } from "./harness/uploads.js";
import { registerUser, TEST_PASSWORD } from "./harness/users.js";
import { eventually, until } from "./harness/wait.js";

const server = useTestApp({ SEND_RATE_LIMIT: "10000" });
type User = Awaited<ReturnType<typeof registerUser>>;

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const operations = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)]
  .flatMap((match) => parse(match[1] ?? "").definitions)
  .filter(
    (definition): definition is OperationDefinitionNode =>
      definition.kind === Kind.OPERATION_DEFINITION,
  );

const rootField = (operation: OperationDefinitionNode) => {
  const first = operation.selectionSet.selections[0];
  return first?.kind === Kind.FIELD ? first.name.value : "";
};

/** Root fields whose README example changes what it acts on: each gets a fixture of its own. */
const CHANGES_ITS_FIXTURE = new Set([
  "updateGroup",
  "addGroupMembers",
  "removeGroupMember",
  "setGroupMemberRole",
  "leaveGroup",
  "createChannel",
  "addChannelMembers",
  "leaveChannel",
  "editMessage",
  "deleteMessage",
  "markRead",
  "removeContact",
  "blockUser",
  "logout",
  "refreshSession",
]);

interface Fixture {
  token: string;
  refreshToken: string;
  groupId: string;
  /** A channel of the group that alice and bob are in (not #general, so it can be left). */
  channelId: string;
  /** alice's message in it; the channel holds 3 messages. */
  messageId: string;
  /** A file alice uploaded for it, not sent yet. */
  attachmentId: string;
  /** A group of bob's that alice is a plain member of (she may leave it). */
  memberOfGroupId: string;
}

describe("every README operation, run", () => {
  let alice: User;
  let bob: User;
  let carol: User;
  let dave: User;
  let erin: User;
  let shared: Fixture | undefined;
  let outsideChannel: string;

  const stored = (from: { accessToken: string }, channelId: string, body: string) =>
    sendAndStore(server, from, channelId, body);

  async function fixture(): Promise<Fixture> {
    const session = await mustRequest(server, LoginDocument, {
      input: { login: "alice", password: TEST_PASSWORD },
    });
    const token = session.login.accessToken;
    const group = await mustRequest(
      server,
      CreateGroupDocument,
      { input: { name: "Team", memberIds: [bob.user.id, carol.user.id] } },
      token,
    );
    const groupId = group.createGroup.id;
    const channelId = (
      await mustRequest(
        server,
        CreateChannelDocument,
        { input: { groupId, name: `side-${randomUUID().slice(0, 8)}` } },
        token,
      )
    ).createChannel.id;
    await mustRequest(server, JoinChannelDocument, { channelId }, bob.accessToken);
    await mustRequest(server, AddContactDocument, { userId: bob.user.id }, token);
    await mustRequest(server, UnblockUserDocument, { userId: dave.user.id }, token);
    const messageId = (await stored({ ...alice, accessToken: token }, channelId, "one")).id;
    await stored({ ...alice, accessToken: token }, channelId, "two");
    await stored(bob, channelId, "three");
    const bobsGroup = await mustRequest(
      server,
      CreateGroupDocument,
      { input: { name: "Bob's", memberIds: [alice.user.id] } },
      bob.accessToken,
    );
    const { attachment } = await upload(server, token, channelId, {
      filename: "plan.png",
      contentType: "image/png",
      bytes: png(4, 4),
    });
    return {
      token,
      refreshToken: session.login.refreshToken,
      groupId,
      channelId,
      messageId,
      attachmentId: attachment.id,
      memberOfGroupId: bobsGroup.createGroup.id,
    };
  }

  /** A cursor of alice's all-channels messageAdded stream, as a client keeps the last one. */
  async function streamCursor(f: Fixture): Promise<string> {
    const socket = wsClient(server, { authorization: `Bearer ${f.token}` });
    const cursors: string[] = [];
    const stop = socket.subscribe<{ messageAdded: { cursor: string } }>(
      { query: "subscription { messageAdded { cursor } }" },
      {
        next: (event) => {
          if (event.data) cursors.push(event.data.messageAdded.cursor);
        },
        error: () => {},
        complete: () => {},
      },
    );
    try {
      await until(async () => {
        await stored(bob, f.channelId, "for a cursor");
        return cursors.length > 0;
      });
      return cursors[0] as string;
    } finally {
      stop();
      await socket.dispose();
    }
  }

  /** The README's text with its placeholders filled in for this operation. */
  function fill(text: string, field: string, f: Fixture, cursor = "") {
    const userFor: Record<string, User> = {
      addGroupMembers: erin,
      addChannelMembers: carol,
      removeGroupMember: carol,
      blockUser: dave,
      unblockUser: dave,
    };
    const user = userFor[field] ?? bob;
    return text
      .replaceAll('"<userId>"', JSON.stringify(user.user.id))
      .replaceAll(
        '"<groupId>"',
        JSON.stringify(field === "leaveGroup" ? f.memberOfGroupId : f.groupId),
      )
      .replaceAll('"<channelId>"', JSON.stringify(f.channelId))
      .replaceAll('"<messageId>"', JSON.stringify(f.messageId))
      .replaceAll('"<attachmentId>"', JSON.stringify(f.attachmentId))
      .replaceAll('"<threadId>"', JSON.stringify(globalId("Thread", dbId(f.messageId))))
      .replaceAll('"<refreshToken>"', JSON.stringify(f.refreshToken))
      .replaceAll('"<cursor>"', JSON.stringify(cursor))
      .replaceAll('"<until>"', JSON.stringify(new Date(Date.now() + 86_400_000).toISOString()));
  }

  /** What makes each subscription's README example deliver an event (done again until it does). */
  function cause(field: string, f: Fixture): () => Promise<unknown> {
    let typing = false;
    switch (field) {
      case "messageAdded":
        // A reply in the thread of alice's message: every messageAdded stream carries it,
        // the thread's (threadId) included.
        return () =>
          sendAndStore(server, bob, f.channelId, "news", { replyTo: f.messageId, inThread: true });
      case "messageUpdated":
        return () =>
          mustRequest(
            server,
            EditMessageDocument,
            { id: f.messageId, body: randomUUID() },
            f.token,
          );
      case "reactionChanged": {
        let reacted = false;
        return () => {
          reacted = !reacted;
          const variables = { messageId: f.messageId, emoji: "🎉" };
          return reacted
            ? mustRequest(server, AddReactionDocument, variables, bob.accessToken)
            : mustRequest(server, RemoveReactionDocument, variables, bob.accessToken);
        };
      }
      case "receiptUpdated":
        return async () => {
          const mine = await stored({ ...alice, accessToken: f.token }, f.channelId, "read me");
          await mustRequest(
            server,
            MarkReadDocument,
            { channelId: f.channelId, upToSeq: mine.seq! },
            bob.accessToken,
          );
        };
      case "typing":
        return () => {
          typing = !typing;
          return mustRequest(
            server,
            SetTypingDocument,
            { channelId: f.channelId, isTyping: typing },
            bob.accessToken,
          );
        };
      case "presenceChanged":
        // bob online (his socket's heartbeat answers), then offline again: two transitions.
        return async () => {
          const socket = onlineSocket(server, bob.accessToken);
          await eventually(
            () => mustRequest(server, PresenceDocument, { userIds: [bob.user.id] }, f.token),
            (answer) => answer.presence[0]?.status === "ONLINE",
          );
          await socket.dispose();
        };
      case "messageRejected":
        // Refused by the worker (alice is not in that channel), as a send can be after
        // the API accepted it: slipped onto the bus as the API would enqueue it.
        return () =>
          server.app.services.bus.sendCommand({
            type: "message.send",
            messageId: randomUUID(),
            channelId: dbId(outsideChannel),
            senderId: dbId(alice.user.id),
            clientMessageId: randomUUID(),
            body: "refused",
            createdAt: new Date().toISOString(),
          } satisfies SendMessageCommand);
      default:
        return async () => {};
    }
  }

  it("the README shows operations of every kind", () => {
    const kinds = new Set(operations.map((operation) => operation.operation));
    expect([...kinds].sort()).toEqual(["mutation", "query", "subscription"]);
  });

  it.each(
    operations.map((operation, index) => [index + 1, rootField(operation), operation] as const),
  )(
    "operation %i (%s) runs as the README writes it",
    async (_index, field, operation) => {
      if (field === "register") {
        // The README's account: the one every other example signs in as.
        const registered = await request(server, parse(print(operation)) as never, {});
        expect(registered.errors).toBeUndefined();
        alice = { ...(registered.data as { register: User }).register };
        [bob, carol, dave, erin] = (await Promise.all(
          Array.from({ length: 4 }, () => registerUser(server)),
        )) as [User, User, User, User];
        const outside = await mustRequest(
          server,
          CreateGroupDocument,
          { input: { name: "Outside" } },
          carol.accessToken,
        );
        outsideChannel = outside.createGroup.channels.edges[0]!.node.id;
        return;
      }
      expect(alice, "the register example comes first").toBeDefined();
      const ownFixture = CHANGES_ITS_FIXTURE.has(field);
      if (!ownFixture) shared ??= await fixture();
      const f = ownFixture ? await fixture() : (shared as Fixture);
      const printed = print(operation);
      const cursor = printed.includes('"<cursor>"') ? await streamCursor(f) : "";
      const text = fill(printed, field, f, cursor);
      expect(text).not.toMatch(/<\w+>/);
      if (operation.operation !== "subscription") {
        const answer = await request(server, parse(text) as never, {}, f.token);
        expect(answer.errors).toBeUndefined();
        expect(answer.data).toBeTruthy();
        return;
      }
      const socket = wsClient(server, { authorization: `Bearer ${f.token}` });
      const events: unknown[] = [];
      let error: unknown;
      const stop = socket.subscribe(
        { query: text },
        { next: (event) => events.push(event), error: (e) => (error = e), complete: () => {} },
      );
      try {
        const again = cause(field, f);
        await until(async () => {
          if (events.length > 0 || error) return true;
          await again();
          return events.length > 0 || error !== undefined;
        }, 20_000);
        expect(error).toBeUndefined();
        expect(events[0]).toMatchObject({ data: expect.anything() });
        expect((events[0] as { errors?: unknown }).errors).toBeUndefined();
      } finally {
        stop();
        await socket.dispose();
      }
    },
    30_000,
  );
});
