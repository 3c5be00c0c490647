// What a client sees of an error. GraphQLErrors we throw keep their message and code;
// bad connection arguments from Pothos are BAD_USER_INPUT; a database or broker outage is
// SERVICE_UNAVAILABLE (retryable); anything else is "Unexpected error." with code
// INTERNAL_SERVER_ERROR (the original attached in development), and is logged.
//
// Ours rather than Yoga's `maskedErrors`, for the same rules at one less cost per live
// event: Yoga's masks a subscription's results in a wrapper around EVERY subscriber's
// stream (envelop's per-result `onNext`: an async iterator step and promise helpers per
// event per subscriber), which was two fifths of what a replica allocated fanning messages
// out (issue 10). A live event is executed once for every subscriber that shares its
// result (shared-event-execution.ts), and that result is masked there, once.
//
// Where each kind of error is masked:
// - execution results (queries, mutations): onExecuteDone;
// - a subscription refused at subscribe time (a single result): onSubscribeResult;
// - a subscription's events, and the error that ends a stream: where they are executed
//   (shared-event-execution.ts), which makes every subscription's stream;
// - the context factory's errors: a context error handler;
// - anything else a request over HTTP fails with (a plugin that throws): onResultProcess,
//   where Yoga's answer to the request is made.
import { PothosValidationError } from "@pothos/core";
import { type ExecutionResult, GraphQLError } from "graphql";
import {
  handleStreamOrSingleExecutionResult,
  isAsyncIterable,
  type Plugin,
  maskError as yogaMaskError,
} from "graphql-yoga";
import { serviceUnavailable } from "../errors.js";
import type { Logger } from "../logger.js";
import { isOutage } from "../outages.js";

const UNEXPECTED = "Unexpected error.";

/** What was thrown, under the GraphQLError the executor wrapped it in. */
const originalOf = (error: unknown) =>
  error instanceof GraphQLError ? (error.originalError ?? error) : error;

export interface ErrorMasking {
  /** The error as a client may see it (the same error when it is fit to be seen). */
  maskError(error: unknown): Error;
  /** The result with its errors masked (the same object when none needs it). */
  maskResult<R extends ExecutionResult>(result: R): R;
}

export function createErrorMasking(options: { isDev: boolean; logger: Logger }): ErrorMasking {
  /** Errors already masked: masked again (a result passed through twice) they stay as they are, logged once. */
  const masked = new WeakSet<object>();

  const mask = (error: unknown): Error => {
    const original = originalOf(error);
    // Pothos rejects bad connection arguments (a malformed cursor, `first: -1`, `before`
    // with `first`) with a GraphQLError that has no code; for clients that is bad input
    // like any other, on the argument its message names (a cursor when it names none).
    if (original instanceof PothosValidationError && error instanceof GraphQLError) {
      const field = /Arguments? "(\w+)"/.exec(original.message)?.[1] ?? "cursor";
      return new GraphQLError(original.message, {
        nodes: error.nodes,
        path: error.path,
        extensions: { code: "BAD_USER_INPUT", field },
      });
    }
    // The database or the broker is down or failing over: the client should retry, and be
    // told so, rather than see an unexpected error.
    if (isOutage(original) && error instanceof GraphQLError) {
      const unavailable = serviceUnavailable();
      return new GraphQLError(unavailable.message, {
        nodes: error.nodes,
        path: error.path,
        extensions: unavailable.extensions,
      });
    }
    return yogaMaskError(error, UNEXPECTED, options.isDev);
  };

  const maskError = (error: unknown): Error => {
    if (typeof error === "object" && error !== null && masked.has(error)) return error as Error;
    const result = mask(error);
    if (result !== error) {
      const original = originalOf(error);
      // Bad connection arguments are the client's (answered BAD_USER_INPUT), not worth a
      // stack trace at error level.
      const level = original instanceof PothosValidationError ? "debug" : "error";
      options.logger[level]({ err: original }, `masked: ${String(result.message)}`);
    }
    masked.add(result);
    return result;
  };

  const maskResult = <R extends ExecutionResult>(result: R): R => {
    if (!result.errors?.length) return result;
    const errors = result.errors.map(maskError);
    return errors.every((error, i) => error === result.errors?.[i])
      ? result
      : { ...result, errors: errors as GraphQLError[] };
  };

  return { maskError, maskResult };
}

/**
 * Masks every error on its way to a client but a live event's, which the shared execution
 * masks (see the top of this file); Yoga's own masking is off (`maskedErrors: false`).
 */
export function useErrorMasking(masking: ErrorMasking): Plugin {
  const maskSingle = ({
    result,
    setResult,
  }: {
    result: ExecutionResult;
    setResult: (result: ExecutionResult) => void;
  }) => setResult(masking.maskResult(result));
  return {
    onPluginInit({ registerContextErrorHandler }) {
      registerContextErrorHandler(({ error, setError }) => setError(masking.maskError(error)));
    },
    onExecute() {
      return {
        onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, maskSingle),
      };
    },
    onSubscribe() {
      return {
        onSubscribeResult({ result, setResult }) {
          // A stream masks its own events (shared-event-execution.ts): no wrapper here.
          if (!isAsyncIterable(result)) setResult(masking.maskResult(result));
        },
      };
    },
    onResultProcess({ result, setResult }) {
      if (isAsyncIterable(result)) return;
      setResult(
        Array.isArray(result) ? result.map(masking.maskResult) : masking.maskResult(result),
      );
    },
  };
}
