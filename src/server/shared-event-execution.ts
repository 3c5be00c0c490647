// One execution per live event for every subscriber that asked the same thing. GraphQL
// runs a subscription's selection once per event per subscriber: fanning one message out
// to 10,000 sockets executed it 10,000 times, the largest cost of the fan-out (issue 10).
// Subscribers whose streams yield the SAME payload object (the streams share their views
// of an event: resolvers/message-streams.ts) with the same document, operation and
// variables now share one result, unless it depends on who is asking.
//
// Who is asking is found out, not declared: the first subscriber's execution runs with a
// context that notes every property its resolvers read. Reading anything but the
// viewer-independent services (`services`, `prisma`) means the result may depend on the
// viewer (their id, their loaders, their per-request memo), and every subscriber then
// executes for itself, as before. A field added later that looks at the viewer is thereby
// never shared by mistake.
//
// Only the per-event execution changes: the source stream is created as before, and the
// plugins that wrap a subscription's results (stream expiry and caps) wrap these results
// the same way. Errors are masked here (error-masking.ts): a shared result once, for all
// who share it, not once per subscriber; an error that ends the stream as it is thrown.
import { buildExecutionContext, execute } from "@graphql-tools/executor";
import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  GraphQLError,
  getOperationAST,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import type { ErrorMasking } from "./error-masking.js";
import type { Metrics } from "./metrics.js";

type Counters = Pick<Metrics, "liveEventExecutions" | "liveEventResults">;

/** Context properties that are the same for every viewer. */
const SHARED_CONTEXT = new Set<PropertyKey>(["services", "prisma"]);

interface SharedResult {
  /** Masked. */
  result: ExecutionResult;
  /** The execution read something of its viewer: the result is theirs alone. */
  perViewer: boolean;
}

/** Per payload, per request key: the first subscriber's execution. */
const executions = new WeakMap<object, Map<string, Promise<SharedResult>>>();

/** Documents get a number of their own (Yoga's parse cache hands out one object per query text). */
const documentIds = new WeakMap<DocumentNode, number>();
let nextDocumentId = 0;

function requestKey(args: ExecutionArgs) {
  let id = documentIds.get(args.document);
  if (id === undefined) {
    id = nextDocumentId++;
    documentIds.set(args.document, id);
  }
  return `${id}\u0000${args.operationName ?? ""}\u0000${JSON.stringify(args.variableValues ?? {})}`;
}

/** `context` as seen by resolvers, noting whether they read anything of the viewer's. */
function watchedContext(context: object) {
  const seen = { perViewer: false };
  const proxy = new Proxy(context, {
    get(target, property, receiver) {
      if (!SHARED_CONTEXT.has(property)) seen.perViewer = true;
      return Reflect.get(target, property, receiver);
    },
  });
  return { proxy, seen };
}

interface EventOptions {
  counters?: Counters;
  masking: ErrorMasking;
}

async function executeEvent(
  args: ExecutionArgs,
  key: string,
  payload: unknown,
  { counters, masking }: EventOptions,
): Promise<ExecutionResult> {
  const own = async () => {
    counters?.liveEventExecutions.inc();
    return masking.maskResult(
      await (execute({ ...args, rootValue: payload }) as Promise<ExecutionResult>),
    );
  };
  if (typeof payload !== "object" || payload === null) return own();
  let byKey = executions.get(payload);
  if (!byKey) {
    byKey = new Map();
    executions.set(payload, byKey);
  }
  const first = byKey.get(key);
  if (first) {
    const shared = await first;
    return shared.perViewer ? own() : shared.result;
  }
  const { proxy, seen } = watchedContext(args.contextValue as object);
  counters?.liveEventExecutions.inc();
  const running = Promise.resolve(
    execute({ ...args, contextValue: proxy, rootValue: payload }) as Promise<ExecutionResult>,
  ).then((result) => ({ result: masking.maskResult(result), perViewer: seen.perViewer }));
  byKey.set(key, running);
  return (await running).result;
}

/** An error from the source stream, as the executor reports it (located at the operation). */
function asOperationError(error: unknown, args: ExecutionArgs) {
  const operation = getOperationAST(args.document, args.operationName);
  const original = error instanceof Error ? error : new Error(String(error));
  return new GraphQLError(original.message, {
    originalError: original,
    nodes: operation ? [operation] : undefined,
  });
}

/** The source's payloads, each executed (shared where it can be). */
function mapEvents(
  source: AsyncIterator<unknown>,
  args: ExecutionArgs,
  options: EventOptions,
): AsyncIterableIterator<ExecutionResult> {
  const key = requestKey(args);
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      let step: IteratorResult<unknown>;
      try {
        step = await source.next();
      } catch (error) {
        throw options.masking.maskError(asOperationError(error, args));
      }
      if (step.done) return { value: undefined, done: true };
      const value = await executeEvent(args, key, step.value, options);
      options.counters?.liveEventResults.inc();
      return { value, done: false };
    },
    async return() {
      await source.return?.();
      return { value: undefined, done: true };
    },
    async throw(error: unknown) {
      await source.return?.();
      throw error;
    },
  };
}

export function useSharedEventExecution(options: EventOptions): Plugin {
  return {
    onSubscribe({ subscribeFn, setSubscribeFn }) {
      setSubscribeFn(async (args) => {
        // Requests the executor refuses before any resolver runs (variables that do not
        // coerce) it answers itself, with its own codes.
        if (Array.isArray(buildExecutionContext(args))) return subscribeFn(args);
        const source = await createSourceEventStream(args);
        // The subscribe resolver refused (FORBIDDEN, NOT_FOUND...): its errors, as they are.
        if (!(Symbol.asyncIterator in source)) return source;
        return mapEvents(source[Symbol.asyncIterator](), args, options);
      });
    },
  };
}
