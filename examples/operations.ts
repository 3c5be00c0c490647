// The operations a chat screen needs, written as a frontend team writes them: graphql()
// from the codegen client-preset (examples/gql/, `npm run codegen`), so every result
// and variable is typed from schema.graphql. Both example clients use these.
import { graphql } from "./gql/index.js";

export const ChatMessageFields = graphql(`
  fragment ChatMessage on Message {
    id
    clientMessageId
    seq
    body
    status
    createdAt
    editedAt
    deletedAt
    pinnedAt
    sender {
      id
      displayName
    }
    channel {
      id
    }
    ...MessageReactions
  }
`);

/** A message's reactions: what every answer and event about them selects. */
export const MessageReactionsFields = graphql(`
  fragment MessageReactions on Message {
    reactions {
      emoji
      count
      viewerHasReacted
      users {
        id
        displayName
      }
    }
  }
`);

export const InboxChannelFields = graphql(`
  fragment InboxChannel on Channel {
    id
    kind
    name
    unreadCount
    viewerReadUpToSeq
    lastActivityAt
    group {
      id
      name
    }
    peer {
      id
      displayName
    }
    lastMessage {
      ...ChatMessage
    }
  }
`);

export const Login = graphql(`
  mutation Login($login: String!, $password: String!) {
    login(input: { login: $login, password: $password }) {
      accessToken
      accessTokenExpiresAt
      refreshToken
      user {
        id
        username
        displayName
      }
    }
  }
`);

export const RefreshSession = graphql(`
  mutation RefreshSession($refreshToken: String!) {
    refreshSession(refreshToken: $refreshToken) {
      accessToken
      accessTokenExpiresAt
      refreshToken
      user {
        id
        username
        displayName
      }
    }
  }
`);

/** Newest activity first; page with `after: pageInfo.endCursor`. */
export const Inbox = graphql(`
  query Inbox($first: Int!, $after: String) {
    channels(first: $first, after: $after) {
      edges {
        cursor
        node {
          ...InboxChannel
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

/**
 * History, newest first: `first`/`after` go back in time. A screen shows the edges
 * reversed (oldest at the top) and loads older ones with `after: pageInfo.endCursor`.
 */
export const History = graphql(`
  query History($channelId: ID!, $first: Int!, $after: String) {
    channel(id: $channelId) {
      id
      messages(first: $first, after: $after) {
        edges {
          cursor
          node {
            ...ChatMessage
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`);

/** Who has (read) a message of the viewer's: its status and each recipient's receipt. */
export const MessageReceipts = graphql(`
  query MessageReceipts($id: ID!) {
    message(id: $id) {
      id
      status
      receipts {
        id
        status
        readAt
        user {
          id
          displayName
        }
      }
    }
  }
`);

export const ChannelMembers = graphql(`
  query ChannelMembers($channelId: ID!, $first: Int!, $after: String) {
    channel(id: $channelId) {
      id
      members(first: $first, after: $after) {
        totalCount
        edges {
          node {
            id
            joinedAt
            user {
              id
              displayName
            }
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`);

export const SendMessage = graphql(`
  mutation SendMessage($input: SendMessageInput!) {
    sendMessage(input: $input) {
      ...ChatMessage
    }
  }
`);

/** What became of a send whose answer (or socket) was lost: retry only while PENDING. */
export const SendStatus = graphql(`
  query SendStatus($clientMessageId: String!) {
    sendStatus(clientMessageId: $clientMessageId) {
      clientMessageId
      state
      reason
      message {
        ...ChatMessage
      }
    }
  }
`);

export const EditMessage = graphql(`
  mutation EditMessage($id: ID!, $body: String!) {
    editMessage(id: $id, body: $body) {
      ...ChatMessage
    }
  }
`);

// Pins, reactions: the answer is the message itself, so the cache updates it by id.
export const PinMessage = graphql(`
  mutation PinMessage($id: ID!) {
    pinMessage(id: $id) {
      ...ChatMessage
    }
  }
`);

export const AddReaction = graphql(`
  mutation AddReaction($messageId: ID!, $emoji: String!) {
    addReaction(messageId: $messageId, emoji: $emoji) {
      id
      ...MessageReactions
    }
  }
`);

export const RemoveReaction = graphql(`
  mutation RemoveReaction($messageId: ID!, $emoji: String!) {
    removeReaction(messageId: $messageId, emoji: $emoji) {
      id
      ...MessageReactions
    }
  }
`);

export const DeleteMessage = graphql(`
  mutation DeleteMessage($id: ID!) {
    deleteMessage(id: $id) {
      ...ChatMessage
    }
  }
`);

export const MarkRead = graphql(`
  mutation MarkRead($channelId: ID!, $upToSeq: Int!) {
    markRead(channelId: $channelId, upToSeq: $upToSeq) {
      channel {
        id
        unreadCount
        viewerReadUpToSeq
      }
    }
  }
`);

export const MarkDelivered = graphql(`
  mutation MarkDelivered($messageIds: [ID!]!) {
    markDelivered(messageIds: $messageIds) {
      messages {
        id
      }
    }
  }
`);

export const SetTyping = graphql(`
  mutation SetTyping($channelId: ID!, $isTyping: Boolean!) {
    setTyping(channelId: $channelId, isTyping: $isTyping) {
      channelId
      isTyping
      expiresAt
    }
  }
`);

export const LeaveChannel = graphql(`
  mutation LeaveChannel($channelId: ID!) {
    leaveChannel(channelId: $channelId) {
      removedMemberId
      channel {
        id
        viewerIsMember
        memberCount
      }
    }
  }
`);

/** What the groups screen shows of a group (createGroup answers the same, so it can be listed). */
export const GroupFields = graphql(`
  fragment GroupWithMembers on Group {
    id
    name
    viewerRole
    members(first: 50) {
      totalCount
      edges {
        node {
          id
          role
          user {
            id
            displayName
          }
        }
      }
    }
  }
`);

export const Groups = graphql(`
  query Groups($first: Int!) {
    groups(first: $first) {
      edges {
        node {
          ...GroupWithMembers
        }
      }
    }
  }
`);

export const CreateGroup = graphql(`
  mutation CreateGroup($input: CreateGroupInput!) {
    createGroup(input: $input) {
      ...GroupWithMembers
      channels(first: 10) {
        edges {
          node {
            ...InboxChannel
          }
        }
      }
    }
  }
`);

export const UpdateGroup = graphql(`
  mutation UpdateGroup($groupId: ID!, $input: UpdateGroupInput!) {
    updateGroup(groupId: $groupId, input: $input) {
      ...GroupWithMembers
    }
  }
`);

/** Answers the group with the members list the groups screen shows: the cached list updates. */
export const AddGroupMembers = graphql(`
  mutation AddGroupMembers($groupId: ID!, $userIds: [ID!]!) {
    addGroupMembers(groupId: $groupId, userIds: $userIds) {
      ...GroupWithMembers
    }
  }
`);

export const CreateChannel = graphql(`
  mutation CreateChannel($input: CreateChannelInput!) {
    createChannel(input: $input) {
      ...InboxChannel
    }
  }
`);

export const JoinChannel = graphql(`
  mutation JoinChannel($channelId: ID!) {
    joinChannel(channelId: $channelId) {
      ...InboxChannel
    }
  }
`);

export const AddChannelMembers = graphql(`
  mutation AddChannelMembers($channelId: ID!, $userIds: [ID!]!) {
    addChannelMembers(channelId: $channelId, userIds: $userIds) {
      id
      members(first: 50) {
        totalCount
        edges {
          node {
            id
            joinedAt
            user {
              id
              displayName
            }
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`);

export const DirectChannel = graphql(`
  mutation DirectChannel($userId: ID!) {
    directChannel(userId: $userId) {
      ...InboxChannel
    }
  }
`);

export const UpdateProfile = graphql(`
  mutation UpdateProfile($input: UpdateProfileInput!) {
    updateProfile(input: $input) {
      id
      displayName
      bio
      avatarUrl
    }
  }
`);

export const SetGroupMemberRole = graphql(`
  mutation SetGroupMemberRole($groupId: ID!, $userId: ID!, $role: GroupRole!) {
    setGroupMemberRole(groupId: $groupId, userId: $userId, role: $role) {
      id
      role
    }
  }
`);

export const RemoveGroupMember = graphql(`
  mutation RemoveGroupMember($groupId: ID!, $userId: ID!) {
    removeGroupMember(groupId: $groupId, userId: $userId) {
      removedMemberId
      group {
        id
        members(first: 50) {
          totalCount
        }
      }
    }
  }
`);

export const LeaveGroup = graphql(`
  mutation LeaveGroup($groupId: ID!) {
    leaveGroup(groupId: $groupId) {
      groupId
      groupExists
      removedMemberId
    }
  }
`);

export const Contacts = graphql(`
  query Contacts($first: Int!) {
    contacts(first: $first) {
      edges {
        node {
          id
          addedAt
          user {
            id
            displayName
            isViewerContact
            isBlockedByViewer
          }
        }
      }
    }
  }
`);

export const AddContact = graphql(`
  mutation AddContact($userId: ID!) {
    addContact(userId: $userId) {
      id
      addedAt
      user {
        id
        displayName
        isViewerContact
        isBlockedByViewer
      }
    }
  }
`);

/** The viewer's relation with a user, as the contact mutations answer it. */
export const UserRelationFields = graphql(`
  fragment UserRelation on User {
    id
    isViewerContact
    isBlockedByViewer
  }
`);

export const RemoveContact = graphql(`
  mutation RemoveContact($userId: ID!) {
    removeContact(userId: $userId) {
      removedContactId
      user {
        ...UserRelation
      }
    }
  }
`);

export const BlockUser = graphql(`
  mutation BlockUser($userId: ID!) {
    blockUser(userId: $userId) {
      removedContactId
      user {
        ...UserRelation
      }
    }
  }
`);

export const UnblockUser = graphql(`
  mutation UnblockUser($userId: ID!) {
    unblockUser(userId: $userId) {
      removedContactId
      user {
        ...UserRelation
      }
    }
  }
`);

export const Presence = graphql(`
  query Presence($userIds: [ID!]!) {
    presence(userIds: $userIds) {
      id
      userId
      status
      lastSeenAt
    }
  }
`);

/** Every channel the viewer is in; keep the last `cursor` to resume after a reconnect. */
export const MessageAdded = graphql(`
  subscription MessageAdded($after: String) {
    messageAdded(after: $after) {
      ...ChatMessage
      cursor
    }
  }
`);

export const MessageUpdated = graphql(`
  subscription MessageUpdated {
    messageUpdated {
      ...ChatMessage
    }
  }
`);

// Someone reacted: the message's new tally, keyed by the message's id (not its body).
export const ReactionChanged = graphql(`
  subscription ReactionChanged {
    reactionChanged {
      emoji
      added
      user {
        id
      }
      message {
        id
        ...MessageReactions
      }
    }
  }
`);

export const ReceiptUpdated = graphql(`
  subscription ReceiptUpdated {
    receiptUpdated {
      id
      status
      seq
      readByAllUpToSeq
      deliveredToAllUpToSeq
      user {
        id
        displayName
      }
      message {
        id
        status
        channel {
          id
        }
      }
    }
  }
`);

export const Typing = graphql(`
  subscription Typing($channelId: ID!) {
    typing(channelId: $channelId) {
      isTyping
      at
      user {
        id
        displayName
      }
      channel {
        id
      }
    }
  }
`);

export const PresenceChanged = graphql(`
  subscription PresenceChanged {
    presenceChanged {
      id
      userId
      status
      lastSeenAt
      user {
        id
        displayName
      }
    }
  }
`);
