// The state behind AccessWatch: what its interests are, what one read of PostgreSQL
// says about them (memberships with direct-channel blocks, presence visibility), and the
// one statement that reads it.
import type { Sql } from "../../db/sql.js";
import { visibilitySql } from "../../rules/visibility.js";

/** Longest one re-read may take before it counts as failed. */
export const READ_TIMEOUT_MS = 1500;

export type AccessInterest =
  /** A single-channel stream: `onLost` when `userId` is no longer a member. */
  | { kind: "member"; channelId: string; userId: string; onLost: () => void }
  /** An all-channels stream: told which channels `userId` joined and left. */
  | {
      kind: "channels";
      userId: string;
      onChange: (joined: Array<{ channelId: string; lastSeq?: number }>, left: string[]) => void;
    }
  /** A presence stream: may `viewerId` see `subjectId`? `onHidden` when they no longer may. */
  | { kind: "presence"; viewerId: string; subjectId: string; onHidden?: () => void };

export const pairKey = (channelId: string, userId: string) => `${channelId}:${userId}`;
export const seeKey = (viewerId: string, subjectId: string) => `${viewerId}>${subjectId}`;

export type Row = { kind: "m" | "p"; a: string; b: string; flag: boolean };

/** The state of a set of interests, as of one read (plus later membership events). */
export class AccessState {
  readonly members = new Set<string>();
  /** Members of a direct channel with a block between them and the other member. */
  readonly blocked = new Set<string>();
  readonly channelsOf = new Map<string, Set<string>>();
  readonly visible = new Set<string>();

  /** Replaces what `interests` cover with what `rows` say. */
  load(interests: Iterable<AccessInterest>, rows: Row[]) {
    const users = new Set<string>();
    for (const interest of interests) {
      if (interest.kind === "channels") {
        for (const channelId of this.channelsOf.get(interest.userId) ?? []) {
          this.members.delete(pairKey(channelId, interest.userId));
          this.blocked.delete(pairKey(channelId, interest.userId));
        }
        this.channelsOf.set(interest.userId, new Set());
        users.add(interest.userId);
      } else if (interest.kind === "member") {
        this.members.delete(pairKey(interest.channelId, interest.userId));
        this.blocked.delete(pairKey(interest.channelId, interest.userId));
      } else this.visible.delete(seeKey(interest.viewerId, interest.subjectId));
    }
    for (const row of rows) {
      if (row.kind === "p") {
        this.visible.add(seeKey(row.a, row.b));
        continue;
      }
      const key = pairKey(row.a, row.b);
      this.members.add(key);
      if (row.flag) this.blocked.add(key);
      if (users.has(row.b)) this.channelsOf.get(row.b)?.add(row.a);
    }
  }

  /** Copies what `interest` covers from `other` (an interest registered during a read). */
  copy(other: AccessState, interest: AccessInterest) {
    const pair = (channelId: string, userId: string) => {
      const key = pairKey(channelId, userId);
      if (other.members.has(key)) this.members.add(key);
      if (other.blocked.has(key)) this.blocked.add(key);
    };
    if (interest.kind === "member") pair(interest.channelId, interest.userId);
    else if (interest.kind === "channels") {
      const channels = new Set(other.channelsOf.get(interest.userId));
      this.channelsOf.set(interest.userId, channels);
      for (const channelId of channels) pair(channelId, interest.userId);
    } else if (other.visible.has(seeKey(interest.viewerId, interest.subjectId)))
      this.visible.add(seeKey(interest.viewerId, interest.subjectId));
  }

  setMember(channelId: string, userId: string, member: boolean) {
    const key = pairKey(channelId, userId);
    if (member) {
      this.members.add(key);
      this.channelsOf.get(userId)?.add(channelId);
    } else {
      this.members.delete(key);
      this.blocked.delete(key);
      this.channelsOf.get(userId)?.delete(channelId);
    }
  }
}

/**
 * One statement for every interest: memberships (with direct-channel blocks) and
 * presence. Each part is looked up by its index (a user's memberships, a (channel, user)
 * primary key), and repeated interests are asked once: many streams of one viewer cost
 * what one does.
 */
export async function readAccess(sql: Sql, interests: AccessInterest[]): Promise<Row[]> {
  const users = new Set<string>();
  const pairs = new Map<string, [string, string]>();
  const presencePairs = new Map<string, [string, string]>();
  for (const interest of interests) {
    if (interest.kind === "channels") users.add(interest.userId);
    else if (interest.kind === "member")
      pairs.set(pairKey(interest.channelId, interest.userId), [
        interest.channelId,
        interest.userId,
      ]);
    else
      presencePairs.set(pairKey(interest.viewerId, interest.subjectId), [
        interest.viewerId,
        interest.subjectId,
      ]);
  }
  const blockedFlag = `(c.kind = 'DIRECT' AND EXISTS (
               SELECT 1 FROM channel_members o
                WHERE o.channel_id = cm.channel_id AND o.user_id <> cm.user_id
                  AND ${visibilitySql.blockedBetween("o.user_id", "cm.user_id")})) AS flag`;
  // Each watched pair is one primary-key probe (the LATERAL with OFFSET 0 keeps the
  // planner from turning it into a join over the channel's members: without statistics,
  // fresh after a big group was filled, it scanned them all for every connecting socket,
  // O(N²) for N sockets of one channel, issue 10).
  // Bounded: a read that hangs must fail (and be retried), not stop every later one. Plain
  // SQL: it returns a row per watched membership (thousands on a busy replica at the
  // minute's full re-read), and Prisma's row decoding led the api's CPU while sockets
  // connected (issue 10).
  return sql.transaction(
    (tx) =>
      tx.query<Row>(
        `SELECT 'm' AS kind, cm.channel_id::text AS a, cm.user_id::text AS b, ${blockedFlag}
       FROM channel_members cm JOIN channels c ON c.id = cm.channel_id
      WHERE cm.user_id = ANY($1::uuid[])
     UNION
     SELECT 'm', cm.channel_id::text, cm.user_id::text, ${blockedFlag}
       FROM unnest($2::uuid[], $3::uuid[]) AS w(c, u)
       CROSS JOIN LATERAL (SELECT m.channel_id, m.user_id FROM channel_members m
                            WHERE m.channel_id = w.c AND m.user_id = w.u OFFSET 0) cm
       JOIN channels c ON c.id = cm.channel_id
     UNION ALL
     SELECT 'p', w.v::text, w.s::text, true
       FROM unnest($4::uuid[], $5::uuid[]) AS w(v, s)
      WHERE ${visibilitySql.presenceVisible("w.v", "w.s")}`,
        [
          [...users],
          [...pairs.values()].map(([channelId]) => channelId),
          [...pairs.values()].map(([, userId]) => userId),
          [...presencePairs.values()].map(([viewer]) => viewer),
          [...presencePairs.values()].map(([, subject]) => subject),
        ],
      ),
    // Its plan is the same whatever the ids: probes by index. Planned anew at every
    // execution, it cost PostgreSQL 2 ms per read against 0.25 ms to run it: 42 % of the
    // database's time while sockets connected (issue 10).
    { statementTimeoutMs: READ_TIMEOUT_MS, keyProbes: true },
  );
}

/** A membership or contact change, as the triggers on channel_members and contacts record it. */
export interface AccessChange {
  id: string;
  channelId: string | null;
  userId: string;
}

/** Where a poll of the changes stood: the next one reads what this one could not see. */
export interface ChangesPosition {
  /** The poll's snapshot (pg_snapshot's text form: xmin:xmax:in-progress ids). */
  snapshot: string;
  /** Its xmax: ids from here on had not started. Lower in a later poll: a restored database. */
  xmax: bigint;
}

export interface AccessChanges {
  position: ChangesPosition;
  /** The changes `after` could not see (at most `limit`, in no order). */
  changes: AccessChange[];
}

/**
 * The changes written by the transactions that the previous poll's snapshot (`after`)
 * could not see: those still running then, however late they commit, and those that
 * started since. None when `after` is undefined (a poll that re-reads everything anyway
 * learns only its position). Neither ids nor write times tell this: both are handed out at
 * insert, and a transaction commits later, with ids and times below what a poll meanwhile
 * saw. (Polls read the last 30 s instead: a burst of more changes than a poll takes made
 * every replica re-read all its streams' access state at every poll while the burst stayed
 * in that window, issue 10.)
 */
export async function readAccessChanges(
  sql: Sql,
  after: ChangesPosition | undefined,
  limit: number,
): Promise<AccessChanges> {
  const rows = await sql.transaction(
    (tx) =>
      tx.query<{
        snapshot: string;
        xmax: string;
        standby: boolean;
        id: string | number | null;
        channel_id: string | null;
        user_id: string | null;
      }>(
        // One statement: the position is that of the snapshot the changes were read with.
        // Exactly what `after` could not see, each part an index range or probes: a
        // transaction left open for minutes does not make every poll read all the changes
        // since it began.
        `SELECT s.snap::text AS snapshot, pg_snapshot_xmax(s.snap)::text AS xmax,
                pg_is_in_recovery() AS standby, c.id, c.channel_id::text, c.user_id::text
           FROM (SELECT pg_current_snapshot() AS snap) s
           LEFT JOIN LATERAL (
             SELECT id, channel_id, user_id FROM access_changes
              WHERE xid >= pg_snapshot_xmax($1::pg_snapshot)
             UNION ALL
             SELECT id, channel_id, user_id FROM access_changes
              WHERE xid = ANY (ARRAY(SELECT pg_snapshot_xip($1::pg_snapshot)))
             LIMIT $2) c ON true`,
        [after?.snapshot ?? null, limit],
      ),
    { statementTimeoutMs: READ_TIMEOUT_MS },
  );
  const first = rows[0];
  if (!first) throw new Error("access changes: the poll returned no snapshot");
  // A standby (the pool reached one after a failover) lists no running transactions of the
  // primary: its snapshot would mark as seen what the primary has yet to commit.
  if (first.standby) throw new Error("access changes: the database is a read-only standby");
  return {
    position: { snapshot: first.snapshot, xmax: BigInt(first.xmax) },
    changes: rows.flatMap((row) =>
      row.id === null || row.user_id === null
        ? []
        : [{ id: String(row.id), channelId: row.channel_id, userId: row.user_id }],
    ),
  };
}

/** Does `interest` depend on the membership or contacts of these channels and users? */
export function isAffected(
  interest: AccessInterest,
  channels: ReadonlySet<string>,
  users: ReadonlySet<string>,
) {
  if (interest.kind === "member")
    return channels.has(interest.channelId) || users.has(interest.userId);
  if (interest.kind === "channels") return users.has(interest.userId);
  return users.has(interest.viewerId) || users.has(interest.subjectId);
}
