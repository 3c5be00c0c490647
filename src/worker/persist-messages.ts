// Persists one batch of commands in ONE transaction with multi-row statements, and says
// which events to announce after commit. Idempotent: a message id (deterministic per
// sender and clientMessageId) that already exists is not inserted again, but its event is
// announced again, so a command redelivered after a crash between commit and publish
// still reaches subscribers (who drop repeats by seq).
import type { PrismaClient } from "../db/database.js";
import type {
  Command,
  DeleteMessageCommand,
  EditMessageCommand,
  ReceiptCommand,
  SendMessageCommand,
} from "../pubsub/commands.js";
import {
  type BusEvent,
  type MessagePayload,
  type PublicUserPayload,
  routingKeys,
} from "../pubsub/events.js";
import { publicUserFields, toPublicUserPayload } from "../pubsub/public-user.js";
import { applyReceipts, receiptPayloads } from "./persist-receipts.js";

type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

export interface PersistResult {
  events: Array<{ routingKey: string; event: BusEvent }>;
  /** Commands dropped as invalid (sender not a member, unknown channel, not allowed). */
  rejected: Array<{ command: Command; reason: string }>;
}

export async function persistCommands(
  prisma: PrismaClient,
  commands: Command[],
): Promise<PersistResult> {
  const sends = commands.filter((c): c is SendMessageCommand => c.type === "message.send");
  const changes = commands.filter(
    (c): c is EditMessageCommand | DeleteMessageCommand =>
      c.type === "message.edit" || c.type === "message.delete",
  );
  const receipts = commands.filter(
    (c): c is ReceiptCommand => c.type === "receipt.delivered" || c.type === "receipt.read",
  );
  const rejected: PersistResult["rejected"] = [];

  const { sentIds, changed, receiptChanges } = await prisma.$transaction(async (tx) => {
    const sentIds = await insertMessages(tx, sends, rejected);
    const changed: Array<{ id: string; type: "message.updated" | "message.deleted" }> = [];
    for (const command of changes) {
      const ok =
        command.type === "message.edit"
          ? await editMessage(tx, command)
          : await deleteMessage(tx, command);
      if (ok)
        changed.push({
          id: command.messageId,
          type: command.type === "message.edit" ? "message.updated" : "message.deleted",
        });
      else rejected.push({ command, reason: "not allowed or no such message" });
    }
    // After the sends: a receipt may name a message of this very batch.
    const receiptChanges = await applyReceipts(tx, receipts);
    return { sentIds, changed, receiptChanges };
  });

  const payloads = await loadPayloads(prisma, [...sentIds, ...changed.map((c) => c.id)]);
  const events: PersistResult["events"] = [];
  const created = new Map<string, MessagePayload[]>();
  for (const id of sentIds) {
    const payload = payloads.get(id);
    if (payload)
      created.set(payload.channelId, [...(created.get(payload.channelId) ?? []), payload]);
  }
  for (const [channelId, messages] of created) {
    messages.sort((a, b) => a.seq - b.seq);
    events.push({
      routingKey: routingKeys.channel(channelId),
      event: { type: "message.created", channelId, messages },
    });
  }
  for (const change of changed) {
    const message = payloads.get(change.id);
    if (message) {
      events.push({
        routingKey: routingKeys.channel(message.channelId),
        event: { type: change.type, channelId: message.channelId, message },
      });
    }
  }
  if (receiptChanges.length > 0) {
    const readers = await loadPublicUsers(prisma, [
      ...new Set(receiptChanges.map((c) => c.userId)),
    ]);
    for (const [channelId, list] of receiptPayloads(receiptChanges, readers)) {
      events.push({
        routingKey: routingKeys.channel(channelId),
        event: { type: "receipts.updated", channelId, receipts: list },
      });
    }
  }
  // A sender whose message was refused must not wait for it forever.
  for (const { command, reason } of rejected) {
    if (command.type !== "message.send") continue;
    events.push({
      routingKey: routingKeys.user(command.senderId),
      event: {
        type: "message.rejected",
        channelId: command.channelId,
        messageId: command.messageId,
        clientMessageId: command.clientMessageId,
        reason,
        at: new Date().toISOString(),
      },
    });
  }
  return { events, rejected };
}

async function loadPublicUsers(
  prisma: PrismaClient,
  ids: string[],
): Promise<Map<string, PublicUserPayload>> {
  const users = await prisma.user.findMany({
    where: { id: { in: ids } },
    select: publicUserFields,
  });
  return new Map(users.map((u) => [u.id, toPublicUserPayload(u)]));
}

/** Inserts the new messages with their seqs and recipient rows; returns every id to announce. */
async function insertMessages(
  tx: Tx,
  sends: SendMessageCommand[],
  rejected: PersistResult["rejected"],
) {
  if (sends.length === 0) return [];
  // A retry can sit in the same batch as its original: keep the first.
  const firstById = new Map<string, SendMessageCommand>();
  for (const send of sends) if (!firstById.has(send.messageId)) firstById.set(send.messageId, send);
  const candidates = [...firstById.values()];

  const existing = await tx.$queryRawUnsafe<Array<{ id: string; channel_id: string }>>(
    "SELECT id::text, channel_id::text FROM messages WHERE id = ANY($1::uuid[])",
    candidates.map((s) => s.messageId),
  );
  const existingChannel = new Map(existing.map((row) => [row.id, row.channel_id]));
  const existingIds = new Set<string>();
  for (const send of candidates) {
    const channelId = existingChannel.get(send.messageId);
    if (channelId === undefined) continue;
    // The same clientMessageId again: the same message, unless it was for another channel.
    if (channelId === send.channelId) existingIds.add(send.messageId);
    else
      rejected.push({ command: send, reason: "clientMessageId already used in another channel" });
  }
  const fresh = candidates.filter((s) => !existingChannel.has(s.messageId));

  // The worker is the authority on membership: the api's check is cached and may be stale.
  const members = await tx.$queryRawUnsafe<Array<{ channel_id: string; user_id: string }>>(
    `SELECT cm.channel_id::text, cm.user_id::text FROM channel_members cm
       JOIN unnest($1::uuid[], $2::uuid[]) AS s(channel_id, user_id)
         ON cm.channel_id = s.channel_id AND cm.user_id = s.user_id`,
    fresh.map((s) => s.channelId),
    fresh.map((s) => s.senderId),
  );
  const isMember = new Set(members.map((m) => `${m.channel_id}:${m.user_id}`));
  // In a direct conversation a block (either way) stops new messages.
  const blocked = await tx.$queryRawUnsafe<Array<{ channel_id: string; user_id: string }>>(
    `SELECT s.channel_id::text, s.user_id::text
       FROM unnest($1::uuid[], $2::uuid[]) AS s(channel_id, user_id)
       JOIN channels c ON c.id = s.channel_id AND c.kind = 'DIRECT'
       JOIN channel_members o ON o.channel_id = c.id AND o.user_id <> s.user_id
       JOIN contacts b ON b.blocked
            AND ((b.owner_id = o.user_id AND b.contact_id = s.user_id)
              OR (b.owner_id = s.user_id AND b.contact_id = o.user_id))`,
    fresh.map((s) => s.channelId),
    fresh.map((s) => s.senderId),
  );
  const isBlocked = new Set(blocked.map((b) => `${b.channel_id}:${b.user_id}`));
  const accepted: SendMessageCommand[] = [];
  for (const send of fresh) {
    const key = `${send.channelId}:${send.senderId}`;
    if (!isMember.has(key))
      rejected.push({ command: send, reason: "sender is not a member of the channel" });
    else if (isBlocked.has(key))
      rejected.push({ command: send, reason: "blocked in this direct conversation" });
    else accepted.push(send);
  }
  if (accepted.length === 0) return [...existingIds];

  // Lock the channels (in a fixed order, so two workers can never deadlock) and hand out
  // the next seqs: gapless and increasing per channel, in command order.
  const channelIds = [...new Set(accepted.map((s) => s.channelId))].sort();
  const locked = await tx.$queryRawUnsafe<Array<{ id: string; last_seq: number }>>(
    "SELECT id::text, last_seq FROM channels WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
    channelIds,
  );
  const nextSeq = new Map(locked.map((row) => [row.id, Number(row.last_seq)]));
  const rows = accepted.map((send) => {
    const seq = (nextSeq.get(send.channelId) ?? 0) + 1;
    nextSeq.set(send.channelId, seq);
    return { ...send, seq };
  });

  await tx.$executeRawUnsafe(
    `INSERT INTO messages (id, channel_id, sender_id, client_message_id, seq, body, created_at)
     SELECT id, channel_id, sender_id, client_message_id, seq, body, created_at AT TIME ZONE 'UTC'
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int[], $6::text[], $7::timestamptz[])
         AS m(id, channel_id, sender_id, client_message_id, seq, body, created_at)`,
    rows.map((r) => r.messageId),
    rows.map((r) => r.channelId),
    rows.map((r) => r.senderId),
    rows.map((r) => r.clientMessageId),
    rows.map((r) => r.seq),
    rows.map((r) => r.body),
    rows.map((r) => r.createdAt),
  );
  // One recipient row per other member of the channel, status SENT.
  await tx.$executeRawUnsafe(
    `INSERT INTO message_recipients (message_id, user_id)
     SELECT m.id, cm.user_id
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS m(id, channel_id, sender_id)
       JOIN channel_members cm ON cm.channel_id = m.channel_id AND cm.user_id <> m.sender_id`,
    rows.map((r) => r.messageId),
    rows.map((r) => r.channelId),
    rows.map((r) => r.senderId),
  );
  // Each channel's newest message, for the inbox; and the senders have read their own.
  const last = new Map(rows.map((r) => [r.channelId, r] as const));
  await tx.$executeRawUnsafe(
    `UPDATE channels c SET last_seq = v.seq, last_message_id = v.id,
            last_activity_at = v.created_at AT TIME ZONE 'UTC', updated_at = now() AT TIME ZONE 'UTC'
       FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::timestamptz[]) AS v(channel_id, seq, id, created_at)
      WHERE c.id = v.channel_id`,
    [...last.keys()],
    [...last.values()].map((r) => r.seq),
    [...last.values()].map((r) => r.messageId),
    [...last.values()].map((r) => r.createdAt),
  );
  // One row per (channel, sender) with the highest seq: an UPDATE ... FROM that matched a
  // member several times would apply an arbitrary one of them.
  const readUpTo = new Map<string, { channelId: string; senderId: string; seq: number }>();
  for (const r of rows)
    readUpTo.set(`${r.channelId}:${r.senderId}`, {
      channelId: r.channelId,
      senderId: r.senderId,
      seq: r.seq,
    });
  await tx.$executeRawUnsafe(
    `UPDATE channel_members cm SET last_read_seq = GREATEST(cm.last_read_seq, v.seq)
       FROM unnest($1::uuid[], $2::uuid[], $3::int[]) AS v(channel_id, user_id, seq)
      WHERE cm.channel_id = v.channel_id AND cm.user_id = v.user_id`,
    [...readUpTo.values()].map((r) => r.channelId),
    [...readUpTo.values()].map((r) => r.senderId),
    [...readUpTo.values()].map((r) => r.seq),
  );
  return [...existingIds, ...rows.map((r) => r.messageId)];
}

async function editMessage(tx: Tx, command: EditMessageCommand) {
  const count = await tx.$executeRawUnsafe(
    `UPDATE messages SET body = $1, edited_at = $2::timestamptz AT TIME ZONE 'UTC'
      WHERE id = $3::uuid AND sender_id = $4::uuid AND deleted_at IS NULL`,
    command.body,
    command.at,
    command.messageId,
    command.editorId,
  );
  return count > 0;
}

/** The sender may delete; so may an owner or admin of the channel's group. */
async function deleteMessage(tx: Tx, command: DeleteMessageCommand) {
  const count = await tx.$executeRawUnsafe(
    `UPDATE messages m SET deleted_at = $1::timestamptz AT TIME ZONE 'UTC', body = ''
      WHERE m.id = $2::uuid AND m.deleted_at IS NULL
        AND (m.sender_id = $3::uuid OR EXISTS (
              SELECT 1 FROM channels c JOIN group_members g ON g.group_id = c.group_id
               WHERE c.id = m.channel_id AND g.user_id = $3::uuid AND g.role IN ('OWNER', 'ADMIN')))`,
    command.at,
    command.messageId,
    command.actorId,
  );
  return count > 0;
}

interface PayloadRow {
  id: string;
  channel_id: string;
  sender_id: string;
  client_message_id: string;
  seq: number;
  body: string;
  created_at: Date;
  edited_at: Date | null;
  deleted_at: Date | null;
  username: string;
  display_name: string;
  avatar_url: string | null;
  bio: string | null;
  user_created_at: Date;
  last_seen_at: Date | null;
  recipient_ids: string[];
}

const iso = (value: Date | string) => new Date(value).toISOString();

/** Loads what subscribers need about these messages, in one statement. */
async function loadPayloads(
  prisma: PrismaClient,
  ids: string[],
): Promise<Map<string, MessagePayload>> {
  if (ids.length === 0) return new Map();
  const rows = await prisma.$queryRawUnsafe<PayloadRow[]>(
    `SELECT m.id::text, m.channel_id::text, m.sender_id::text, m.client_message_id, m.seq, m.body,
            m.created_at, m.edited_at, m.deleted_at,
            u.username, u.display_name, u.avatar_url, u.bio, u.created_at AS user_created_at, u.last_seen_at,
            COALESCE((SELECT array_agg(r.user_id::text) FROM message_recipients r WHERE r.message_id = m.id), '{}') AS recipient_ids
       FROM messages m JOIN users u ON u.id = m.sender_id
      WHERE m.id = ANY($1::uuid[])`,
    ids,
  );
  return new Map(
    rows.map((row) => [
      row.id,
      {
        id: row.id,
        channelId: row.channel_id,
        senderId: row.sender_id,
        clientMessageId: row.client_message_id,
        seq: Number(row.seq),
        body: row.deleted_at ? "" : row.body,
        createdAt: iso(row.created_at),
        editedAt: row.edited_at ? iso(row.edited_at) : null,
        deletedAt: row.deleted_at ? iso(row.deleted_at) : null,
        sender: toPublicUserPayload({
          id: row.sender_id,
          username: row.username,
          displayName: row.display_name,
          avatarUrl: row.avatar_url,
          bio: row.bio,
          createdAt: new Date(row.user_created_at),
          lastSeenAt: row.last_seen_at ? new Date(row.last_seen_at) : null,
        }),
        recipientIds: row.recipient_ids,
      },
    ]),
  );
}
