// The Apollo Client of the chat API: InMemoryCache normalizes every type by
// __typename + id (our ids are global, so nothing more is needed), possibleTypes comes
// from the schema (Node), and relayStylePagination merges the pages of every connection
// a screen pages through. HTTP for queries and mutations, graphql-ws for subscriptions,
// both with a token that is valid now (session.ts renews it, and after a 4401).
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { SetContextLink } from "@apollo/client/link/context";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { relayStylePagination } from "@apollo/client/utilities";
import { Kind, OperationTypeNode } from "graphql";
import { possibleTypes } from "../schema.js";
import type { Session } from "../session.js";
import { chatSockets } from "../sockets.js";

export function chatCache() {
  return new InMemoryCache({
    possibleTypes,
    typePolicies: {
      Query: {
        fields: {
          channels: relayStylePagination(),
          groups: relayStylePagination(),
          contacts: relayStylePagination(),
          users: relayStylePagination(["search"]),
          // A channel or message already cached opens without a request.
          channel: {
            read: (_, { args, toReference }) =>
              toReference({ __typename: "Channel", id: args?.id as string }),
          },
          message: {
            read: (_, { args, toReference }) =>
              toReference({ __typename: "Message", id: args?.id as string }),
          },
        },
      },
      // History pages newest first: `after` pages go to the end, as relayStylePagination merges.
      Channel: { fields: { messages: relayStylePagination(), members: relayStylePagination() } },
      Group: { fields: { members: relayStylePagination(), channels: relayStylePagination() } },
    },
  });
}

export interface ApolloChatOptions {
  url: string;
  wsUrl: string;
  session: Session;
  /** Every operation sent over HTTP (the tests count refetches with it). */
  onHttp?: (operationName: string) => void;
}

export function createApolloChat({ url, wsUrl, session, onHttp }: ApolloChatOptions) {
  const sockets = chatSockets(wsUrl, session);
  const auth = new SetContextLink(async (context, operation) => {
    onHttp?.(operation.operationName ?? "");
    return {
      headers: { ...context.headers, authorization: `Bearer ${await session.accessToken()}` },
    };
  });
  const http = ApolloLink.from([auth, new HttpLink({ uri: url })]);
  const isSubscription = ({ query }: ApolloLink.Operation) =>
    query.definitions.some(
      (definition) =>
        definition.kind === Kind.OPERATION_DEFINITION &&
        definition.operation === OperationTypeNode.SUBSCRIPTION,
    );
  const client = new ApolloClient({
    cache: chatCache(),
    link: ApolloLink.split(isSubscription, new GraphQLWsLink(sockets), http),
  });
  return { client, close: () => sockets.dispose() };
}
