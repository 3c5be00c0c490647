// Attachments on the local disk (the embedded default): createUpload hands out a signed
// URL the file is PUT to; a message then carries it, with an image's dimensions, live
// and in history, and a signed URL reads the same bytes. Limits, other people's files,
// unfinished uploads and tampered URLs are refused; the worker refuses what slipped by.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { sweepAttachments } from "../src/storage/attachment-sweep.js";
import {
  AttachmentsAddedDocument,
  CreateUploadDocument,
  DeleteMessageDocument,
  MessageAttachmentsDocument,
  NodeDocument,
  SendWithAttachmentsDocument,
} from "./gql/graphql.js";
import { mustRequest, request, useTestApp, wsClient } from "./harness/app.js";
import { dbId } from "./harness/ids.js";
import { sendPastTheApi } from "./harness/messages.js";
import { recordLive } from "./harness/subscriptions.js";
import { absolute, png, upload } from "./harness/uploads.js";
import { groupChannel, registerUsers, type Session as User } from "./harness/users.js";
import { eventually } from "./harness/wait.js";

const server = useTestApp({ SEND_RATE_LIMIT: "10000", ATTACHMENT_MAX_BYTES: "100000" });
let alice: User;
let bob: User;
let outsider: User;
let channelId: string;
let otherChannelId: string;

beforeAll(async () => {
  [alice, bob, outsider] = (await registerUsers(server, 3)) as [User, User, User];
  channelId = await groupChannel(server, alice, [bob], "Files");
  otherChannelId = await groupChannel(server, alice, [bob], "Other files");
});

const send = (who: User, input: { body?: string; attachmentIds?: string[]; channel?: string }) =>
  request(
    server,
    SendWithAttachmentsDocument,
    {
      input: {
        channelId: input.channel ?? channelId,
        body: input.body ?? "",
        clientMessageId: randomUUID(),
        attachmentIds: input.attachmentIds,
      },
    },
    who.accessToken,
  );

/** The message's attachments once it is stored with them (NOT_FOUND while pending). */
const storedAttachments = async (messageId: string, who: User) =>
  (
    await eventually(
      () => request(server, MessageAttachmentsDocument, { id: messageId }, who.accessToken),
      (answer) => (answer.data?.message?.attachments.length ?? 0) > 0,
    )
  ).data!.message!.attachments;

describe("attachments on the local disk", () => {
  it("an image PUT to its upload URL is sent with its dimensions, live and in history, and its URL reads the same bytes", async () => {
    const bytes = png(3, 2);
    const { attachment, status } = await upload(server, alice.accessToken, channelId, {
      filename: "dot.png",
      contentType: "image/png",
      bytes,
    });
    expect(status).toBe(200);
    expect(attachment).toMatchObject({ filename: "dot.png", size: bytes.length, width: null });
    const live = await recordLive(
      server,
      wsClient(server, { authorization: `Bearer ${bob.accessToken}` }),
      AttachmentsAddedDocument,
      { channelId },
    );
    const sent = await send(alice, { attachmentIds: [attachment.id] });
    expect(sent.errors).toBeUndefined();
    expect(sent.data!.sendMessage).toMatchObject({
      status: "PENDING",
      body: "",
      attachments: [{ id: attachment.id, width: 3, height: 2, contentType: "image/png" }],
    });
    const [event] = await live.until((data) => data.length > 0);
    expect(event!.messageAdded.attachments).toMatchObject([
      { id: attachment.id, filename: "dot.png", size: bytes.length, width: 3, height: 2 },
    ]);
    live.stop();
    const stored = await mustRequest(
      server,
      MessageAttachmentsDocument,
      { id: event!.messageAdded.id },
      bob.accessToken,
    );
    const [file] = stored.message!.attachments;
    const response = await fetch(absolute(server, file!.url));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/png");
    expect(response.headers.get("content-disposition")).toContain("dot.png");
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
    // Refetchable by its id for those who see its message, and no one else.
    const node = async (who: User) =>
      (await mustRequest(server, NodeDocument, { id: attachment.id }, who.accessToken)).node;
    expect(await node(bob)).toEqual({ __typename: "Attachment", id: attachment.id });
    expect(await node(outsider)).toBeNull();
  });

  it("refuses types, sizes and names outside the limits, and uploads to channels one is not in", async () => {
    const errorOf = async (who: User, input: Record<string, unknown>) =>
      (
        await request(
          server,
          CreateUploadDocument,
          {
            input: {
              channelId,
              filename: "a.png",
              contentType: "image/png",
              size: 10,
              ...input,
            } as never,
          },
          who.accessToken,
        )
      ).errors?.[0]?.extensions;
    expect(await errorOf(alice, { contentType: "application/x-msdownload" })).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.contentType",
    });
    expect(await errorOf(alice, { size: 100_001 })).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.size",
    });
    expect(await errorOf(alice, { size: 0 })).toMatchObject({ field: "input.size" });
    expect(await errorOf(alice, { filename: "../etc/passwd" })).toMatchObject({
      field: "input.filename",
    });
    expect(await errorOf(outsider, {})).toMatchObject({
      code: "NOT_FOUND",
      field: "input.channelId",
    });
  });

  it("a message carries only the sender's finished uploads for its channel, once", async () => {
    const bytes = Buffer.from("hello, file");
    const file = { filename: "note.txt", contentType: "text/plain", bytes };
    const errorOf = async (who: User, ids: string[], channel?: string) =>
      (await send(who, { attachmentIds: ids, channel })).errors?.[0]?.extensions;

    // Created, never uploaded.
    const pending = await mustRequest(
      server,
      CreateUploadDocument,
      { input: { channelId, filename: "later.txt", contentType: "text/plain", size: 5 } },
      alice.accessToken,
    );
    expect(await errorOf(alice, [pending.createUpload.attachment.id])).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.attachmentIds.0",
    });
    const { attachment } = await upload(server, alice.accessToken, channelId, file);
    // Someone else's upload is unknown to them; another channel's is bad input.
    expect(await errorOf(bob, [attachment.id])).toMatchObject({
      code: "NOT_FOUND",
      field: "input.attachmentIds.0",
    });
    expect(await errorOf(alice, [attachment.id], otherChannelId)).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.attachmentIds.0",
    });
    // Sent once, then never again.
    const sent = await send(alice, { body: "see attached", attachmentIds: [attachment.id] });
    expect(sent.errors).toBeUndefined();
    expect(await storedAttachments(sent.data!.sendMessage.id, bob)).toHaveLength(1);
    expect(await errorOf(alice, [attachment.id])).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.attachmentIds.0",
    });
    // No body and no file is no message.
    expect(await errorOf(alice, [])).toMatchObject({ code: "BAD_USER_INPUT", field: "input.body" });
  });

  it("upload and file URLs hold only what they were signed for; a stored file is never replaced", async () => {
    const bytes = Buffer.from("exactly these bytes");
    const answer = await mustRequest(
      server,
      CreateUploadDocument,
      { input: { channelId, filename: "x.txt", contentType: "text/plain", size: bytes.length } },
      alice.accessToken,
    );
    const url = absolute(server, answer.createUpload.uploadUrl);
    const put = (target: string, body: Buffer, contentType = "text/plain") =>
      fetch(target, {
        method: "PUT",
        headers: { "content-type": contentType },
        body: new Uint8Array(body),
      }).then(async (response) => {
        await response.arrayBuffer();
        return response.status;
      });
    expect(await put(url, Buffer.from("other size"))).toBe(400);
    expect(await put(url, bytes, "text/html")).toBe(400);
    const tampered = new URL(url);
    tampered.searchParams.set("size", String(bytes.length + 1));
    expect(await put(tampered.toString(), Buffer.concat([bytes, Buffer.from("!")]))).toBe(403);
    expect(await put(url, bytes)).toBe(200);
    expect(await put(url, bytes)).toBe(409);

    const sent = await send(alice, { attachmentIds: [answer.createUpload.attachment.id] });
    const [stored] = await storedAttachments(sent.data!.sendMessage.id, alice);
    const fileUrl = new URL(absolute(server, stored!.url));
    fileUrl.searchParams.set("type", "text/html");
    const forged = await fetch(fileUrl);
    await forged.arrayBuffer();
    expect(forged.status).toBe(403);
  });

  it("the sweep removes uploads never sent and the files of deleted messages, and keeps the rest", async () => {
    const file = (name: string) => ({
      filename: name,
      contentType: "text/plain",
      bytes: Buffer.from(`contents of ${name}`),
    });
    const unsent = (await upload(server, alice.accessToken, channelId, file("unsent.txt")))
      .attachment;
    const sentThenDeleted = (await upload(server, alice.accessToken, channelId, file("gone.txt")))
      .attachment;
    const kept = (await upload(server, alice.accessToken, channelId, file("kept.txt"))).attachment;
    const deleted = await send(alice, { attachmentIds: [sentThenDeleted.id] });
    const sent = await send(alice, { attachmentIds: [kept.id] });
    for (const answer of [deleted, sent])
      expect(await storedAttachments(answer.data!.sendMessage.id, alice)).toHaveLength(1);
    await mustRequest(
      server,
      DeleteMessageDocument,
      { id: deleted.data!.sendMessage.id },
      alice.accessToken,
    );
    const prisma = server.database.db.prisma;
    await eventually(
      () => prisma.message.findUniqueOrThrow({ where: { id: dbId(deleted.data!.sendMessage.id) } }),
      (message) => message.deletedAt !== null,
    );
    const { storage } = server.app.services;
    const keyOf = (id: string) => `${dbId(channelId)}/${dbId(id)}`;
    // Unsent for longer than a day: here, with no grace at all.
    await sweepAttachments(server.database.db.sql, storage, 0);
    expect(await storage.stat(keyOf(unsent.id))).toBeNull();
    expect(await storage.stat(keyOf(sentThenDeleted.id))).toBeNull();
    expect(await storage.stat(keyOf(kept.id))).not.toBeNull();
    const rows = await prisma.attachment.findMany({
      where: { id: { in: [unsent, sentThenDeleted, kept].map((a) => dbId(a.id)) } },
    });
    expect(rows.map((row) => row.filename)).toEqual(["kept.txt"]);
  });

  it("the worker refuses a send carrying someone else's upload that reached it anyway", async () => {
    const { attachment } = await upload(server, alice.accessToken, channelId, {
      filename: "mine.txt",
      contentType: "text/plain",
      bytes: Buffer.from("alice's"),
    });
    const status = await sendPastTheApi(server, bob, channelId, "not mine", {
      attachmentIds: [dbId(attachment.id)],
    });
    expect(status).toMatchObject({
      state: "REFUSED",
      reason: "an attachment is not the sender's upload for this channel, or is sent already",
    });
  });
});
