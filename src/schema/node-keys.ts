// The keys of types whose rows are named by two ids (memberships, contacts): the global
// id encodes "<first>:<second>" (resolvers/global-ids.ts), and node(id:) finds the row
// by its compound primary key.

export const membershipKey = (first: string, second: string) => `${first}:${second}`;

/** The compound-key `where` of a membership key (already checked by resolvers/global-ids.ts). */
export function membershipWhere<F extends string, S extends string = "userId">(
  key: string,
  first: F,
  second: S = "userId" as S,
) {
  const [a = "", b = ""] = key.split(":");
  return { [first]: a, [second]: b } as Record<F | S, string>;
}
