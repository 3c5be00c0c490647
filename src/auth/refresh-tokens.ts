// Opaque refresh tokens: 256 random bits, stored only as a SHA-256 hash (the token has
// full entropy, so a fast hash is enough; a KDF would only slow the hot path down).
// Every use rotates the token inside its family; presenting a token that was already
// rotated means it leaked (or a client raced itself), so the whole family is revoked.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { PrismaClient } from "../db/database.js";

export type RotateResult =
  | { ok: true; userId: string; token: string }
  | { ok: false; reason: "unknown" | "expired" | "revoked" | "reused" };

function hashToken(token: string) {
  return createHash("sha256").update(token).digest("hex");
}

function newToken() {
  return randomBytes(32).toString("base64url");
}

export class RefreshTokens {
  constructor(
    private readonly prisma: PrismaClient,
    /** Lifetime of a token in seconds. */
    private readonly ttlSeconds: number,
  ) {}

  /** Starts a new family (a new sign-in). */
  async issue(userId: string, familyId: string = randomUUID()): Promise<string> {
    const token = newToken();
    await this.prisma.refreshToken.create({
      data: {
        userId,
        familyId,
        tokenHash: hashToken(token),
        expiresAt: new Date(Date.now() + this.ttlSeconds * 1000),
      },
    });
    return token;
  }

  async rotate(token: string): Promise<RotateResult> {
    const row = await this.prisma.refreshToken.findUnique({
      where: { tokenHash: hashToken(token) },
    });
    if (!row) return { ok: false, reason: "unknown" };
    if (row.revokedAt) return { ok: false, reason: "revoked" };
    if (row.rotatedAt) {
      await this.revokeFamily(row.familyId);
      return { ok: false, reason: "reused" };
    }
    if (row.expiresAt.getTime() <= Date.now()) return { ok: false, reason: "expired" };
    const next = newToken();
    // Claim and successor in one transaction: a failure leaves the old token usable, and
    // the conditional update is the race guard (of two concurrent uses exactly one sees
    // count 1; the other is treated as reuse). A family revoked meanwhile (a reuse racing
    // this rotation) refuses the rotation too.
    const rotated = await this.prisma.$transaction(async (tx) => {
      const claimed = await tx.refreshToken.updateMany({
        where: { id: row.id, rotatedAt: null, revokedAt: null },
        data: { rotatedAt: new Date() },
      });
      if (claimed.count !== 1) return false;
      await tx.refreshToken.create({
        data: {
          userId: row.userId,
          familyId: row.familyId,
          tokenHash: hashToken(next),
          expiresAt: new Date(Date.now() + this.ttlSeconds * 1000),
        },
      });
      return true;
    });
    if (!rotated || (await this.familyRevoked(row.familyId))) {
      await this.revokeFamily(row.familyId);
      return { ok: false, reason: "reused" };
    }
    return { ok: true, userId: row.userId, token: next };
  }

  private async familyRevoked(familyId: string) {
    return (
      (await this.prisma.refreshToken.count({ where: { familyId, revokedAt: { not: null } } })) > 0
    );
  }

  /** Ends the session the token belongs to; false when the token names no live session. */
  async revoke(token: string): Promise<boolean> {
    const row = await this.prisma.refreshToken.findUnique({
      where: { tokenHash: hashToken(token) },
    });
    if (!row || row.revokedAt || row.rotatedAt) return false;
    await this.revokeFamily(row.familyId);
    return true;
  }

  private async revokeFamily(familyId: string) {
    await this.prisma.refreshToken.updateMany({
      where: { familyId, revokedAt: null },
      data: { revokedAt: new Date() },
    });
  }
}
