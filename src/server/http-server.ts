// The Node HTTP server in front of Yoga. It refuses bodies over the size limit before
// anything reads them, so an oversized request costs us nothing but its headers.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Metrics } from "./metrics.js";
import type { Yoga } from "./yoga.js";

/** application/json, application/graphql+json, application/graphql-response+json (with parameters). */
const JSON_BODY = /^application\/(json|graphql\+json|graphql-response\+json)\s*(;|$)/i;

function refuse(res: ServerResponse, status: number, code: string, message: string) {
  res.writeHead(status, { "content-type": "application/json", connection: "close" });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

export function createHttpServer(yoga: Yoga, maxBodyBytes: number, metrics?: Metrics) {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    if (metrics && req.method === "GET" && req.url === "/metrics") {
      void metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": metrics.registry.contentType });
          res.end(text);
        },
        () => refuse(res, 500, "INTERNAL", "Metrics are unavailable."),
      );
      return;
    }
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
