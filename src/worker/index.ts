// The worker process: consumes commands from the bus in batches, persists each batch in
// one transaction, announces the results, and only then lets the bus ack (the bus acks
// when the handler resolves), so a crash at any point means redelivery, never loss.
import type { Database } from "../db/database.js";
import type { Bus } from "../pubsub/bus.js";
import { type Command, describeCommand } from "../pubsub/commands.js";
import { persistCommands } from "./persist-messages.js";

export interface RunningWorker {
  stop(): Promise<void>;
}

export interface WorkerDeps {
  db: Database;
  bus: Bus;
  /** Commands per transaction (default 100). */
  batchSize?: number;
  log?: (message: string) => void;
}

export function createCommandHandler({ db, bus, log }: WorkerDeps) {
  return async (commands: Command[]) => {
    const { events, rejected } = await persistCommands(db.prisma, commands);
    for (const { command, reason } of rejected) {
      log?.(`dropped ${describeCommand(command)}: ${reason}`);
    }
    await bus.publishEvents(events);
  };
}

export async function startWorker(deps: WorkerDeps): Promise<RunningWorker> {
  const stop = await deps.bus.consumeCommands(createCommandHandler(deps), {
    batchSize: deps.batchSize ?? 100,
  });
  return { stop };
}
