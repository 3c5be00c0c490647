// Global ids: every object a client caches is named by an opaque, stable id that says
// what it is, in the Pothos relay plugin's encoding (base64 of "Type:key"), so Relay's
// node(id:), Apollo's and Graphcache's normalized caches key every type by `id` alone.
// A membership's key is its two row ids ("GroupMember:<group>:<user>"). Clients never
// decode them: they are opaque; the server decodes them here, at the API's edge.
import { decodeGlobalID, encodeGlobalID } from "@pothos/plugin-relay";

/** The types that have a global id (and implement Node), with how many row ids their key holds. */
export const KEY_PARTS = {
  User: 1,
  Group: 1,
  Channel: 1,
  Message: 1,
  GroupMember: 2,
  ChannelMember: 2,
  Contact: 2,
  Presence: 1,
  Receipt: 2,
  ModerationAction: 1,
  /** A thread is named by its root message's id. */
  Thread: 1,
  Attachment: 1,
} as const;
export type NodeType = keyof typeof KEY_PARTS;

const isNodeType = (name: string): name is NodeType => Object.hasOwn(KEY_PARTS, name);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function globalId(type: NodeType, ...key: string[]): string {
  return encodeGlobalID(type, key.join(":"));
}

export interface DecodedId {
  type: NodeType;
  /** The row ids of the key, in order (one for most types, two for memberships). */
  key: string[];
}

/** What a global id names, or undefined when `value` is not one of ours. */
export function decodeId(value: unknown): DecodedId | undefined {
  if (typeof value !== "string" || value.length > 200) return undefined;
  let decoded: { typename: string; id: string };
  try {
    decoded = decodeGlobalID(value);
  } catch {
    return undefined;
  }
  const type = decoded.typename;
  if (!isNodeType(type)) return undefined;
  const key = decoded.id.split(":");
  if (key.length !== KEY_PARTS[type] || !key.every((part) => UUID.test(part))) return undefined;
  return { type, key: key.map((part) => part.toLowerCase()) };
}

/** The row id of a single-key type's global id, or undefined when it is not one of `type`. */
export function localId(value: unknown, type: NodeType): string | undefined {
  const decoded = decodeId(value);
  return decoded?.type === type ? decoded.key[0] : undefined;
}
