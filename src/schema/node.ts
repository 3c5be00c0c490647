// The Node interface's root fields: refetch any object by its global id
// (resolvers/nodes.ts says who sees what). Ours rather than the relay plugin's, so a bad
// id is BAD_USER_INPUT on the argument and an invisible one is null, like a missing one.
import * as nodes from "../resolvers/nodes.js";
import { builder } from "./builder.js";

builder.queryFields((t) => ({
  node: t.field({
    type: builder.nodeInterfaceRef(),
    nullable: true,
    description:
      "Any object with an id, refetched by it (Relay's @refetchable). Null when it does not exist or the viewer may not see it; BAD_USER_INPUT when `id` is not an id of this API.",
    authScopes: { signedIn: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => nodes.node(ctx, args.id) as never,
  }),
  nodes: t.field({
    type: [builder.nodeInterfaceRef()],
    nullable: { list: false, items: true },
    description: `Several objects by id, in order (at most ${nodes.MAX_NODE_IDS}); null for each that does not exist or the viewer may not see.`,
    authScopes: { signedIn: true },
    args: { ids: t.arg.idList({ required: true }) },
    resolve: (_root, args, ctx) => nodes.nodes(ctx, args.ids) as never,
  }),
}));
