// Errors a client can act on. Anything that is not one of these is masked by Yoga
// ("Unexpected error.") so internals never leak; these carry `extensions.code`.
import { GraphQLError } from "graphql";

export type ErrorCode =
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "BAD_USER_INPUT"
  | "RATE_LIMITED"
  | "SERVICE_UNAVAILABLE";

function clientError(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
  return new GraphQLError(message, { extensions: { code, ...extra } });
}

export function unauthenticated(message = "You must be signed in to do this.") {
  return clientError("UNAUTHENTICATED", message);
}

export function forbidden(message = "You are not allowed to do this.") {
  return clientError("FORBIDDEN", message);
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
