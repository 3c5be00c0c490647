// The GraphQL server: Yoga over the Pothos schema, with GraphiQL (subscriptions over
// graphql-ws), masked errors (error-masking.ts), /health and /ready.
import { costLimitPlugin } from "@escape.tech/graphql-armor-cost-limit";
import { maxAliasesPlugin } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthPlugin } from "@escape.tech/graphql-armor-max-depth";
import type { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import { createYoga, useReadinessCheck, type YogaServerInstance } from "graphql-yoga";
import type { Context, Services } from "../context.js";
import { createLoaders } from "../resolvers/loaders.js";
import { schema } from "../schema/index.js";
import { type Authentication, authenticate } from "./authenticate.js";
import { clientAddress } from "./client-address.js";
import { createErrorMasking, useErrorMasking } from "./error-masking.js";
import type { Metrics } from "./metrics.js";
import { useNoIntrospection } from "./no-introspection.js";
import { reportAs } from "./operation-limits.js";
import { useOperationLog } from "./operation-log.js";
import { useSharedEventExecution } from "./shared-event-execution.js";
import { useStreamCaps } from "./stream-caps.js";
import { useStreamExpiry } from "./stream-expiry.js";

/** What the WebSocket layer adds to Yoga's initial context (see websocket.ts). */
export interface SocketContext {
  socketAuth?: Authentication;
  /** The operation runs under its socket's own sign-in, so the socket's slot counts it. */
  carriedBySocket?: boolean;
}

export type Yoga = YogaServerInstance<SocketContext, Context>;

/**
 * GraphiQL from the package itself (scripts, styles and editor workers inlined, about
 * 9 MB): Yoga's default page loads them from a CDN and is blank without internet access.
 * Rendered once per set of options, not per request. The package is imported on the first
 * page asked for, not at startup: its module source and the string it exports held about
 * 28 MB of every replica's heap, production ones too, where GraphiQL is off (issue 10).
 */
const graphiqlPages = new Map<string, Promise<string>>();
function offlineGraphiQL(options: Parameters<typeof renderGraphiQL>[0]) {
  const key = JSON.stringify(options ?? {});
  let page = graphiqlPages.get(key);
  if (!page) {
    page = import("@graphql-yoga/render-graphiql").then((graphiql) =>
      graphiql.renderGraphiQL(options),
    );
    // A failed import is not remembered: the next request tries again.
    page.catch(() => graphiqlPages.delete(key));
    graphiqlPages.set(key, page);
  }
  return page;
}

const defaultQuery = `# Sign in, then put {"Authorization": "Bearer <accessToken>"} in the Headers tab.
mutation Login {
  login(input: { login: "alice", password: "correct horse battery" }) {
    accessToken
    user { id username displayName }
  }
}
`;

export function createYogaServer(services: Services, metrics?: Metrics): Yoga {
  const limits = services.config.operationLimits;
  const masking = createErrorMasking({
    isDev: services.config.env === "development",
    logger: services.logger,
  });
  /** Yoga's logger calls (a message, then details) as one structured line. */
  const report =
    (level: "debug" | "info" | "warn" | "error") =>
    (...args: unknown[]) =>
      services.logger[level](
        { err: args.find((a) => a instanceof Error), detail: args.slice(1) },
        String(args[0]),
      );
  return createYoga<SocketContext, Context>({
    schema,
    graphqlEndpoint: "/graphql",
    // The HTTP server refuses a body over MAX_BODY_BYTES by its Content-Length before
    // anything reads it, and a body without one (http-server.ts). Yoga's own limit would
    // pipe every accepted body through a counting TransformStream: a second Request, a
    // stream pipeline and the AbortError its end creates, on every request (about 2 % of
    // an api replica's time sending messages, issue 10), to re-check what is settled.
    maxRequestBodySize: false,
    healthCheckEndpoint: "/health",
    landingPage: false,
    renderGraphiQL: offlineGraphiQL,
    graphiql: services.config.graphiql
      ? { title: "Chat GraphQL", subscriptionsProtocol: "WS", defaultQuery }
      : false,
    // Credentials only for the configured origins (none in production by default): never
    // an echo of whatever origin asks.
    cors: (request) => {
      const allowed = services.config.corsOrigins;
      const origin = request.headers.get("origin");
      if (!origin || (allowed !== "*" && !allowed.includes(origin))) return false;
      return { origin, credentials: true, methods: ["GET", "POST"] };
    },
    // Masked by our own plugin (error-masking.ts): the same rules, without a wrapper
    // around every subscriber's stream.
    maskedErrors: false,
    // Yoga's own reports (unexpected errors) go to the same structured log.
    logging: {
      debug: report("debug"),
      info: report("info"),
      warn: report("warn"),
      error: report("error"),
    },
    context: async (initial): Promise<Context> => {
      const auth =
        initial.socketAuth ??
        (await authenticate(services, initial.request.headers.get("authorization") ?? undefined));
      // Node's request: Yoga's server context over HTTP, and what websocket.ts passes.
      const req = (
        initial as {
          req?: {
            socket?: { remoteAddress?: string };
            headers?: Record<string, string | string[] | undefined>;
          };
        }
      ).req;
      return {
        services,
        prisma: services.db.prisma,
        viewer: auth.viewer,
        authProblem: auth.authProblem,
        clientAddress: clientAddress(
          req?.socket?.remoteAddress,
          req?.headers?.["x-forwarded-for"],
          services.config.trustedProxyHops,
        ),
        tokenExpiresAt: auth.expiresAt === undefined ? null : auth.expiresAt * 1000,
        memo: new Map(),
        loaders: createLoaders(services.db.prisma, auth.viewer?.id ?? null),
      };
    },
    plugins: [
      // Bounds on what one operation may ask for, on HTTP and WebSocket alike: nesting,
      // aliases (one field asked many times) and overall static cost.
      maxDepthPlugin({
        n: limits.depth,
        flattenFragments: true,
        ...reportAs("TOO_DEEP", limits.depth),
      }),
      // __typename aliases count too (the library lets them through by default): fifty
      // thousand of them are still fifty thousand response fields.
      maxAliasesPlugin({
        n: limits.aliases,
        allowList: [],
        ...reportAs("TOO_MANY_ALIASES", limits.aliases),
      }),
      // Cost grows with depth (x1.5 per level): a sidebar query with its members and
      // channels costs about 7,500; 50,000 leaves room and still stops abuse.
      costLimitPlugin({ maxCost: limits.cost, ...reportAs("TOO_COSTLY", limits.cost) }),
      useOperationLog(services.logger),
      useStreamExpiry(),
      useStreamCaps(),
      useSharedEventExecution({ counters: metrics, masking }),
      ...(services.config.introspection ? [] : [useNoIntrospection()]),
      useReadinessCheck({
        endpoint: "/ready",
        // false (503) rather than throwing: a thrown error's message would reach the caller.
        check: async () => {
          // Draining: a load balancer that asks stops sending new work here.
          if (services.lifecycle.draining) return false;
          try {
            await Promise.all([services.db.ping(), services.bus.ping(), services.cache.ping()]);
            // A worker in this process waiting out an outage is not ready either.
            return !services.worker?.status().paused;
          } catch {
            return false;
          }
        },
      }),
      // Last, as Yoga's own masking was: the plugins above see errors as they were thrown
      // (the operation log's codes), clients see them masked.
      useErrorMasking(masking),
    ],
  });
}
