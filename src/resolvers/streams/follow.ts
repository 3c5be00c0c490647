// Following channels for live streams: one channel, or every channel of the viewer
// (including ones joined while following). Channel keys are bound once per process
// however many sockets follow them (the bus refcounts). Every event is checked when it
// is delivered against the process's AccessWatch (a Set lookup, no I/O): the viewer is
// still a member, and nothing crosses a block in a direct channel. While that state is
// older than its bound, events wait (in order, bounded) for the next re-read.
import type { Context } from "../../context.js";
import { forbidden, serviceUnavailable } from "../../errors.js";
import type { BusEvent, MembershipEvent } from "../../pubsub/events.js";
import { routingKeys } from "../../pubsub/events.js";
import { viewerChannelAccess } from "../access.js";
import { viaBus } from "../bus-errors.js";
import { requireViewerId } from "../viewer.js";
import type { AccessWatch } from "./access-watch.js";

/** Most events a stream holds while its access state is being re-read. */
const GATE_LIMIT = 10_000;

/** What a channel's key carries besides membership changes. */
export type ChannelEvent = Extract<
  BusEvent,
  {
    type:
      | "message.created"
      | "message.updated"
      | "message.deleted"
      | "message.reactions"
      | "receipts.updated"
      | "typing";
  }
>;

const CHANNEL_EVENT_TYPES = new Set<string>([
  "message.created",
  "message.updated",
  "message.deleted",
  "message.reactions",
  "receipts.updated",
  "typing",
]);

/** User keys carry other events too (membership, rejections): streams take only these. */
function isChannelEvent(event: BusEvent): event is ChannelEvent {
  return CHANNEL_EVENT_TYPES.has(event.type);
}

function isMembershipEvent(event: BusEvent): event is MembershipEvent {
  return (
    event.type === "channel.joined" ||
    event.type === "channel.left" ||
    event.type === "group.joined" ||
    event.type === "group.left" ||
    event.type === "group.roleChanged"
  );
}

export function tooSlow() {
  return serviceUnavailable(
    "Subscriber fell too far behind; resubscribe with afterSeq (or after: the last cursor) to resume.",
  );
}

export function interrupted() {
  return serviceUnavailable(
    "Live events were interrupted; resubscribe with afterSeq (or after: the last cursor) to resume.",
  );
}

export function noLongerMember() {
  return forbidden("You are no longer a member of this channel.");
}

/**
 * Delivers events in order once the access state is fresh, each only if `allowed` (which
 * may also trim it); holds them meanwhile (bounded), and fails when the state cannot be
 * re-read.
 */
export class AuthorizedGate<E> {
  readonly #pending: E[] = [];

  constructor(
    private readonly watch: AccessWatch,
    private readonly allowed: (event: E) => E | null,
    private readonly deliver: (event: E) => void,
    private readonly fail: (error: unknown) => void,
  ) {}

  offer(event: E) {
    if (this.#pending.length === 0 && this.watch.isFresh()) {
      const passed = this.allowed(event);
      if (passed) this.deliver(passed);
      return;
    }
    if (this.#pending.length >= GATE_LIMIT) return this.fail(tooSlow());
    this.#pending.push(event);
    if (this.#pending.length > 1) return;
    this.watch.whenFresh().then(
      () => {
        for (const held of this.#pending.splice(0)) {
          const passed = this.allowed(held);
          if (passed) this.deliver(passed);
        }
      },
      () =>
        this.fail(
          serviceUnavailable("Access to live events cannot be checked now; resubscribe shortly."),
        ),
    );
  }
}

/**
 * The part of `event` that `viewerId` may receive in `channelId`: nothing if they are no
 * longer a member; in a direct channel with a block, nothing the other person did.
 */
export function channelEventFor(
  watch: AccessWatch,
  viewerId: string,
  event: ChannelEvent,
): ChannelEvent | null {
  if (!watch.isMember(event.channelId, viewerId)) return null;
  if (!watch.blockedIn(event.channelId, viewerId)) return event;
  const mine = (actorId: string) => actorId === viewerId;
  switch (event.type) {
    case "message.created": {
      const messages = event.messages.filter((m) => mine(m.senderId));
      return messages.length > 0 ? { ...event, messages } : null;
    }
    case "receipts.updated": {
      const receipts = event.receipts.filter((r) => mine(r.user.id));
      return receipts.length > 0 ? { ...event, receipts } : null;
    }
    case "typing":
    case "message.reactions":
      return mine(event.user.id) ? event : null;
    default:
      return mine(event.message.senderId) ? event : null;
  }
}

export interface FollowHandlers {
  /** An event of a followed channel that the viewer may receive. */
  onEvent(event: ChannelEvent): void;
  /** Ends the stream: FORBIDDEN (single channel left), or events may have been missed. */
  onFail(error: unknown, options?: { revoked: boolean }): void;
  /** All channels: about to follow a channel (before its key is bound); `joined` for one joined meanwhile. */
  willFollow?(channelId: string, joined: { lastSeq?: number } | null): void;
  /** All channels: the channel's key is bound (events of it now arrive). */
  followed?(channelId: string, joined: { lastSeq?: number } | null): void;
  /** All channels: the viewer left the channel; nothing more of it arrives. */
  unfollowed?(channelId: string): void;
}

export interface Following {
  /** Channels followed now. */
  channelIds(): string[];
  stop(): Promise<void>;
}

/**
 * Follows one channel the caller has checked the viewer is a member of; with `viewerKey`,
 * also this channel's events sent to the viewer alone (receipts).
 */
export async function followChannel(
  ctx: Context,
  channelId: string,
  handlers: FollowHandlers,
  options: { viewerKey?: boolean } = {},
): Promise<Following> {
  const viewerId = requireViewerId(ctx);
  const watch = ctx.services.accessWatch;
  let ended = false;
  const fail = (error: unknown) => {
    ended = true;
    handlers.onFail(error);
  };
  /** No longer a member: nothing more, not even what is queued for a slow reader. */
  const revoke = () => {
    ended = true;
    handlers.onFail(noLongerMember(), { revoked: true });
  };
  const gate = new AuthorizedGate<ChannelEvent>(
    watch,
    (event) => (ended ? null : channelEventFor(watch, viewerId, event)),
    handlers.onEvent,
    fail,
  );
  // The caller's check of the channel (memoized in the context: no second read) is what
  // the access state starts from, where it can (AccessWatch.watchChecked).
  const checked = await viewerChannelAccess(ctx, channelId);
  const interest = { kind: "member" as const, channelId, userId: viewerId, onLost: revoke };
  const unwatch = checked
    ? await watch.watchChecked(interest, checked)
    : await watch.watch(interest);
  const onEvent = (event: BusEvent) => {
    if (isMembershipEvent(event)) watch.applyMembership(event);
    else if (!ended && isChannelEvent(event) && event.channelId === channelId) gate.offer(event);
  };
  const keys = [routingKeys.channel(channelId)];
  if (options.viewerKey) keys.push(routingKeys.user(viewerId));
  const stops: Array<() => Promise<void>> = [];
  const unlisten = () => Promise.all(stops.map((stop) => stop())).then(() => {});
  try {
    for (const key of keys)
      stops.push(
        await viaBus(() =>
          ctx.services.bus.listen(key, onEvent, { onInterrupted: () => fail(interrupted()) }),
        ),
      );
  } catch (error) {
    unwatch();
    await unlisten().catch(() => {});
    throw error;
  }
  // The membership may have gone while binding.
  if (!watch.isMember(channelId, viewerId)) revoke();
  return {
    channelIds: () => [channelId],
    stop: once(async () => {
      ended = true;
      unwatch();
      await unlisten();
    }),
  };
}

/** Follows every channel of the viewer, joining and leaving as their membership changes. */
export async function followAllChannels(
  ctx: Context,
  handlers: FollowHandlers,
): Promise<Following> {
  const viewerId = requireViewerId(ctx);
  const watch = ctx.services.accessWatch;
  const bus = ctx.services.bus;
  let ended = false;
  const fail = (error: unknown) => {
    ended = true;
    handlers.onFail(error);
  };
  const gate = new AuthorizedGate<ChannelEvent>(
    watch,
    (event) =>
      ended || !followed.has(event.channelId) ? null : channelEventFor(watch, viewerId, event),
    handlers.onEvent,
    fail,
  );
  const followed = new Map<string, Promise<() => Promise<void>>>();
  const onMembership = (event: BusEvent) => {
    if (isMembershipEvent(event)) watch.applyMembership(event);
    else if (!ended && isChannelEvent(event)) gate.offer(event);
  };
  const follow = (channelId: string, joined: { lastSeq?: number } | null) => {
    if (ended || followed.has(channelId)) return followed.get(channelId);
    handlers.willFollow?.(channelId, joined);
    const unlisten = viaBus(() =>
      bus.listen(routingKeys.channel(channelId), onMembership, {
        onInterrupted: () => fail(interrupted()),
      }),
    );
    followed.set(channelId, unlisten);
    unlisten.then(
      () => {
        if (followed.get(channelId) === unlisten) handlers.followed?.(channelId, joined);
      },
      // A failed bind means missed events: end the stream so the client resumes.
      (error) => fail(error),
    );
    return unlisten;
  };
  const unfollow = (channelId: string) => {
    const unlisten = followed.get(channelId);
    if (!unlisten) return;
    followed.delete(channelId);
    handlers.unfollowed?.(channelId);
    void unlisten
      .then((stop) => stop())
      .catch((error) => ctx.services.logger.warn({ err: error }, "unfollowing a channel failed"));
  };
  const stopAll = async () => {
    const all = [...followed.values()];
    followed.clear();
    await Promise.all(all.map((unlisten) => unlisten.then((stop) => stop()).catch(() => {})));
  };

  let unwatch: (() => void) | undefined;
  let stopUser: (() => Promise<void>) | undefined;
  try {
    stopUser = await viaBus(() =>
      bus.listen(routingKeys.user(viewerId), onMembership, {
        onInterrupted: () => fail(interrupted()),
      }),
    );
    unwatch = await watch.watch({
      kind: "channels",
      userId: viewerId,
      onChange: (joined, left) => {
        for (const channelId of left) unfollow(channelId);
        for (const { channelId, lastSeq } of joined) void follow(channelId, { lastSeq });
      },
    });
    await Promise.all(watch.channelsOf(viewerId).map((channelId) => follow(channelId, null)));
  } catch (error) {
    ended = true;
    unwatch?.();
    await stopUser?.().catch(() => {});
    await stopAll();
    throw error;
  }
  return {
    channelIds: () => [...followed.keys()],
    stop: once(async () => {
      ended = true;
      unwatch?.();
      await stopUser?.();
      await stopAll();
    }),
  };
}

/**
 * Stopping twice (a stream that failed while it was being set up is stopped there, and
 * again when its reader takes the error) must release each binding once: a second
 * release could take away another stream's.
 */
function once(stop: () => Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= stop();
    return stopping;
  };
}
