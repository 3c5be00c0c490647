// The one Pothos builder: plugins, scalars, the context type. Nothing else.
import SchemaBuilder from "@pothos/core";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import type { Context } from "../context.js";
import type PrismaTypes from "../db/generated/pothos-types.js";
import { getDatamodel } from "../db/generated/pothos-types.js";
import type { GroupRole } from "../db/generated/prisma/enums.js";
import { badUserInput } from "../errors.js";
import { requireChannelAccess, requireGroupRole } from "../resolvers/access.js";
import { parseId } from "../resolvers/validation.js";
import { requireViewerId } from "../resolvers/viewer.js";

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: {
    signedIn: boolean;
    /** The viewer's role in the group is at least `atLeast` (resolvers/access.ts). */
    groupRole: { groupId: unknown; field: string; atLeast: GroupRole };
    /** The viewer may see (`view`) or is in (`member`) the channel. */
    channel: { channelId: unknown; field: string; need: "view" | "member" };
  };
  // Non-null unless a field says otherwise: clients (and codegen types) get exact shapes.
  DefaultFieldNullability: false;
  DefaultEdgesNullability: { list: false; items: false };
  DefaultNodeNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    ID: { Input: string; Output: string };
  };
}>({
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    // A subscription field's scopes are checked when it is subscribed, not again on every
    // event: who may receive each event is the streams' own per-event check (membership,
    // blocks: resolvers/streams/follow.ts), and a signed-in stream ends when its token
    // expires (server/stream-expiry.ts). Per-event checks also made every event's
    // execution depend on its viewer, so it could not be shared (shared-event-execution.ts).
    authorizeOnSubscribe: true,
    // The rules live in resolvers/access.ts; they throw the typed error themselves
    // (NOT_FOUND for outsiders, FORBIDDEN for a missing role, UNAUTHENTICATED).
    authScopes: (ctx) => ({
      signedIn: ctx.viewer !== null,
      groupRole: async ({ groupId, field, atLeast }) => {
        await requireGroupRole(ctx, parseId(field, groupId, "Group"), field, atLeast);
        return true;
      },
      channel: async ({ channelId, field, need }) => {
        await requireChannelAccess(ctx, parseId(field, channelId, "Channel"), field, need);
        return true;
      },
    }),
    // Scope failures that are about sign-in say so (and why a token was refused).
    unauthorizedError: (_parent, ctx) => {
      try {
        requireViewerId(ctx);
      } catch (error) {
        return error as Error;
      }
      return new Error("Not authorized");
    },
  },
  prisma: {
    // Per request, so tests can run several apps (databases) in one process.
    client: (ctx) => ctx.prisma,
    dmmf: getDatamodel(),
    filterConnectionTotalCount: true,
  },
  relay: {
    clientMutationId: "omit",
    cursorType: "String",
    edgesFieldOptions: { nullable: { list: false, items: false } },
    nodeFieldOptions: { nullable: false },
    nodeTypeOptions: {
      description:
        "An object with an opaque, stable global id (it names the type too): a normalized cache keys every Node by `id` alone, and node(id:) refetches it.",
    },
    // Global ids are the plugin's (resolvers/global-ids.ts); node/nodes are our own
    // fields (schema/node.ts), with typed errors and per-type visibility.
    nodeQueryOptions: false,
    nodesQueryOptions: false,
  },
});

export const DateTime = builder.scalarType("DateTime", {
  description: "An ISO-8601 date and time in UTC, e.g. 2026-11-29T14:00:00.000Z.",
  // What codegen and clients read to map it (RFC 3339 date-time, as graphql-scalars' DateTime).
  specifiedByURL: "https://scalars.graphql.org/andimarek/date-time",
  serialize: (value) => value.toISOString(),
  parseValue: (value) => {
    const date = typeof value === "string" ? new Date(value) : new Date(Number.NaN);
    if (Number.isNaN(date.getTime()))
      throw badUserInput("DateTime", "must be an ISO-8601 date-time");
    return date;
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
