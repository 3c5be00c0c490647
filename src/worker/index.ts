// The worker process: consumes commands from the bus and persists them. The message
// pipeline (a later step) fills this in; until then the role starts and stops cleanly.
import type { Services } from "../context.js";

export interface RunningWorker {
  stop(): Promise<void>;
}

export async function startWorker(_services: Services): Promise<RunningWorker> {
  return { stop: async () => {} };
}
