// Short-lived access tokens: HS256 JWTs signed and verified with jose. Verification
// names the one accepted algorithm, so `alg: none` and algorithm-confusion tokens fail.
import { errors, jwtVerify, SignJWT } from "jose";
import { LocalMemo } from "../cache/local-memo.js";

const ALGORITHM = "HS256";
const ISSUER = "chat-graphql";
const AUDIENCE = "chat-graphql:access";

export interface AccessClaims {
  userId: string;
  /** Expiry as a UNIX time in seconds. */
  expiresAt: number;
}

export type VerifyResult =
  | { ok: true; claims: AccessClaims }
  | { ok: false; reason: "expired" | "invalid" };

export class AccessTokens {
  /**
   * Imported once: handed raw bytes, jose imports a WebCrypto key on every sign and
   * verify, which showed in the api's CPU profile under load (issue 10).
   */
  readonly #key: Promise<CryptoKey>;
  /**
   * Tokens verified already, until they expire: a client presents the same token on every
   * request, and checking its signature again was about a tenth of the api's CPU per
   * sendMessage (issue 10). Only what verified is kept; it stays exactly as valid as it
   * was (access tokens are not revoked; their users are checked apart, by KnownUsers).
   */
  readonly #verified = new LocalMemo<AccessClaims>(10_000);

  constructor(
    secret: string,
    /** Lifetime of a new token in seconds. */
    readonly ttlSeconds: number,
  ) {
    this.#key = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
  }

  async sign(userId: string): Promise<{ token: string; expiresAt: Date }> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.ttlSeconds;
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(await this.#key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  async verify(token: string): Promise<VerifyResult> {
    const now = Date.now();
    const known = this.#verified.get(token, now);
    if (known) return { ok: true, claims: known };
    try {
      const { payload } = await jwtVerify(token, await this.#key, {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ["sub", "exp"],
      });
      if (typeof payload.sub !== "string" || typeof payload.exp !== "number") {
        return { ok: false, reason: "invalid" };
      }
      const claims = { userId: payload.sub, expiresAt: payload.exp };
      this.#verified.set(token, claims, claims.expiresAt * 1000);
      return { ok: true, claims };
    } catch (error) {
      if (error instanceof errors.JWTExpired) return { ok: false, reason: "expired" };
      return { ok: false, reason: "invalid" };
    }
  }
}

/** Extracts the token from `Bearer <token>`; undefined when absent, null when malformed. */
export function parseBearer(header: unknown): string | null | undefined {
  if (header === undefined || header === null || header === "") return undefined;
  if (typeof header !== "string") return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return match?.[1] ?? null;
}
