// An in-process event channel: what one process publishes, its own listeners hear.
// It stands in for the bus's event exchange until (and wherever) no broker is used.
export interface EventChannel<E> {
  publish(events: E[]): Promise<void>;
  /** Returns the function that removes the listener. */
  listen(listener: (event: E) => void): () => void;
}

export function createLocalEventChannel<E>(): EventChannel<E> {
  const listeners = new Set<(event: E) => void>();
  return {
    async publish(events) {
      for (const event of events) for (const listener of listeners) listener(event);
    },
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
