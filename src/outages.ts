// Is this failure the world's (the database or the broker is down, slow, failing over)
// or the request's own? One answer for the whole service: the worker pauses a shard and
// retries its batch through an outage (only a command's own failure may lead to its
// refusal), and the api answers SERVICE_UNAVAILABLE (retryable) instead of a masked
// error. When the error does not say, the worker also asks the services themselves (a
// health probe) before blaming a command.
import { BusUnavailableError } from "./pubsub/bus.js";

/** SQLSTATE classes of a server that is unreachable, overloaded or going away. */
const OUTAGE_SQLSTATE_CLASSES = ["08", "53", "57", "58", "40"];
/**
 * Single SQLSTATEs that mean "not now": not accepting connections, lock not available,
 * and a read-only transaction (a failover reached a standby or a demoted primary).
 */
const OUTAGE_SQLSTATES = new Set(["55000", "55006", "55P03", "25006"]);
/** Prisma's codes for connection, pool, timeout and transaction-closed trouble. */
const OUTAGE_PRISMA_CODES = new Set([
  "P1001",
  "P1002",
  "P1008",
  "P1017",
  "P2024",
  "P2028",
  "P2034",
]);
/** Driver adapter error kinds (Prisma 7) that are about the connection, not the query. */
const OUTAGE_ADAPTER_KINDS = new Set([
  "DatabaseNotReachable",
  "ConnectionClosed",
  "SocketTimeout",
  "TooManyConnections",
  "TransactionAlreadyClosed",
  "TlsConnectionError",
]);
const OUTAGE_NODE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
]);
const OUTAGE_MESSAGES =
  /connection terminated|connection (?:is )?closed|timeout exceeded when trying to connect|Can't reach database|server closed the connection/i;

interface ErrorFields {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: { cause?: { kind?: unknown; code?: unknown } } };
}

export function isOutage(error: unknown, depth = 0): boolean {
  if (error instanceof BusUnavailableError) return true;
  if (typeof error !== "object" || error === null || depth > 4) return false;
  const e = error as ErrorFields;
  const code = typeof e.code === "string" ? e.code : undefined;
  if (code && (OUTAGE_PRISMA_CODES.has(code) || OUTAGE_NODE_CODES.has(code))) return true;
  if (sqlStatesOf(e).some(isOutageSqlState)) return true;
  const adapterCause = e.meta?.driverAdapterError?.cause;
  if (typeof adapterCause?.kind === "string" && OUTAGE_ADAPTER_KINDS.has(adapterCause.kind))
    return true;
  if (typeof e.message === "string" && OUTAGE_MESSAGES.test(e.message)) return true;
  return e.cause !== undefined && isOutage(e.cause, depth + 1);
}

function isOutageSqlState(code: string) {
  return OUTAGE_SQLSTATE_CLASSES.includes(code.slice(0, 2)) || OUTAGE_SQLSTATES.has(code);
}

/** The SQLSTATEs an error carries: its own code, or its driver adapter's cause. */
function sqlStatesOf(e: ErrorFields): string[] {
  return [e.code, e.meta?.driverAdapterError?.cause?.code].filter(
    (code): code is string => typeof code === "string" && /^[0-9A-Z]{5}$/.test(code),
  );
}

/**
 * SQLSTATE classes of a statement the data itself makes impossible: a data exception
 * (22: a NUL byte, a value out of range) or an integrity constraint violation (23).
 */
const DATA_FAULT_SQLSTATE_CLASSES = ["22", "23"];
/** Prisma's codes for values or constraints the data itself violates. */
const DATA_FAULT_PRISMA_CODES = new Set([
  "P2000",
  "P2003",
  "P2006",
  "P2007",
  "P2011",
  "P2012",
  "P2019",
  "P2020",
  "P2023",
]);

/**
 * Is this failure the command's own data, which no retry can change? Then the worker
 * refuses the command at once rather than trying it again while its shard waits.
 */
export function isDataFault(error: unknown, depth = 0): boolean {
  if (typeof error !== "object" || error === null || depth > 4) return false;
  const e = error as ErrorFields;
  if (typeof e.code === "string" && DATA_FAULT_PRISMA_CODES.has(e.code)) return true;
  if (sqlStatesOf(e).some((code) => DATA_FAULT_SQLSTATE_CLASSES.includes(code.slice(0, 2))))
    return true;
  return e.cause !== undefined && isDataFault(e.cause, depth + 1);
}
