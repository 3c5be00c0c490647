// The Node HTTP server in front of Yoga. It refuses bodies over the size limit before
// anything reads them, so an oversized request costs us nothing but its headers, and
// answers `GET /` with what this server is (a newcomer's browser lands there first).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { ErrorCode } from "../errors.js";
import type { Metrics } from "./metrics.js";
import type { Yoga } from "./yoga.js";

/** application/json, application/graphql+json, application/graphql-response+json (with parameters). */
const JSON_BODY = /^application\/(json|graphql\+json|graphql-response\+json)\s*(;|$)/i;

function refuse(res: ServerResponse, status: number, code: ErrorCode, message: string) {
  res.writeHead(status, { "content-type": "application/json", connection: "close" });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

/** `GET /`: what this is and where to go; GraphiQL only when it is served. */
function landingPage(graphiql: boolean) {
  const explorer = graphiql
    ? `<p>Open <a href="/graphql">GraphiQL at /graphql</a> to try it: sign in with the example operation, then put the token in the Headers tab.</p>`
    : "<p>GraphiQL is off here (production); send operations to <code>/graphql</code>.</p>";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Chat GraphQL</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>Chat GraphQL</h1>
<p>A real-time messaging backend: accounts, contacts, groups with channels, direct conversations, messages with delivery and read receipts, typing and presence, through one GraphQL schema.</p>
${explorer}
<ul>
<li><code>POST /graphql</code> with <code>Content-Type: application/json</code>: queries and mutations</li>
<li><code>ws://…/graphql</code> (graphql-ws) or server-sent events on <code>/graphql</code>: subscriptions</li>
<li><code>/health</code>, <code>/ready</code>, <code>/metrics</code>: for operators</li>
</ul>
</body></html>
`;
}

export function createHttpServer(
  yoga: Yoga,
  options: {
    maxBodyBytes: number;
    graphiql: boolean;
    /** Local-disk attachments, served under /uploads (their own signed URLs and size limits). */
    uploads?: { handle(req: IncomingMessage, res: ServerResponse): boolean };
  },
  metrics?: Metrics,
) {
  const { maxBodyBytes } = options;
  const landing = landingPage(options.graphiql);
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    if ((req.method === "GET" || req.method === "HEAD") && req.url === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(req.method === "HEAD" ? undefined : landing);
      return;
    }
    if (metrics && req.method === "GET" && req.url === "/metrics") {
      void metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": metrics.registry.contentType });
          res.end(text);
        },
        () => refuse(res, 500, "INTERNAL_SERVER_ERROR", "Metrics are unavailable."),
      );
      return;
    }
    if (options.uploads?.handle(req, res)) return;
    const hasBody = req.method !== "GET" && req.method !== "HEAD" && req.method !== "OPTIONS";
    // Only JSON bodies: a cross-site HTML form can post url-encoded or multipart bodies
    // without a preflight (CSRF), but not JSON. Every GraphQL client sends JSON.
    if (hasBody && !JSON_BODY.test(req.headers["content-type"] ?? "")) {
      return refuse(
        res,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "Send the operation as JSON (Content-Type: application/json).",
      );
    }
    if (hasBody) {
      const declared = req.headers["content-length"];
      if (declared === undefined) {
        // A chunked body could be of any size; every GraphQL client sends a length.
        if (req.headers["transfer-encoding"]) {
          return refuse(res, 411, "LENGTH_REQUIRED", "Send a Content-Length header.");
        }
      } else if (!(Number(declared) <= maxBodyBytes)) {
        return refuse(
          res,
          413,
          "PAYLOAD_TOO_LARGE",
          `Request body is larger than ${maxBodyBytes} bytes.`,
        );
      }
    }
    void yoga.handle(req, res);
  });
}
