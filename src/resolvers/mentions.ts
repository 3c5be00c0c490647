// Mentions as the viewer sees them: messages that name them (message_mentions, written by
// the worker: worker/persist-mentions.ts) or everyone (@channel, @here: the computed
// messages.mentions_channel) sent by someone else, not deleted, in channels they are in.
// Unread ones are those after the viewer's read position: seq arithmetic, one statement
// per batch of channels.
import type { Context } from "../context.js";
import type { PrismaClient } from "../db/database.js";
import type { Prisma } from "../db/generated/prisma/client.js";
import { requireViewerId } from "./viewer.js";

/** Per key "channelId:readSeq": the viewer's mentions in that channel after readSeq. */
export async function unreadMentionCounts(
  prisma: PrismaClient,
  viewerId: string,
  keys: readonly string[],
): Promise<number[]> {
  const asked = keys.map((key) => {
    const [channelId = "", readSeq = "0"] = key.split(":");
    return { channelId, readSeq: Number(readSeq) };
  });
  const rows = await prisma.$queryRawUnsafe<Array<{ n: number; count: number }>>(
    `SELECT a.n::int AS n,
            ((SELECT count(*) FROM message_mentions mm
                JOIN messages m ON m.id = mm.message_id AND m.deleted_at IS NULL
               WHERE mm.user_id = $1::uuid AND mm.channel_id = a.channel_id AND mm.seq > a.read_seq)
           + (SELECT count(*) FROM messages m
               WHERE m.channel_id = a.channel_id AND m.seq > a.read_seq AND m.mentions_channel
                 AND m.sender_id <> $1::uuid AND m.deleted_at IS NULL))::int AS count
       FROM unnest($2::uuid[], $3::int[]) WITH ORDINALITY AS a(channel_id, read_seq, n)`,
    viewerId,
    asked.map((a) => a.channelId),
    asked.map((a) => a.readSeq),
  );
  const byIndex = new Map(rows.map((row) => [Number(row.n) - 1, Number(row.count)]));
  return asked.map((_, i) => byIndex.get(i) ?? 0);
}

/** Per message id: whether it mentions the viewer. */
export async function messagesMentioning(
  prisma: PrismaClient,
  viewerId: string,
  ids: readonly string[],
): Promise<boolean[]> {
  const rows = await prisma.$queryRawUnsafe<Array<{ id: string }>>(
    `SELECT m.id::text FROM messages m
      WHERE m.id = ANY($2::uuid[])
        AND ((m.mentions_channel AND m.sender_id <> $1::uuid)
             OR EXISTS (SELECT 1 FROM message_mentions mm
                         WHERE mm.message_id = m.id AND mm.user_id = $1::uuid))`,
    viewerId,
    [...ids],
  );
  const found = new Set(rows.map((row) => row.id));
  return ids.map((id) => found.has(id));
}

/** Per message id: the members it names (in the order they were recorded) and @channel/@here. */
export async function mentionsOfMessages(
  prisma: PrismaClient,
  ids: readonly string[],
): Promise<Array<{ userIds: string[]; everyone: boolean }>> {
  const rows = await prisma.$queryRawUnsafe<
    Array<{ id: string; everyone: boolean; user_ids: string[] | null }>
  >(
    `SELECT m.id::text, m.mentions_channel AS everyone,
            array(SELECT mm.user_id::text FROM message_mentions mm
                   WHERE mm.message_id = m.id ORDER BY mm.user_id) AS user_ids
       FROM messages m WHERE m.id = ANY($1::uuid[])`,
    [...ids],
  );
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => {
    const row = byId.get(id);
    return { userIds: row?.user_ids ?? [], everyone: row?.everyone ?? false };
  });
}

/** The viewer's mentions, for the mentions() connection. */
export function viewerMentionsFilter(ctx: Context): Prisma.MessageWhereInput {
  const viewerId = requireViewerId(ctx);
  return {
    deletedAt: null,
    channel: { members: { some: { userId: viewerId } } },
    OR: [
      { mentions: { some: { userId: viewerId } } },
      { mentionsChannel: true, senderId: { not: viewerId } },
    ],
  };
}
