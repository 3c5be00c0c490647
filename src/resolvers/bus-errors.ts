// The one place where "the bus cannot do this now" becomes what a client can act on:
// SERVICE_UNAVAILABLE (retryable), never a masked internal error or a half-done operation.
import { serviceUnavailable } from "../errors.js";
import { BusUnavailableError } from "../pubsub/bus.js";

/** Runs `work`; a BusUnavailableError becomes SERVICE_UNAVAILABLE with `message`. */
export async function viaBus<T>(
  work: () => Promise<T>,
  message = "Live events are unavailable; retry shortly.",
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof BusUnavailableError) throw serviceUnavailable(message);
    throw error;
  }
}
