// What outgoing webhooks say (WEBHOOK_URLS): a message created, updated (edited, pinned)
// or deleted, and a member mentioned by @username (delivered only while they are
// offline: the hook for push notifications). Built from the batch's own events and
// written to webhook_deliveries in the batch's transaction, one row per receiver, so a
// change is never committed without its webhooks. Ids are the API's global ids.
import { randomUUID } from "node:crypto";
import type { SqlTx } from "../db/sql.js";
import type { MessagePayload } from "../pubsub/events.js";
import { globalId } from "../resolvers/global-ids.js";
import type { OutboxEntry } from "./outbox.js";
import type { RecordedMention } from "./persist-mentions.js";

export type WebhookEventType =
  | "message.created"
  | "message.updated"
  | "message.deleted"
  | "message.mentioned";

/** The body of one webhook (JSON), the same for every receiver. */
export interface WebhookBody {
  /** The event's id: a receiver that sees it twice (at least once delivery) ignores the repeat. */
  id: string;
  type: WebhookEventType;
  /** When the change was stored. */
  createdAt: string;
  data: {
    message: WebhookMessage;
    /** message.mentioned: who was named, and whether they muted the channel. */
    userId?: string;
    channelMuted?: boolean;
  };
}

export interface WebhookMessage {
  id: string;
  channelId: string;
  seq: number;
  /** Null once deleted. */
  body: string | null;
  sender: { id: string; username: string; displayName: string };
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
  pinnedAt: string | null;
  replyToId: string | null;
  threadId: string | null;
}

function webhookMessage(message: MessagePayload): WebhookMessage {
  return {
    id: globalId("Message", message.id),
    channelId: globalId("Channel", message.channelId),
    seq: message.seq,
    body: message.deletedAt ? null : message.body,
    sender: {
      id: globalId("User", message.sender.id),
      username: message.sender.username,
      displayName: message.sender.displayName,
    },
    createdAt: message.createdAt,
    editedAt: message.editedAt,
    deletedAt: message.deletedAt,
    pinnedAt: message.pinnedAt,
    replyToId: message.replyToId ? globalId("Message", message.replyToId) : null,
    threadId: message.threadRootId ? globalId("Thread", message.threadRootId) : null,
  };
}

/** The webhooks of a batch: from the events it announces and the mentions it recorded. */
function webhookBodies(events: OutboxEntry[], mentions: RecordedMention[]): WebhookBody[] {
  const now = new Date().toISOString();
  const bodies: WebhookBody[] = [];
  const body = (type: WebhookEventType, data: WebhookBody["data"]): WebhookBody => ({
    id: randomUUID(),
    type,
    createdAt: now,
    data,
  });
  const created = new Map<string, MessagePayload>();
  for (const { event } of events) {
    if (event.type === "message.created")
      for (const message of event.messages) {
        created.set(message.id, message);
        bodies.push(body("message.created", { message: webhookMessage(message) }));
      }
    else if (event.type === "message.updated" || event.type === "message.deleted")
      bodies.push(body(event.type, { message: webhookMessage(event.message) }));
  }
  for (const mention of mentions) {
    const message = created.get(mention.messageId);
    if (message)
      bodies.push(
        body("message.mentioned", {
          message: webhookMessage(message),
          userId: globalId("User", mention.userId),
          channelMuted: mention.channelMuted,
        }),
      );
  }
  return bodies;
}

/**
 * The batch's webhooks (from its events and the mentions it recorded), one row per body
 * and receiver; one statement, none without webhooks. Without receivers nothing is built:
 * the bodies (global ids, a JSON each) were about 5 % of the worker's CPU in an ingest profile.
 */
export async function writeWebhooks(
  tx: SqlTx,
  urls: string[],
  events: OutboxEntry[],
  mentions: RecordedMention[],
) {
  if (urls.length === 0) return;
  const bodies = webhookBodies(events, mentions);
  if (bodies.length === 0) return;
  const rows = urls.flatMap((url) => bodies.map((body) => ({ url, body })));
  await tx.execute(
    `INSERT INTO webhook_deliveries (url, event_id, event_type, body)
     SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[])`,
    [
      rows.map((r) => r.url),
      rows.map((r) => r.body.id),
      rows.map((r) => r.body.type),
      rows.map((r) => JSON.stringify(r.body)),
    ],
  );
}
