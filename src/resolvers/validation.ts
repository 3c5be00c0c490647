// Input validation shared by the resolvers: zod schemas turn into BAD_USER_INPUT
// errors that name the offending field, so forms can highlight it.
import { z } from "zod";
import { badUserInput } from "../errors.js";
import { localId, type NodeType } from "./global-ids.js";

/**
 * Why PostgreSQL could not store this text, if it could not: `text` holds no NUL
 * character, and a lone UTF-16 surrogate is not Unicode at all (it would be stored
 * mangled). Refused at the API, so no such string ever reaches the worker.
 */
function unstorable(value: string): string | undefined {
  if (value.includes("\u0000")) return "must not contain NUL characters";
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value))
    return "must be valid Unicode";
  return undefined;
}

/** The first string anywhere in `input` that cannot be stored, with its path. */
function findUnstorable(
  input: unknown,
  path: string[],
): { path: string[]; problem: string } | undefined {
  if (typeof input === "string") {
    const problem = unstorable(input);
    return problem ? { path, problem } : undefined;
  }
  if (Array.isArray(input)) {
    for (const [index, item] of input.entries()) {
      const found = findUnstorable(item, [...path, String(index)]);
      if (found) return found;
    }
  } else if (typeof input === "object" && input !== null) {
    for (const [key, item] of Object.entries(input)) {
      const found = findUnstorable(item, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Parses what a client sent; every string in it must be storable, whatever the schema.
 * `root` names the argument when it is not an input object (e.g. `userIds`).
 */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  root?: string,
): z.output<S> {
  const bad = findUnstorable(input, root ? [root] : []);
  if (bad) {
    const field = bad.path.join(".") || "input";
    throw badUserInput(field, `${field}: ${bad.problem}`);
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field =
    [root, ...(issue?.path ?? [])].filter((part) => part !== undefined).join(".") || "input";
  throw badUserInput(field, `${field}: ${issue?.message ?? "invalid value"}`);
}

/**
 * A global id of `type` (resolvers/global-ids.ts), parsed to the row id it names.
 * Anything else cannot name a row of that type, so it is bad input, not "not found".
 */
export const nodeId = (type: NodeType) =>
  z.unknown().transform((value, check) => {
    const local = localId(value, type);
    if (local === undefined) {
      check.addIssue({ code: "custom", message: `must be the id of a ${type}` });
      return z.NEVER;
    }
    return local;
  });

export function parseId(field: string, value: unknown, type: NodeType): string {
  const local = localId(value, type);
  if (local === undefined) throw badUserInput(field, `${field}: must be the id of a ${type}`);
  return local;
}

/** Text a person can see: not empty once spaces and invisible format marks are removed. */
export function visible(value: string) {
  return value.replace(/[\s\p{Cf}]/gu, "").length > 0;
}

export const displayName = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(64, "must be at most 64 characters")
  .refine(visible, "must not be empty");

/** Longest mute, of a channel by its member or of a member by a moderator: a year. */
export const MAX_MUTE_DAYS = 365;

/** A mute's end: in the future and at most MAX_MUTE_DAYS ahead (BAD_USER_INPUT on `field`). */
export function checkMuteEnd(field: string, until: Date, now = Date.now()) {
  if (until.getTime() <= now) throw badUserInput(field, `${field}: must be in the future`);
  if (until.getTime() > now + MAX_MUTE_DAYS * 86_400_000)
    throw badUserInput(field, `${field}: at most ${MAX_MUTE_DAYS} days ahead`);
}
