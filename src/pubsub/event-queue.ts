// An async iterable fed by callbacks (bus listeners), for subscription resolvers.
// Bounded: a consumer that falls this far behind (a stalled socket) is ended with an
// error instead of growing the server's memory; it can resume from its last position.
export class EventQueue<T> implements AsyncIterableIterator<T> {
  readonly #items: T[] = [];
  #waiting: ((result: IteratorResult<T>) => void) | undefined;
  #failWaiting: ((error: unknown) => void) | undefined;
  #error: unknown;
  #done = false;
  readonly #onReturn: () => Promise<void> | void;

  constructor(
    onReturn: () => Promise<void> | void,
    /** Most items held for a slow consumer (default 10,000). */
    private readonly limit = 10_000,
    private readonly overflowError: () => Error = () => new Error("subscriber too slow"),
  ) {
    this.#onReturn = onReturn;
  }

  /** True once the stream failed or ended: producers can stop producing. */
  get closed() {
    return this.#done || this.#error !== undefined;
  }

  push(item: T) {
    // Nothing after a failure: a removed member must not get one more message, and an
    // overflowed stream must end at its last delivered item so a resume leaves no gap.
    if (this.closed) return;
    if (this.#waiting) {
      const resolve = this.#waiting;
      this.#waiting = this.#failWaiting = undefined;
      resolve({ value: item, done: false });
      return;
    }
    if (this.#items.length >= this.limit) return this.fail(this.overflowError());
    this.#items.push(item);
  }

  /** Ends the stream with an error after what is already queued. */
  fail(error: unknown) {
    if (this.#done) return;
    this.#error = error;
    if (this.#failWaiting) {
      const reject = this.#failWaiting;
      this.#waiting = this.#failWaiting = undefined;
      this.#finish();
      reject(error);
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#items.length > 0)
      return Promise.resolve({ value: this.#items.shift() as T, done: false });
    if (this.#error !== undefined) {
      const error = this.#error;
      this.#finish();
      return Promise.reject(error);
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiting = resolve;
      this.#failWaiting = reject;
    });
  }

  async return(): Promise<IteratorResult<T>> {
    this.#finish();
    this.#waiting?.({ value: undefined, done: true });
    this.#waiting = this.#failWaiting = undefined;
    return { value: undefined, done: true };
  }

  async throw(error: unknown): Promise<IteratorResult<T>> {
    await this.return();
    throw error;
  }

  #finish() {
    if (this.#done) return;
    this.#done = true;
    this.#error = undefined;
    this.#items.length = 0;
    Promise.resolve()
      .then(() => this.#onReturn())
      .catch((error) => console.error("event stream cleanup failed", error));
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}
