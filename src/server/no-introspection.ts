// Production hides the schema from strangers: introspection queries are refused and
// validation errors do not suggest field names ("Did you mean …?"), which would let one
// map the schema by guessing. Enabled by default outside production (INTROSPECTION).
import { GraphQLError, NoSchemaIntrospectionCustomRule } from "graphql";
import type { Plugin } from "graphql-yoga";

const SUGGESTION = /\s*Did you mean .*\?$/;

export function useNoIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
      return ({ result, setResult }) => {
        if (result.length === 0) return;
        setResult(
          result.map((error) => {
            if (!SUGGESTION.test(error.message)) return error;
            return new GraphQLError(error.message.replace(SUGGESTION, ""), {
              nodes: error.nodes,
              source: error.source,
              positions: error.positions,
              path: error.path,
              originalError: error.originalError,
              extensions: error.extensions,
            });
          }),
        );
      };
    },
  };
}
