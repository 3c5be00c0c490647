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

/** The row to update or delete does not exist (P2025). */
export function isRecordNotFound(error: unknown): boolean {
  return prismaCode(error) === "P2025";
}

/** A foreign key pointed at a missing row (P2003). */
export function isForeignKeyViolation(error: unknown): boolean {
  return prismaCode(error) === "P2003";
}
