// The object types that have no id: each is embedded in its parent (a mutation's payload,
// an event, a session), never shared, so Graphcache is told to store it without a key
// instead of warning "Invalid key". Connections, edges and PageInfo need no entry
// (Graphcache embeds those by name). Every other type has a global id.
// test/example-clients.test.ts keeps this list equal to what schema.graphql says.
export const EMBEDDED_TYPES = [
  "AuthPayload",
  "BlockUserPayload",
  "CreateUploadPayload",
  "Heartbeat",
  "HttpHeader",
  "LeaveChannelPayload",
  "LeaveGroupPayload",
  "LogoutPayload",
  "MarkDeliveredPayload",
  "MarkReadPayload",
  "MessageRejection",
  "Reaction",
  "ReactionChange",
  "RemoveContactPayload",
  "RemoveGroupMemberPayload",
  "SendStatus",
  "SetTypingPayload",
  "SnippetPart",
  "TypingEvent",
  "UnblockUserPayload",
] as const;

/** Graphcache's `keys` option for them. */
export const embeddedKeys = Object.fromEntries(EMBEDDED_TYPES.map((name) => [name, () => null]));
