// Creating signed-in users for tests through the public API.
import { randomBytes } from "node:crypto";
import { CreateGroupDocument, RegisterDocument } from "../gql/graphql.js";
import { mustRequest } from "./app.js";

export const TEST_PASSWORD = "correct horse battery";

export async function registerUser(
  target: { url: string },
  name = `u${randomBytes(5).toString("hex")}`,
) {
  const data = await mustRequest(target, RegisterDocument, {
    input: {
      email: `${name}@example.com`,
      username: name,
      password: TEST_PASSWORD,
      displayName: `User ${name}`,
    },
  });
  return data.register;
}

/** Two new users, alice owning a group with bob in it, and the group's channel. */
export async function twoInAGroup(target: { url: string }, name: string) {
  const [alice, bob] = await Promise.all([registerUser(target), registerUser(target)]);
  const group = await mustRequest(
    target,
    CreateGroupDocument,
    { input: { name, memberIds: [bob.user.id] } },
    alice.accessToken,
  );
  const channelId = group.createGroup.channels.edges[0]?.node.id as string;
  return { alice, bob, channelId };
}

export type Session = Awaited<ReturnType<typeof registerUser>>;

/** `count` new users at once. */
export async function registerUsers(target: { url: string }, count: number): Promise<Session[]> {
  return Promise.all(Array.from({ length: count }, () => registerUser(target)));
}

/** A group of `owner`'s with `members` in it; its #general channel's id. */
export async function groupChannel(
  target: { url: string },
  owner: Session,
  members: Session[],
  name = "Group",
): Promise<string> {
  const group = await mustRequest(
    target,
    CreateGroupDocument,
    { input: { name, memberIds: members.map((member) => member.user.id) } },
    owner.accessToken,
  );
  return group.createGroup.channels.edges[0]?.node.id as string;
}
