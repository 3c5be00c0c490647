// What a worker process (ROLE=worker) serves on PORT: no GraphQL, only what an operator
// and an orchestrator ask of it. /health: the process runs. /ready: the database and the
// broker answer and no shard is waiting out an outage (503 meanwhile). /metrics:
// Prometheus, with the worker's state.
import { createServer, type Server } from "node:http";
import type { Database } from "../db/database.js";
import type { Bus } from "../pubsub/bus.js";
import type { RunningWorker } from "../worker/index.js";
import type { Metrics } from "./metrics.js";

export function createWorkerHealthServer(deps: {
  db: Database;
  bus: Bus;
  worker: RunningWorker;
  /** The process's metrics, the worker's gauges included (metrics.ts). */
  metrics: Metrics;
}): Server {
  const { metrics } = deps;
  const ready = async () => {
    try {
      await Promise.all([deps.db.ping(), deps.bus.ping()]);
      return !deps.worker.status().paused;
    } catch {
      return false;
    }
  };
  return createServer((req, res) => {
    const answer = (status: number, body: string, type = "text/plain") => {
      res.writeHead(status, { "content-type": type });
      res.end(body);
    };
    if (req.method !== "GET") return answer(405, "GET only\n");
    if (req.url === "/health") return answer(200, "ok\n");
    if (req.url === "/ready")
      return void ready().then((ok) => (ok ? answer(200, "ready\n") : answer(503, "not ready\n")));
    if (req.url === "/metrics")
      return void metrics.registry
        .metrics()
        .then((text) => answer(200, text, metrics.registry.contentType));
    answer(404, "not found\n");
  });
}
