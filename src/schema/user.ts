// Users, profiles and accounts: the User type, sign-up/sign-in/session mutations, `me`,
// `user(id)`, `users(search)` and `updateProfile`.
import * as accounts from "../resolvers/accounts.js";
import * as profiles from "../resolvers/profiles.js";
import { parseId } from "../resolvers/validation.js";
import { requireViewerId } from "../resolvers/viewer.js";
import { builder } from "./builder.js";
import { pageSize } from "./page-size.js";

export const User = builder.prismaNode("User", {
  description:
    "A person with an account. Public profile fields are visible to every signed-in user.",
  id: { field: "id" },
  fields: (t) => ({
    username: t.exposeString("username", { description: "Unique handle, lower case." }),
    displayName: t.exposeString("displayName"),
    avatarUrl: t.exposeString("avatarUrl", { nullable: true }),
    bio: t.exposeString("bio", { nullable: true }),
    email: t.string({
      nullable: true,
      description: "Only visible to the user themself; null for everyone else.",
      select: { email: true },
      resolve: (user, _args, ctx) => (ctx.viewer?.id === user.id ? user.email : null),
    }),
    lastSeenAt: t.field({
      type: "DateTime",
      nullable: true,
      description:
        "Null unless the viewer may see this user's presence (themself, a contact, someone they share a channel with, and not blocked by them).",
      select: { lastSeenAt: true },
      resolve: async (user, _args, ctx) =>
        ctx.viewer?.id === user.id || (await ctx.loaders.lastSeenVisible.load(user.id))
          ? user.lastSeenAt
          : null,
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    isViewerContact: t.boolean({
      description: "Whether this user is in the viewer's contacts (addContact, removeContact).",
      resolve: async (user, _args, ctx) =>
        (await ctx.loaders.viewerRelation.load(user.id)) === "CONTACT",
    }),
    isBlockedByViewer: t.boolean({
      description: "Whether the viewer blocked this user (blockUser, unblockUser).",
      resolve: async (user, _args, ctx) =>
        (await ctx.loaders.viewerRelation.load(user.id)) === "BLOCKED",
    }),
  }),
});

const AuthPayload = builder.objectRef<accounts.AuthPayload>("AuthPayload").implement({
  description:
    "A signed-in session: a short-lived access token and the refresh token that renews it.",
  fields: (t) => ({
    accessToken: t.exposeString("accessToken", {
      description:
        "Send as `Authorization: Bearer <token>` (HTTP) or in connectionParams (WebSocket).",
    }),
    accessTokenExpiresAt: t.expose("accessTokenExpiresAt", { type: "DateTime" }),
    refreshToken: t.exposeString("refreshToken", {
      description:
        "Single use: refreshSession returns a new one. Reusing an old one ends the session.",
    }),
    user: t.field({ type: User, resolve: (payload) => payload.user }),
  }),
});

const LogoutPayload = builder.objectRef<{ sessionEnded: boolean }>("LogoutPayload").implement({
  fields: (t) => ({
    sessionEnded: t.exposeBoolean("sessionEnded", {
      description:
        "False when the token named no live session (already ended or unknown): either way, it is ended now.",
    }),
  }),
});

const RegisterInput = builder.inputType("RegisterInput", {
  fields: (t) => ({
    email: t.string({ required: true }),
    username: t.string({ required: true, description: "3-32 letters, digits or underscores." }),
    password: t.string({ required: true, description: "8-128 characters." }),
    displayName: t.string({ required: true, description: "1-64 characters." }),
  }),
});

const LoginInput = builder.inputType("LoginInput", {
  fields: (t) => ({
    login: t.string({ required: true, description: "Email or username." }),
    password: t.string({ required: true }),
  }),
});

const UpdateProfileInput = builder.inputType("UpdateProfileInput", {
  fields: (t) => ({
    displayName: t.string({ description: "1-64 characters; omit to keep." }),
    avatarUrl: t.string({ description: "http(s) URL; null clears it, omit to keep." }),
    bio: t.string({ description: "Up to 500 characters; null clears it, omit to keep." }),
  }),
});

builder.mutationFields((t) => ({
  register: t.field({
    type: AuthPayload,
    args: { input: t.arg({ type: RegisterInput, required: true }) },
    resolve: (_root, { input }, ctx) => accounts.register(ctx, input),
  }),
  login: t.field({
    type: AuthPayload,
    args: { input: t.arg({ type: LoginInput, required: true }) },
    resolve: (_root, { input }, ctx) => accounts.login(ctx, input),
  }),
  refreshSession: t.field({
    type: AuthPayload,
    args: { refreshToken: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => accounts.refreshSession(ctx, args.refreshToken),
  }),
  logout: t.field({
    type: LogoutPayload,
    description: "Ends the session of this refresh token.",
    args: { refreshToken: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) => ({
      sessionEnded: await accounts.logout(ctx, args.refreshToken),
    }),
  }),
  updateProfile: t.prismaField({
    type: "User",
    authScopes: { signedIn: true },
    args: { input: t.arg({ type: UpdateProfileInput, required: true }) },
    resolve: (_query, _root, { input }, ctx) => profiles.updateProfile(ctx, input),
  }),
}));

builder.queryFields((t) => ({
  me: t.prismaField({
    type: "User",
    nullable: true,
    description: "The signed-in user.",
    authScopes: { signedIn: true },
    resolve: (query, _root, _args, ctx) => profiles.getUser(ctx, requireViewerId(ctx), query),
  }),
  user: t.prismaField({
    type: "User",
    nullable: true,
    authScopes: { signedIn: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) =>
      profiles.getUser(ctx, parseId("id", args.id, "User"), query),
  }),
  users: t.prismaConnection(
    {
      ...pageSize,
      type: "User",
      cursor: "id",
      description: "Users whose username or display name starts with `search`, in username order.",
      authScopes: { signedIn: true },
      args: { search: t.arg.string() },
      resolve: (query, _root, args, ctx) =>
        ctx.prisma.user.findMany({
          ...query,
          where: profiles.userSearchFilter(ctx, args.search),
          orderBy: { username: "asc" },
        }),
    },
    { name: "UserConnection" },
    { name: "UserEdge" },
  ),
}));
