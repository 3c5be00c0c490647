// Graphcache for the chat API: every type is normalized by its global id (embedded ones
// are listed in embedded-types.ts), mutations answer what they changed so most need no
// code here, and the updaters below do what an answer cannot: put a new message into
// the cached history and the inbox, take what the viewer left out of lists, and apply
// a receipt's "read by all up to seq" to the viewer's older messages.
import { type Cache, cacheExchange } from "@urql/exchange-graphcache";
import type { IntrospectionQuery } from "graphql";
import type { ChatMessageFragment, InboxChannelFragment } from "../gql/graphql.js";
import { Contacts, Groups, History, Inbox } from "../operations.js";
import { optimisticId, optimisticMessage } from "../optimistic.js";
import { embeddedKeys } from "./embedded-types.js";

/** The page sizes the screens ask for: updaters edit exactly these cached pages. */
export const PAGE = { inbox: 20, history: 30, groups: 20, contacts: 50 } as const;

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
  cache.updateQuery(inboxPage, (data) => {
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

interface Edge {
  node: { id: string };
}

/** `data` with the edges of its connection at `key` changed by `change` (null stays null). */
function withEdges<D>(data: D | null, key: keyof D, change: (edges: Edge[]) => Edge[]): D | null {
  if (!data) return data;
  const connection = data[key] as { edges: Edge[] };
  return { ...data, [key]: { ...connection, edges: change(connection.edges) } };
}

/** Puts `node` first in a list, unless it is there already. */
const prepend = (typename: string, node: { id: string }) => (edges: Edge[]) =>
  edges.some((edge) => edge.node.id === node.id)
    ? edges
    : [{ __typename: typename, cursor: node.id, node } as Edge, ...edges];

/** Drops the nodes `drop` picks from a list. */
const without = (drop: (node: Edge["node"]) => boolean) => (edges: Edge[]) =>
  edges.filter((edge) => !drop(edge.node));

const inboxPage = { query: Inbox, variables: { first: PAGE.inbox } };
const groupsPage = { query: Groups, variables: { first: PAGE.groups } };
const contactsPage = { query: Contacts, variables: { first: PAGE.contacts } };

/** A channel the viewer is now in goes to the top of the cached inbox. */
const addToInbox = (cache: Cache, channel: { id: string }) =>
  cache.updateQuery(inboxPage, (data) =>
    withEdges(data, "channels", prepend("ChannelEdge", channel)),
  );

const removeFromInbox = (cache: Cache, leaves: (channel: InboxChannelFragment) => boolean) =>
  cache.updateQuery(inboxPage, (data) =>
    withEdges(
      data,
      "channels",
      without((node) => leaves(node as InboxChannelFragment)),
    ),
  );

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
      sendMessage: (args) =>
        optimisticMessage(
          viewer,
          args.input as { channelId: string; body: string; clientMessageId: string },
        ),
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
          cache.updateQuery(groupsPage, (data) =>
            withEdges(
              data,
              "groups",
              without((group) => group.id === args.groupId),
            ),
          );
        },
        createGroup: (result, _args, cache) => {
          const group = result.createGroup as {
            id: string;
            channels: { edges: Array<{ node: { id: string } }> };
          };
          cache.updateQuery(groupsPage, (data) =>
            withEdges(data, "groups", prepend("GroupEdge", group)),
          );
          for (const edge of group.channels.edges) addToInbox(cache, edge.node);
        },
        removeGroupMember: (result, args, cache) => {
          const { removedMemberId } = result.removeGroupMember as { removedMemberId: string };
          cache.updateQuery(groupsPage, (data) =>
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
        addContact: (result, _args, cache) =>
          cache.updateQuery(contactsPage, (data) =>
            withEdges(
              data,
              "contacts",
              prepend("ContactEdge", result.addContact as { id: string }),
            ),
          ),
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
  cache.updateQuery(contactsPage, (data) =>
    withEdges(
      data,
      "contacts",
      without((contact) => contact.id === contactId),
    ),
  );
}
