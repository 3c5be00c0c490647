// Global ids in tests: what the API hands out names a row through resolvers/global-ids.ts.
// Tests that look at the database directly turn an API id into its row id (dbId), and
// tests that need an id of nothing make a well-formed one (unknownId).
import { randomUUID } from "node:crypto";
import { decodeId, globalId, KEY_PARTS, type NodeType } from "../../src/resolvers/global-ids.js";

export { globalId };

/** The row id an API id names (its first key part; a membership's is its group or channel). */
export function dbId(id: string): string {
  const decoded = decodeId(id);
  if (!decoded) throw new Error(`${id} is not a global id`);
  return decoded.key[0] as string;
}

/** A well-formed id of `type` that names nothing. */
export const unknownId = (type: NodeType) =>
  globalId(type, ...Array.from({ length: KEY_PARTS[type] }, () => randomUUID()));
