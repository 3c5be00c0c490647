// The operation limits (depth, aliases, static cost; graphql-armor) reject an operation
// by throwing a GraphQLError whose message starts "Syntax Error: …". Clients get one code
// per limit, so they can tell "simplify this operation" from a real syntax error.
import { GraphQLError } from "graphql";

const LIMITS: Array<[RegExp, string]> = [
  [/Aliases limit/i, "TOO_MANY_ALIASES"],
  [/Query depth limit/i, "TOO_DEEP"],
  [/Query Cost limit/i, "TOO_COSTLY"],
];

/** The error with its limit's code, or undefined when it is not an operation-limit error. */
export function operationLimitError(error: unknown): GraphQLError | undefined {
  if (!(error instanceof GraphQLError)) return undefined;
  const match = LIMITS.find(([pattern]) => pattern.test(error.message));
  if (!match) return undefined;
  return new GraphQLError(error.message.replace(/^Syntax Error:\s*/, ""), {
    nodes: error.nodes,
    extensions: { ...error.extensions, code: match[1] },
  });
}
