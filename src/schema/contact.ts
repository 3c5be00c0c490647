// Contacts and blocks.
import * as contacts from "../resolvers/contacts.js";
import { globalId } from "../resolvers/global-ids.js";
import { builder } from "./builder.js";
import { membershipKey, membershipWhere } from "./node-keys.js";
import { pageSize } from "./page-size.js";

builder.prismaNode("Contact", {
  description: "Someone in the viewer's contact list.",
  id: { resolve: (contact) => membershipKey(contact.ownerId, contact.contactId) },
  findUnique: (key) => ({ ownerId_contactId: membershipWhere(key, "ownerId", "contactId") }),
  fields: (t) => ({
    user: t.relation("contact"),
    addedAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

/** What removeContact, blockUser and unblockUser answer: the user, as it now is to the viewer. */
function relationPayload(name: string) {
  return builder.objectRef<contacts.RelationChange>(name).implement({
    fields: (t) => ({
      user: t.prismaField({
        type: "User",
        description: "The user, with isViewerContact and isBlockedByViewer as they now are.",
        resolve: (query, change, _args, ctx) =>
          ctx.prisma.user.findUniqueOrThrow({ ...query, where: { id: change.userId } }),
      }),
      removedContactId: t.id({
        nullable: true,
        description:
          "The id of the Contact this removed (null when the user was not a contact): drop it from cached contact lists.",
        resolve: (change) =>
          change.contactRemoved ? globalId("Contact", change.viewerId, change.userId) : null,
      }),
    }),
  });
}

builder.queryFields((t) => ({
  contacts: t.prismaConnection(
    {
      ...pageSize,
      type: "Contact",
      cursor: "ownerId_contactId",
      description:
        "The viewer's contacts, most recently added first. Blocked users are not listed.",
      authScopes: { signedIn: true },
      resolve: (query, _root, _args, ctx) =>
        ctx.prisma.contact.findMany({
          ...query,
          where: contacts.contactListFilter(ctx),
          orderBy: [{ createdAt: "desc" }, { contactId: "asc" }],
        }),
    },
    { name: "ContactConnection" },
    { name: "ContactEdge" },
  ),
}));

builder.mutationFields((t) => ({
  addContact: t.prismaField({
    type: "Contact",
    description: "Adds a user to the viewer's contacts (and lifts a block on them). Idempotent.",
    authScopes: { signedIn: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => contacts.addContact(ctx, args.userId, query),
  }),
  removeContact: t.field({
    type: relationPayload("RemoveContactPayload"),
    description: "Removes a user from the viewer's contacts. Idempotent.",
    authScopes: { signedIn: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => contacts.removeContact(ctx, args.userId),
  }),
  blockUser: t.field({
    type: relationPayload("BlockUserPayload"),
    description:
      "Blocks a user: removes them from contacts, hides the viewer from their search and stops direct conversations.",
    authScopes: { signedIn: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => contacts.blockUser(ctx, args.userId),
  }),
  unblockUser: t.field({
    type: relationPayload("UnblockUserPayload"),
    authScopes: { signedIn: true },
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => contacts.unblockUser(ctx, args.userId),
  }),
}));
