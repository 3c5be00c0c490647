// Attachments as the api sees them. createUpload records the file the viewer is about to
// upload (channel, name, type, exact size) and hands out a signed URL to PUT it to; a
// send then names its attachments, which must be the sender's uploads for that channel,
// uploaded in full and not sent already (the worker checks again and attaches them). An
// image's dimensions are read from its first bytes when it is first sent. URLs to read a
// file are signed per request and expire; nothing about a file travels through GraphQL.
import { randomUUID } from "node:crypto";
import { imageSize } from "image-size";
import { z } from "zod";
import type { Context } from "../context.js";
import type { Attachment } from "../db/generated/prisma/client.js";
import { badUserInput, notFound, serviceUnavailable } from "../errors.js";
import type { AttachmentPayload } from "../pubsub/events.js";
import { requireChannelAccess } from "./access.js";
import type { MessageView } from "./messages.js";
import { consume, type Limit } from "./rate-limits.js";
import { nodeId, parseInput } from "./validation.js";
import { requireViewerId } from "./viewer.js";

/** Most files one message carries. */
export const MAX_ATTACHMENTS = 10;
/** How long an upload URL works. */
const UPLOAD_URL_TTL_MS = 15 * 60_000;
/** How long a file's URL works (a client refetches the message for a fresh one). */
const DOWNLOAD_URL_TTL_MS = 60 * 60_000;
/** Enough of an image to read its dimensions (JPEG headers can sit after metadata). */
const IMAGE_HEAD_BYTES = 128 * 1024;
export const UPLOAD_LIMIT: Limit = { name: "uploads", max: 60, windowSeconds: 60 };

/** What the Attachment type resolves: a stored row, or an event's payload. */
export type AttachmentView = Pick<
  Attachment,
  "id" | "filename" | "contentType" | "size" | "width" | "height" | "storageKey"
>;

export const attachmentFromPayload = (payload: AttachmentPayload): AttachmentView => payload;

/** Whether `contentType` is one of the accepted types (`type/*` accepts a family). */
export function acceptedType(contentType: string, accepted: string[]): boolean {
  const family = `${contentType.split("/")[0]}/*`;
  return accepted.includes(contentType) || accepted.includes(family);
}

const filename = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(255, "must be at most 255 characters")
  .refine((name) => !/[/\\\p{Cc}]/u.test(name), "must not contain slashes or control characters");

export async function createUpload(ctx: Context, raw: unknown) {
  const viewerId = requireViewerId(ctx);
  const { maxBytes, types } = ctx.services.config.attachments;
  const input = parseInput(
    z.object({
      channelId: nodeId("Channel"),
      filename,
      contentType: z
        .string()
        .trim()
        .toLowerCase()
        .regex(
          /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/,
          "must be a media type, like image/png",
        )
        .refine((type) => acceptedType(type, types), `must be one of ${types.join(", ")}`),
      size: z
        .number()
        .int()
        .positive("must be at least 1 byte")
        .max(maxBytes, `must be at most ${maxBytes} bytes`),
    }),
    raw,
    "input",
  );
  await consume(ctx, UPLOAD_LIMIT, viewerId);
  await requireChannelAccess(ctx, input.channelId, "input.channelId", "member");
  const id = randomUUID();
  const attachment = await ctx.prisma.attachment.create({
    data: {
      id,
      uploaderId: viewerId,
      channelId: input.channelId,
      filename: input.filename,
      contentType: input.contentType,
      size: input.size,
      storageKey: `${input.channelId}/${id}`,
    },
  });
  const expiresAt = new Date(Date.now() + UPLOAD_URL_TTL_MS);
  const target = await viaStorage(() =>
    ctx.services.storage.uploadTarget(
      {
        key: attachment.storageKey,
        contentType: attachment.contentType,
        size: attachment.size,
        filename: attachment.filename,
      },
      expiresAt,
    ),
  );
  return {
    attachment,
    uploadUrl: target.url,
    uploadHeaders: Object.entries(target.headers).map(([name, value]) => ({ name, value })),
    expiresAt,
  };
}

async function viaStorage<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch {
    throw serviceUnavailable("Attachment storage is unavailable; retry.");
  }
}

/**
 * A send's attachments, checked: the sender's uploads for this channel, uploaded in full,
 * not carried by another message. Reads images' dimensions the first time.
 */
export async function checkAttachments(
  ctx: Context,
  ids: string[],
  channelId: string,
  senderId: string,
  messageId: string,
): Promise<AttachmentView[]> {
  if (ids.length === 0) return [];
  const rows = await ctx.prisma.attachment.findMany({ where: { id: { in: ids } } });
  const byId = new Map(rows.map((row) => [row.id, row]));
  const checked: Attachment[] = [];
  for (const [index, id] of ids.entries()) {
    const field = `input.attachmentIds.${index}`;
    const row = byId.get(id);
    // Someone else's upload is as unknown as one that never was.
    if (!row || row.uploaderId !== senderId) throw notFound("Attachment", field);
    if (row.channelId !== channelId)
      throw badUserInput(field, `${field}: was uploaded for another channel`);
    if (row.messageId && row.messageId !== messageId)
      throw badUserInput(field, `${field}: is sent already`);
    const stored = await viaStorage(() => ctx.services.storage.stat(row.storageKey));
    if (!stored)
      throw badUserInput(field, `${field}: is not uploaded yet (PUT it to its uploadUrl)`);
    if (stored.size !== row.size)
      throw badUserInput(field, `${field}: has ${stored.size} bytes, not the ${row.size} declared`);
    if (row.contentType.startsWith("image/") && row.width === null) {
      const head = await viaStorage(() =>
        ctx.services.storage.readStart(row.storageKey, IMAGE_HEAD_BYTES),
      );
      const dimensions = (() => {
        try {
          return imageSize(head);
        } catch {
          return undefined; // not an image we can read: no dimensions, still a file
        }
      })();
      if (dimensions?.width && dimensions.height) {
        await ctx.prisma.attachment.update({
          where: { id },
          data: { width: dimensions.width, height: dimensions.height },
        });
        row.width = dimensions.width;
        row.height = dimensions.height;
      }
    }
    checked.push(row);
  }
  // In upload order, as every later answer and event shows them.
  return checked.sort(
    (a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id),
  );
}

export async function messageAttachments(
  ctx: Context,
  message: MessageView,
): Promise<AttachmentView[]> {
  if (message.deletedAt) return [];
  if (message.attachments) return message.attachments;
  return ctx.loaders.attachmentsOf.load(message.id);
}

/** A signed URL that reads the file for an hour. */
export function attachmentUrl(ctx: Context, attachment: AttachmentView) {
  return ctx.services.storage.downloadUrl(
    {
      key: attachment.storageKey,
      contentType: attachment.contentType,
      filename: attachment.filename,
      size: attachment.size,
    },
    new Date(Date.now() + DOWNLOAD_URL_TTL_MS),
  );
}

/** node(id:): the uploader's own upload, or an attachment of a message the viewer sees. */
export async function attachmentById(
  ctx: Context,
  id: string,
  canSeeMessage: (messageId: string) => Promise<boolean>,
) {
  const row = await ctx.prisma.attachment.findUnique({ where: { id } });
  if (!row) return null;
  if (row.messageId) return (await canSeeMessage(row.messageId)) ? row : null;
  return row.uploaderId === requireViewerId(ctx) ? row : null;
}
