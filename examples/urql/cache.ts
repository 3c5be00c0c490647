// Graphcache for the chat API: every type is normalized by its global id (embedded ones
// are listed in embedded-types.ts), mutations answer what they changed so most need no
// code here, and the updaters below do what an answer cannot: put a new message into
// the cached history and the inbox, take what the viewer left out of lists, and apply
// a receipt's "read by all up to seq" to the viewer's older messages.
import { type Cache, cacheExchange } from "@urql/exchange-graphcache";
import type { IntrospectionQuery } from "graphql";
import type { ChatMessageFragment } from "../gql/graphql.js";
import { Contacts, Groups, History, Inbox } from "../operations.js";
import { embeddedKeys } from "./embedded-types.js";

/** The page sizes the screens ask for: updaters edit exactly these cached pages. */
export const PAGE = { inbox: 20, history: 30, groups: 20, contacts: 50 } as const;

/** Optimistic messages are keyed by their clientMessageId until the server's answer. */
const optimisticId = (clientMessageId: string) => `optimistic:${clientMessageId}`;

export interface Viewer {
  id: string;
  displayName: string;
}

export interface ChatCacheOptions {
  viewer: Viewer;
  /** schema.graphql's introspection: Graphcache then knows Node and nullable fields. */
  schema: IntrospectionQuery;
  /** Graphcache's warnings (an example app logs them; the tests assert there are none). */
  onWarning?: (message: string) => void;
}

/** Puts `message` at the top of its channel's cached history, once, replacing its optimistic copy. */
function addToHistory(cache: Cache, message: ChatMessageFragment) {
  cache.updateQuery(
    { query: History, variables: { channelId: message.channel.id, first: PAGE.history } },
    (data) => {
      const connection = data?.channel?.messages;
      if (!data?.channel || !connection) return data;
      if (connection.edges.some((edge) => edge.node.id === message.id)) return data;
      const others = connection.edges.filter(
        (edge) => edge.node.id !== optimisticId(message.clientMessageId),
      );
      const edge = { __typename: "MessageEdge" as const, cursor: message.id, node: message };
      return {
        ...data,
        channel: { ...data.channel, messages: { ...connection, edges: [edge, ...others] } },
      };
    },
  );
}

/** Moves the message's channel to the top of the cached inbox with it as its last message. */
function bumpInbox(cache: Cache, message: ChatMessageFragment, viewer: Viewer) {
  cache.updateQuery({ query: Inbox, variables: { first: PAGE.inbox } }, (data) => {
    if (!data) return data;
    const edges = data.channels.edges;
    const at = edges.findIndex((edge) => edge.node.id === message.channel.id);
    const edge = edges[at];
    if (!edge || message.seq === null) return data;
    const newer = message.seq > (edge.node.lastMessage?.seq ?? 0);
    if (!newer) return data;
    const node = {
      ...edge.node,
      lastMessage: message,
      lastActivityAt: message.createdAt,
      unreadCount: edge.node.unreadCount + (message.sender.id === viewer.id ? 0 : 1),
    };
    const rest = edges.filter((_, index) => index !== at);
    return { ...data, channels: { ...data.channels, edges: [{ ...edge, node }, ...rest] } };
  });
}

/** Puts a channel the viewer is now in at the top of the cached inbox, once. */
function addToInbox(cache: Cache, channel: { id: string }) {
  cache.updateQuery({ query: Inbox, variables: { first: PAGE.inbox } }, (data) =>
    data && !data.channels.edges.some((edge) => edge.node.id === channel.id)
      ? {
          ...data,
          channels: {
            ...data.channels,
            edges: [
              { __typename: "ChannelEdge", cursor: channel.id, node: channel as never },
              ...data.channels.edges,
            ],
          },
        }
      : data,
  );
}

function removeFromInbox(
  cache: Cache,
  leaves: (channel: { id: string; group?: { id: string } | null }) => boolean,
) {
  cache.updateQuery({ query: Inbox, variables: { first: PAGE.inbox } }, (data) =>
    data
      ? {
          ...data,
          channels: {
            ...data.channels,
            edges: data.channels.edges.filter((edge) => !leaves(edge.node)),
          },
        }
      : data,
  );
}

export function chatCache({ viewer, schema, onWarning }: ChatCacheOptions) {
  return cacheExchange({
    schema,
    keys: embeddedKeys,
    // Our ids are global (each names its type): an id alone is a key.
    globalIDs: true,
    logger: (severity, message) => {
      if (severity === "warn" || severity === "error") onWarning?.(message);
    },
    resolvers: {
      // A channel or message already in the cache opens without a request.
      Query: {
        channel: (_parent, args) => ({ __typename: "Channel", id: args.id as string }),
        message: (_parent, args) => ({ __typename: "Message", id: args.id as string }),
      },
    },
    optimistic: {
      // Shown at once as PENDING; the answer (same clientMessageId) replaces it.
      sendMessage: (args) => {
        const input = args.input as { channelId: string; body: string; clientMessageId: string };
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
          sender: { __typename: "User", ...viewer },
          channel: { __typename: "Channel", id: input.channelId },
        };
      },
    },
    updates: {
      Mutation: {
        sendMessage: (result, _args, cache) =>
          addToHistory(cache, result.sendMessage as ChatMessageFragment),
        // A channel the viewer is now in: into the inbox (its answer has the inbox's fields).
        joinChannel: (result, _args, cache) =>
          addToInbox(cache, result.joinChannel as { id: string }),
        createChannel: (result, _args, cache) =>
          addToInbox(cache, result.createChannel as { id: string }),
        directChannel: (result, _args, cache) =>
          addToInbox(cache, result.directChannel as { id: string }),
        // The channel stays cached (a public one is still visible); it leaves the inbox.
        leaveChannel: (_result, args, cache) =>
          removeFromInbox(cache, (channel) => channel.id === args.channelId),
        leaveGroup: (_result, args, cache) => {
          removeFromInbox(cache, (channel) => channel.group?.id === args.groupId);
          cache.updateQuery({ query: Groups, variables: { first: PAGE.groups } }, (data) =>
            data
              ? {
                  ...data,
                  groups: {
                    ...data.groups,
                    edges: data.groups.edges.filter((edge) => edge.node.id !== args.groupId),
                  },
                }
              : data,
          );
        },
        createGroup: (result, _args, cache) => {
          const group = result.createGroup as {
            id: string;
            channels: { edges: Array<{ node: { id: string } }> };
          };
          cache.updateQuery({ query: Groups, variables: { first: PAGE.groups } }, (data) =>
            data && !data.groups.edges.some((edge) => edge.node.id === group.id)
              ? {
                  ...data,
                  groups: {
                    ...data.groups,
                    edges: [
                      { __typename: "GroupEdge", node: group as never },
                      ...data.groups.edges,
                    ],
                  },
                }
              : data,
          );
          for (const edge of group.channels.edges) addToInbox(cache, edge.node);
        },
        removeGroupMember: (result, args, cache) => {
          const { removedMemberId } = result.removeGroupMember as { removedMemberId: string };
          cache.updateQuery({ query: Groups, variables: { first: PAGE.groups } }, (data) =>
            data
              ? {
                  ...data,
                  groups: {
                    ...data.groups,
                    edges: data.groups.edges.map((edge) =>
                      edge.node.id === args.groupId
                        ? {
                            ...edge,
                            node: {
                              ...edge.node,
                              members: {
                                ...edge.node.members,
                                edges: edge.node.members.edges.filter(
                                  (member) => member.node.id !== removedMemberId,
                                ),
                              },
                            },
                          }
                        : edge,
                    ),
                  },
                }
              : data,
          );
        },
        addContact: (result, _args, cache) => {
          const contact = result.addContact as { id: string };
          cache.updateQuery({ query: Contacts, variables: { first: PAGE.contacts } }, (data) =>
            data && !data.contacts.edges.some((edge) => edge.node.id === contact.id)
              ? {
                  ...data,
                  contacts: {
                    ...data.contacts,
                    edges: [
                      { __typename: "ContactEdge", node: contact as never },
                      ...data.contacts.edges,
                    ],
                  },
                }
              : data,
          );
        },
        removeContact: (result, _args, cache) =>
          dropContact(cache, (result.removeContact as RelationAnswer).removedContactId),
        blockUser: (result, _args, cache) =>
          dropContact(cache, (result.blockUser as RelationAnswer).removedContactId),
      },
      Subscription: {
        messageAdded: (result, _args, cache) => {
          const message = result.messageAdded as ChatMessageFragment;
          addToHistory(cache, message);
          bumpInbox(cache, message, viewer);
        },
        // The message's own status comes with the receipt (Receipt.message); the viewer's
        // older messages the receipt covers are updated here.
        receiptUpdated: (result, _args, cache) => {
          const receipt = result.receiptUpdated as {
            readByAllUpToSeq: number | null;
            deliveredToAllUpToSeq: number | null;
            message: { channel: { id: string } };
          };
          cache.updateQuery(
            {
              query: History,
              variables: { channelId: receipt.message.channel.id, first: PAGE.history },
            },
            (data) => {
              const connection = data?.channel?.messages;
              if (!data?.channel || !connection) return data;
              const edges = connection.edges.map((edge) => {
                const { seq, sender, status } = edge.node;
                if (seq === null || sender.id !== viewer.id) return edge;
                const read = seq <= (receipt.readByAllUpToSeq ?? 0);
                const delivered = seq <= (receipt.deliveredToAllUpToSeq ?? 0);
                const next = read ? "READ" : delivered && status !== "READ" ? "DELIVERED" : status;
                return next === status ? edge : { ...edge, node: { ...edge.node, status: next } };
              });
              return { ...data, channel: { ...data.channel, messages: { ...connection, edges } } };
            },
          );
        },
      },
    },
  });
}

interface RelationAnswer {
  removedContactId: string | null;
}

function dropContact(cache: Cache, contactId: string | null) {
  if (!contactId) return;
  cache.updateQuery({ query: Contacts, variables: { first: PAGE.contacts } }, (data) =>
    data
      ? {
          ...data,
          contacts: {
            ...data.contacts,
            edges: data.contacts.edges.filter((edge) => edge.node.id !== contactId),
          },
        }
      : data,
  );
}
