// Optimistic sending with Apollo, keyed by clientMessageId: the message shows at once as
// PENDING under a temporary id, the answer (the server's id, still PENDING) replaces it in
// the channel's cached history, and messageAdded later brings its seq and SENT to the
// same entry (same id). A retry with the same clientMessageId never duplicates.
import type { ApolloClient, Reference } from "@apollo/client";
import type { ChatMessageFragment, SendMessageMutation } from "../gql/graphql.js";
import { ChatMessageFields, SendMessage } from "../operations.js";
import { optimisticMessage } from "../optimistic.js";

export interface Viewer {
  id: string;
  displayName: string;
}

export function sendOptimistically(
  client: ApolloClient,
  viewer: Viewer,
  input: { channelId: string; body: string; clientMessageId: string },
) {
  return client.mutate({
    mutation: SendMessage,
    variables: { input },
    optimisticResponse: { sendMessage: optimisticMessage(viewer, input) } as SendMessageMutation,
    // Runs for the optimistic answer and again for the real one: the history keeps one
    // entry per clientMessageId, the newest first.
    update: (cache, { data }) => {
      const message = data?.sendMessage;
      if (message) addToHistory(cache, message);
    },
  });
}

/** Puts `message` at the top of its channel's cached history (relayStylePagination's list). */
export function addToHistory(cache: ApolloClient["cache"], message: ChatMessageFragment) {
  const ref = cache.writeFragment({
    fragment: ChatMessageFields,
    fragmentName: "ChatMessage",
    data: message,
  });
  cache.modify({
    id: cache.identify({ __typename: "Channel", id: message.channel.id }),
    fields: {
      messages: (value, { readField }) => {
        const existing = value as { edges?: Array<{ node: Reference }> } | undefined;
        if (!existing?.edges || !ref) return value;
        const others = existing.edges.filter((edge) => {
          const id = readField<string>("id", edge.node);
          const key = readField<string>("clientMessageId", edge.node);
          return id !== message.id && key !== message.clientMessageId;
        });
        return {
          ...existing,
          edges: [{ __typename: "MessageEdge", cursor: message.id, node: ref }, ...others],
        };
      },
    },
  });
}
