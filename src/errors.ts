// Errors a client can act on. Anything that is not one of these is masked by Yoga
// ("Unexpected error.", INTERNAL_SERVER_ERROR) so internals never leak; these carry
// `extensions.code`.
import { GraphQLError } from "graphql";

/**
 * Every `extensions.code` a client can receive, with when it happens and what to do. The
 * schema's ErrorCode enum is made from this list, and every place that answers with a
 * code takes its type from it, so a new code cannot stay out of the schema.
 */
export const ERROR_CODES = {
  UNAUTHENTICATED:
    "Not signed in, or the access token is invalid or expired. Refresh the session (refreshSession) or sign in, then retry.",
  FORBIDDEN:
    "Signed in but not allowed: not a member, a block, not an owner or admin, or muted in the group until extensions.mutedUntil. Do not retry as is (a muted member may send again after mutedUntil).",
  NOT_FOUND:
    "What the argument named in extensions.field points at does not exist or is not visible to the viewer. Do not retry.",
  BAD_USER_INPUT:
    "Invalid input; extensions.field is the path of the offending value (e.g. input.email). Fix it; do not retry as is.",
  RATE_LIMITED: "Too many requests of this kind; retry after extensions.retryAfter seconds.",
  SERVICE_UNAVAILABLE:
    "PostgreSQL or RabbitMQ is down or failing over, or a live stream was interrupted (extensions.retryable: true). Retry (a send with the same clientMessageId); resubscribe with afterSeq or after.",
  TOO_MANY_STREAMS:
    "The viewer already holds as many subscriptions outside a signed-in socket as allowed (extensions.limit). End one first.",
  TOO_DEEP:
    "The operation nests deeper than allowed (extensions.limit, MAX_QUERY_DEPTH). Do not retry as is.",
  TOO_MANY_ALIASES:
    "The operation uses more aliases than allowed (extensions.limit, MAX_QUERY_ALIASES). Do not retry as is.",
  PAGE_TOO_LARGE:
    "A connection was asked for more than its page size allows (extensions.field: first or last; extensions.limit: the maximum, 100). Ask for a smaller page and follow the cursors.",
  TOO_COSTLY:
    "The operation's static cost is above the limit (extensions.limit, MAX_QUERY_COST): ask for smaller pages or fewer fields. Do not retry as is.",
  PAYLOAD_TOO_LARGE: "HTTP 413: the body is larger than MAX_BODY_BYTES. Do not retry as is.",
  UNSUPPORTED_MEDIA_TYPE: "HTTP 415: send the operation as JSON (Content-Type: application/json).",
  LENGTH_REQUIRED: "HTTP 411: send a Content-Length header (no chunked bodies).",
  GRAPHQL_PARSE_FAILED: "The document is not valid GraphQL. Do not retry as is.",
  GRAPHQL_VALIDATION_FAILED:
    "The document does not match the schema (an unknown field, a wrong argument type). Do not retry as is.",
  INTERNAL_SERVER_ERROR:
    "Something unexpected failed (the message is masked as 'Unexpected error.'). One retry is reasonable; report it if it persists.",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

function clientError(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
  return new GraphQLError(message, { extensions: { code, ...extra } });
}

export function unauthenticated(message = "You must be signed in to do this.") {
  return clientError("UNAUTHENTICATED", message);
}

/** `extra`: what the client can act on, e.g. `mutedUntil` for a muted member's send. */
export function forbidden(
  message = "You are not allowed to do this.",
  extra: Record<string, unknown> = {},
) {
  return clientError("FORBIDDEN", message, extra);
}

/** `field` names the argument or input field that pointed at the missing thing. */
export function notFound(what: string, field?: string) {
  return clientError("NOT_FOUND", `${what} not found.`, field ? { field } : {});
}

/** `field` is the path of the offending input, e.g. `email` or `input.email`. */
export function badUserInput(field: string, message: string) {
  return clientError("BAD_USER_INPUT", message, { field });
}

export function rateLimited(retryAfterSeconds: number) {
  return clientError("RATE_LIMITED", "Too many requests; try again later.", {
    retryAfter: retryAfterSeconds,
  });
}

export function serviceUnavailable(message = "Service temporarily unavailable; retry.") {
  return clientError("SERVICE_UNAVAILABLE", message, { retryable: true });
}

/** A connection page over the maximum: `field` is `first` or `last`. */
export function pageTooLarge(field: string, limit: number) {
  return clientError(
    "PAGE_TOO_LARGE",
    `${field}: at most ${limit} per page; follow the page's cursors for more.`,
    { field, limit },
  );
}
