// Attachments in an S3 API (s3rver, started here): presigned URLs to PUT and to read, so
// file bytes never pass through the api; the upload's signature covers its size, and the
// api reads an image's dimensions from the object's first bytes.
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { sweepAttachments } from "../src/storage/attachment-sweep.js";
import { MessageAttachmentsDocument, SendWithAttachmentsDocument } from "./gql/graphql.js";
import { mustRequest, request, useTestApp } from "./harness/app.js";
import { dbId } from "./harness/ids.js";
import { startS3 } from "./harness/s3.js";
import { png, upload } from "./harness/uploads.js";
import { groupChannel, registerUsers, type Session as User } from "./harness/users.js";
import { eventually } from "./harness/wait.js";

const s3 = await startS3("chat-attachments");
const server = useTestApp(s3.env);
afterAll(() => s3.close());

describe("attachments in S3", () => {
  it("an image PUT to its presigned URL is stored in the bucket, sent with its dimensions, and read back through a presigned URL", async () => {
    const [alice, bob] = (await registerUsers(server, 2)) as [User, User];
    const channelId = await groupChannel(server, alice, [bob], "S3");
    const bytes = png(5, 4);
    const { attachment, status, uploadUrl } = await upload(server, alice.accessToken, channelId, {
      filename: "tile.png",
      contentType: "image/png",
      bytes,
    });
    expect(status).toBe(200);
    expect(uploadUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/chat-attachments\/.*X-Amz-Signature=/);
    const sent = await mustRequest(
      server,
      SendWithAttachmentsDocument,
      {
        input: {
          channelId,
          body: "a tile",
          clientMessageId: randomUUID(),
          attachmentIds: [attachment.id],
        },
      },
      alice.accessToken,
    );
    expect(sent.sendMessage.attachments).toMatchObject([{ width: 5, height: 4 }]);
    const stored = await eventually(
      () =>
        request(server, MessageAttachmentsDocument, { id: sent.sendMessage.id }, bob.accessToken),
      (answer) => answer.data?.message?.attachments.length === 1,
    );
    const response = await fetch(stored.data!.message!.attachments[0]!.url);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("the presigned upload signs its size and type, and an object of another size than declared is not sent", async () => {
    const [alice, bob] = (await registerUsers(server, 2)) as [User, User];
    const channelId = await groupChannel(server, alice, [bob], "S3 sizes");
    const declared = Buffer.from("twelve bytes");
    const { attachment, uploadUrl } = await upload(server, alice.accessToken, channelId, {
      filename: "a.txt",
      contentType: "text/plain",
      bytes: declared,
    });
    // S3 refuses a PUT whose signed headers differ; s3rver stores it anyway, so the api's
    // check when the file is sent is what holds everywhere.
    const signed = new URL(uploadUrl).searchParams.get("X-Amz-SignedHeaders")?.split(";");
    expect(signed).toEqual(expect.arrayContaining(["content-length", "content-type"]));
    const other = await fetch(uploadUrl, {
      method: "PUT",
      headers: { "content-type": "text/plain" },
      body: new Uint8Array(Buffer.from("a different, longer body")),
    });
    await other.arrayBuffer();
    const refused = await request(
      server,
      SendWithAttachmentsDocument,
      {
        input: {
          channelId,
          body: "x",
          clientMessageId: randomUUID(),
          attachmentIds: [attachment.id],
        },
      },
      alice.accessToken,
    );
    expect(refused.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "input.attachmentIds.0",
    });
    // Never sent: the sweep removes the object from the bucket, and its row.
    const key = `${dbId(channelId)}/${dbId(attachment.id)}`;
    expect(await server.app.services.storage.stat(key)).not.toBeNull();
    await sweepAttachments(server.database.db.sql, server.app.services.storage, 0);
    expect(await server.app.services.storage.stat(key)).toBeNull();
  });
});
