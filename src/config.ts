// The one place that reads the environment. Everything else receives a parsed,
// validated `Config` so tests can build apps with explicit settings.
import { hostname } from "node:os";
import { resolve } from "node:path";
import { z } from "zod";

const optionalUrl = z
  .string()
  .trim()
  .transform((value) => (value === "" ? undefined : value))
  .optional();

const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  /** Which process to run: `api`, `worker` or both in one process (`all`, the default). */
  ROLE: z.enum(["api", "worker", "all"]).default("all"),
  /** HTTP + WebSocket port (default 4000; 0 picks a free one). */
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  /** Interface to listen on (default all interfaces). */
  HOST: z.string().default("0.0.0.0"),
  /** Identifies this replica in presence keys and logs (default host name and pid). */
  SERVER_ID: z.string().min(1).optional(),
  /** PostgreSQL URL; unset means embedded PGlite under DATA_DIR. */
  DATABASE_URL: optionalUrl,
  /** Connections each process keeps to PostgreSQL (default 10). A worker holds up to two per shard it consumes at once (its batch and its outbox flush). */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(10),
  /** RabbitMQ URL; unset means the in-process bus. */
  AMQP_URL: optionalUrl,
  /** Comma-separated memcached servers (host:port); unset means the in-process cache. */
  MEMCACHED_SERVERS: optionalUrl,
  /** Where embedded state lives (PGlite data, the development JWT secret). Default ./.data */
  DATA_DIR: z.string().default(".data"),
  /** HMAC secret for access tokens (at least 32 characters). Required in production. */
  JWT_SECRET: z.string().min(32, "JWT_SECRET must be at least 32 characters").optional(),
  /** Access token lifetime in seconds (default 900). */
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().positive().default(900),
  /** Refresh token lifetime in seconds (default 30 days). */
  REFRESH_TOKEN_TTL_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(30 * 24 * 3600),
  /** Largest accepted HTTP body or WebSocket message in bytes (default 1 MiB). */
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** WebSocket ping interval in seconds; a socket that has not answered the previous ping is closed (default 30). */
  WS_PING_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  /** Deepest nesting one operation may ask for (default 12; deeper answers TOO_DEEP). */
  MAX_QUERY_DEPTH: z.coerce.number().int().min(1).max(100).default(12),
  /** Aliases one operation may use (default 20; more answers TOO_MANY_ALIASES). */
  MAX_QUERY_ALIASES: z.coerce.number().int().min(0).max(1000).default(20),
  /** Static cost one operation may reach (default 50,000; more answers TOO_COSTLY). */
  MAX_QUERY_COST: z.coerce.number().int().min(1).default(50_000),
  /** Least severe log level written: trace, debug, info, warn, error, fatal or silent (default info). */
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).optional(),
  /** On SIGTERM/SIGINT: the longest a process takes to drain and exit (default 10; then it exits anyway, code 1). */
  SHUTDOWN_TIMEOUT_SECONDS: z.coerce.number().min(1).max(600).default(10),
  /** Proxies (load balancers) in front of the api that append to X-Forwarded-For: the client address is read from there (default 0: the socket's peer). */
  TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
  /** Serve GraphiQL at the endpoint (default: on, except in production). */
  GRAPHIQL: z.enum(["true", "false"]).optional(),
  /** Answer introspection queries (default: on, except in production). */
  INTROSPECTION: z.enum(["true", "false"]).optional(),
  /** Browser origins allowed to call the API with credentials, comma-separated, or `*` (default: any in development and test, none in production). */
  CORS_ORIGINS: optionalUrl,
  /** Prefix of RabbitMQ exchange/queue names and Memcached keys, so deployments can share servers (default "chat"). */
  NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .default("chat"),
  /** Command shards: queues that keep each channel's commands in order (default 8; all processes must agree). */
  COMMAND_SHARDS: z.coerce.number().int().min(1).max(256).default(8),
  /** Commands the worker persists per transaction (default 100). */
  WORKER_BATCH_SIZE: z.coerce.number().int().min(1).max(5000).default(100),
  /** Presence keys live this long without a heartbeat; a dead replica's users go offline within 2x (default 30). */
  PRESENCE_TTL_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  /** Messages one user may send per 10 seconds, across replicas (default 100). */
  SEND_RATE_LIMIT: z.coerce.number().int().min(1).default(100),
  /** Sockets one user may hold open at once, across replicas (default 20). */
  MAX_SOCKETS_PER_USER: z.coerce.number().int().min(1).default(20),
  /** Subscriptions one user may hold outside a signed-in socket (server-sent events, per-operation tokens), across replicas (default 50). */
  MAX_STREAMS_PER_USER: z.coerce.number().int().min(1).default(50),
  /** Outgoing webhooks: comma-separated http(s) URLs that receive message events and offline mentions (default none). */
  WEBHOOK_URLS: optionalUrl,
  /** HMAC-SHA256 key that signs every webhook (at least 32 characters; required with WEBHOOK_URLS). */
  WEBHOOK_SECRET: z.string().min(32, "WEBHOOK_SECRET must be at least 32 characters").optional(),
  /** First retry delay of a failed webhook in ms, doubled per attempt up to 10 minutes (default 1000). */
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(1).max(600_000).default(1000),
  /** Attempts before a webhook is given up (kept in webhook_deliveries with failed_at; default 15, about 1.5 hours). */
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(1000).default(15),
  /** Largest attachment in bytes (default 25 MiB). */
  ATTACHMENT_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(25 * 1024 * 1024),
  /** Accepted attachment types, comma-separated; `type/*` accepts a family (default: images, PDF, plain text, audio, video, zip). */
  ATTACHMENT_TYPES: z
    .string()
    .default("image/*,application/pdf,text/plain,audio/*,video/*,application/zip"),
  /** Where local-disk uploads are served from, for absolute URLs (default: URLs relative to the API's origin, /uploads/…). */
  PUBLIC_URL: optionalUrl,
  /** S3 bucket for attachments; unset means the local disk under DATA_DIR/uploads. */
  S3_BUCKET: optionalUrl,
  /** S3 API endpoint for S3-compatible servers (MinIO, R2, …); unset means AWS. */
  S3_ENDPOINT: optionalUrl,
  /** S3 region (default us-east-1). */
  S3_REGION: z.string().default("us-east-1"),
  /** S3 credentials (default: the AWS SDK's chain: environment, profile, instance role). */
  S3_ACCESS_KEY_ID: optionalUrl,
  S3_SECRET_ACCESS_KEY: optionalUrl,
  /** Path-style URLs (bucket in the path), as most S3-compatible servers need (default false). */
  S3_FORCE_PATH_STYLE: z
    .enum(["true", "false"])
    .transform((value) => value === "true")
    .default(false),
  /** Apply pending migrations at start-up (default: only in embedded mode). */
  MIGRATE_ON_START: z
    .enum(["true", "false"])
    .transform((value) => value === "true")
    .optional(),
});

export type Role = "api" | "worker" | "all";

export interface Config {
  env: "development" | "production" | "test";
  role: Role;
  port: number;
  host: string;
  serverId: string;
  /** Undefined: embedded PGlite in `dataDir`. */
  databaseUrl: string | undefined;
  databasePoolSize: number;
  amqpUrl: string | undefined;
  memcachedServers: string | undefined;
  namespace: string;
  commandShards: number;
  workerBatchSize: number;
  presenceTtlSeconds: number;
  sendRateLimit: number;
  /** Sockets one user may hold open at once, across replicas. */
  maxSocketsPerUser: number;
  /** Subscriptions one user may hold outside a signed-in socket, across replicas. */
  maxStreamsPerUser: number;
  dataDir: string;
  /** Undefined outside production: a secret is generated and kept in `dataDir`. */
  jwtSecret: string | undefined;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  maxBodyBytes: number;
  /** GraphiQL served (off in production unless GRAPHIQL=true). */
  graphiql: boolean;
  /** Introspection and "Did you mean …" suggestions answered (off in production unless INTROSPECTION=true). */
  introspection: boolean;
  /** Allowed browser origins; "*" for any; [] for none. */
  corsOrigins: string[] | "*";
  /** A socket that misses a ping for this long is closed (dead peer, or a reader that stopped reading). */
  wsPingIntervalSeconds: number;
  shutdownTimeoutSeconds: number;
  /** Bounds on one operation: nesting, aliases, static cost. */
  operationLimits: { depth: number; aliases: number; cost: number };
  logLevel: string;
  /** Proxies in front that append to X-Forwarded-For (server/client-address.ts). */
  trustedProxyHops: number;
  migrateOnStart: boolean;
  /** Outgoing webhooks (worker/webhooks.ts); undefined: none. */
  webhooks: WebhookConfig | undefined;
  attachments: AttachmentConfig;
}

export interface AttachmentConfig {
  maxBytes: number;
  /** Accepted content types; `type/*` accepts a family. */
  types: string[];
  /** Origin for local-disk URLs (undefined: relative to the API's origin). */
  publicUrl: string | undefined;
  /** Undefined: the local disk under DATA_DIR/uploads. */
  s3:
    | {
        bucket: string;
        endpoint: string | undefined;
        region: string;
        credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
        forcePathStyle: boolean;
      }
    | undefined;
}

export interface WebhookConfig {
  urls: string[];
  secret: string;
  retryBaseMs: number;
  maxAttempts: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // `PORT=` in a compose or .env file means "not set", not "port 0".
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value?.trim()));
  const parsed = envSchema.safeParse(given);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `  ${issue.path.join(".")}: ${issue.message}`,
    );
    throw new ConfigError(`Invalid configuration:\n${problems.join("\n")}`);
  }
  const e = parsed.data;
  if (e.NODE_ENV === "production" && !e.JWT_SECRET) {
    throw new ConfigError(
      "JWT_SECRET is required when NODE_ENV=production (at least 32 random characters, e.g. `openssl rand -base64 48`).",
    );
  }
  // The embedded adapters live in one process: a replica or a worker of its own would
  // share nothing with the others and silently lose what they send it.
  if (e.ROLE !== "all") {
    const missing = [
      ...(e.DATABASE_URL ? [] : ["DATABASE_URL"]),
      ...(e.AMQP_URL ? [] : ["AMQP_URL"]),
    ];
    if (missing.length > 0)
      throw new ConfigError(
        `ROLE=${e.ROLE} runs beside other processes and needs ${missing.join(" and ")} (the embedded database and bus exist only inside one ROLE=all process).`,
      );
  }
  const webhookUrls = (e.WEBHOOK_URLS ?? "")
    .split(",")
    .map((url) => url.trim())
    .filter(Boolean);
  for (const url of webhookUrls)
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
      throw new ConfigError(`WEBHOOK_URLS: ${url} is not an http(s) URL`);
  if (webhookUrls.length > 0 && !e.WEBHOOK_SECRET)
    throw new ConfigError(
      "WEBHOOK_SECRET is required with WEBHOOK_URLS (at least 32 random characters): receivers verify every webhook's signature with it.",
    );
  return {
    env: e.NODE_ENV,
    role: e.ROLE,
    port: e.PORT,
    host: e.HOST,
    serverId: e.SERVER_ID ?? `${hostname()}-${process.pid}`,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    amqpUrl: e.AMQP_URL,
    memcachedServers: e.MEMCACHED_SERVERS,
    namespace: e.NAMESPACE,
    commandShards: e.COMMAND_SHARDS,
    workerBatchSize: e.WORKER_BATCH_SIZE,
    presenceTtlSeconds: e.PRESENCE_TTL_SECONDS,
    sendRateLimit: e.SEND_RATE_LIMIT,
    maxSocketsPerUser: e.MAX_SOCKETS_PER_USER,
    maxStreamsPerUser: e.MAX_STREAMS_PER_USER,
    dataDir: resolve(e.DATA_DIR),
    jwtSecret: e.JWT_SECRET,
    accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: e.REFRESH_TOKEN_TTL_SECONDS,
    maxBodyBytes: e.MAX_BODY_BYTES,
    wsPingIntervalSeconds: e.WS_PING_INTERVAL_SECONDS,
    shutdownTimeoutSeconds: e.SHUTDOWN_TIMEOUT_SECONDS,
    operationLimits: {
      depth: e.MAX_QUERY_DEPTH,
      aliases: e.MAX_QUERY_ALIASES,
      cost: e.MAX_QUERY_COST,
    },
    logLevel: e.LOG_LEVEL ?? "info",
    trustedProxyHops: e.TRUSTED_PROXY_HOPS,
    attachments: {
      maxBytes: e.ATTACHMENT_MAX_BYTES,
      types: e.ATTACHMENT_TYPES.split(",")
        .map((type) => type.trim().toLowerCase())
        .filter(Boolean),
      publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ""),
      s3: e.S3_BUCKET
        ? {
            bucket: e.S3_BUCKET,
            endpoint: e.S3_ENDPOINT,
            region: e.S3_REGION,
            credentials:
              e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY
                ? { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY }
                : undefined,
            forcePathStyle: e.S3_FORCE_PATH_STYLE,
          }
        : undefined,
    },
    webhooks:
      webhookUrls.length > 0 && e.WEBHOOK_SECRET
        ? {
            urls: webhookUrls,
            secret: e.WEBHOOK_SECRET,
            retryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
            maxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
          }
        : undefined,
    graphiql: e.GRAPHIQL ? e.GRAPHIQL === "true" : e.NODE_ENV !== "production",
    introspection: e.INTROSPECTION ? e.INTROSPECTION === "true" : e.NODE_ENV !== "production",
    corsOrigins:
      e.CORS_ORIGINS === undefined
        ? e.NODE_ENV === "production"
          ? []
          : "*"
        : e.CORS_ORIGINS.trim() === "*"
          ? "*"
          : e.CORS_ORIGINS.split(",")
              .map((origin) => origin.trim())
              .filter(Boolean),
    migrateOnStart: e.MIGRATE_ON_START ?? e.DATABASE_URL === undefined,
  };
}
