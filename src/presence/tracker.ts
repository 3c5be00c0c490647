// Who is online, shared by every replica through the cache and without any replica owning
// it. Keys (all with TTLs, so a replica that dies without cleanup simply lets them expire):
//   presence:slot:<i>             a replica's claim on one of SLOTS slots (value: its
//                                 identity); the live replicas are the claimed slots
//   presence:on:<user>:<identity> the user has a socket on that replica
//   presence:users:<identity>:<b> the users that replica had (in USER_LIST_BUCKETS lists by
//                                 user), for announcing them offline after it died
// A connect costs O(1) cache work whatever the replica holds: its key, one append to its
// user's list (the heartbeat rewrites the lists, dropping those who left; buckets keep each
// list far below Memcached's 1 MB item limit), and a look for the user on the replicas
// known alive (the slots, read at most once a second and at every heartbeat).
// A replica's identity is its SERVER_ID plus a per-boot nonce: a replica restarted under the
// same SERVER_ID must not inherit (and erase) the user list of the process that crashed.
// A heartbeat every ttl/3 refreshes this replica's slot and user lists, and notices
// replicas whose slot expired. The per-user keys are read only for replicas whose slot is
// alive, so they need not expire with the replica: they are kept for ON_KEY_TTL_SECONDS
// and rewritten all together only when the slot was lost (a cache restart or eviction: the
// next heartbeat repairs them) or every third of that TTL. (Rewriting them every heartbeat
// cost a replica with 10,000 idle users 1,000 cache writes a second, issue 10.)
import { randomBytes } from "node:crypto";
import type { Cache } from "../cache/cache.js";

const SLOTS = 64;
const USER_LIST_BUCKETS = 16;
/** How long a read of the live replicas (64 slots) serves connects and presence queries. */
const LIVE_SERVERS_MAX_AGE_MS = 1000;
/** Per-user keys live this long (a lost one, evicted alone, is rewritten within a third of it). */
const ON_KEY_TTL_SECONDS = 3600;

/** The list bucket of a user (FNV-1a of the id). */
function bucketOf(userId: string) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) hash = Math.imul(hash ^ userId.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % USER_LIST_BUCKETS;
}

export type PresenceStatus = "ONLINE" | "OFFLINE";

export interface PresenceTransition {
  userId: string;
  status: PresenceStatus;
  at: Date;
}

export interface PresenceTrackerOptions {
  cache: Cache;
  serverId: string;
  /** Seconds before the keys of a silent replica expire (default 30; offline within 2x). */
  ttlSeconds: number;
  /** Told about every transition this replica detects (publish it, persist last seen). */
  onTransition: (transition: PresenceTransition) => Promise<void>;
  log?: (message: string, error?: unknown) => void;
}

export class PresenceTracker {
  readonly #identity: string;
  readonly #sockets = new Map<string, number>();
  /** Per user, the tail of their connect/disconnect work: one at a time, in order. */
  readonly #queues = new Map<string, Promise<void>>();
  #slot: number | undefined;
  #servers = new Set<string>();
  #liveRead: { at: number; servers: Promise<Set<string>> } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #beat: Promise<void> = Promise.resolve();
  /** When every per-user key was last written (0: at the first heartbeat). */
  #onKeysWrittenAt = 0;
  #stopping = false;

  constructor(private readonly options: PresenceTrackerOptions) {
    this.#identity = `${options.serverId}#${randomBytes(4).toString("hex")}`;
  }

  /** Starts the heartbeat. A cache that is down does not stop the replica from serving. */
  async start() {
    await this.#heartbeat().catch((error) =>
      this.options.log?.("presence heartbeat failed", error),
    );
    this.#scheduleBeat();
  }

  // A chained timeout, not an interval: a slow beat (a long reap) never overlaps the next.
  #scheduleBeat() {
    if (this.#stopping) return;
    const every = Math.max(200, (this.options.ttlSeconds * 1000) / 3);
    this.#timer = setTimeout(() => {
      this.#beat = this.#heartbeat()
        .catch((error) => this.options.log?.("presence heartbeat failed", error))
        .finally(() => this.#scheduleBeat());
    }, every);
    this.#timer.unref();
  }

  /**
   * Stops heartbeats and releases this replica's slot, so the others reap its users at
   * their next heartbeat unless they reconnected elsewhere. Sockets closing after this
   * announce nothing.
   */
  async stop() {
    this.#stopping = true;
    clearTimeout(this.#timer);
    await this.#beat;
    const key = this.#slot === undefined ? undefined : `presence:slot:${this.#slot}`;
    if (key && (await this.options.cache.get(key).catch(() => null)) === this.#identity) {
      await this.options.cache.delete(key).catch(() => {});
    }
  }

  #onKey(userId: string, identity = this.#identity) {
    return `presence:on:${userId}:${identity}`;
  }

  /** Runs `work` after every earlier connect/disconnect of the same user. */
  #serialize(userId: string, work: () => Promise<void>) {
    const next = (this.#queues.get(userId) ?? Promise.resolve()).then(work).catch((error) => {
      this.options.log?.(`presence update of ${userId} failed`, error);
    });
    this.#queues.set(userId, next);
    void next.finally(() => {
      if (this.#queues.get(userId) === next) this.#queues.delete(userId);
    });
    return next;
  }

  /** A socket of `userId` opened on this replica. */
  connected(userId: string) {
    return this.#serialize(userId, async () => {
      const count = (this.#sockets.get(userId) ?? 0) + 1;
      this.#sockets.set(userId, count);
      if (count > 1) return;
      // Our key first, then look: a last socket closing elsewhere at this moment then sees
      // us and stays quiet; at worst both sides say ONLINE, which watchers fold into one.
      let elsewhere = false;
      try {
        await this.options.cache.set(this.#onKey(userId), "1", ON_KEY_TTL_SECONDS);
        // At once, not at the next heartbeat: if this replica dies now, the others must
        // find this user in its list to announce them offline. An absent list (a cache
        // restart) is written whole.
        if (!(await this.options.cache.append(this.#listKey(bucketOf(userId)), `,${userId}`)))
          await this.#saveUserList();
        elsewhere = await this.#onlineElsewhere(userId);
      } catch (error) {
        this.options.log?.("presence: cache unavailable; announcing from local sockets", error);
      }
      if (!elsewhere) await this.options.onTransition({ userId, status: "ONLINE", at: new Date() });
    });
  }

  /** A socket of `userId` closed on this replica. */
  disconnected(userId: string) {
    return this.#serialize(userId, async () => {
      if (this.#stopping) return;
      const count = (this.#sockets.get(userId) ?? 1) - 1;
      if (count > 0) {
        this.#sockets.set(userId, count);
        return;
      }
      this.#sockets.delete(userId);
      let elsewhere = false;
      try {
        await this.options.cache.delete(this.#onKey(userId));
        elsewhere = await this.#onlineElsewhere(userId);
      } catch (error) {
        this.options.log?.("presence: cache unavailable; announcing from local sockets", error);
      }
      if (!elsewhere)
        await this.options.onTransition({ userId, status: "OFFLINE", at: new Date() });
    });
  }

  /** Online anywhere (this replica included). */
  async isOnline(userIds: string[]): Promise<Map<string, boolean>> {
    const servers = [...(await this.#liveServers())];
    const result = new Map<string, boolean>();
    await Promise.all(
      userIds.map(async (userId) => {
        if (this.#sockets.has(userId)) return result.set(userId, true);
        const found = await Promise.all(
          servers.map((s) => this.options.cache.get(this.#onKey(userId, s))),
        );
        result.set(
          userId,
          found.some((value) => value !== null),
        );
      }),
    );
    return result;
  }

  async #onlineElsewhere(userId: string) {
    const servers = [...(await this.#liveServers())].filter((s) => s !== this.#identity);
    const found = await Promise.all(
      servers.map((s) => this.options.cache.get(this.#onKey(userId, s))),
    );
    return found.some((value) => value !== null);
  }

  /**
   * The replicas alive, from a read at most `maxAgeMs` old (concurrent callers share one).
   * A replica started since then is missed for at most that long: a socket opening there
   * while the user's last one closes here may then say OFFLINE once, and its own next
   * connect or the heartbeat's ONLINE repairs it.
   */
  #liveServers(maxAgeMs = LIVE_SERVERS_MAX_AGE_MS): Promise<Set<string>> {
    const now = Date.now();
    if (this.#liveRead && now - this.#liveRead.at <= maxAgeMs) return this.#liveRead.servers;
    const servers = this.#readLiveServers();
    this.#liveRead = { at: now, servers };
    // A failed read is not kept: the next caller asks again.
    servers.catch(() => {
      if (this.#liveRead?.servers === servers) this.#liveRead = undefined;
    });
    return servers;
  }

  async #readLiveServers(): Promise<Set<string>> {
    const values = await Promise.all(
      Array.from({ length: SLOTS }, (_, i) => this.options.cache.get(`presence:slot:${i}`)),
    );
    const servers = new Set(values.filter((v): v is string => v !== null));
    servers.add(this.#identity);
    return servers;
  }

  /** Refreshes this replica's slot; true when it had to claim a new one (the old was lost). */
  async #claimSlot(): Promise<boolean> {
    const { cache, ttlSeconds } = this.options;
    if (
      this.#slot !== undefined &&
      (await cache.get(`presence:slot:${this.#slot}`)) === this.#identity
    ) {
      await cache.set(`presence:slot:${this.#slot}`, this.#identity, ttlSeconds);
      return false;
    }
    const hadSlot = this.#slot !== undefined;
    for (let i = 0; i < SLOTS; i++) {
      if (await cache.add(`presence:slot:${i}`, this.#identity, ttlSeconds)) {
        this.#slot = i;
        return hadSlot;
      }
    }
    this.options.log?.(`presence: all ${SLOTS} replica slots are taken`);
    return false;
  }

  async #heartbeat() {
    const { cache } = this.options;
    const lostSlot = await this.#claimSlot();
    const users = [...this.#sockets.keys()];
    if (lostSlot || Date.now() - this.#onKeysWrittenAt > (ON_KEY_TTL_SECONDS * 1000) / 3) {
      this.#onKeysWrittenAt = Date.now();
      await Promise.all(
        users.map((userId) => cache.set(this.#onKey(userId), "1", ON_KEY_TTL_SECONDS)),
      );
    }
    await this.#saveUserList();
    if (lostSlot) {
      // Our slot had expired (a stall, an eviction): others may have announced our users
      // offline. Tell the watchers they are here.
      for (const userId of users) {
        await this.options
          .onTransition({ userId, status: "ONLINE", at: new Date() })
          .catch(() => {});
      }
    }
    const servers = await this.#liveServers(0);
    for (const gone of [...this.#servers].filter((s) => !servers.has(s))) await this.#reap(gone);
    this.#servers = servers;
  }

  #listKey(bucket: number, identity = this.#identity) {
    return `presence:users:${identity}:${bucket}`;
  }

  /** Rewrites this replica's user lists from its sockets (dropping users who left). */
  async #saveUserList() {
    // Kept twice as long as the slot, so it is still there when others notice the slot is gone.
    const { cache, ttlSeconds } = this.options;
    const lists = Array.from({ length: USER_LIST_BUCKETS }, () => [] as string[]);
    for (const userId of this.#sockets.keys()) lists[bucketOf(userId)]?.push(userId);
    await Promise.all(
      lists.map((users, bucket) =>
        cache.set(this.#listKey(bucket), users.map((u) => `,${u}`).join(""), ttlSeconds * 2),
      ),
    );
  }

  async #userListOf(identity: string): Promise<string[]> {
    const [legacy, ...lists] = await Promise.all([
      // The one JSON list of a replica of the previous release (a rolling deploy).
      this.options.cache.get(`presence:users:${identity}`),
      ...Array.from({ length: USER_LIST_BUCKETS }, (_, bucket) =>
        this.options.cache.get(this.#listKey(bucket, identity)),
      ),
    ]);
    const users = lists.flatMap((list) => (list ?? "").split(",").filter(Boolean));
    try {
      const old: unknown = JSON.parse(legacy ?? "[]");
      if (Array.isArray(old)) users.push(...old.filter((u): u is string => typeof u === "string"));
    } catch {
      // not a list: nothing to add
    }
    return [...new Set(users)];
  }

  /** A replica died: announce its users offline, unless they are online elsewhere. */
  async #reap(identity: string) {
    const { cache, ttlSeconds } = this.options;
    // One replica does this per dead replica (identities are per boot: never reused).
    if (!(await cache.add(`presence:reaped:${identity}`, this.#identity, ttlSeconds * 4))) return;
    const users = await this.#userListOf(identity);
    const online = await this.isOnline(users);
    for (const userId of users) {
      if (online.get(userId)) continue;
      // One failure (a database blip) must not leave the others shown online.
      await this.options
        .onTransition({ userId, status: "OFFLINE", at: new Date() })
        .catch((error) =>
          this.options.log?.(`presence: announcing ${userId} offline failed`, error),
        );
    }
  }

  /** This replica's presence identity (SERVER_ID plus a per-boot nonce). */
  get identity(): string {
    return this.#identity;
  }

  /** Users with a socket on this replica (for tests and metrics). */
  get localUsers(): number {
    return this.#sockets.size;
  }
}
