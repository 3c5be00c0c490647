// Prisma error codes we act on. Checked by code, not class, because driver adapters
// and the Prisma client can surface them through different error classes.
function prismaCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

/** A unique constraint rejected the write (P2002). */
export function isUniqueViolation(error: unknown): boolean {
  return prismaCode(error) === "P2002";
}
