// One log line per GraphQL operation: its name and kind, the user, how long it took and
// the codes of its errors, with a request id (the caller's X-Request-Id, or a new one,
// echoed in the response) that ties it to the client's own logs. Never its variables:
// they hold message bodies and passwords. Subscriptions are logged when they start; their
// events are counted in /metrics, not logged.
import { randomUUID } from "node:crypto";
import type { ExecutionArgs, GraphQLError, OperationDefinitionNode } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Logger } from "../logger.js";

const REQUEST_ID = /^[\w.:-]{1,128}$/;

interface LoggedContext {
  request?: Request;
  viewer?: { id: string } | null;
}

/** The operation that runs: the one named, or the document's only one. */
function operationOf(args: ExecutionArgs) {
  const operations = args.document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === "OperationDefinition",
  );
  return args.operationName
    ? operations.find((d) => d.name?.value === args.operationName)
    : operations[0];
}

export function useOperationLog(logger: Logger): Plugin {
  const ids = new WeakMap<Request, string>();
  const idOf = (request: Request | undefined) => {
    if (!request) return randomUUID();
    let id = ids.get(request);
    if (!id) {
      const given = request.headers.get("x-request-id");
      id = given && REQUEST_ID.test(given) ? given : randomUUID();
      ids.set(request, id);
    }
    return id;
  };
  const line = (args: ExecutionArgs) => {
    const context = args.contextValue as LoggedContext;
    const operation = operationOf(args);
    return {
      reqId: idOf(context.request),
      op: operation?.name?.value ?? "anonymous",
      kind: operation?.operation ?? "unknown",
      user: context.viewer?.id ?? null,
    };
  };
  const codes = (errors: readonly GraphQLError[] | undefined) =>
    errors?.map((e) => String(e.extensions?.code ?? "INTERNAL_SERVER_ERROR"));
  return {
    onRequest({ request }) {
      idOf(request);
    },
    onResponse({ request, response }) {
      const id = ids.get(request);
      if (id) response.headers.set("x-request-id", id);
    },
    onExecute({ args }) {
      const started = performance.now();
      return {
        onExecuteDone({ result }) {
          const errors = "errors" in result ? codes(result.errors) : undefined;
          logger.info(
            { ...line(args), ms: Math.round(performance.now() - started), errors },
            "operation",
          );
        },
      };
    },
    onSubscribe({ args }) {
      logger.info(line(args), "subscription started");
    },
  };
}
