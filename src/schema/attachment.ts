// Attachments: createUpload (a signed URL to PUT a file to), the Attachment type with a
// signed, expiring URL to read it, Message.attachments, and the input that sends them.
import * as attachments from "../resolvers/attachments.js";
import { builder } from "./builder.js";
import { MessageRef, view } from "./message.js";

export const AttachmentRef = builder.node(
  builder.objectRef<attachments.AttachmentView>("Attachment"),
  {
    description:
      "A file sent with a message (or uploaded for one: visible to its uploader only until sent).",
    id: { resolve: (attachment) => attachment.id },
    fields: (t) => ({
      filename: t.exposeString("filename"),
      contentType: t.exposeString("contentType"),
      size: t.exposeInt("size", { description: "In bytes." }),
      width: t.exposeInt("width", {
        nullable: true,
        description: "Images: in pixels, when known.",
      }),
      height: t.exposeInt("height", {
        nullable: true,
        description: "Images: in pixels, when known.",
      }),
      url: t.string({
        description:
          "Reads the file for an hour (signed; local storage URLs are relative to the API's origin unless PUBLIC_URL is set). Refetch the message for a fresh one.",
        resolve: (attachment, _args, ctx) => attachments.attachmentUrl(ctx, attachment),
      }),
    }),
  },
);

const HttpHeaderRef = builder.objectRef<{ name: string; value: string }>("HttpHeader").implement({
  fields: (t) => ({ name: t.exposeString("name"), value: t.exposeString("value") }),
});

const CreateUploadPayload = builder
  .objectRef<Awaited<ReturnType<typeof attachments.createUpload>>>("CreateUploadPayload")
  .implement({
    description:
      "Where to upload the file: PUT its bytes to uploadUrl with uploadHeaders (and exactly the declared size) before expiresAt, then send a message with attachmentIds: [attachment.id].",
    fields: (t) => ({
      attachment: t.field({ type: AttachmentRef, resolve: (payload) => payload.attachment }),
      uploadUrl: t.exposeString("uploadUrl"),
      uploadMethod: t.string({ resolve: () => "PUT" }),
      uploadHeaders: t.field({
        type: [HttpHeaderRef],
        resolve: (payload) => payload.uploadHeaders,
      }),
      expiresAt: t.expose("expiresAt", { type: "DateTime" }),
    }),
  });

const CreateUploadInput = builder.inputType("CreateUploadInput", {
  fields: (t) => ({
    channelId: t.id({ required: true, description: "The channel the file will be sent to." }),
    filename: t.string({ required: true, description: "1-255 characters, no slashes." }),
    contentType: t.string({
      required: true,
      description: "Its media type, e.g. image/png: one of ATTACHMENT_TYPES.",
    }),
    size: t.int({
      required: true,
      description: "Its exact size in bytes, at most ATTACHMENT_MAX_BYTES.",
    }),
  }),
});

builder.mutationField("createUpload", (t) =>
  t.field({
    type: CreateUploadPayload,
    description:
      "Starts an upload to a channel the viewer is in: answers a signed URL to PUT the file to (15 minutes). Types and sizes outside the limits are BAD_USER_INPUT on the input field.",
    authScopes: { signedIn: true },
    args: { input: t.arg({ type: CreateUploadInput, required: true }) },
    resolve: (_root, args, ctx) => attachments.createUpload(ctx, args.input),
  }),
);

builder.objectField(MessageRef, "attachments", (t) =>
  t.field({
    type: [AttachmentRef],
    description: `Files sent with it (at most ${attachments.MAX_ATTACHMENTS}), in the order they were uploaded; empty once deleted.`,
    resolve: (message, _args, ctx) => attachments.messageAttachments(ctx, view(message)),
  }),
);
