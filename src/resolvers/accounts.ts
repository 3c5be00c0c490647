// Sign-up, sign-in and sessions. Access tokens are short-lived JWTs; the refresh token
// is the session and rotates on every use (see auth/refresh-tokens.ts).
import { z } from "zod";
import { decoyPasswordHash, hashPassword, verifyPassword } from "../auth/passwords.js";
import type { Context } from "../context.js";
import type { User } from "../db/generated/prisma/client.js";
import { badUserInput, unauthenticated } from "../errors.js";
import { isUniqueViolation } from "./prisma-errors.js";
import { consume, type Limit, reset } from "./rate-limits.js";
import { displayName, parseInput } from "./validation.js";

export const email = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .pipe(z.email("must be a valid email address"));
export const username = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9_]{3,32}$/, "must be 3 to 32 letters, digits or underscores");
/** Upper bound keeps a huge "password" from becoming a CPU/memory attack on scrypt. */
const password = z
  .string()
  .min(8, "must be at least 8 characters")
  .max(128, "must be at most 128 characters");

const registerInput = z.object({ email, username, password, displayName });
const loginInput = z.object({
  login: z.string().trim().toLowerCase().min(1, "is required").max(254),
  password: z.string().min(1, "is required").max(128),
});

export interface AuthPayload {
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  user: User;
}

async function signIn(ctx: Context, user: User, refreshToken?: string): Promise<AuthPayload> {
  // The rest of this operation runs as the user who just signed in (e.g. `user { email }`).
  ctx.viewer = { id: user.id };
  ctx.authProblem = null;
  const access = await ctx.services.accessTokens.sign(user.id);
  return {
    accessToken: access.token,
    accessTokenExpiresAt: access.expiresAt,
    refreshToken: refreshToken ?? (await ctx.services.refreshTokens.issue(user.id)),
    user,
  };
}

/** New accounts per client address: room for a shared office, not for a bot farm. */
export const REGISTRATIONS_PER_ADDRESS: Limit = {
  name: "register-address",
  max: 100,
  windowSeconds: 3600,
};

export async function register(ctx: Context, raw: unknown): Promise<AuthPayload> {
  const input = parseInput(registerInput, raw);
  if (ctx.clientAddress) await consume(ctx, REGISTRATIONS_PER_ADDRESS, ctx.clientAddress);
  const passwordHash = await hashPassword(input.password);
  try {
    const user = await ctx.prisma.user.create({
      data: {
        email: input.email,
        username: input.username,
        displayName: input.displayName,
        passwordHash,
      },
    });
    return await signIn(ctx, user);
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    // Which one collided? Ask rather than parse driver-specific error metadata.
    const emailTaken = await ctx.prisma.user.count({ where: { email: input.email } });
    throw emailTaken
      ? badUserInput("email", "email: is already registered")
      : badUserInput("username", "username: is already taken");
  }
}

/**
 * Sign-in attempts per account (whichever of its names is used) since its last success:
 * enough for typos, too few for guessing.
 */
export const LOGIN_ATTEMPTS: Limit = { name: "login-attempts", max: 10, windowSeconds: 300 };
/** Sign-in attempts per client address, whatever the accounts: one address guessing many. */
export const LOGIN_ATTEMPTS_PER_ADDRESS: Limit = {
  name: "login-address",
  max: 100,
  windowSeconds: 300,
};

export async function login(ctx: Context, raw: unknown): Promise<AuthPayload> {
  const input = parseInput(loginInput, raw);
  const user = await ctx.prisma.user.findFirst({
    where: input.login.includes("@") ? { email: input.login } : { username: input.login },
  });
  // Counted BEFORE the password is checked, atomically (a cache increment): of a burst of
  // parallel guesses only the first `max` are ever checked. One counter per account, so
  // its username and its email share it; a name with no account has its own.
  const accountKey = user ? `user:${user.id}` : `name:${input.login}`;
  if (ctx.clientAddress) await consume(ctx, LOGIN_ATTEMPTS_PER_ADDRESS, ctx.clientAddress);
  await consume(ctx, LOGIN_ATTEMPTS, accountKey);
  // Same work and same answer whether the account is missing or the password wrong.
  const ok = await verifyPassword(input.password, user?.passwordHash ?? (await decoyPasswordHash));
  if (!user || !ok) throw unauthenticated("Invalid login or password.");
  // The owner is back: their typos so far no longer count against them.
  await reset(ctx, LOGIN_ATTEMPTS, accountKey);
  return signIn(ctx, user);
}

export async function refreshSession(ctx: Context, refreshToken: string): Promise<AuthPayload> {
  const rotated = await ctx.services.refreshTokens.rotate(refreshToken);
  if (!rotated.ok) {
    throw unauthenticated(
      rotated.reason === "reused"
        ? "Refresh token was already used; the session has been revoked. Sign in again."
        : "Refresh token is not valid; sign in again.",
    );
  }
  const user = await ctx.prisma.user.findUnique({ where: { id: rotated.userId } });
  if (!user) throw unauthenticated("Refresh token is not valid; sign in again.");
  return signIn(ctx, user, rotated.token);
}

export function logout(ctx: Context, refreshToken: string): Promise<boolean> {
  return ctx.services.refreshTokens.revoke(refreshToken);
}
