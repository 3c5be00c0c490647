// The transactional outbox. A batch writes its events in its own transaction; they are
// then published in id order per shard, with the broker's confirm, and deleted. A crash
// or a broker outage between commit and publish loses nothing: the rows stay and the
// next flush of that shard (the next batch, or the sweep for a shard nobody consumes)
// publishes them. Events are therefore delivered at least once; subscribers drop repeats
// (messages by seq).
//
// New messages are kept by reference: a `message.created` row holds its channel and seq
// range, not the messages, since the database has them in the same transaction. The
// event is published from memory as the batch made it; only a flush reads the messages
// back (as they are by then: an edit or a reaction that followed shows in it too, and is
// announced after it). Storing a batch's event whole (100 messages, about 65 KB of JSON,
// parsed into jsonb and compressed into TOAST, then deleted) cost PostgreSQL more than
// inserting the messages themselves: the ingest's costliest statement (issue 10).
import { createHash } from "node:crypto";
import type { Sql, SqlTx } from "../db/sql.js";
import type { Bus } from "../pubsub/bus.js";
import type { BusEvent, MessagePayload } from "../pubsub/events.js";
import { loadMessageRanges, type SeqRange } from "./payloads.js";
import { completeReplies } from "./persist-threads.js";

export interface OutboxEntry {
  routingKey: string;
  event: BusEvent;
}

/** Rows published per round trip of a flush. */
const FLUSH_PAGE = 500;

/** What a batch wrote to the outbox: its events with their row ids, in order. */
export interface OutboxWrite {
  entries: OutboxEntry[];
  ids: string[];
  /**
   * The shard had rows waiting before this write (left by a crash or an outage), besides
   * the ones named as `publishing`.
   */
  olderWaiting: boolean;
}

/**
 * Writes `entries` to the shard's outbox in the batch's transaction. `publishing`: the
 * rows of the shard's previous batch, which the worker is publishing from memory right
 * now and will have published before this batch's (so they are not "waiting").
 */
export async function writeOutbox(
  tx: SqlTx,
  shard: number,
  entries: OutboxEntry[],
  publishing: readonly string[] = [],
): Promise<OutboxWrite> {
  if (entries.length === 0) return { entries, ids: [], olderWaiting: false };
  // The check reads the snapshot from before the insert (a statement's parts do not see
  // each other's writes): what was waiting, not what this batch adds.
  const rows = await tx.query<{ id: string | number; waiting: boolean }>(
    `WITH inserted AS (
       INSERT INTO outbox_events (shard, routing_key, event, created_at)
       SELECT $1, k, e::jsonb, now() AT TIME ZONE 'UTC'
         FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS o(k, e, n) ORDER BY n
       RETURNING id
     )
     SELECT id, EXISTS (SELECT 1 FROM outbox_events WHERE shard = $1 AND id <> ALL($4::bigint[])) AS waiting
       FROM inserted ORDER BY id`,
    [
      shard,
      entries.map((e) => e.routingKey),
      entries.map((e) => JSON.stringify(storedForm(e.event))),
      publishing,
    ],
  );
  return {
    entries,
    ids: rows.map((row) => String(row.id)),
    olderWaiting: rows[0]?.waiting === true,
  };
}

/** A `message.created` event as the outbox keeps it: where its messages are. */
interface StoredCreated {
  type: "message.created";
  channelId: string;
  /** The first and last seq: the event carries every message between them, in seq order. */
  seqs: [number, number];
}

type StoredEvent = BusEvent | StoredCreated;

/** What the outbox stores for `event`: a reference when its messages are one seq range. */
function storedForm(event: BusEvent): StoredEvent {
  if (event.type !== "message.created") return event;
  const first = event.messages[0]?.seq;
  const last = event.messages.at(-1)?.seq;
  // A batch hands a channel's new messages consecutive seqs; anything else is kept whole.
  const consecutive =
    first !== undefined &&
    last !== undefined &&
    event.messages.every((message, i) => message.seq === first + i);
  return consecutive
    ? { type: event.type, channelId: event.channelId, seqs: [first, last] }
    : event;
}

const isReference = (stored: StoredEvent): stored is StoredCreated =>
  stored.type === "message.created" && !("messages" in stored);

/**
 * The events of stored rows, in order: references read back from the messages (the same
 * few statements however many there are). A reference whose messages are all gone (its channel was
 * deleted) announces nothing.
 */
async function eventsOf(tx: SqlTx, stored: StoredEvent[]): Promise<Array<BusEvent | undefined>> {
  const ranges: SeqRange[] = [];
  for (const event of stored)
    if (isReference(event))
      ranges.push({ channelId: event.channelId, first: event.seqs[0], last: event.seqs[1] });
  const loaded = await loadMessageRanges(tx, ranges);
  await completeReplies(tx, loaded.flat());
  let next = 0;
  return stored.map((event) => {
    if (!isReference(event)) return event;
    const messages = loaded[next++] as MessagePayload[];
    return messages.length > 0
      ? { type: "message.created", channelId: event.channelId, messages }
      : undefined;
  });
}

export class Outbox {
  readonly #lockClass: number;

  constructor(
    private readonly sql: Sql,
    private readonly bus: Bus,
    namespace: string,
  ) {
    this.#lockClass = advisoryKey(`${namespace}:outbox`);
  }

  /** The advisory lock that orders a shard's flushes and batches. */
  lockOf(shard: number): [number, number] {
    return [this.#lockClass, shard];
  }

  /**
   * The common case, in two round trips instead of a flush's four: a batch that found
   * nothing waiting in its shard's outbox (but its previous batch's rows, published from
   * memory before it) publishes its own events from memory (they are the shard's oldest
   * then) and deletes their rows. Returns false, having done nothing, when
   * `write` found older events (those must leave first, through flush()) or wrote none. Throws when the
   * broker or the database fails (the rows stay for the next flush). A sweep can publish
   * these rows too only if this takes longer than the sweep's age (2 s), and then before
   * this shard's next batch, which waits for the sweep's lock (`lockOf`) in its BEGIN: a
   * repeat, never a reordering.
   */
  async publishWritten(write: OutboxWrite): Promise<boolean> {
    // Nothing written, nothing counted: whatever may be waiting goes through the flush.
    if (write.olderWaiting || write.entries.length === 0) return false;
    await this.bus.publishEvents(write.entries);
    await this.sql.query("DELETE FROM outbox_events WHERE id = ANY($1::bigint[])", [write.ids]);
    return true;
  }

  /**
   * Publishes every event of `shard` still in the outbox, oldest first, and deletes them.
   * Two flushes of one shard (a batch's and the sweep's) take turns on an advisory lock,
   * so a shard's events leave in commit order. Throws when the broker or the database
   * fails (the rows stay for the next flush).
   */
  async flush(shard: number): Promise<number> {
    let published = 0;
    for (;;) {
      const count = await this.sql.transaction(
        async (tx) => {
          const rows = await tx.query<{ id: string | number; routing_key: string; event: string }>(
            `SELECT id, routing_key, event::text AS event FROM outbox_events
              WHERE shard = $1 ORDER BY id LIMIT ${FLUSH_PAGE}`,
            [shard],
          );
          if (rows.length === 0) return 0;
          const events = await eventsOf(
            tx,
            rows.map((row) => JSON.parse(row.event) as StoredEvent),
          );
          await this.bus.publishEvents(
            rows.flatMap((row, i) => {
              const event = events[i];
              return event ? [{ routingKey: row.routing_key, event }] : [];
            }),
          );
          await tx.execute("DELETE FROM outbox_events WHERE id = ANY($1::bigint[])", [
            rows.map((row) => String(row.id)),
          ]);
          return rows.length;
        },
        // Publishing waits for the broker's confirms (at most its confirm timeout).
        { statementTimeoutMs: 30_000, advisoryLock: this.lockOf(shard) },
      );
      published += count;
      if (count < FLUSH_PAGE) return published;
    }
  }

  /** Events committed and not yet confirmed by the broker, all shards (the metrics' backlog). */
  async backlog(): Promise<number> {
    const [row] = await this.sql.query<{ n: string }>("SELECT count(*) AS n FROM outbox_events");
    return Number(row?.n ?? 0);
  }

  /** Shards with events older than `olderThanMs` (left by a crash or an outage). */
  async staleShards(olderThanMs: number): Promise<number[]> {
    const rows = await this.sql.query<{ shard: number }>(
      `SELECT DISTINCT shard FROM outbox_events
        WHERE created_at < (now() AT TIME ZONE 'UTC') - make_interval(secs => $1::float8 / 1000)`,
      [olderThanMs],
    );
    return rows.map((row) => Number(row.shard));
  }
}

/** A stable positive int4 for an advisory lock key. */
export function advisoryKey(name: string): number {
  return createHash("sha1").update(name).digest().readUInt32BE(0) & 0x7fffffff;
}
