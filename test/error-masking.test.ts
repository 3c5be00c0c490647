// What clients see of an error (server/error-masking.ts), on a schema of its own whose
// resolvers fail in each way the product's can: an internal error's message never leaves
// the server, a typed error keeps its code, an outage says "retry", and a live event's
// error is masked once for all the subscribers that share its result. Yoga and the
// plugins run for real, over HTTP (yoga.fetch); no service is needed.
import { Writable } from "node:stream";
import { PothosValidationError } from "@pothos/core";
import { GraphQLError } from "graphql";
import { createSchema, createYoga, type Plugin } from "graphql-yoga";
import pino from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { BusUnavailableError } from "../src/pubsub/bus.js";
import { createErrorMasking, useErrorMasking } from "../src/server/error-masking.js";
import { useSharedEventExecution } from "../src/server/shared-event-execution.js";

const SECRET = "secret: the database password is hunter2";

/** Every subscriber's stream yields this same object: their executions are shared. */
const EVENT = { text: "hello" };

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    type Query {
      fails: String
      refuses: String
      outage: String
      badArgument: String
      fine: String
    }
    type Event {
      text: String
      broken: String
    }
    type Subscription {
      event: Event
      endsBadly: Event
      endsInOutage: Event
    }
  `,
  resolvers: {
    Query: {
      fails: () => {
        throw new Error(SECRET);
      },
      refuses: () => {
        throw new GraphQLError("Not yours.", { extensions: { code: "FORBIDDEN" } });
      },
      outage: () => {
        throw new BusUnavailableError(`broker gone (${SECRET})`);
      },
      badArgument: () => {
        throw new PothosValidationError('Argument "first" must be a non-negative integer');
      },
      fine: () => "fine",
    },
    Event: {
      broken: () => {
        throw new Error(SECRET);
      },
    },
    Subscription: {
      event: {
        subscribe: async function* () {
          yield EVENT;
        },
        resolve: (event: unknown) => event,
      },
      endsBadly: {
        subscribe: async function* () {
          yield EVENT;
          throw new Error(SECRET);
        },
        resolve: (event: unknown) => event,
      },
      endsInOutage: {
        subscribe: async function* () {
          yield EVENT;
          throw new BusUnavailableError(SECRET);
        },
        resolve: (event: unknown) => event,
      },
    },
  },
});

/** Fails any execution whose request carries `x-plugin-fails` (a plugin that throws). */
const failingPlugin: Plugin = {
  onExecute({ args }) {
    const request = (args.contextValue as { request?: Request }).request;
    if (request?.headers.get("x-plugin-fails")) throw new Error(SECRET);
  },
};

let logged: Array<{ level: number; msg: string }> = [];
beforeEach(() => {
  logged = [];
});

function server(isDev = false) {
  const logger = pino(
    { level: "debug" },
    new Writable({
      write(chunk, _encoding, done) {
        logged.push(JSON.parse(String(chunk)));
        done();
      },
    }),
  );
  const masking = createErrorMasking({ isDev, logger });
  return createYoga({
    schema,
    maskedErrors: false,
    logging: false,
    context: ({ request }) => {
      if (request.headers.get("x-context-fails")) throw new Error(SECRET);
      return {};
    },
    plugins: [failingPlugin, useSharedEventExecution({ masking }), useErrorMasking(masking)],
  });
}

type Yoga = ReturnType<typeof server>;

async function query(yoga: Yoga, text: string, headers: Record<string, string> = {}) {
  const response = await yoga.fetch("http://yoga/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...headers },
    body: JSON.stringify({ query: text }),
  });
  return { status: response.status, body: await response.text() };
}

/** A subscription over server-sent events, read to its end: its results in order. */
async function subscribe(yoga: Yoga, text: string) {
  const response = await yoga.fetch("http://yoga/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ query: text }),
  });
  const body = await response.text();
  return body
    .split("\n")
    .filter((line) => line.startsWith("data: ") && line.length > "data: ".length)
    .map((line) => JSON.parse(line.slice("data: ".length)));
}

const errorLogs = () => logged.filter((line) => line.level >= 50);

describe("errors as clients see them", () => {
  it("masks an internal error's message as Unexpected error. with INTERNAL_SERVER_ERROR, and logs it", async () => {
    const { body } = await query(server(), "{ fails fine }");
    expect(body).not.toContain("hunter2");
    const result = JSON.parse(body);
    expect(result.data).toEqual({ fails: null, fine: "fine" });
    expect(result.errors).toEqual([
      expect.objectContaining({
        message: "Unexpected error.",
        path: ["fails"],
        extensions: { code: "INTERNAL_SERVER_ERROR" },
      }),
    ]);
    expect(errorLogs()).toHaveLength(1);
  });

  it("attaches the original error in development only", async () => {
    const { body } = await query(server(true), "{ fails }");
    expect(JSON.parse(body).errors[0].extensions.originalError.message).toBe(SECRET);
  });

  it("keeps a typed error's message and code, and does not log it", async () => {
    const result = JSON.parse((await query(server(), "{ refuses }")).body);
    expect(result.errors[0]).toMatchObject({
      message: "Not yours.",
      extensions: { code: "FORBIDDEN" },
    });
    expect(logged).toHaveLength(0);
  });

  it("answers an outage SERVICE_UNAVAILABLE, retryable", async () => {
    const { body } = await query(server(), "{ outage }");
    expect(body).not.toContain("hunter2");
    expect(JSON.parse(body).errors[0]).toMatchObject({
      path: ["outage"],
      extensions: { code: "SERVICE_UNAVAILABLE", retryable: true },
    });
  });

  it("answers a bad connection argument BAD_USER_INPUT on that argument, logged at debug only", async () => {
    const result = JSON.parse((await query(server(), "{ badArgument }")).body);
    expect(result.errors[0]).toMatchObject({
      message: 'Argument "first" must be a non-negative integer',
      extensions: { code: "BAD_USER_INPUT", field: "first" },
    });
    expect(errorLogs()).toHaveLength(0);
    expect(logged.filter((line) => line.level === 20)).toHaveLength(1);
  });

  it("masks an error of the context factory", async () => {
    const { body } = await query(server(), "{ fine }", { "x-context-fails": "1" });
    expect(body).not.toContain("hunter2");
    expect(JSON.parse(body).errors[0]).toMatchObject({ message: "Unexpected error." });
  });

  it("masks an error a plugin throws outside execution", async () => {
    const { body } = await query(server(), "{ fine }", { "x-plugin-fails": "1" });
    expect(body).not.toContain("hunter2");
    expect(JSON.parse(body).errors[0]).toMatchObject({ message: "Unexpected error." });
  });
});

describe("a live event's errors", () => {
  it("are masked once for all the subscribers that share the event's result", async () => {
    const yoga = server();
    const first = await subscribe(yoga, "subscription { event { text broken } }");
    const second = await subscribe(yoga, "subscription { event { text broken } }");
    for (const results of [first, second]) {
      expect(JSON.stringify(results)).not.toContain("hunter2");
      expect(results).toEqual([
        {
          data: { event: { text: "hello", broken: null } },
          errors: [
            expect.objectContaining({
              message: "Unexpected error.",
              path: ["event", "broken"],
              extensions: { code: "INTERNAL_SERVER_ERROR" },
            }),
          ],
        },
      ]);
    }
    // One execution for both, masked (and logged) once.
    expect(errorLogs()).toHaveLength(1);
  });

  it("end a stream masked when its source fails", async () => {
    const results = await subscribe(server(), "subscription { endsBadly { text } }");
    expect(JSON.stringify(results)).not.toContain("hunter2");
    expect(results).toEqual([
      { data: { endsBadly: { text: "hello" } } },
      { errors: [expect.objectContaining({ message: "Unexpected error." })] },
    ]);
  });

  it("end a stream with SERVICE_UNAVAILABLE when its source loses the broker", async () => {
    const results = await subscribe(server(), "subscription { endsInOutage { text } }");
    expect(JSON.stringify(results)).not.toContain("hunter2");
    expect(results[1]).toEqual({
      errors: [
        expect.objectContaining({ extensions: { code: "SERVICE_UNAVAILABLE", retryable: true } }),
      ],
    });
  });
});
