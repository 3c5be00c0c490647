// An async iterable fed by callbacks (bus listeners), for subscription resolvers.
// Bounded: a consumer that falls this far behind (a stalled socket) is ended with an
// error instead of growing the server's memory; it can resume from its last position.
// A producer (a replay from PostgreSQL) is asked for more only when the consumer has
// read what is queued, so a resume costs one page of memory whatever it missed:
// graphql-ws asks for the next result only once the previous one was written out.
export class EventQueue<T> implements AsyncIterableIterator<T> {
  readonly #items: T[] = [];
  #waiting: ((result: IteratorResult<T>) => void) | undefined;
  #failWaiting: ((error: unknown) => void) | undefined;
  #error: unknown;
  #done = false;
  readonly #onReturn: () => Promise<void> | void;
  #producer: (() => Promise<boolean>) | undefined;
  #producing = false;
  #highWater = 0;

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

  /** Most items that were ever waiting at once (memory per subscriber; tests assert it). */
  get highWater() {
    return this.#highWater;
  }

  /**
   * Pulls from `produce` whenever the consumer is waiting with nothing queued. `produce`
   * pushes what it has (a page) and resolves false once it has nothing more.
   */
  pullFrom(produce: () => Promise<boolean>) {
    this.#producer = produce;
    if (this.#waiting) this.#produce();
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
    if (this.#items.length > this.#highWater) this.#highWater = this.#items.length;
  }

  /** Ends the stream with an error after what is already queued. */
  fail(error: unknown, options: { discardQueued?: boolean } = {}) {
    if (this.#done || this.#error !== undefined) return;
    this.#error = error;
    this.#producer = undefined;
    // Access revoked: what is still queued is not delivered either.
    if (options.discardQueued) this.#items.length = 0;
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
    const next = new Promise<IteratorResult<T>>((resolve, reject) => {
      this.#waiting = resolve;
      this.#failWaiting = reject;
    });
    this.#produce();
    return next;
  }

  #produce() {
    const produce = this.#producer;
    if (!produce || this.#producing || this.closed) return;
    this.#producing = true;
    produce().then(
      (more) => {
        this.#producing = false;
        if (!more && this.#producer === produce) this.#producer = undefined;
        // A page may have produced nothing deliverable: ask again while someone waits.
        if (this.#waiting) this.#produce();
      },
      (error) => {
        this.#producing = false;
        this.fail(error);
      },
    );
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
    this.#producer = undefined;
    Promise.resolve()
      .then(() => this.#onReturn())
      .catch((error) => console.error("event stream cleanup failed", error));
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}
