// How a replica's access state learns of membership and block changes nobody announced
// (src/resolvers/streams/access-watch.ts), on PostgreSQL itself (another connection holds
// a transaction open across polls; a test hook holds a poll before its read):
// - each poll reads the changes of the transactions the previous poll's snapshot could not
//   see, so a change is acted on however late its transaction commits (ids and times are
//   handed out at insert: neither "after the last id seen" nor "the last N seconds" is
//   right), and read once: a burst of more changes than a poll takes costs one full
//   re-read, not one at every poll while it looks recent (it did for 30 s, issue 10);
// - the worker's pruning keeps a change until its transaction had finished by the previous
//   round, however long ago that transaction began;
// - a group channel's stream starts from its subscribe-time check without a read of its
//   own, is re-read at the next poll, and never overrides what the state knows better.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sql } from "../src/db/sql.js";
import {
  ACCESS_MAX_STALENESS_MS,
  AccessWatch,
  CHANGES_LIMIT,
} from "../src/resolvers/streams/access-watch.js";
import { ACCESS_CHANGES_KEPT_MINUTES, accessChangesPruner } from "../src/worker/access-changes.js";
import { createTestDatabase } from "./harness/database.js";
import { until } from "./harness/wait.js";

// In CI (TEST_REQUIRE_SERVICES=1) the harness fails the run when PostgreSQL is missing.
// On the in-memory PGlite (one connection) no transaction can be held open beside the
// watch's polls: the suite is reported as skipped.
const database = await createTestDatabase();
const other = new pg.Client({ connectionString: database.url });

/** The statements the watch runs, counted by what they are. */
const counted = { polls: 0, reads: 0 };
/** While `hold` is set, the next poll waits before its read (and says so through `reached`). */
const pollGate: { hold?: Promise<void>; reached?: () => void } = {};
const sql: Sql = {
  query: (text, params) => database.db.sql.query(text, params),
  transaction: (work, options) =>
    database.db.sql.transaction(
      (tx) =>
        work({
          query: async (text, params) => {
            if (text.includes("FROM access_changes")) {
              counted.polls++;
              const hold = pollGate.hold;
              if (hold) {
                pollGate.hold = undefined;
                pollGate.reached?.();
                await hold;
              }
            }
            if (text.includes("SELECT 'm' AS kind")) counted.reads++;
            return tx.query(text, params);
          },
          execute: (text, params) => tx.execute(text, params),
        }),
      options,
    ),
};
const REFRESH_MS = 50;
const watch = new AccessWatch(sql, { refreshMs: REFRESH_MS });

beforeAll(async () => {
  if (database.url) await other.connect();
});
afterAll(async () => {
  watch.stop();
  if (database.url) await other.end();
  await database.drop();
});

/** A group channel with one member (rows only). */
async function groupMember() {
  const suffix = randomUUID().slice(0, 8);
  const [user] = await database.db.sql.query<{ id: string }>(
    `INSERT INTO users (id, email, username, display_name, password_hash, updated_at)
     VALUES (gen_random_uuid(), $1, $2, $2, 'x', now()) RETURNING id::text`,
    [`${suffix}@example.com`, `u${suffix}`],
  );
  const [channel] = await database.db.sql.query<{ id: string }>(
    `INSERT INTO channels (id, kind, updated_at) VALUES (gen_random_uuid(), 'GROUP', now())
     RETURNING id::text`,
  );
  const userId = (user as { id: string }).id;
  const channelId = (channel as { id: string }).id;
  await database.db.sql.query(
    "INSERT INTO channel_members (channel_id, user_id) VALUES ($1::uuid, $2::uuid)",
    [channelId, userId],
  );
  const lost = { at: 0 };
  const interest = {
    kind: "member" as const,
    channelId,
    userId,
    onLost: () => {
      lost.at = Date.now();
    },
  };
  return { channelId, userId, lost, interest };
}

/** A group channel with one member; the watch follows that membership (read by the watch). */
async function watchedMember() {
  const member = await groupMember();
  const unwatch = await watch.watch(member.interest);
  expect(watch.isMember(member.channelId, member.userId)).toBe(true);
  return { ...member, unwatch };
}

/** What a subscribe's channel check says of a member of a group channel, read now. */
const checkedMember = () => ({ kind: "GROUP" as const, isMember: true, readAt: Date.now() });

/** Resolves once the watch has polled `n` more times. */
async function polls(n: number) {
  const target = counted.polls + n;
  await until(() => counted.polls >= target, 15_000, `${n} polls`);
}

describe.skipIf(!database.url)("access changes on PostgreSQL", () => {
  it("acts on a removal whose transaction was open across several polls, within the bound of its commit", async () => {
    const { channelId, userId, lost, unwatch } = await watchedMember();
    await other.query("BEGIN");
    await other.query("DELETE FROM channel_members WHERE channel_id = $1 AND user_id = $2", [
      channelId,
      userId,
    ]);
    // A later transaction commits meanwhile (another user's change), so the open one is
    // among the running transactions of the polls' snapshots rather than past their end.
    await database.db.sql.query("INSERT INTO access_changes (user_id) VALUES (gen_random_uuid())");
    // Polls that ran while the change was written but not committed: they cannot see it.
    await polls(3);
    expect(watch.isMember(channelId, userId)).toBe(true);
    await other.query("COMMIT");
    const committedAt = Date.now();
    await until(() => lost.at > 0, ACCESS_MAX_STALENESS_MS + 5_000, "the removal to be acted on");
    expect(lost.at - committedAt).toBeLessThan(ACCESS_MAX_STALENESS_MS);
    expect(watch.isMember(channelId, userId)).toBe(false);
    unwatch();
  });

  it("reads a burst of more changes than one poll takes once: one full re-read, then none", async () => {
    const { unwatch } = await watchedMember();
    await polls(2);
    // Changes of nobody this watch follows, more than a poll takes.
    await database.db.sql.query(
      "INSERT INTO access_changes (user_id) SELECT gen_random_uuid() FROM generate_series(1, $1::int)",
      [CHANGES_LIMIT + 1],
    );
    const readsBefore = counted.reads;
    await until(() => counted.reads > readsBefore, 15_000, "the full re-read the burst asks for");
    // A poll in flight when the burst committed may read it again in the next one.
    await polls(2);
    const readsAfterBurst = counted.reads;
    await polls(10);
    // Nothing changed since: no re-read but, at most, the once-a-minute backstop.
    expect(counted.reads - readsAfterBurst).toBeLessThanOrEqual(1);
    unwatch();
  });

  it("pruning keeps an old change whose transaction was still running at the previous round, until the round after", async () => {
    const prune = accessChangesPruner(database.db.sql);
    const userId = randomUUID();
    const present = async () =>
      (
        await database.db.sql.query("SELECT 1 FROM access_changes WHERE user_id = $1::uuid", [
          userId,
        ])
      ).length > 0;
    await other.query("BEGIN");
    // Written by a transaction that began longer ago than changes are kept.
    await other.query(
      "INSERT INTO access_changes (user_id, created_at) VALUES ($1::uuid, now() - make_interval(mins => $2 + 5))",
      [userId, ACCESS_CHANGES_KEPT_MINUTES],
    );
    await prune();
    await other.query("COMMIT");
    // Just committed: the replicas' polls have yet to read it.
    await prune();
    expect(await present()).toBe(true);
    // Once its transaction had finished by the previous round (the polls since have read
    // it), it goes. (A round's horizon waits for every transaction of the server that began
    // before it, other test files' too: rounds until then keep it.)
    await until(
      async () => {
        await prune();
        return !(await present());
      },
      15_000,
      "the change to be pruned",
    );
  });

  it("takes a group channel's member from the subscribe-time check, with no read of its own; the next poll re-reads them all in one", async () => {
    const { unwatch } = await watchedMember();
    await polls(2);
    const members = await Promise.all(Array.from({ length: 20 }, () => groupMember()));
    const readsBefore = counted.reads;
    const unwatches = await Promise.all(
      members.map((m) => watch.watchChecked(m.interest, checkedMember())),
    );
    expect(counted.reads).toBe(readsBefore);
    for (const m of members) expect(watch.isMember(m.channelId, m.userId)).toBe(true);
    await polls(3);
    // The recheck: one statement for all twenty (a full re-read may fall in too).
    expect(counted.reads - readsBefore).toBeGreaterThanOrEqual(1);
    expect(counted.reads - readsBefore).toBeLessThanOrEqual(2);
    for (const m of members) expect(watch.isMember(m.channelId, m.userId)).toBe(true);
    for (const stop of [unwatch, ...unwatches]) stop();
  });

  it("revokes a checked member whose removal a poll in flight at its registration had already read", async () => {
    const { unwatch } = await watchedMember();
    const { channelId, userId, lost, interest } = await groupMember();
    await polls(1);
    // A poll starts, and waits before its read.
    let release = () => {};
    const reached = new Promise<void>((resolve) => {
      pollGate.reached = resolve;
    });
    pollGate.hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    await reached;
    // The subscribe's check says member; then the row goes; then the stream registers.
    const checked = checkedMember();
    await database.db.sql.query(
      "DELETE FROM channel_members WHERE channel_id = $1::uuid AND user_id = $2::uuid",
      [channelId, userId],
    );
    const unwatchChecked = await watch.watchChecked(interest, checked);
    expect(watch.isMember(channelId, userId)).toBe(true);
    const registeredAt = Date.now();
    // The held poll reads the removal, but its list of interests predates this one.
    release();
    await until(
      () => lost.at > 0,
      ACCESS_MAX_STALENESS_MS + 5_000,
      "the stale check to be revoked",
    );
    expect(lost.at - registeredAt).toBeLessThan(ACCESS_MAX_STALENESS_MS);
    expect(watch.isMember(channelId, userId)).toBe(false);
    unwatchChecked();
    unwatch();
  });

  it("reads instead of taking the check when a membership event seen for the pair says otherwise", async () => {
    const { unwatch } = await watchedMember();
    const { channelId, userId, interest } = await groupMember();
    watch.applyMembership({ type: "channel.left", channelId, userIds: [userId] });
    const readsBefore = counted.reads;
    const unwatchChecked = await watch.watchChecked(interest, checkedMember());
    expect(counted.reads).toBeGreaterThan(readsBefore);
    // PostgreSQL's answer (still a member), not the event's nor the check's.
    expect(watch.isMember(channelId, userId)).toBe(true);
    unwatchChecked();
    unwatch();
  });

  it("keeps what another stream of the pair has seen (its removal) over a check that still said member", async () => {
    const first = await watchedMember();
    await database.db.sql.query(
      "DELETE FROM channel_members WHERE channel_id = $1::uuid AND user_id = $2::uuid",
      [first.channelId, first.userId],
    );
    await until(() => first.lost.at > 0, ACCESS_MAX_STALENESS_MS + 5_000, "the removal");
    // A second stream of the same user, with a check that still said member.
    const second = { ...first.interest, onLost: () => {} };
    const unwatchSecond = await watch.watchChecked(second, checkedMember());
    expect(watch.isMember(first.channelId, first.userId)).toBe(false);
    unwatchSecond();
    first.unwatch();
  });
});
