// Pins: owners and admins of a group (either party of a direct conversation) pin and
// unpin through the worker like any change; the change arrives on messageUpdated, and
// Channel.pinnedMessages lists them, most recently pinned first.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import {
  DeleteMessageDocument,
  DirectChannelDocument,
  PinMessageDocument,
  PinnedMessagesDocument,
  PinsUpdatedDocument,
  UnpinMessageDocument,
} from "./gql/graphql.js";
import { mustRequest, request, useTestApp, wsClient } from "./harness/app.js";
import { dbId } from "./harness/ids.js";
import { sendAndStore } from "./harness/messages.js";
import { recordLive } from "./harness/subscriptions.js";
import { groupChannel, registerUsers, type Session as User } from "./harness/users.js";
import { eventually } from "./harness/wait.js";

const server = useTestApp({ SEND_RATE_LIMIT: "10000" });
let owner: User;
let member: User;
let outsider: User;
let channelId: string;

const pinned = async (who: User, channel = channelId) =>
  (
    await mustRequest(server, PinnedMessagesDocument, { channelId: channel }, who.accessToken)
  ).channel!.pinnedMessages.edges.map((edge) => edge.node.body);

beforeAll(async () => {
  [owner, member, outsider] = (await registerUsers(server, 3)) as [User, User, User];
  channelId = await groupChannel(server, owner, [member], "Pins");
});

describe("pins", () => {
  it("an owner pins and unpins: the answer, messageUpdated and pinnedMessages say so", async () => {
    const first = await sendAndStore(server, member, channelId, "the plan");
    const second = await sendAndStore(server, member, channelId, "the venue");
    const live = await recordLive(
      server,
      wsClient(server, { authorization: `Bearer ${member.accessToken}` }),
      PinsUpdatedDocument,
      { channelId },
    );
    const answer = await mustRequest(
      server,
      PinMessageDocument,
      { id: first.id },
      owner.accessToken,
    );
    expect(answer.pinMessage).toMatchObject({ id: first.id, pinnedBy: { id: owner.user.id } });
    expect(answer.pinMessage.pinnedAt).not.toBeNull();
    const [event] = await live.until((data) =>
      data.some((d) => d.messageUpdated.id === first.id && d.messageUpdated.pinnedAt !== null),
    );
    expect(event!.messageUpdated.pinnedBy).toEqual({ id: owner.user.id });
    await mustRequest(server, PinMessageDocument, { id: second.id }, owner.accessToken);
    expect(
      await eventually(
        () => pinned(member),
        (bodies) => bodies.length === 2,
      ),
    ).toEqual(["the venue", "the plan"]);
    // Pinning again changes nothing (no second event either: the next one is the unpin).
    await mustRequest(server, PinMessageDocument, { id: second.id }, owner.accessToken);
    const unpinned = await mustRequest(
      server,
      UnpinMessageDocument,
      { id: second.id },
      owner.accessToken,
    );
    expect(unpinned.unpinMessage).toMatchObject({ pinnedAt: null, pinnedBy: null });
    await live.until((data) =>
      data.some((d) => d.messageUpdated.id === second.id && d.messageUpdated.pinnedAt === null),
    );
    expect(live.data.filter((d) => d.messageUpdated.id === second.id)).toHaveLength(2);
    expect(await pinned(member)).toEqual(["the plan"]);
    live.stop();
  });

  it("a plain member may not pin in a group, an outsider does not see the message; either party pins in a direct conversation", async () => {
    const message = await sendAndStore(server, member, channelId, "not yours to pin");
    const denied = await request(
      server,
      PinMessageDocument,
      { id: message.id },
      member.accessToken,
    );
    expect(denied.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const hidden = await request(
      server,
      PinMessageDocument,
      { id: message.id },
      outsider.accessToken,
    );
    expect(hidden.errors?.[0]?.extensions).toEqual({ code: "NOT_FOUND", field: "id" });

    const direct = (
      await mustRequest(
        server,
        DirectChannelDocument,
        { userId: outsider.user.id },
        member.accessToken,
      )
    ).directChannel.id;
    const said = await sendAndStore(server, outsider, direct, "remember this");
    await mustRequest(server, PinMessageDocument, { id: said.id }, member.accessToken);
    expect(
      await eventually(
        () => pinned(outsider, direct),
        (b) => b.length === 1,
      ),
    ).toEqual(["remember this"]);
  });

  it("the worker checks the rule too: a pin slipped onto the bus by a plain member changes nothing", async () => {
    const message = await sendAndStore(server, owner, channelId, "guarded");
    await server.app.services.bus.sendCommand({
      type: "message.pin",
      messageId: dbId(message.id),
      channelId: dbId(channelId),
      actorId: dbId(member.user.id),
      at: new Date().toISOString(),
    });
    // A later command on the same channel (same shard, in order) is stored after it.
    await sendAndStore(server, owner, channelId, "after the slipped pin");
    expect(await pinned(owner)).not.toContain("guarded");
  });

  it("a deleted message leaves the pins and cannot be pinned", async () => {
    const message = await sendAndStore(server, owner, channelId, `gone ${randomUUID()}`);
    await mustRequest(server, PinMessageDocument, { id: message.id }, owner.accessToken);
    await eventually(
      () => pinned(owner),
      (bodies) => bodies.includes(message.body!),
    );
    await mustRequest(server, DeleteMessageDocument, { id: message.id }, owner.accessToken);
    expect(
      await eventually(
        () => pinned(owner),
        (bodies) => !bodies.includes(message.body!),
      ),
    ).not.toContain(message.body);
    const again = await request(server, PinMessageDocument, { id: message.id }, owner.accessToken);
    expect(again.errors?.[0]?.extensions).toEqual({ code: "NOT_FOUND", field: "id" });
  });
});
