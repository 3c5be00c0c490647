// Input validation shared by the resolvers: zod schemas turn into BAD_USER_INPUT
// errors that name the offending field, so forms can highlight it.
import { z } from "zod";
import { badUserInput } from "../errors.js";

/** `root` names the argument when it is not an input object (e.g. `userIds`). */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  root?: string,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field =
    [root, ...(issue?.path ?? [])].filter((part) => part !== undefined).join(".") || "input";
  throw badUserInput(field, `${field}: ${issue?.message ?? "invalid value"}`);
}

/** Database ids are UUIDs; anything else cannot name a row, so it is bad input, not "not found". */
export const id = z.uuid({ message: "must be a valid ID" });

export function parseId(field: string, value: unknown): string {
  const result = id.safeParse(value);
  if (!result.success) throw badUserInput(field, `${field}: must be a valid ID`);
  return result.data;
}

export const displayName = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(64, "must be at most 64 characters");
