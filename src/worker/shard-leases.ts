// Splits the command shards evenly between the worker processes, with PostgreSQL
// advisory locks on one dedicated connection per worker as leases:
// - each worker holds one "member" lock, so the number of live workers is the number of
//   those locks held (a worker that dies loses its connection, and its locks, at once);
// - a worker consumes a shard only while it holds that shard's lock, and takes shards
//   until it holds its fair share (shards / workers, the first by slot one more when it
//   does not divide); above its share it hands the
//   extra ones back (stops consuming, which returns unsettled commands to the queue in
//   order, THEN unlocks), so the next holder starts exactly where it stopped.
// RabbitMQ's single active consumer stays the guard of order should two workers ever
// consume one shard at once (a lease connection lost while its worker lives).
import pg from "pg";
import type { CommandConsumer } from "../pubsub/bus.js";
import { advisoryKey } from "./outbox.js";

export interface ShardLeaseOptions {
  url: string;
  namespace: string;
  shards: number;
  consumer: CommandConsumer;
  /** How often leases are balanced (default 1000 ms): a dead worker's shards move within about this. */
  intervalMs?: number;
  log?: (message: string, error?: unknown) => void;
}

/** Most worker processes per namespace (member lock slots). */
const MAX_WORKERS = 256;

export class ShardLeases {
  readonly #membersKey: number;
  readonly #shardsKey: number;
  readonly #held = new Set<number>();
  #client: pg.Client | undefined;
  #slot = 0;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #stopped = false;
  #lost = false;

  constructor(private readonly options: ShardLeaseOptions) {
    this.#membersKey = advisoryKey(`${options.namespace}:workers`);
    this.#shardsKey = advisoryKey(`${options.namespace}:shards`);
  }

  /** True while the leases' database connection is gone (this worker consumes nothing). */
  get lost(): boolean {
    return this.#lost;
  }

  /** The shards this worker holds now. */
  get held(): ReadonlySet<number> {
    return new Set(this.#held);
  }

  /** Takes a first share before resolving (when the database answers). */
  async start() {
    await this.#tickOnce();
    this.#schedule();
  }

  #schedule() {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.#tickOnce().finally(() => this.#schedule());
    }, this.options.intervalMs ?? 1000);
  }

  #tickOnce() {
    this.#ticking ??= this.#tick()
      .catch(async (error) => {
        this.options.log?.("shard leases: lost the database; releasing every shard", error);
        await this.#lose();
      })
      .finally(() => {
        this.#ticking = undefined;
      });
    return this.#ticking;
  }

  async #tick() {
    if (this.#stopped) return;
    const client = this.#client ?? (await this.#connect());
    this.#lost = false;
    const { rows } = await client.query<{ slot: number }>(
      `SELECT objid::int AS slot FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = $1::bigint::oid
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY objid`,
      [this.#membersKey],
    );
    // The shards divided as evenly as they go: the first (shards mod workers) workers by
    // slot take one more, so every shard has a taker and no one holds more than one over.
    const slots = rows.map((row) => Number(row.slot));
    const workers = Math.max(1, slots.length);
    const rank = Math.max(0, slots.indexOf(this.#slot));
    const share =
      Math.floor(this.options.shards / workers) + (rank < this.options.shards % workers ? 1 : 0);
    // Whatever we awaited, the connection (and with it every lock) may be gone since.
    const current = () => this.#client === client && !this.#stopped;
    // Over the share: hand the extra shards back, highest first.
    for (const shard of [...this.#held].sort((a, b) => b - a)) {
      if (this.#held.size <= share || !current()) break;
      await this.options.consumer.remove(shard);
      this.#held.delete(shard);
      if (!current()) break;
      await client.query("SELECT pg_advisory_unlock($1::int, $2::int)", [this.#shardsKey, shard]);
    }
    // Under the share: take free shards, starting at a different one per worker.
    for (let i = 0; i < this.options.shards && this.#held.size < share && current(); i++) {
      const shard = (this.#slot * share + i) % this.options.shards;
      if (this.#held.has(shard)) continue;
      const lock = await client.query<{ ok: boolean }>(
        "SELECT pg_try_advisory_lock($1::int, $2::int) AS ok",
        [this.#shardsKey, shard],
      );
      if (!lock.rows[0]?.ok || !current()) continue;
      this.#held.add(shard);
      await this.options.consumer.add(shard);
    }
  }

  async #connect() {
    const client = new pg.Client({
      connectionString: this.options.url,
      // A dead host or a partition must cost leases within seconds, not TCP's hours: the
      // server drops a silent client (tcp_keepalives_*), we drop a silent server.
      keepAlive: true,
      connectionTimeoutMillis: 5000,
      query_timeout: 10_000,
      options: "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3",
    });
    // A lost connection means lost locks: stop consuming at once, take leases again later.
    client.on("error", (error) => {
      this.options.log?.("shard leases: connection error", error);
      void this.#lose(client);
    });
    client.on("end", () => void this.#lose(client));
    await client.connect();
    for (let slot = 0; slot < MAX_WORKERS; slot++) {
      const { rows } = await client.query<{ ok: boolean }>(
        "SELECT pg_try_advisory_lock($1::int, $2::int) AS ok",
        [this.#membersKey, slot],
      );
      if (rows[0]?.ok) {
        this.#slot = slot;
        this.#client = client;
        return client;
      }
    }
    await client.end().catch(() => {});
    throw new Error(`more than ${MAX_WORKERS} workers in namespace ${this.options.namespace}`);
  }

  async #lose(client = this.#client) {
    if (client && this.#client !== client) return;
    this.#client = undefined;
    if (!this.#stopped) this.#lost = true;
    const held = [...this.#held];
    this.#held.clear();
    await Promise.all(held.map((shard) => this.options.consumer.remove(shard)));
    await client?.end().catch(() => {});
  }

  async stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#ticking;
    const held = [...this.#held];
    this.#held.clear();
    await Promise.all(held.map((shard) => this.options.consumer.remove(shard)));
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }
}
