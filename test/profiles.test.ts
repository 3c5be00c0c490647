// Profiles, user search and contacts/blocks.
import { describe, expect, it } from "vitest";
import {
  AddContactDocument,
  BlockUserDocument,
  ContactsDocument,
  RemoveContactDocument,
  SearchUsersDocument,
  UnblockUserDocument,
  UpdateProfileDocument,
  UserByIdDocument,
} from "./gql/graphql.js";
import { mustRequest, request, useTestApp } from "./harness/app.js";
import { dbId, globalId } from "./harness/ids.js";
import { registerUser } from "./harness/users.js";

const server = useTestApp();

describe("profiles", () => {
  it("updateProfile changes only what it is given; null clears optional fields", async () => {
    const alice = await registerUser(server);
    const token = alice.accessToken;
    const set = await mustRequest(
      server,
      UpdateProfileDocument,
      {
        input: {
          displayName: " Alice A. ",
          bio: "hello",
          avatarUrl: "https://cdn.example.com/a.png",
        },
      },
      token,
    );
    expect(set.updateProfile).toMatchObject({
      displayName: "Alice A.",
      bio: "hello",
      avatarUrl: "https://cdn.example.com/a.png",
    });
    const partial = await mustRequest(
      server,
      UpdateProfileDocument,
      { input: { bio: null } },
      token,
    );
    expect(partial.updateProfile).toMatchObject({
      displayName: "Alice A.",
      bio: null,
      avatarUrl: "https://cdn.example.com/a.png",
    });
  });

  it("user(id) shows the public profile; email only to its owner", async () => {
    const alice = await registerUser(server);
    const bob = await registerUser(server);
    const asBob = await mustRequest(
      server,
      UserByIdDocument,
      { id: alice.user.id },
      bob.accessToken,
    );
    expect(asBob.user).toMatchObject({
      id: alice.user.id,
      username: alice.user.username,
      email: null,
    });
    const asAlice = await mustRequest(
      server,
      UserByIdDocument,
      { id: alice.user.id },
      alice.accessToken,
    );
    expect(asAlice.user?.email).toBe(alice.user.email);
  });

  it("users(search) pages through matches by prefix with no duplicates or gaps", async () => {
    const viewer = await registerUser(server);
    const names = Array.from({ length: 7 }, (_, i) => `zeta_${i}`);
    for (const name of names) await registerUser(server, name);
    const seen: string[] = [];
    let after: string | null | undefined;
    let pages = 0;
    do {
      const page = await mustRequest(
        server,
        SearchUsersDocument,
        { search: "Zeta_", first: 3, after },
        viewer.accessToken,
      );
      seen.push(...page.users.edges.map((edge) => edge.node.username));
      after = page.users.pageInfo.hasNextPage ? page.users.pageInfo.endCursor : undefined;
      pages++;
    } while (after);
    expect(pages).toBe(3);
    expect(seen).toEqual(names);
  });

  it("users(search) needs a signed-in user", async () => {
    const result = await request(server, SearchUsersDocument, { search: "a" });
    expect(result.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});

describe("contacts and blocks", () => {
  it("add (idempotent), list, remove", async () => {
    const me = await registerUser(server);
    const friends = [await registerUser(server), await registerUser(server)];
    for (const friend of friends) {
      await mustRequest(server, AddContactDocument, { userId: friend.user.id }, me.accessToken);
    }
    await mustRequest(server, AddContactDocument, { userId: friends[0]!.user.id }, me.accessToken);
    const list = await mustRequest(server, ContactsDocument, { first: 10 }, me.accessToken);
    expect(list.contacts.edges.map((e) => e.node.user.id).sort()).toEqual(
      friends.map((f) => f.user.id).sort(),
    );

    const removed = await mustRequest(
      server,
      RemoveContactDocument,
      { userId: friends[0]!.user.id },
      me.accessToken,
    );
    expect(removed.removeContact).toEqual({
      user: { id: friends[0]!.user.id, isViewerContact: false, isBlockedByViewer: false },
      removedContactId: globalId("Contact", dbId(me.user.id), dbId(friends[0]!.user.id)),
    });
    const again = await mustRequest(
      server,
      RemoveContactDocument,
      { userId: friends[0]!.user.id },
      me.accessToken,
    );
    expect(again.removeContact.removedContactId).toBeNull();
    const after = await mustRequest(server, ContactsDocument, { first: 10 }, me.accessToken);
    expect(after.contacts.edges.map((e) => e.node.user.id)).toEqual([friends[1]!.user.id]);
  });

  it("blocking removes the contact and hides the blocker from the blocked user's search; unblocking undoes it; each answers the user as it now is", async () => {
    const blocker = await registerUser(server, "blocker_1");
    const pest = await registerUser(server);
    const added = await mustRequest(
      server,
      AddContactDocument,
      { userId: pest.user.id },
      blocker.accessToken,
    );
    const blocked = await mustRequest(
      server,
      BlockUserDocument,
      { userId: pest.user.id },
      blocker.accessToken,
    );
    expect(blocked.blockUser).toEqual({
      user: { id: pest.user.id, isViewerContact: false, isBlockedByViewer: true },
      removedContactId: added.addContact.id,
    });

    const contacts = await mustRequest(
      server,
      ContactsDocument,
      { first: 10 },
      blocker.accessToken,
    );
    expect(contacts.contacts.edges).toEqual([]);
    const search = await mustRequest(
      server,
      SearchUsersDocument,
      { search: "blocker_" },
      pest.accessToken,
    );
    expect(search.users.edges).toEqual([]);

    const unblocked = await mustRequest(
      server,
      UnblockUserDocument,
      { userId: pest.user.id },
      blocker.accessToken,
    );
    expect(unblocked.unblockUser).toEqual({
      user: { id: pest.user.id, isViewerContact: false, isBlockedByViewer: false },
      removedContactId: null,
    });
    const visible = await mustRequest(
      server,
      SearchUsersDocument,
      { search: "blocker_" },
      pest.accessToken,
    );
    expect(visible.users.edges.map((e) => e.node.id)).toEqual([blocker.user.id]);
  });
});
