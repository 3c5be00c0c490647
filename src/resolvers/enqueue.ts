// Hands commands to the worker through the bus. A bus that cannot take them is a
// retryable SERVICE_UNAVAILABLE for the client, never a half-done operation.
import type { Context } from "../context.js";
import type { Command } from "../pubsub/commands.js";
import { viaBus } from "./bus-errors.js";

export async function enqueue(ctx: Context, ...commands: Command[]) {
  await viaBus(
    () => Promise.all(commands.map((command) => ctx.services.bus.sendCommand(command))),
    "The message queue is unavailable; retry.",
  );
  for (const command of commands)
    ctx.services.metrics.commandsPublished.inc({ type: command.type });
}
