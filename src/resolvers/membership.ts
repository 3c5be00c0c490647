// Every change of who is in which group or channel goes through `changeMembership`:
// it runs the change in one transaction and then announces what changed. Live
// subscriptions (which channels a socket follows) and membership caches hook in here,
// so there is exactly one place where membership can change.
import type { Context } from "../context.js";
import type { Prisma } from "../db/generated/prisma/client.js";
import { type MembershipEvent, membershipRoutingKeys } from "../pubsub/events.js";

export type Tx = Prisma.TransactionClient;

/**
 * Runs `change` in a transaction; `change` returns its result and the events it caused.
 * Events are announced only after commit, so nobody hears of a change that rolled back.
 */
export async function changeMembership<T>(
  ctx: Context,
  change: (tx: Tx, events: MembershipEvent[]) => Promise<T>,
): Promise<T> {
  const events: MembershipEvent[] = [];
  const result = await ctx.prisma.$transaction((tx) => change(tx, events));
  ctx.memo.clear();
  for (const event of events) {
    if (event.type === "channel.joined" || event.type === "channel.left") {
      ctx.services.membershipCache.forget(event.channelId, event.userIds);
    }
    // This process's live streams learn at once, even if the bus loses the event.
    ctx.services.accessWatch.applyMembership(event);
  }
  try {
    await ctx.services.bus.publishEvents(
      events.flatMap((event) =>
        membershipRoutingKeys(event).map((routingKey) => ({ routingKey, event })),
      ),
    );
  } catch (error) {
    // The change is committed; live subscriptions catch up when clients resubscribe.
    ctx.services.logger.warn({ err: error }, "membership events not published");
  }
  return result;
}

/**
 * Serializes changes to one group's membership (and its channels'): without it, two owners
 * demoting each other could leave none, or a user removed from the group could be added
 * to one of its channels at the same moment.
 */
export async function lockGroup(tx: Tx, groupId: string) {
  await tx.$queryRawUnsafe("SELECT id FROM groups WHERE id = $1::uuid FOR UPDATE", groupId);
}

/** Adds users to a channel; returns the ones that were not members yet. */
export async function addToChannel(
  tx: Tx,
  events: MembershipEvent[],
  channelId: string,
  userIds: string[],
) {
  // Joining is not a backlog: a newcomer's unread count starts at zero (history is still
  // there to read). The channel row is locked, as the worker locks it to hand out seqs: a
  // batch in flight either commits first (its messages are before the join, and not for
  // the newcomer) or runs after (they are for the newcomer), never half of each.
  const [channel] = await tx.$queryRawUnsafe<Array<{ last_seq: number }>>(
    "SELECT last_seq FROM channels WHERE id = $1::uuid FOR UPDATE",
    channelId,
  );
  if (!channel) throw new Error(`channel ${channelId} does not exist`);
  const lastSeq = Number(channel.last_seq);
  const added = await tx.channelMember.createManyAndReturn({
    data: userIds.map((userId) => ({
      channelId,
      userId,
      lastReadSeq: lastSeq,
      lastDeliveredSeq: lastSeq,
      joinedSeq: lastSeq,
    })),
    skipDuplicates: true,
    select: { userId: true },
  });
  const ids = added.map((row) => row.userId);
  if (ids.length > 0) events.push({ type: "channel.joined", channelId, userIds: ids, lastSeq });
  return ids;
}

/** Removes users from the given channels, announcing each channel that lost someone. */
export async function removeFromChannels(
  tx: Tx,
  events: MembershipEvent[],
  where: Prisma.ChannelMemberWhereInput,
) {
  const rows = await tx.channelMember.findMany({
    where,
    select: { channelId: true, userId: true },
  });
  if (rows.length === 0) return;
  await tx.channelMember.deleteMany({ where });
  const byChannel = new Map<string, string[]>();
  for (const row of rows)
    byChannel.set(row.channelId, [...(byChannel.get(row.channelId) ?? []), row.userId]);
  for (const [channelId, userIds] of byChannel)
    events.push({ type: "channel.left", channelId, userIds });
}
