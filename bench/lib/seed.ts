// Benchmark fixtures written straight into the database (thousands of users through the
// API would measure sign-up, not chat), and access tokens signed with the run's secret.
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { AccessTokens } from "../../src/auth/access-tokens.js";

export interface SeededUser {
  id: string;
  token: string;
}

export async function seedUsers(
  pool: pg.Pool,
  count: number,
  jwtSecret: string,
): Promise<SeededUser[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  const names = ids.map((id) => `b${id.replaceAll("-", "").slice(0, 16)}`);
  for (let from = 0; from < count; from += 5_000) {
    const slice = (values: string[]) => values.slice(from, from + 5_000);
    await pool.query(
      `INSERT INTO users (id, email, username, display_name, password_hash, updated_at)
       SELECT id, name || '@bench.example', name, name, 'not-a-hash', now()
         FROM unnest($1::uuid[], $2::text[]) AS u(id, name)`,
      [slice(ids), slice(names)],
    );
  }
  const tokens = new AccessTokens(jwtSecret, 24 * 3600);
  return Promise.all(ids.map(async (id) => ({ id, token: (await tokens.sign(id)).token })));
}

/** One direct channel per pair; returns the channel ids in pair order. */
export async function seedDirectChannels(
  pool: pg.Pool,
  pairs: Array<[SeededUser, SeededUser]>,
): Promise<string[]> {
  const channelIds = pairs.map(() => randomUUID());
  const keys = pairs.map(([a, b]) => [a.id, b.id].sort().join(":"));
  await pool.query(
    `INSERT INTO channels (id, kind, direct_key, updated_at)
     SELECT id, 'DIRECT'::"ChannelKind", key, now() FROM unnest($1::uuid[], $2::text[]) AS c(id, key)`,
    [channelIds, keys],
  );
  await pool.query(
    `INSERT INTO channel_members (channel_id, user_id)
     SELECT * FROM unnest($1::uuid[], $2::uuid[])`,
    [channelIds.flatMap((id) => [id, id]), pairs.flatMap(([a, b]) => [a.id, b.id])],
  );
  await analyze(pool);
  return channelIds;
}

/** A group whose #general channel has `owner` and every member; returns the channel id. */
export async function seedGroupChannel(
  pool: pg.Pool,
  owner: SeededUser,
  members: SeededUser[],
): Promise<string> {
  return (await seedGroupChannels(pool, owner, [members]))[0] as string;
}

/**
 * A group per entry of `memberLists`, each with a #general channel that has `owner` and
 * that entry's members; returns the channel ids in order. Four statements whatever the count.
 */
export function seedGroupChannels(
  pool: pg.Pool,
  owner: SeededUser,
  memberLists: SeededUser[][],
): Promise<string[]> {
  return seedOwnedGroupChannels(
    pool,
    memberLists.map((members) => ({ owner, members })),
  );
}

/**
 * A group per entry, each with a #general channel that has the entry's owner and members;
 * returns the channel ids in order. Four statements and one ANALYZE whatever the count
 * (seeded one by one, 64 groups cost 64 ANALYZEs: seconds of PostgreSQL's CPU).
 */
export async function seedOwnedGroupChannels(
  pool: pg.Pool,
  groups: Array<{ owner: SeededUser; members: SeededUser[] }>,
): Promise<string[]> {
  const groupIds = groups.map(() => randomUUID());
  const channelIds = groups.map(() => randomUUID());
  // One row per (group, channel, user): the owner first in each.
  const rows = groups.flatMap(({ owner, members }, i) =>
    [owner, ...members].map((user, j) => ({
      groupId: groupIds[i] as string,
      channelId: channelIds[i] as string,
      userId: user.id,
      role: j === 0 ? "OWNER" : "MEMBER",
    })),
  );
  await pool.query(
    `INSERT INTO groups (id, name, created_by_id, updated_at)
     SELECT id, 'bench', owner, now() FROM unnest($1::uuid[], $2::uuid[]) AS g(id, owner)`,
    [groupIds, groups.map(({ owner }) => owner.id)],
  );
  await pool.query(
    `INSERT INTO group_members (group_id, user_id, role)
     SELECT group_id, user_id, role::"GroupRole"
       FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS m(group_id, user_id, role)`,
    [rows.map((r) => r.groupId), rows.map((r) => r.userId), rows.map((r) => r.role)],
  );
  await pool.query(
    `INSERT INTO channels (id, kind, group_id, name, updated_at)
     SELECT id, 'GROUP', group_id, 'general', now() FROM unnest($1::uuid[], $2::uuid[]) AS c(id, group_id)`,
    [channelIds, groupIds],
  );
  await pool.query(
    `INSERT INTO channel_members (channel_id, user_id)
     SELECT * FROM unnest($1::uuid[], $2::uuid[])`,
    [rows.map((r) => r.channelId), rows.map((r) => r.userId)],
  );
  await analyze(pool);
  return channelIds;
}

/**
 * Statistics as a database in steady state has them (autovacuum analyzes within a minute
 * of a bulk change): a scenario must not measure plans made for tables thought empty.
 */
async function analyze(pool: pg.Pool) {
  await pool.query("ANALYZE users, groups, group_members, channels, channel_members");
}
