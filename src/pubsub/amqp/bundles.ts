// Several commands of one shard, or several consecutive events of one routing key, travel
// as ONE broker message: a JSON array of them (a bundle). The broker's work is per message,
// not per byte (a quorum queue appends, replicates and confirms each; every delivery, ack
// and confirm is a frame), so on our machine the broker alone carried about 9,500 commands
// a second with their events, a third of what PostgreSQL stores in batches: the worker's
// ceiling was the message count (issue 10). A message that holds one item is that item
// itself, as before bundles, so the commands an older build left in a queue and every dead
// letter (always one command) read the same; an item is always a JSON object, never an
// array, so the two cannot be confused.
//
// What bundling changes for delivery: nothing a command may not already see. A bundle is
// acked once all its commands are settled, and handed out again whole otherwise, so a
// redelivery repeats the commands that were stored with it (each is idempotent, as for
// any redelivered batch), and a bundle the broker gives up on (its delivery limit) is
// dead-lettered whole, each command recorded from it.

/** Most items in one message: the worker's default batch. */
export const BUNDLE_MAX_ITEMS = 100;
/** Most bytes in one message (an item larger than this travels alone). */
export const BUNDLE_MAX_BYTES = 64 * 1024;

/** One message's body for items given as JSON texts: the item alone, or the array of them. */
export function encodeBundle(items: readonly string[]): Buffer {
  return Buffer.from(items.length === 1 ? (items[0] as string) : `[${items.join(",")}]`);
}

/** A message's items: its array's elements, or the message itself; undefined when not JSON. */
export function decodeBundle(content: Buffer): unknown[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content.toString("utf8"));
  } catch {
    return undefined;
  }
  return Array.isArray(parsed) ? parsed : [parsed];
}

/** Consecutive items of the same key, as bundles within the limits, in the order given. */
export function bundleRuns<K>(items: ReadonlyArray<{ key: K; json: string }>) {
  const bundles: Array<{ key: K; items: string[] }> = [];
  let current: { key: K; items: string[]; bytes: number } | undefined;
  for (const { key, json } of items) {
    const bytes = Buffer.byteLength(json) + 1;
    if (!current || current.key !== key || !fits(current, bytes)) {
      current = { key, items: [], bytes: 1 };
      bundles.push(current);
    }
    current.items.push(json);
    current.bytes += bytes;
  }
  return bundles.map(({ key, items }) => ({ key, items }));
}

function fits(bundle: { items: string[]; bytes: number }, bytes: number) {
  return bundle.items.length < BUNDLE_MAX_ITEMS && bundle.bytes + bytes <= BUNDLE_MAX_BYTES;
}

interface OpenBundle {
  items: string[];
  bytes: number;
  sent: boolean;
  done: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Bundles what is sent for the same key in the same turn of the event loop: the first
 * item of a key opens a bundle and schedules its publish (setImmediate, after the I/O
 * callbacks of this turn, so requests that arrived together travel together and a lone
 * one waits for nothing but the turn); a full bundle goes at once. Every item's promise
 * is its bundle's: resolved on the broker's confirm, rejected with its failure.
 */
export class SendCoalescer<K> {
  readonly #open = new Map<K, OpenBundle>();

  constructor(private readonly publish: (key: K, content: Buffer) => Promise<void>) {}

  send(key: K, json: string): Promise<void> {
    const bytes = Buffer.byteLength(json) + 1;
    let bundle = this.#open.get(key);
    if (bundle && !fits(bundle, bytes)) {
      this.#publish(key, bundle);
      bundle = undefined;
    }
    if (!bundle) {
      const opened = openBundle();
      this.#open.set(key, opened);
      setImmediate(() => this.#publish(key, opened));
      bundle = opened;
    }
    bundle.items.push(json);
    bundle.bytes += bytes;
    return bundle.done;
  }

  #publish(key: K, bundle: OpenBundle) {
    if (this.#open.get(key) === bundle) this.#open.delete(key);
    if (bundle.sent) return;
    bundle.sent = true;
    let publishing: Promise<void>;
    try {
      publishing = this.publish(key, encodeBundle(bundle.items));
    } catch (error) {
      publishing = Promise.reject(error);
    }
    publishing.then(bundle.resolve, bundle.reject);
  }
}

function openBundle(): OpenBundle {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { items: [], bytes: 1, sent: false, done, resolve, reject };
}
