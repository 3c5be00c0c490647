// Hands commands to the worker through the bus. A bus that cannot take them is a
// retryable SERVICE_UNAVAILABLE for the client, never a half-done operation.
import type { Context } from "../context.js";
import { serviceUnavailable } from "../errors.js";
import { BusUnavailableError } from "../pubsub/bus.js";
import type { Command } from "../pubsub/commands.js";

export async function enqueue(ctx: Context, ...commands: Command[]) {
  try {
    await Promise.all(commands.map((command) => ctx.services.bus.sendCommand(command)));
  } catch (error) {
    if (error instanceof BusUnavailableError)
      throw serviceUnavailable("The message queue is unavailable; retry.");
    throw error;
  }
}
