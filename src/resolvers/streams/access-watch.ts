// What live streams may deliver, known in memory so the per-event check is a Set lookup
// (fan-out to thousands of sockets must not query per event). One per process: it keeps
// the (channel, user) memberships, the blocks across direct channels and the presence
// visibility that its live streams need. Every ACCESS_REFRESH_MS it asks PostgreSQL what
// changed since it last asked (access_changes, appended by triggers on channel_members and
// contacts: a change written from anywhere is seen; each poll reads the changes of the
// transactions the previous one could not see, see readAccessChanges) and
// re-reads only the streams' state that depends on them, in one statement; everything is
// re-read every FULL_REREAD_MS as a backstop. (It re-read
// everything twice a second: with 10,000 sockets on a replica that cost more PostgreSQL
// CPU than the fan-out itself, issue 10.) Membership events (from this process or the
// bus) act at once; the polling bounds the damage of a lost one: state is never older
// than ACCESS_MAX_STALENESS_MS, and streams hold their events while it is (isFresh()).
import type { Sql } from "../../db/sql.js";
import type { MembershipEvent } from "../../pubsub/events.js";
import {
  type AccessInterest,
  AccessState,
  type ChangesPosition,
  isAffected,
  pairKey,
  readAccess,
  readAccessChanges,
  seeKey,
} from "./access-state.js";

export type { AccessInterest } from "./access-state.js";

/** Longest a live stream acts on membership and blocks without having re-read them. */
export const ACCESS_MAX_STALENESS_MS = 2000;
/** How often the watched state is re-read: well inside the bound, so one slow read does not breach it. */
export const ACCESS_REFRESH_MS = 500;
/** A stream whose access could not be re-read for this long ends (SERVICE_UNAVAILABLE). */
export const ACCESS_GIVE_UP_MS = 10_000;
/** Everything is re-read this often anyway (a backstop; the changes are read every refresh). */
const FULL_REREAD_MS = 60_000;
/** More new changes than this in one poll: re-read everything instead, once. */
export const CHANGES_LIMIT = 5_000;

/** The #covered key of a user's all-channels interests (a pair key starts with a channel's uuid instead). */
const userCoverKey = (userId: string) => `user:${userId}`;

export interface AccessWatchOptions {
  /** Re-read interval (default ACCESS_REFRESH_MS). */
  refreshMs?: number;
  log?: (message: string, error?: unknown) => void;
}

export class AccessWatch {
  #state = new AccessState();
  readonly #interests = new Set<AccessInterest>();
  /** Interests registered while a full refresh was reading (it did not cover them). */
  #lateInterests = new Set<AccessInterest>();
  /** Membership changes applied from events, newer than some read in flight. */
  readonly #touched = new Map<string, { seq: number; member: boolean }>();
  #eventSeq = 0;
  #loadsInFlight = 0;
  #refreshedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #again = false;
  #failing = false;
  #freshWaiters: Array<() => void> = [];
  #pendingLoad: Array<{ interest: AccessInterest; done: (error?: unknown) => void }> = [];
  /**
   * Where the last successful poll stood: the next reads what it could not see (undefined
   * until the first, which re-reads everything).
   */
  #position: ChangesPosition | undefined;
  /** Polls of the changes started so far. */
  #polls = 0;
  /**
   * Interests whose first read overlapped a poll: that poll may have moved the position
   * past a change the read predates, so the next refresh re-reads them whatever it finds.
   */
  readonly #recheck = new Set<AccessInterest>();
  /**
   * Registered interests that keep a membership up to date, counted: by pair (single-channel
   * interests) and by user (all-channels interests cover every pair of their user).
   */
  readonly #covered = new Map<string, number>();
  #fullReadAt = 0;
  #stopped = false;
  readonly #refreshMs: number;

  constructor(
    private readonly sql: Sql,
    private readonly options: AccessWatchOptions = {},
  ) {
    this.#refreshMs = options.refreshMs ?? ACCESS_REFRESH_MS;
  }

  // --- per-event checks: synchronous, no I/O ---

  isMember(channelId: string, userId: string) {
    return this.#state.members.has(pairKey(channelId, userId));
  }

  /** `userId` is in direct channel `channelId` with a block between them and the other member. */
  blockedIn(channelId: string, userId: string) {
    return this.#state.blocked.has(pairKey(channelId, userId));
  }

  canSeePresence(viewerId: string, subjectId: string) {
    return this.#state.visible.has(seeKey(viewerId, subjectId));
  }

  /** The channels of a user with a registered all-channels interest. */
  channelsOf(userId: string): string[] {
    return [...(this.#state.channelsOf.get(userId) ?? [])];
  }

  /** The state was read within ACCESS_MAX_STALENESS_MS: events may be checked against it. */
  isFresh() {
    return this.#interests.size === 0 || Date.now() - this.#refreshedAt <= ACCESS_MAX_STALENESS_MS;
  }

  /** Resolves once the state is fresh; rejects when it cannot be re-read for ACCESS_GIVE_UP_MS. */
  whenFresh(): Promise<void> {
    if (this.isFresh()) return Promise.resolve();
    this.refreshSoon();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#freshWaiters = this.#freshWaiters.filter((waiter) => waiter !== done);
        reject(new Error("access state could not be refreshed"));
      }, ACCESS_GIVE_UP_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#freshWaiters.push(done);
    });
  }

  // --- registration ---

  /**
   * Registers what a stream needs and loads it (registrations arriving together share one
   * read). Resolves to the function that unregisters it.
   */
  async watch(interest: AccessInterest): Promise<() => void> {
    if (this.#stopped) throw new Error("access watch stopped");
    await new Promise<void>((resolve, reject) => {
      this.#pendingLoad.push({ interest, done: (error) => (error ? reject(error) : resolve()) });
      if (this.#pendingLoad.length === 1) setImmediate(() => void this.#loadPending());
    });
    return () => this.#unwatch(interest);
  }

  /** What `interest` keeps up to date: its pair, or its user's every pair. */
  static #coverKey(interest: AccessInterest) {
    if (interest.kind === "member") return pairKey(interest.channelId, interest.userId);
    return interest.kind === "channels" ? userCoverKey(interest.userId) : undefined;
  }

  #isCovered(channelId: string, userId: string) {
    return this.#covered.has(pairKey(channelId, userId)) || this.#covered.has(userCoverKey(userId));
  }

  #register(interest: AccessInterest) {
    if (this.#interests.has(interest)) return;
    this.#interests.add(interest);
    const key = AccessWatch.#coverKey(interest);
    if (key !== undefined) this.#covered.set(key, (this.#covered.get(key) ?? 0) + 1);
  }

  #unwatch(interest: AccessInterest) {
    const key = AccessWatch.#coverKey(interest);
    if (this.#interests.delete(interest) && key !== undefined) {
      const left = (this.#covered.get(key) ?? 1) - 1;
      if (left > 0) this.#covered.set(key, left);
      else this.#covered.delete(key);
    }
    this.#lateInterests.delete(interest);
    this.#recheck.delete(interest);
  }

  /**
   * Registers a single-channel member interest whose membership the caller has just read
   * (the channel check every subscribe makes), without a read of its own: connecting
   * sockets paid one for every few of them, three round trips each, the largest part of
   * PostgreSQL's work while thousands connected (issue 10). The next refresh re-reads the
   * pair whatever it finds, as it does a load that overlapped a poll, so a change the check
   * missed is acted on within a poll. A pair another interest already watches keeps the
   * state it has (as new as the check or newer).
   *
   * It loads as `watch` does instead for a direct channel (its blocks are not in the check),
   * a non-member, a check older than the state's last refresh (isFresh() must stay true of
   * what it holds), a state nothing else keeps fresh, and a pair whose last membership
   * event said it left (the event may be older or newer than the check; a load replays
   * only the events newer than its own read).
   */
  async watchChecked(
    interest: Extract<AccessInterest, { kind: "member" }>,
    checked: { kind: "DIRECT" | "GROUP"; isMember: boolean; readAt: number },
  ): Promise<() => void> {
    const key = pairKey(interest.channelId, interest.userId);
    if (
      this.#stopped ||
      checked.kind !== "GROUP" ||
      !checked.isMember ||
      this.#interests.size === 0 ||
      this.#failing ||
      !this.isFresh() ||
      checked.readAt < this.#refreshedAt ||
      this.#touched.get(key)?.member === false
    )
      return this.watch(interest);
    // A pair another interest watches is as new as the state: the check does not overwrite it.
    if (!this.#isCovered(interest.channelId, interest.userId))
      this.#state.setMember(interest.channelId, interest.userId, true);
    this.#register(interest);
    if (this.#refreshing) this.#lateInterests.add(interest);
    this.#recheck.add(interest);
    this.#schedule();
    return () => this.#unwatch(interest);
  }

  async #loadPending() {
    const batch = this.#pendingLoad.splice(0);
    const interests = batch.map((entry) => entry.interest);
    const startSeq = this.#eventSeq;
    const startedAt = Date.now();
    const pollsBefore = this.#polls;
    const pollRunning = this.#refreshing !== undefined;
    this.#loadsInFlight++;
    try {
      const rows = await readAccess(this.sql, interests);
      this.#state.load(interests, rows);
      if (pollRunning || this.#polls !== pollsBefore)
        for (const interest of interests) this.#recheck.add(interest);
      this.#replayTouched(this.#state, startSeq);
      // With nothing watched before, these reads are the whole state.
      if (this.#interests.size === 0) this.#refreshedAt = Math.max(this.#refreshedAt, startedAt);
      for (const interest of interests) {
        this.#register(interest);
        if (this.#refreshing) this.#lateInterests.add(interest);
      }
      for (const entry of batch) entry.done();
      this.#schedule();
    } catch (error) {
      for (const entry of batch) entry.done(error);
    } finally {
      this.#loadsInFlight--;
    }
  }

  // --- changes ---

  /** A membership change (this process made it, or the bus announced it): acts at once. */
  applyMembership(event: MembershipEvent) {
    if (event.type !== "channel.joined" && event.type !== "channel.left") return;
    if (this.#interests.size === 0 && this.#loadsInFlight === 0) return;
    const member = event.type === "channel.joined";
    const lost: AccessInterest[] = [];
    const changed: AccessInterest[] = [];
    for (const userId of event.userIds) {
      const key = pairKey(event.channelId, userId);
      const before = this.#state.members.has(key);
      this.#touched.set(key, { seq: ++this.#eventSeq, member });
      const known = this.#state.channelsOf.get(userId);
      if (before === member && (!known || known.has(event.channelId) === member)) continue;
      this.#state.setMember(event.channelId, userId, member);
      for (const interest of this.#interests) {
        if (interest.kind === "channels" && interest.userId === userId) changed.push(interest);
        if (
          !member &&
          interest.kind === "member" &&
          interest.userId === userId &&
          interest.channelId === event.channelId
        )
          lost.push(interest);
      }
    }
    const joinedAt = "lastSeq" in event ? event.lastSeq : undefined;
    for (const interest of changed) {
      if (interest.kind !== "channels") continue;
      if (member) interest.onChange([{ channelId: event.channelId, lastSeq: joinedAt }], []);
      else interest.onChange([], [event.channelId]);
    }
    for (const interest of lost) if (interest.kind === "member") interest.onLost();
  }

  /** Re-reads now (a block changed in this process, or a stream is waiting for freshness). */
  refreshSoon() {
    if (this.#stopped || this.#interests.size === 0) return;
    if (this.#refreshing) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    void this.#refresh();
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#interests.clear();
    this.#covered.clear();
  }

  #schedule() {
    if (this.#stopped || this.#timer || this.#refreshing || this.#interests.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#refresh();
    }, this.#refreshMs);
  }

  #refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      const snapshot = [...this.#interests];
      this.#lateInterests = new Set();
      const startSeq = this.#eventSeq;
      const startedAt = Date.now();
      this.#polls++;
      // Re-read by this refresh if it has them in its snapshot (else by the next one).
      const recheck = snapshot.filter((interest) => this.#recheck.has(interest));
      for (const interest of recheck) this.#recheck.delete(interest);
      try {
        // The changes first: whatever the re-read then finds is at least as new as them.
        // A full re-read due anyway needs no changes, only the position it will stand at
        // (and a poll that failed is not retried as it was).
        const due =
          this.#failing ||
          this.#position === undefined ||
          startedAt - this.#fullReadAt >= FULL_REREAD_MS;
        const { position, changes } = await readAccessChanges(
          this.sql,
          due ? undefined : this.#position,
          CHANGES_LIMIT,
        );
        // Transaction ids behind the last poll's: the database went back in time (restored
        // from a backup), and the previous position tells nothing.
        const rewound = this.#position !== undefined && position.xmax < this.#position.xmax;
        const full = due || rewound || changes.length >= CHANGES_LIMIT;
        if (full) await this.#rereadAll(snapshot, startSeq);
        else {
          const channels = new Set(changes.flatMap((c) => (c.channelId ? [c.channelId] : [])));
          const users = new Set(changes.map((c) => c.userId));
          const affected = [
            ...new Set([
              ...recheck,
              ...snapshot.filter((interest) => isAffected(interest, channels, users)),
            ]),
          ];
          if (affected.length > 0) await this.#reread(affected, startSeq);
        }
        if (full) this.#fullReadAt = startedAt;
        this.#position = position;
        this.#refreshedAt = startedAt;
        if (this.#failing) this.options.log?.("access state re-read again");
        this.#failing = false;
        for (const waiter of this.#freshWaiters.splice(0)) waiter();
      } catch (error) {
        for (const interest of recheck) this.#recheck.add(interest);
        if (!this.#failing) this.options.log?.("access state re-read failed", error);
        this.#failing = true;
      } finally {
        this.#refreshing = undefined;
        // Asked for again meanwhile: at once, unless reads are failing (then at the pace
        // of the schedule, not in a tight loop against a database that is down).
        if (this.#again && !this.#failing) {
          this.#again = false;
          this.refreshSoon();
        } else this.#schedule();
      }
    })();
    return this.#refreshing;
  }

  /** Replaces the whole state with a fresh read of every interest. */
  async #rereadAll(snapshot: AccessInterest[], startSeq: number) {
    const rows = await readAccess(this.sql, snapshot);
    const next = new AccessState();
    next.load(snapshot, rows);
    for (const interest of this.#lateInterests) next.copy(this.#state, interest);
    this.#replayTouched(next, startSeq);
    for (const [key, change] of this.#touched)
      if (change.seq <= startSeq) this.#touched.delete(key);
    const previous = this.#state;
    this.#state = next;
    this.#notifyChanges(previous, next, snapshot);
  }

  /** Re-reads what `affected` covers, in place. */
  async #reread(affected: AccessInterest[], startSeq: number) {
    const rows = await readAccess(this.sql, affected);
    const previous = new AccessState();
    for (const interest of affected) previous.copy(this.#state, interest);
    this.#state.load(affected, rows);
    this.#replayTouched(this.#state, startSeq);
    this.#notifyChanges(previous, this.#state, affected);
  }

  /** Membership events newer than a read win over it (the read may predate them). */
  #replayTouched(state: AccessState, startSeq: number) {
    for (const [key, change] of this.#touched) {
      if (change.seq <= startSeq) continue;
      const [channelId, userId] = key.split(":") as [string, string];
      state.setMember(channelId, userId, change.member);
    }
  }

  /** Tells streams what a re-read found that no event said (a lost membership event). */
  #notifyChanges(previous: AccessState, next: AccessState, snapshot: AccessInterest[]) {
    for (const interest of snapshot) {
      if (!this.#interests.has(interest)) continue;
      if (interest.kind === "member") {
        const key = pairKey(interest.channelId, interest.userId);
        if (previous.members.has(key) && !next.members.has(key)) interest.onLost();
      } else if (interest.kind === "presence") {
        const key = seeKey(interest.viewerId, interest.subjectId);
        if (previous.visible.has(key) && !next.visible.has(key)) interest.onHidden?.();
      } else if (interest.kind === "channels") {
        const before = previous.channelsOf.get(interest.userId) ?? new Set<string>();
        const after = next.channelsOf.get(interest.userId) ?? new Set<string>();
        const joined = [...after].filter((id) => !before.has(id));
        const left = [...before].filter((id) => !after.has(id));
        if (joined.length > 0 || left.length > 0)
          interest.onChange(
            joined.map((channelId) => ({ channelId })),
            left,
          );
      }
    }
  }
}
