// Who is online, shared by every replica through the cache and without any replica owning
// it. Keys (all with TTLs, so a replica that dies without cleanup simply lets them expire):
//   presence:slot:<i>           a replica's claim on one of SLOTS slots (value: its id);
//                               the live replicas are the claimed slots
//   presence:on:<user>:<server> the user has a socket on that replica
//   presence:users:<server>     the users that replica had, for announcing them offline
//                               after it died
// A heartbeat every ttl/3 refreshes this replica's keys, so a cache restart is repaired
// within one heartbeat, and notices replicas whose slot expired.
import type { Cache } from "../cache/cache.js";

const SLOTS = 64;

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
  readonly #sockets = new Map<string, number>();
  #slot: number | undefined;
  #servers = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #beat: Promise<void> = Promise.resolve();
  #stopping = false;

  constructor(private readonly options: PresenceTrackerOptions) {}

  async start() {
    await this.#heartbeat();
    const every = Math.max(200, (this.options.ttlSeconds * 1000) / 3);
    this.#timer = setInterval(() => {
      this.#beat = this.#heartbeat().catch((error) =>
        this.options.log?.("presence heartbeat failed", error),
      );
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
    clearInterval(this.#timer);
    await this.#beat;
    if (this.#slot !== undefined)
      await this.options.cache.delete(`presence:slot:${this.#slot}`).catch(() => {});
  }

  #onKey(userId: string, serverId = this.options.serverId) {
    return `presence:on:${userId}:${serverId}`;
  }

  /** A socket of `userId` opened on this replica. */
  async connected(userId: string) {
    const count = (this.#sockets.get(userId) ?? 0) + 1;
    this.#sockets.set(userId, count);
    if (count > 1) return;
    const elsewhere = await this.#onlineElsewhere(userId);
    await this.options.cache.set(this.#onKey(userId), "1", this.options.ttlSeconds);
    // At once, not at the next heartbeat: if this replica dies right now, the others
    // must find this user in its list to announce them offline.
    await this.#saveUserList();
    if (!elsewhere) await this.options.onTransition({ userId, status: "ONLINE", at: new Date() });
  }

  /** A socket of `userId` closed on this replica. */
  async disconnected(userId: string) {
    if (this.#stopping) return;
    const count = (this.#sockets.get(userId) ?? 1) - 1;
    if (count > 0) {
      this.#sockets.set(userId, count);
      return;
    }
    this.#sockets.delete(userId);
    await this.options.cache.delete(this.#onKey(userId));
    if (!(await this.#onlineElsewhere(userId))) {
      await this.options.onTransition({ userId, status: "OFFLINE", at: new Date() });
    }
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
    const servers = [...(await this.#liveServers())].filter((s) => s !== this.options.serverId);
    const found = await Promise.all(
      servers.map((s) => this.options.cache.get(this.#onKey(userId, s))),
    );
    return found.some((value) => value !== null);
  }

  async #liveServers(): Promise<Set<string>> {
    const values = await Promise.all(
      Array.from({ length: SLOTS }, (_, i) => this.options.cache.get(`presence:slot:${i}`)),
    );
    const servers = new Set(values.filter((v): v is string => v !== null));
    servers.add(this.options.serverId);
    return servers;
  }

  async #claimSlot() {
    const { cache, serverId, ttlSeconds } = this.options;
    if (this.#slot !== undefined && (await cache.get(`presence:slot:${this.#slot}`)) === serverId) {
      await cache.set(`presence:slot:${this.#slot}`, serverId, ttlSeconds);
      return;
    }
    // First start, or the cache lost our claim: take any free slot.
    for (let i = 0; i < SLOTS; i++) {
      if (await cache.add(`presence:slot:${i}`, serverId, ttlSeconds)) {
        this.#slot = i;
        return;
      }
    }
    this.options.log?.(`presence: all ${SLOTS} replica slots are taken`);
  }

  async #heartbeat() {
    const { cache, ttlSeconds } = this.options;
    await this.#claimSlot();
    const users = [...this.#sockets.keys()];
    await Promise.all(users.map((userId) => cache.set(this.#onKey(userId), "1", ttlSeconds)));
    await this.#saveUserList();
    const servers = await this.#liveServers();
    for (const gone of [...this.#servers].filter((s) => !servers.has(s))) await this.#reap(gone);
    this.#servers = servers;
  }

  async #saveUserList() {
    // Kept twice as long as the slot, so it is still there when others notice the slot is gone.
    const { cache, serverId, ttlSeconds } = this.options;
    await cache.set(
      `presence:users:${serverId}`,
      JSON.stringify([...this.#sockets.keys()]),
      ttlSeconds * 2,
    );
  }

  /** A replica died: announce its users offline, unless they are online elsewhere. */
  async #reap(serverId: string) {
    const { cache, ttlSeconds } = this.options;
    // One replica does this per dead replica.
    if (!(await cache.add(`presence:reaped:${serverId}`, this.options.serverId, ttlSeconds * 4)))
      return;
    const users = JSON.parse((await cache.get(`presence:users:${serverId}`)) ?? "[]") as string[];
    const online = await this.isOnline(users);
    for (const userId of users) {
      if (!online.get(userId))
        await this.options.onTransition({ userId, status: "OFFLINE", at: new Date() });
    }
  }

  /** Users with a socket on this replica (for tests and metrics). */
  get localUsers(): number {
    return this.#sockets.size;
  }
}
