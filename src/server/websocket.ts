// graphql-ws on the same port and path as HTTP, executed through Yoga's envelop so both
// transports share the schema, plugins, context and auth.
//
// Auth rides in connectionParams (`{ authorization: "Bearer <token>" }`):
// - no token: the socket is anonymous (fields that need a user answer UNAUTHENTICATED);
// - an invalid token: the socket is closed with 4403;
// - an expired token, at connect time or later while the socket is open: closed with
//   4401, so the client refreshes its session and reconnects;
// - a user who already holds MAX_SOCKETS_PER_USER sockets (on any replica): closed with
//   1008 (policy violation; graphql-ws clients do not retry it).
import type { Server } from "node:http";
import { type ExecutionArgs, GraphQLError } from "graphql";
import { type Extra, useServer } from "graphql-ws/use/ws";
import { WebSocket, WebSocketServer } from "ws";
import type { AccessTokens } from "../auth/access-tokens.js";
import type { KnownUsers } from "../auth/known-users.js";
import {
  type Authentication,
  anonymous,
  authenticate,
  authorizationFromParams,
  type TokenCheck,
} from "./authenticate.js";
import type { Metrics } from "./metrics.js";
import { type FrameTarget, writeNextFrames } from "./next-frames.js";
import type { SlotLease, UserSlots } from "./user-slots.js";
import type { Yoga } from "./yoga.js";

export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;
export const CLOSE_TOO_MANY_SOCKETS = 1008;
const MAX_SUBSCRIPTIONS_PER_SOCKET = 100;
/** setTimeout cannot wait longer than this (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface SocketState extends Record<PropertyKey, unknown> {
  auth?: Authentication;
  expiryTimer?: NodeJS.Timeout;
  /** Set once the socket counted for presence (so its close is counted exactly once). */
  presenceUserId?: string;
  /** The user's socket slot, held while open. */
  slot?: SlotLease;
  /** Operations counted as live subscriptions (so each is uncounted exactly once). */
  liveOperations?: Set<string>;
  /** What the context reads of the upgrade request (see keepPeer). */
  peer?: UpgradePeer;
}

/** The part of the upgrade request a context reads: the client's address (yoga.ts). */
interface UpgradePeer {
  socket: { remoteAddress?: string };
  headers: { "x-forwarded-for"?: string | string[] };
}

/**
 * Keeps what the context reads of the upgrade request and lets graphql-ws drop the rest:
 * it holds `extra.request` (an IncomingMessage with its headers, raw headers and stream
 * state) for the socket's life, and every subscription's context held it too, while an
 * idle socket's heap is what bounds the sockets a replica can hold (issue 10).
 */
function keepPeer(extra: Extra & SocketState): UpgradePeer {
  if (!extra.peer) {
    const { request } = extra;
    extra.peer = {
      socket: { remoteAddress: request.socket.remoteAddress },
      headers: { "x-forwarded-for": request.headers["x-forwarded-for"] },
    };
    // graphql-ws reads `extra` only to hand it to us.
    (extra as { request?: unknown }).request = undefined;
  }
  return extra.peer;
}

interface ExecutableRoot {
  execute(args: ExecutionArgs): unknown;
  subscribe(args: ExecutionArgs): unknown;
  /** Where a live stream's results go as `next` frames (next-frames.ts). */
  frames: FrameTarget;
}

export interface WebSocketOptions {
  yoga: Yoga;
  accessTokens: AccessTokens;
  /** Tokens of users that do not exist are refused (4403 / UNAUTHENTICATED). */
  knownUsers?: KnownUsers;
  /** Largest accepted message in bytes. */
  maxPayloadBytes: number;
  /**
   * Every socket is pinged this often; one that has not answered the previous ping is
   * terminated: a peer that vanished (half-open TCP, still counted online) or a reader
   * that stopped reading (whose streams would otherwise sit blocked forever).
   */
  pingIntervalMs: number;
  /** Where sockets of signed-in users claim one of their MAX_SOCKETS_PER_USER slots. */
  userSlots: UserSlots;
  maxSocketsPerUser: number;
  /** Counts live subscriptions. */
  metrics?: Metrics;
  /** Told when an authenticated socket opens and closes (presence). */
  onUserSocket?: { opened(userId: string): Promise<void>; closed(userId: string): Promise<void> };
  log?: (message: string, error?: unknown) => void;
}

export function attachWebSocketServer(httpServer: Server, options: WebSocketOptions) {
  const wsServer = new WebSocketServer({
    server: httpServer,
    path: options.yoga.graphqlEndpoint,
    maxPayload: options.maxPayloadBytes,
  });

  const disposable = useServer<Record<string, unknown> | undefined, SocketState>(
    {
      execute: (args) => (args.rootValue as ExecutableRoot).execute(args) as never,
      // A live stream's results are written as frames here, not by graphql-ws (why in
      // next-frames.ts); a single result (an error at subscribe time) is graphql-ws's.
      subscribe: async (args) => {
        const root = args.rootValue as ExecutableRoot;
        const result = await root.subscribe(args);
        return (
          Symbol.asyncIterator in Object(result)
            ? writeNextFrames(result as AsyncIterable<object>, root.frames)
            : result
        ) as never;
      },

      onConnect: async (ctx) => {
        keepPeer(ctx.extra);
        const auth = await authenticate(options, authorizationFromParams(ctx.connectionParams));
        // Read once: the socket keeps its verified sign-in (extra.auth), not the token.
        // graphql-ws would hold the params for the socket's life, and the token with them
        // (about 0.3 KiB of every socket, issue 10).
        (ctx as { connectionParams?: unknown }).connectionParams = undefined;
        if (auth.authProblem === "expired") {
          ctx.extra.socket.close(CLOSE_UNAUTHORIZED, "Access token expired");
          return false;
        }
        if (auth.authProblem === "invalid") return false; // graphql-ws closes with 4403
        const userId = auth.viewer?.id;
        const slot = userId
          ? await options.userSlots.claim("sockets", userId, options.maxSocketsPerUser)
          : undefined;
        if (slot === null) {
          ctx.extra.socket.close(
            CLOSE_TOO_MANY_SOCKETS,
            `Too many open sockets for this user (at most ${options.maxSocketsPerUser})`,
          );
          return false;
        }
        // Closed while we were checking the token: graphql-ws has already run onClose for
        // it, so counting the user online now would leave them ONLINE with no socket (and
        // the slot held by nobody).
        if (ctx.extra.socket.readyState !== WebSocket.OPEN) {
          await slot?.release();
          return false;
        }
        ctx.extra.slot = slot;
        ctx.extra.auth = auth;
        if (auth.expiresAt !== undefined) closeOnExpiry(ctx.extra, auth.expiresAt);
        if (userId && options.onUserSocket) {
          ctx.extra.presenceUserId = userId;
          await options.onUserSocket
            .opened(userId)
            .catch((error) => options.log?.("presence (open) failed", error));
        }
        return true;
      },

      onClose: async (ctx) => {
        clearTimeout(ctx.extra.expiryTimer);
        await ctx.extra.slot?.release();
        const userId = ctx.extra.presenceUserId;
        if (userId && options.onUserSocket) {
          await options.onUserSocket
            .closed(userId)
            .catch((error) => options.log?.("presence (close) failed", error));
        }
      },

      onOperation: (ctx, id, _payload, _args, result) => {
        // A stream (not an error answered at subscribe time): the client is subscribed now.
        if (!options.metrics || !(Symbol.asyncIterator in Object(result))) return;
        ctx.extra.liveOperations ??= new Set();
        ctx.extra.liveOperations.add(id);
        options.metrics.subscriptionsStarted.inc();
        options.metrics.subscriptionsActive.inc();
      },

      onComplete: (ctx, id) => {
        if (ctx.extra.liveOperations?.delete(id)) options.metrics?.subscriptionsActive.dec();
      },

      onSubscribe: async (ctx, id, payload) => {
        // Each live subscription binds routing keys and holds a queue: bound them per socket.
        // (graphql-ws has already reserved this one's id when it asks us.)
        if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS_PER_SOCKET) {
          return [
            new GraphQLError(`At most ${MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions per socket.`, {
              extensions: { code: "RATE_LIMITED" },
            }),
          ];
        }
        const operation = await operationAuth(
          ctx.extra.auth ?? anonymous,
          payload.extensions,
          options,
        );
        // The socket's own token: the socket closes at its expiry (4401), so its streams
        // need no expiry of their own, and its slot counts them. A per-operation token's
        // streams end at its expiry (server/stream-expiry.ts), the socket staying open,
        // and each claims a stream slot of its user (server/stream-caps.ts).
        const carriedBySocket = operation === ctx.extra.auth;
        const socketAuth: Authentication = carriedBySocket
          ? { viewer: operation.viewer, authProblem: operation.authProblem }
          : operation;
        // Listed, not spread from graphql-ws's context (nothing reads its fields from an
        // operation's): in this V8 an object made by spreading gets a hidden class of its
        // own, a few hundred bytes kept for the subscription's life (issue 10).
        const enveloped = options.yoga.getEnveloped({
          req: keepPeer(ctx.extra),
          params: payload,
          socketAuth,
          carriedBySocket,
        });
        // A syntax error, or a validation rule that throws, answers this operation alone:
        // the socket (with its other operations) stays open. (The operation limits report
        // their typed errors as validation errors: server/operation-limits.ts.)
        let document: ReturnType<typeof enveloped.parse>;
        let errors: readonly GraphQLError[];
        try {
          document = enveloped.parse(payload.query);
          errors = enveloped.validate(enveloped.schema, document);
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        if (errors.length > 0) return errors;

        const root: ExecutableRoot = {
          execute: enveloped.execute,
          subscribe: enveloped.subscribe,
          frames: { socket: ctx.extra.socket, id },
        };
        return {
          schema: enveloped.schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await enveloped.contextFactory(),
          rootValue: root,
        };
      },
    },
    wsServer,
    // graphql-ws's own keep-alive is off: it gave every socket an interval of its own, and a
    // timeout and a pong listener at each ping, besides the one interval below that pings
    // every socket already (issue 10).
    0,
  );

  // The ws library answers pings by itself; a missing pong is the only sign of a peer
  // that cannot (or will not) read what we send.
  const answered = new WeakSet<WebSocket>();
  wsServer.on("connection", (socket) => {
    answered.add(socket);
    socket.on("pong", () => answered.add(socket));
    options.metrics?.socketsOpen.inc();
    socket.once("close", () => options.metrics?.socketsOpen.dec());
  });
  const pinger = setInterval(() => {
    for (const socket of wsServer.clients) {
      if (!answered.delete(socket)) {
        options.log?.("websocket: no answer to the last ping; closing the socket");
        socket.terminate();
        continue;
      }
      socket.ping();
    }
  }, options.pingIntervalMs);
  pinger.unref();

  return {
    wsServer,
    /**
     * Closes every socket with 1001 (clients reconnect to another replica and resume) and
     * resolves once they have all closed; a peer that has not answered the close by
     * `deadline` (epoch ms) is cut.
     */
    async close(deadline: number) {
      clearInterval(pinger);
      for (const client of wsServer.clients) client.close(1001, "Server shutting down");
      const timer = setTimeout(
        () => {
          for (const client of wsServer.clients) client.terminate();
        },
        Math.max(0, deadline - Date.now()),
      );
      try {
        await disposable.dispose();
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function closeOnExpiry(extra: Extra & Partial<SocketState>, expiresAt: number) {
  const delay = Math.min(MAX_TIMER_MS, Math.max(0, expiresAt * 1000 - Date.now()));
  extra.expiryTimer = setTimeout(
    () => extra.socket.close(CLOSE_UNAUTHORIZED, "Access token expired"),
    delay,
  );
  extra.expiryTimer.unref();
}

/**
 * GraphiQL sends its Headers tab per operation (`extensions.headers`) rather than in
 * connectionParams; an anonymous socket may authenticate a single operation that way.
 */
async function operationAuth(socketAuth: Authentication, extensions: unknown, check: TokenCheck) {
  if (socketAuth.viewer) return socketAuth;
  const header = authorizationFromParams(
    (extensions as { headers?: unknown } | undefined)?.headers,
  );
  return header === undefined ? socketAuth : authenticate(check, header);
}
