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

/** The first subscriber's execution of an event, and its outcome once there is one. */
interface SharedExecution {
  running: Promise<SharedResult>;
  /** Set once `running` has settled: later subscribers take it without waiting a turn. */
  settled?: SharedResult;
}

/** Per payload, per request key: the first subscriber's execution. */
const executions = new WeakMap<object, Map<string, SharedExecution>>();

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

/** This subscriber's own execution of an event (its result depends on who asks). */
async function executeOwn(
  args: ExecutionArgs,
  payload: unknown,
  { counters, masking }: EventOptions,
): Promise<ExecutionResult> {
  counters?.liveEventExecutions.inc();
  return masking.maskResult(
    await (execute({ ...args, rootValue: payload }) as Promise<ExecutionResult>),
  );
}

/** The first execution's result, unless it read its viewer: then this subscriber's own. */
function sharedOrOwn(
  shared: SharedResult,
  args: ExecutionArgs,
  payload: unknown,
  options: EventOptions,
): ExecutionResult | Promise<ExecutionResult> {
  return shared.perViewer ? executeOwn(args, payload, options) : shared.result;
}

/**
 * An event's result for one subscriber: the shared one when the first subscriber's
 * execution did not depend on its viewer, without a promise once that execution is done
 * (every subscriber after the first, in a fan-out).
 */
function executeEvent(
  args: ExecutionArgs,
  key: string,
  payload: unknown,
  options: EventOptions,
): ExecutionResult | Promise<ExecutionResult> {
  if (typeof payload !== "object" || payload === null) return executeOwn(args, payload, options);
  let byKey = executions.get(payload);
  if (!byKey) {
    byKey = new Map();
    executions.set(payload, byKey);
  }
  const first = byKey.get(key);
  if (first?.settled) return sharedOrOwn(first.settled, args, payload, options);
  if (first) return first.running.then((shared) => sharedOrOwn(shared, args, payload, options));
  const { proxy, seen } = watchedContext(args.contextValue as object);
  options.counters?.liveEventExecutions.inc();
  const execution: SharedExecution = {
    running: Promise.resolve(
      execute({ ...args, contextValue: proxy, rootValue: payload }) as Promise<ExecutionResult>,
    ).then((result) => {
      execution.settled = { result: options.masking.maskResult(result), perViewer: seen.perViewer };
      return execution.settled;
    }),
  };
  byKey.set(key, execution);
  return execution.running.then((shared) => shared.result);
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

const DONE: IteratorReturnResult<undefined> = { value: undefined, done: true };

/**
 * The source's payloads, each executed (shared where it can be). Its steps are bound once
 * per subscription rather than made an async function: as one, each event cost every
 * subscriber a suspended async frame and two turns of promises, about a quarter of a
 * replica's allocation per fan-out delivery (issue 10).
 */
class ExecutedEvents implements AsyncIterableIterator<ExecutionResult> {
  readonly #key: string;

  constructor(
    private readonly source: AsyncIterator<unknown>,
    private readonly args: ExecutionArgs,
    private readonly options: EventOptions,
  ) {
    this.#key = requestKey(args);
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    try {
      return this.source.next().then(this.#execute, this.#sourceFailed);
    } catch (error) {
      return Promise.reject(this.#masked(error));
    }
  }

  readonly #execute = (
    step: IteratorResult<unknown>,
  ): IteratorResult<ExecutionResult> | Promise<IteratorResult<ExecutionResult>> => {
    if (step.done) return DONE;
    const result = executeEvent(this.args, this.#key, step.value, this.options);
    return result instanceof Promise ? result.then(this.#yield) : this.#yield(result);
  };

  readonly #yield = (value: ExecutionResult): IteratorResult<ExecutionResult> => {
    this.options.counters?.liveEventResults.inc();
    return { value, done: false };
  };

  /** The source failed: its error, masked, ends the stream. */
  readonly #sourceFailed = (error: unknown): never => {
    throw this.#masked(error);
  };

  #masked(error: unknown) {
    return this.options.masking.maskError(asOperationError(error, this.args));
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    await this.source.return?.();
    return DONE;
  }

  async throw(error: unknown): Promise<IteratorResult<ExecutionResult>> {
    await this.source.return?.();
    throw error;
  }
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
        return new ExecutedEvents(source[Symbol.asyncIterator](), args, options);
      });
    },
  };
}
