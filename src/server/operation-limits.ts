// The operation limits (depth, aliases, static cost; graphql-armor) would reject an
// operation by throwing "Syntax Error: …", which clients cannot tell from a real syntax
// error (and which, thrown inside a WebSocket's subscribe, closed the whole socket).
// Instead each reports a validation error with its own code, the same on HTTP and
// WebSocket: TOO_DEEP, TOO_MANY_ALIASES, TOO_COSTLY (and the limit in `extensions.limit`).
import { GraphQLError, type ValidationContext } from "graphql";
import type { ErrorCode } from "../errors.js";

export type OperationLimitCode = Extract<ErrorCode, "TOO_DEEP" | "TOO_MANY_ALIASES" | "TOO_COSTLY">;

/** graphql-armor options that report a rejection as a typed validation error. */
export function reportAs(code: OperationLimitCode, limit: number) {
  return {
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) => {
        context?.reportError(
          new GraphQLError(error.message.replace(/^Syntax Error:\s*/, ""), {
            nodes: error.nodes,
            extensions: { code, limit },
          }),
        );
      },
    ],
  };
}
