// Builds the whole service from a Config: the outside services (database, later the bus
// and the cache), then the processes its role asks for. main.ts only parses config and
// calls this; tests build the same app on port 0 and stop it after.
import type { AddressInfo } from "node:net";
import { AccessTokens } from "./auth/access-tokens.js";
import { resolveJwtSecret } from "./auth/jwt-secret.js";
import { KnownUsers } from "./auth/known-users.js";
import { RefreshTokens } from "./auth/refresh-tokens.js";
import type { Cache } from "./cache/cache.js";
import { MemoryCache } from "./cache/memory-cache.js";
import { openCache } from "./cache/open-cache.js";
import type { Config } from "./config.js";
import type { Services } from "./context.js";
import { type Database, openDatabase } from "./db/database.js";
import { createLogger } from "./logger.js";
import { announcePresence } from "./presence/announce.js";
import { PresenceTracker } from "./presence/tracker.js";
import type { Bus } from "./pubsub/bus.js";
import { openBus } from "./pubsub/open-bus.js";
import { EventChannels } from "./resolvers/event-channels.js";
import { MembershipCache } from "./resolvers/membership-cache.js";
import { AccessWatch } from "./resolvers/streams/access-watch.js";
import { drainHttpServer } from "./server/drain.js";
import { createHttpServer } from "./server/http-server.js";
import { createMetrics, registerWorkerGauges } from "./server/metrics.js";
import { UserSlots } from "./server/user-slots.js";
import { attachWebSocketServer } from "./server/websocket.js";
import { createWorkerHealthServer } from "./server/worker-health.js";
import { createYogaServer } from "./server/yoga.js";
import { startAttachmentSweep } from "./storage/attachment-sweep.js";
import { LocalStorage } from "./storage/local-storage.js";
import { openStorage } from "./storage/open-storage.js";
import { startWorker } from "./worker/index.js";

/** Connections the kernel may hold for a replica before it accepts them. */
const LISTEN_BACKLOG = 4096;
export interface App {
  readonly config: Config;
  readonly services: Services;
  /**
   * Starts the processes of `config.role`; resolves once listening: the GraphQL endpoint
   * (api, all), or the worker's /ready (worker).
   */
  start(): Promise<{ port: number; url: string } | undefined>;
  /** Stops serving and closes every connection; safe to call twice. */
  stop(): Promise<void>;
}

export interface AppOverrides {
  /** Use this database instead of opening one from the config (tests share one). */
  db?: Database;
  /** Use this bus instead of opening one from the config. */
  bus?: Bus;
  /** Use this cache instead of opening one from the config. */
  cache?: Cache;
}

export async function buildApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  const db =
    overrides.db ??
    (await openDatabase({
      url: config.databaseUrl,
      poolSize: config.databasePoolSize,
      dataDir: config.dataDir,
      migrate: config.migrateOnStart,
    }));
  const logger = createLogger({
    serverId: config.serverId,
    role: config.role,
    level: config.logLevel,
  });
  // What the adapters report (connections lost and regained, outages, refusals).
  const log = (message: string, error?: unknown) =>
    error === undefined ? logger.info(message) : logger.warn({ err: error }, message);
  const metrics = createMetrics({ server: config.serverId });
  const bus =
    overrides.bus ??
    (await openBus({
      url: config.amqpUrl,
      prefix: config.namespace,
      shards: config.commandShards,
      connectionName: `${config.namespace}:${config.serverId}`,
      log,
      observe: {
        event: (event) => metrics.observeEvent(event),
        reconnected: () => metrics.busReconnects.inc(),
      },
    }));
  const cache = overrides.cache ?? openCache(config.memcachedServers, config.namespace);
  const jwtSecret = await resolveJwtSecret(config.jwtSecret, config.dataDir);
  const localLimits = new MemoryCache();
  const knownUsers = new KnownUsers(db.sql);
  const services: Services = {
    config,
    logger,
    metrics,
    db,
    accessTokens: new AccessTokens(jwtSecret, config.accessTokenTtlSeconds),
    knownUsers,
    refreshTokens: new RefreshTokens(db.prisma, config.refreshTokenTtlSeconds),
    bus,
    cache,
    storage: openStorage(config, jwtSecret),
    localLimits,
    userSlots: new UserSlots({ cache, localCache: localLimits, serverId: config.serverId, log }),
    membershipCache: new MembershipCache(),
    eventChannels: new EventChannels(),
    accessWatch: new AccessWatch(db.sql, { log }),
    presence: new PresenceTracker({
      cache,
      serverId: config.serverId,
      ttlSeconds: config.presenceTtlSeconds,
      onTransition: announcePresence({
        bus,
        cache,
        sql: db.sql,
        recentProfile: (userId) => knownUsers.takeRecentProfile(userId),
        log,
      }),
      log,
    }),
    lifecycle: { draining: false },
  };

  const servesApi = config.role === "api" || config.role === "all";
  const runsWorker = config.role === "worker" || config.role === "all";
  const stops: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;

  return {
    config,
    services,
    async start() {
      if (runsWorker) {
        const worker = await startWorker({
          db,
          bus,
          namespace: config.namespace,
          databaseUrl: config.databaseUrl,
          batchSize: config.workerBatchSize,
          log,
          metrics,
          webhooks: config.webhooks && {
            config: config.webhooks,
            isOnline: (userIds) => services.presence.isOnline(userIds),
          },
        });
        registerWorkerGauges(metrics, worker);
        services.worker = worker;
        stops.push(worker.stop);
        if (!servesApi) {
          const health = createWorkerHealthServer({ db, bus, worker, metrics });
          await new Promise<void>((resolve, reject) => {
            health.once("error", reject);
            health.listen(config.port, config.host, resolve);
          });
          stops.push(async () => {
            health.closeAllConnections();
            await new Promise<void>((resolve) => health.close(() => resolve()));
          });
          const { port } = health.address() as AddressInfo;
          return { port, url: `http://localhost:${port}/ready` };
        }
      }
      if (!servesApi) return undefined;
      await services.presence.start();
      services.userSlots.start();
      stops.push(startAttachmentSweep(db.sql, services.storage, log));
      const yoga = createYogaServer(services, metrics);
      const httpServer = createHttpServer(
        yoga,
        {
          maxBodyBytes: config.maxBodyBytes,
          graphiql: config.graphiql,
          uploads: services.storage instanceof LocalStorage ? services.storage : undefined,
        },
        metrics,
      );
      const ws = attachWebSocketServer(httpServer, {
        yoga,
        metrics,
        accessTokens: services.accessTokens,
        knownUsers: services.knownUsers,
        maxPayloadBytes: config.maxBodyBytes,
        pingIntervalMs: config.wsPingIntervalSeconds * 1000,
        userSlots: services.userSlots,
        maxSocketsPerUser: config.maxSocketsPerUser,
        onUserSocket: {
          opened: (userId) => services.presence.connected(userId),
          closed: (userId) => services.presence.disconnected(userId),
        },
        log,
      });
      await new Promise<void>((resolve, reject) => {
        httpServer.once("error", reject);
        // A deep accept queue: when a replica dies its sockets all reconnect to the others
        // within seconds. With Node's default (511) the queue overflowed in a storm of
        // 5,000 and the kernel reset connections clients believed open (ECONNRESET; each
        // reset client then backs off for longer), so the last one was back after 60 s.
        // The kernel caps it at net.core.somaxconn.
        httpServer.listen(
          { port: config.port, host: config.host, backlog: LISTEN_BACKLOG },
          resolve,
        );
      });
      stops.push(async () => {
        // Drain: /ready says 503, sockets are closed with 1001 (clients reconnect to
        // another replica and resume), requests in flight are answered (the bus and the
        // database stay open until they are), and what still runs at the time limit is cut,
        // leaving the rest of the limit to close the connections behind them.
        services.lifecycle.draining = true;
        const deadline = Date.now() + Math.max(500, config.shutdownTimeoutSeconds * 1000 - 2000);
        await Promise.all([ws.close(deadline), drainHttpServer(httpServer, deadline)]);
        services.accessWatch.stop();
        services.userSlots.stop();
      });
      // Runs first on stop: sockets closing because this replica goes away must not
      // announce their users offline (they reconnect elsewhere; if not, others notice).
      stops.push(() => services.presence.stop());
      const { port } = httpServer.address() as AddressInfo;
      return { port, url: `http://localhost:${port}/graphql` };
    },
    stop() {
      stopping ??= (async () => {
        // Stop accepting work first, then release what it used.
        for (const stop of stops.reverse()) await stop();
        if (!overrides.bus) await bus.close();
        if (!overrides.cache) await cache.close();
        await services.localLimits.close();
        services.storage.close?.();
        if (!overrides.db) await db.close();
      })();
      return stopping;
    },
  };
}
