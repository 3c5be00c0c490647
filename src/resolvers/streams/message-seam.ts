// Where a messageAdded stream is in each channel it follows, and the seam between what
// it replays from PostgreSQL and what arrives live. A channel's key is bound BEFORE its
// replay starts; live messages are held (bounded) while it replays, then those past the
// replay's end are released, and repeats are dropped by seq: no gap, no duplicate.
//
// The replay is pulled: one page (for all channels still catching up, in one statement)
// is read only when the consumer has taken everything queued, so a resume costs one page
// of memory however much was missed. Held live messages that overflow are dropped: they
// are in PostgreSQL already (events go out after commit), so the replay reads on until
// a read started after the last drop comes back short.
import type { Sql } from "../../db/sql.js";
import type { MessagePayload } from "../../pubsub/events.js";
import {
  type MessagePayloadRow,
  messagePayloadColumns,
  messagePayloadOf,
} from "../../pubsub/message-rows.js";
import { type MessageView, messageFromPayload } from "../messages.js";
import type { EventQueue } from "./event-queue.js";

export interface SeamLimits {
  /** Rows per replay read (default 500). */
  page: number;
  /** Live messages held per channel while it replays (default 1,000). */
  hold: number;
}

export const DEFAULT_SEAM_LIMITS: SeamLimits = { page: 500, hold: 1000 };

type ChannelState =
  /** Following (binding or bound); its start position is not known yet. */
  | { mode: "waiting"; held: MessagePayload[]; overflowed: boolean }
  | { mode: "replaying"; held: MessagePayload[]; overflowed: boolean; position: number }
  | { mode: "live"; position: number };

export class MessageSeam {
  readonly #channels = new Map<string, ChannelState>();

  constructor(
    private readonly queue: Pick<EventQueue<unknown>, "pullFrom">,
    private readonly sql: Sql,
    /** Hands a message on (the stream wraps it); called in seq order per channel. */
    private readonly emit: (message: MessageView) => void,
    /** The shared view of a live payload. */
    private readonly view: (payload: MessagePayload) => MessageView,
    private readonly limits: SeamLimits = DEFAULT_SEAM_LIMITS,
  ) {}

  /** Before binding a channel's key: hold its live messages until `startAt`/`startLive`. */
  expect(channelId: string) {
    if (!this.#channels.has(channelId))
      this.#channels.set(channelId, { mode: "waiting", held: [], overflowed: false });
  }

  /** The key is bound: deliver what comes after `position`, replaying from PostgreSQL first. */
  startAt(channelId: string, position: number) {
    const state = this.#channels.get(channelId);
    if (state?.mode !== "waiting") return;
    this.#channels.set(channelId, { ...state, mode: "replaying", position });
    this.queue.pullFrom(() => this.#replayPage());
  }

  /** The key is bound: deliver whatever arrives from now on (no position to resume from). */
  startLive(channelId: string) {
    const state = this.#channels.get(channelId);
    if (state?.mode !== "waiting") return;
    this.#channels.set(channelId, { mode: "live", position: 0 });
    this.#release(channelId, state.held);
  }

  /** No longer followed. */
  drop(channelId: string) {
    this.#channels.delete(channelId);
  }

  /** Live messages (already authorized for the viewer). */
  live(messages: MessagePayload[]) {
    for (const message of messages) {
      const state = this.#channels.get(message.channelId);
      if (!state) continue;
      if (state.mode === "live") {
        // Repeats (a redelivered command, a retried send) have a seq already delivered.
        if (message.seq <= state.position) continue;
        state.position = message.seq;
        this.emit(this.view(message));
      } else if (state.held.length >= this.limits.hold) {
        state.held = [];
        state.overflowed = true;
      } else state.held.push(message);
    }
  }

  /** Per channel, the seq up to which everything was delivered (channels not started yet are left out). */
  *positions(): Iterable<[string, number]> {
    for (const [channelId, state] of this.#channels)
      if (state.mode !== "waiting") yield [channelId, state.position];
  }

  #release(channelId: string, held: MessagePayload[]) {
    this.live(held.sort((a, b) => a.seq - b.seq).filter((m) => m.channelId === channelId));
  }

  async #replayPage(): Promise<boolean> {
    const replaying = [...this.#channels].flatMap(([channelId, state]) =>
      state.mode === "replaying" ? [{ channelId, state }] : [],
    );
    if (replaying.length === 0) return false;
    // A drop before this read is covered by it.
    for (const { state } of replaying) state.overflowed = false;
    // Plain SQL: after a replica dies, thousands of streams resume on the others at once,
    // each reading a page (through Prisma it cost the api more CPU than the rest of the
    // reconnect, issue 10).
    const rows = (
      await this.sql.query<MessagePayloadRow>(
        `SELECT ${messagePayloadColumns("m", "u")}
           FROM unnest($1::uuid[], $2::int[]) AS p(channel_id, after)
           JOIN messages m ON m.channel_id = p.channel_id AND m.seq > p.after
           JOIN users u ON u.id = m.sender_id
          ORDER BY m.channel_id, m.seq
          LIMIT $3`,
        [
          replaying.map(({ channelId }) => channelId),
          replaying.map(({ state }) => state.position),
          this.limits.page,
        ],
      )
    ).map(messagePayloadOf);
    for (const row of rows) {
      const state = this.#channels.get(row.channelId);
      if (state?.mode !== "replaying" || row.seq <= state.position) continue;
      state.position = row.seq;
      this.emit(messageFromPayload(row));
    }
    // Ordered by channel: a short page finished every channel, a full one those before its last.
    const last = rows.length < this.limits.page ? undefined : rows.at(-1)?.channelId;
    for (const { channelId } of replaying) {
      const state = this.#channels.get(channelId);
      if (state?.mode !== "replaying" || state.overflowed) continue;
      if (last !== undefined && channelId >= last) continue;
      this.#channels.set(channelId, { mode: "live", position: state.position });
      this.#release(channelId, state.held);
    }
    return [...this.#channels.values()].some((state) => state.mode === "replaying");
  }
}
