// Does the worker's send check cost more with this stop's two joins (group mutes, reply
// parents)? The old and the new statement, alternated, on the same database and batch.
import { randomUUID } from "node:crypto";
import { visibilitySql } from "../../src/rules/visibility.js";
import { publicUserColumns } from "../../src/pubsub/public-user.js";
import { createTestDatabase } from "../../test/harness/database.js";

const OLD = `SELECT s.n::int AS n, e.channel_id::text AS existing_channel,
            (cm.user_id IS NOT NULL) AS member,
            CASE WHEN c.kind = 'DIRECT' THEN
              EXISTS (SELECT 1 FROM channel_members o
                       WHERE o.channel_id = c.id AND o.user_id <> s.user_id
                         AND ${visibilitySql.blockedBetween("o.user_id", "s.user_id")})
            ELSE false END AS blocked,
            ${publicUserColumns("u")}
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) WITH ORDINALITY AS s(id, channel_id, user_id, n)
       LEFT JOIN users u ON u.id = s.user_id
       LEFT JOIN channels c ON c.id = s.channel_id
       LEFT JOIN messages e ON e.id = s.id
       LEFT JOIN channel_members cm ON cm.channel_id = s.channel_id AND cm.user_id = s.user_id`;
const NEW = `SELECT s.n::int AS n, e.channel_id::text AS existing_channel,
            (cm.user_id IS NOT NULL) AS member,
            CASE WHEN c.kind = 'DIRECT' THEN
              EXISTS (SELECT 1 FROM channel_members o
                       WHERE o.channel_id = c.id AND o.user_id <> s.user_id
                         AND ${visibilitySql.blockedBetween("o.user_id", "s.user_id")})
            ELSE false END AS blocked,
            to_char(gm.muted_until, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS muted_until,
            p.channel_id::text AS parent_channel, COALESCE(p.thread_root_id, p.id)::text AS parent_root,
            ${publicUserColumns("u")}
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[])
              WITH ORDINALITY AS s(id, channel_id, user_id, reply_to_id, n)
       LEFT JOIN users u ON u.id = s.user_id
       LEFT JOIN channels c ON c.id = s.channel_id
       LEFT JOIN messages e ON e.id = s.id
       LEFT JOIN channel_members cm ON cm.channel_id = s.channel_id AND cm.user_id = s.user_id
       LEFT JOIN group_members gm ON gm.group_id = c.group_id AND gm.user_id = s.user_id
       LEFT JOIN messages p ON p.id = s.reply_to_id`;

const database = await createTestDatabase();
const prisma = database.db.prisma;
try {
  // 64 direct channels and 64 group channels, a user pair each, and 50,000 messages.
  const users = await Promise.all(
    Array.from({ length: 128 }, (_, i) =>
      prisma.user.create({
        data: { email: `u${i}@x.test`, username: `u${i}_${randomUUID().slice(0, 6)}`, displayName: `u${i}`, passwordHash: "x" },
      }),
    ),
  );
  const group = await prisma.group.create({ data: { name: "g", createdById: users[0]!.id } });
  await prisma.groupMember.createMany({ data: users.map((u) => ({ groupId: group.id, userId: u.id })) });
  const channels: Array<{ id: string; sender: string }> = [];
  for (let i = 0; i < 64; i++) {
    const [a, b] = [users[2 * i]!, users[2 * i + 1]!];
    const direct = await prisma.channel.create({
      data: { kind: "DIRECT", directKey: [a.id, b.id].sort().join(":"), members: { create: [{ userId: a.id }, { userId: b.id }] } },
    });
    const grouped = await prisma.channel.create({
      data: { kind: "GROUP", name: `c${i}`, groupId: group.id, members: { create: [{ userId: a.id }, { userId: b.id }] } },
    });
    channels.push({ id: direct.id, sender: a.id }, { id: grouped.id, sender: a.id });
  }
  await database.db.sql.query(
    `INSERT INTO messages (id, channel_id, sender_id, client_message_id, seq, body)
     SELECT gen_random_uuid(), c.id, c.sender, c.id || ':' || g, g, 'hello ' || g
       FROM unnest($1::uuid[], $2::uuid[]) AS c(id, sender), generate_series(1, 400) AS g`,
    [channels.map((c) => c.id), channels.map((c) => c.sender)],
  );
  await database.db.sql.query("ANALYZE");
  const batch = channels.map((c) => ({ id: randomUUID(), channel: c.id, user: c.sender }));
  const params = [batch.map((b) => b.id), batch.map((b) => b.channel), batch.map((b) => b.user)];
  const time = async (text: string, args: unknown[], rounds: number) => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) await database.db.sql.query(text, args);
    return Number(process.hrtime.bigint() - started) / 1e6 / rounds;
  };
  const results: Record<string, number[]> = { old: [], new: [] };
  for (let round = 0; round < 10; round++) {
    results.old!.push(await time(OLD, params, 200));
    results.new!.push(await time(NEW, [...params, batch.map(() => null)], 200));
  }
  const plan = await database.db.sql.query<Record<string, string>>(
    `EXPLAIN (ANALYZE, BUFFERS) ${NEW}`,
    [...params, batch.map(() => null)],
  );
  console.log(plan.map((row) => Object.values(row)[0]).join("\n"));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(
    `check statement, batch of ${batch.length} sends (half direct, half group channels), ms per statement, median of 10 x 200:`,
    { old: median(results.old!).toFixed(3), new: median(results.new!).toFixed(3), ratio: (median(results.new!) / median(results.old!)).toFixed(2) },
  );
} finally {
  await database.drop();
}
