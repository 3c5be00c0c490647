// The message a client shows the moment its user sends: PENDING, no seq, under a
// temporary id made from the clientMessageId (a message's real id is the server's). The
// answer, then messageAdded, replace it: both carry the same clientMessageId.
import type { ChatMessageFragment } from "./gql/graphql.js";

export const optimisticId = (clientMessageId: string) => `optimistic:${clientMessageId}`;

export function optimisticMessage(
  viewer: { id: string; displayName: string },
  input: { channelId: string; body: string; clientMessageId: string },
): ChatMessageFragment & { __typename: "Message" } {
  return {
    __typename: "Message",
    id: optimisticId(input.clientMessageId),
    clientMessageId: input.clientMessageId,
    seq: null,
    body: input.body,
    status: "PENDING",
    createdAt: new Date().toISOString(),
    editedAt: null,
    deletedAt: null,
    pinnedAt: null,
    sender: { __typename: "User", ...viewer },
    channel: { __typename: "Channel", id: input.channelId },
    reactions: [],
  } as ChatMessageFragment & { __typename: "Message" };
}
