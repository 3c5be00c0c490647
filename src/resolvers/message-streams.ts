// The live message streams: messageAdded (one channel, resumable with afterSeq; or every
// channel of the viewer, resumable with a cursor), messageUpdated and messageRejected.
// Following, per-event authorization and the replay seam live in streams/.
import type { Context } from "../context.js";
import { badUserInput, notFound } from "../errors.js";
import type { MessagePayload } from "../pubsub/events.js";
import { routingKeys } from "../pubsub/events.js";
import { fromPublicUserPayload, type PublicUserRow } from "../pubsub/public-user.js";
import { requireChannelAccess } from "./access.js";
import { viaBus } from "./bus-errors.js";
import { globalId } from "./global-ids.js";
import { type MessageView, messageFromPayload, visibleMessage } from "./messages.js";
import { EventQueue } from "./streams/event-queue.js";
import {
  type ChannelEvent,
  type FollowHandlers,
  type Following,
  followAllChannels,
  followChannel,
  interrupted,
  tooSlow,
} from "./streams/follow.js";
import { DEFAULT_SEAM_LIMITS, MessageSeam, type SeamLimits } from "./streams/message-seam.js";
import { decodeStreamCursor, encodeStreamCursor } from "./streams/stream-cursor.js";
import { parseId } from "./validation.js";
import { requireViewerId } from "./viewer.js";

/** Most results queued for a slow consumer before its stream ends (it resumes). */
const QUEUE_LIMIT = 10_000;

/**
 * The resolved view of a payload, built once and shared by every local subscriber (with
 * its lookups: see EventLoads). `justCreated`: a new message, SENT without a lookup.
 */
const views = new WeakMap<MessagePayload, MessageView>();
function sharedView(message: MessagePayload, justCreated = true) {
  let view = views.get(message);
  if (!view) {
    view = messageFromPayload(message, justCreated);
    views.set(message, view);
  }
  return view;
}

/** A message as one all-channels stream delivers it: the shared view plus this stream's cursor. */
export type StreamedMessage = MessageView & { cursor?: string };

/** Follows one channel or all; stops following when the stream ends. */
async function follow(
  ctx: Context,
  channelId: string | null,
  queue: Pick<EventQueue<unknown>, "fail" | "closed">,
  handlers: Omit<FollowHandlers, "onFail">,
  stop: { current?: () => Promise<void> },
): Promise<Following> {
  // Listed, not spread: in this V8 an object made by spreading gets a hidden class of its
  // own, a few hundred bytes kept for the stream's life (issue 10). Every member must be
  // listed (the type says so), or a handler added to FollowHandlers would be dropped here.
  const all: { [K in keyof Required<FollowHandlers>]: FollowHandlers[K] } = {
    onEvent: handlers.onEvent,
    willFollow: handlers.willFollow,
    followed: handlers.followed,
    unfollowed: handlers.unfollowed,
    onFail: (error: unknown, how?: { revoked: boolean }) =>
      queue.fail(error, { discardQueued: how?.revoked }),
  };
  const following = channelId
    ? await followChannel(ctx, channelId, all)
    : await followAllChannels(ctx, all);
  stop.current = following.stop;
  if (queue.closed) await following.stop();
  return following;
}

/** A thread stream's channel: the thread's root must be visible and be a root. */
async function threadChannel(ctx: Context, rawThreadId: unknown, channelId: unknown) {
  const rootId = parseId("threadId", rawThreadId, "Thread");
  if (channelId !== null && channelId !== undefined)
    throw badUserInput("threadId", "threadId: give threadId or channelId, not both");
  const root = await visibleMessage(ctx, globalId("Message", rootId), "threadId");
  if (root.threadRootId) throw notFound("Thread", "threadId");
  return { rootId, channelId: globalId("Channel", root.channelId) };
}

export async function messageAdded(
  ctx: Context,
  args: {
    channelId?: unknown;
    afterSeq?: number | null;
    after?: string | null;
    threadId?: unknown;
  },
  limits: SeamLimits = DEFAULT_SEAM_LIMITS,
) {
  const viewerId = requireViewerId(ctx);
  // A thread's stream is its channel's, narrowed to the thread's replies.
  const thread =
    args.threadId !== null && args.threadId !== undefined
      ? await threadChannel(ctx, args.threadId, args.channelId)
      : null;
  if (thread) args = { ...args, channelId: thread.channelId };
  const single = args.channelId !== null && args.channelId !== undefined;
  const hasAfterSeq = args.afterSeq !== null && args.afterSeq !== undefined;
  const hasAfter = args.after !== null && args.after !== undefined;
  if (hasAfterSeq && !single)
    throw badUserInput("afterSeq", "afterSeq: resume one channel at a time (give channelId)");
  if (hasAfter && single)
    throw badUserInput("after", "after: resumes the all-channels stream; use afterSeq");
  if (hasAfterSeq && (!Number.isInteger(args.afterSeq) || (args.afterSeq as number) < 0))
    throw badUserInput("afterSeq", "afterSeq: must be a non-negative integer");
  const cursor = hasAfter ? decodeStreamCursor(String(args.after), "after") : undefined;

  const stop: { current?: () => Promise<void> } = {};
  const queue = new EventQueue<StreamedMessage>(() => stop.current?.(), QUEUE_LIMIT, tooSlow);
  const emit = single
    ? (message: MessageView) => {
        if (!thread || message.threadRootId === thread.rootId) queue.push(message);
      }
    : (message: MessageView) => {
        // Per stream, without copying the shared view: the cursor sits on top of it.
        const streamed: StreamedMessage = Object.create(message);
        streamed.cursor = encodeStreamCursor(seam.positions());
        queue.push(streamed);
      };
  const seam = new MessageSeam(queue, ctx.services.db.sql, emit, sharedView, limits);
  // Who may have an event was checked on its way here (a member now, nothing across a
  // block); members see a channel's whole history, so that is all a live message needs.
  const onEvent = (event: ChannelEvent) => {
    if (event.type === "message.created") seam.live(event.messages);
  };

  if (single) {
    const access = await requireChannelAccess(
      ctx,
      parseId("channelId", args.channelId, "Channel"),
      "channelId",
      "member",
    );
    if (hasAfterSeq && (args.afterSeq as number) > access.lastSeq)
      throw badUserInput("afterSeq", `afterSeq: the channel's last message is ${access.lastSeq}`);
    seam.expect(access.id);
    await follow(ctx, access.id, queue, { onEvent }, stop);
    if (hasAfterSeq) seam.startAt(access.id, args.afterSeq as number);
    else seam.startLive(access.id);
    return queue;
  }

  // Read BEFORE binding: whatever is stored after these positions is replayed.
  const known = new Map(
    (
      await ctx.prisma.channelMember.findMany({
        where: { userId: viewerId },
        select: { channelId: true, joinedSeq: true, channel: { select: { lastSeq: true } } },
      })
    ).map((m) => [m.channelId, { lastSeq: m.channel.lastSeq, joinedSeq: m.joinedSeq }]),
  );
  for (const [channelId, seq] of cursor ?? []) {
    const channel = known.get(channelId);
    if (channel && seq > channel.lastSeq)
      throw badUserInput("after", "after: not a cursor of this stream");
  }
  /** Where to start a channel joined after the cursor (or while following): its join. */
  const startJoined = async (channelId: string, lastSeq: number | undefined) => {
    let from = lastSeq;
    if (from === undefined) {
      const member = await ctx.prisma.channelMember.findUnique({
        where: { channelId_userId: { channelId, userId: viewerId } },
        select: { joinedSeq: true },
      });
      if (!member) return; // left again meanwhile
      from = member.joinedSeq;
    }
    seam.startAt(channelId, from);
  };
  /** Channels joined while the stream was starting: `followed` starts each once it is bound. */
  const joinedMeanwhile = new Set<string>();
  const following = await follow(
    ctx,
    null,
    queue,
    {
      onEvent,
      willFollow: (channelId, joined) => {
        seam.expect(channelId);
        if (joined) joinedMeanwhile.add(channelId);
      },
      followed: (channelId, joined) => {
        if (joined)
          startJoined(channelId, joined.lastSeq).catch((error) =>
            queue.fail(error ?? interrupted()),
          );
      },
      unfollowed: (channelId) => seam.drop(channelId),
    },
    stop,
  );
  try {
    for (const channelId of following.channelIds()) {
      // Not bound yet, perhaps: starting it here would replay before its key is bound.
      if (joinedMeanwhile.has(channelId)) continue;
      // Resuming: where the cursor left each channel, or the join for channels joined since.
      const from = cursor
        ? (cursor.get(channelId) ?? known.get(channelId)?.joinedSeq)
        : known.get(channelId)?.lastSeq;
      if (from !== undefined) seam.startAt(channelId, from);
      else await startJoined(channelId, undefined);
    }
  } catch (error) {
    // The queue never reaches graphql-ws: nothing else would release what `follow` bound.
    await stop.current?.().catch(() => {});
    throw error;
  }
  return queue;
}

/**
 * One kind of change to stored messages, in one channel or in all of the viewer's:
 * `pick` says what an event of a followed channel gives the stream, if anything.
 */
async function changeStream<T>(
  ctx: Context,
  args: { channelId?: unknown },
  pick: (event: ChannelEvent) => T | undefined,
) {
  const stop: { current?: () => Promise<void> } = {};
  const queue = new EventQueue<T>(() => stop.current?.(), QUEUE_LIMIT, tooSlow);
  const channelId =
    args.channelId === null || args.channelId === undefined
      ? null
      : (
          await requireChannelAccess(
            ctx,
            parseId("channelId", args.channelId, "Channel"),
            "channelId",
            "member",
          )
        ).id;
  await follow(
    ctx,
    channelId,
    queue,
    {
      onEvent: (event) => {
        const item = pick(event);
        if (item !== undefined) queue.push(item);
      },
    },
    stop,
  );
  return queue;
}

/** Edits, deletions and pins in one channel or in all of the viewer's. */
export function messageUpdated(ctx: Context, args: { channelId?: unknown }) {
  return changeStream(ctx, args, (event) =>
    event.type === "message.updated" || event.type === "message.deleted"
      ? sharedView(event.message, false)
      : undefined,
  );
}

/** Someone reacted to a message (or took a reaction back): the message with its new tally. */
export interface ReactionChangeView {
  message: MessageView;
  emoji: string;
  user: PublicUserRow;
  added: boolean;
  at: Date;
}

/** One view per reaction event, shared by its local subscribers (as message views are). */
const reactionChanges = new WeakMap<object, ReactionChangeView>();

/** Reactions added and taken back in one channel or in all of the viewer's. */
export function reactionChanged(ctx: Context, args: { channelId?: unknown }) {
  return changeStream(ctx, args, (event): ReactionChangeView | undefined => {
    if (event.type !== "message.reactions") return undefined;
    let change = reactionChanges.get(event);
    if (!change) {
      change = {
        message: sharedView(event.message, false),
        emoji: event.emoji,
        user: fromPublicUserPayload(event.user),
        added: event.added,
        at: new Date(event.at),
      };
      reactionChanges.set(event, change);
    }
    return change;
  });
}

export interface RejectionView {
  messageId: string;
  clientMessageId: string;
  channelId: string;
  reason: string;
  at: Date;
}

/** The viewer's messages that were accepted (PENDING) but refused when persisted. */
export async function messageRejected(ctx: Context) {
  const viewerId = requireViewerId(ctx);
  let stop: (() => Promise<void>) | undefined;
  const queue = new EventQueue<RejectionView>(() => stop?.(), QUEUE_LIMIT, tooSlow);
  stop = await viaBus(() =>
    ctx.services.bus.listen(
      routingKeys.user(viewerId),
      (event) => {
        if (event.type !== "message.rejected") return;
        const { type: _type, at, ...rest } = event;
        queue.push({ ...rest, at: new Date(at) });
      },
      { onInterrupted: () => queue.fail(interrupted()) },
    ),
  );
  return queue;
}
