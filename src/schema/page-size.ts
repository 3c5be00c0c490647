// Every connection's page size: 20 when neither `first` nor `last` is given, at most 100.
// More is refused with PAGE_TOO_LARGE (and the limit), not silently cut to 100: a client
// asking for 500 and getting 100 with hasNextPage would page on without knowing why.
import { badUserInput, pageTooLarge } from "../errors.js";

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** Spread into a prismaConnection's or relatedConnection's options. */
export const pageSize = {
  defaultSize: DEFAULT_PAGE_SIZE,
  maxSize: (args: { first?: number | null; last?: number | null }) => {
    for (const field of ["first", "last"] as const) {
      const asked = args[field];
      if (asked != null && asked > MAX_PAGE_SIZE) throw pageTooLarge(field, MAX_PAGE_SIZE);
    }
    return MAX_PAGE_SIZE;
  },
};

/** The page size of a list we page ourselves (forward only), with the same rules. */
export function pageFirst(first: number | null | undefined): number {
  if (first == null) return DEFAULT_PAGE_SIZE;
  if (first < 0) throw badUserInput("first", "first: must not be negative");
  if (first > MAX_PAGE_SIZE) throw pageTooLarge("first", MAX_PAGE_SIZE);
  return first;
}
