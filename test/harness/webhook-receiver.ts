// A local webhook receiver for tests: records every request it answers, can fail the
// next few (HTTP 500), and can crash in the middle of a request (its sockets destroyed,
// no answer) and come back on the same port, as a receiver being redeployed does.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver answered (500 for a failed one). */
  status: number;
}

export async function startWebhookReceiver() {
  const received: ReceivedWebhook[] = [];
  let failNext = 0;
  let crashOnRequest: number | undefined;
  let requests = 0;
  let server: Server;

  const listen = (port: number) =>
    new Promise<Server>((resolve, reject) => {
      const created = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on("data", (chunk: Buffer) => chunks.push(chunk));
        request.on("end", () => {
          requests += 1;
          if (crashOnRequest !== undefined && requests >= crashOnRequest) {
            crashOnRequest = undefined;
            // Gone mid-request: no answer, every connection cut, nothing listening.
            created.close();
            created.closeAllConnections();
            return;
          }
          const status = failNext > 0 ? 500 : 200;
          if (failNext > 0) failNext -= 1;
          received.push({
            headers: request.headers,
            body: Buffer.concat(chunks).toString("utf8"),
            status,
          });
          response.writeHead(status).end();
        });
      });
      created.once("error", reject);
      created.listen(port, "127.0.0.1", () => resolve(created));
    });

  server = await listen(0);
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    /** Answer the next `count` requests with HTTP 500. */
    failNext(count: number) {
      failNext = count;
    },
    /** Crash on the `n`th request from now (before answering it). */
    crashOn(n: number) {
      crashOnRequest = requests + n;
    },
    get listening() {
      return server.listening;
    },
    /** Back on the same port after a crash. */
    async restart() {
      server = await listen(port);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
