// Memcached through memjs (binary protocol). Keys are prefixed so several deployments or
// test runs can share one server. Requests issued in one turn of the event loop leave in
// one write (coalesceWrites).
import { createHash } from "node:crypto";
import memjs from "memjs";
import type { Cache } from "./cache.js";

export interface MemcachedOptions {
  /** Comma-separated host:port list. */
  servers: string;
  /** Prepended to every key (default "chat:"). */
  prefix?: string;
}

export class MemcachedCache implements Cache {
  readonly kind = "memcached" as const;
  readonly #client: memjs.Client;
  readonly #prefix: string;

  constructor(options: MemcachedOptions) {
    this.#client = memjs.Client.create(options.servers, {
      // Fail fast rather than queue behind a dead server: callers treat the cache as optional.
      timeout: 1,
      retries: 1,
      logger: { log: () => {} },
    });
    for (const server of this.#client.servers) coalesceWrites(server);
    this.#prefix = options.prefix ?? "chat:";
  }

  #key(key: string) {
    // Memcached keys: at most 250 bytes of printable ASCII without spaces. Anything else
    // (a long or non-ASCII login in a rate-limit key) is hashed, so distinct keys stay distinct.
    const full = `${this.#prefix}${key}`;
    if (full.length <= 200 && /^[!-~]+$/.test(full)) return full;
    return `${this.#prefix}h:${createHash("sha256").update(key).digest("hex")}`;
  }

  async get(key: string) {
    const { value } = await this.#client.get(this.#key(key));
    return value ? value.toString() : null;
  }

  async set(key: string, value: string, ttlSeconds: number) {
    await this.#client.set(this.#key(key), value, { expires: Math.max(1, Math.ceil(ttlSeconds)) });
  }

  async add(key: string, value: string, ttlSeconds: number) {
    try {
      return await this.#client.add(this.#key(key), value, {
        expires: Math.max(1, Math.ceil(ttlSeconds)),
      });
    } catch (error) {
      // memjs reports "key exists" as an error on some versions; that is a plain "no".
      if (String(error).includes("exists")) return false;
      throw error;
    }
  }

  async append(key: string, value: string) {
    try {
      return await this.#client.append(this.#key(key), value);
    } catch (error) {
      // An absent key is answered "not stored" (an error to memjs): a plain "no".
      if (/not stored|not found/i.test(String(error))) return false;
      throw error;
    }
  }

  async delete(key: string) {
    await this.#client.delete(this.#key(key));
  }

  async increment(key: string, by: number, ttlSeconds: number) {
    const { value } = await this.#client.increment(this.#key(key), by, {
      initial: by,
      expires: Math.max(1, Math.ceil(ttlSeconds)),
    });
    if (typeof value !== "number")
      throw new Error(`memcached increment of ${key} returned no value`);
    return value;
  }

  async ping() {
    // A get of an absent key is the cheapest round trip that proves the server answers.
    await this.#client.get(this.#key("ping"));
  }

  async close() {
    this.#client.close();
  }
}

/**
 * Holds a server connection's requests (corked) until the event loop's turn ends, then
 * sends them in one write. memjs writes every request on its own: a replica connecting
 * thousands of sockets makes four requests per socket (a socket slot, presence's key and
 * list, a look elsewhere), and those writes, one system call each (and a read each on
 * Memcached's side), were about a tenth of the replica's CPU while sockets connected
 * (issue 10). Requests keep their order and their own timeouts; the responses are matched
 * by memjs as before. The wait is no longer than the turn: setImmediate runs once the I/O
 * callbacks ready now have run, and the loop does not block for I/O while one is pending.
 */
function coalesceWrites(server: memjs.Server) {
  const write = server.write.bind(server);
  server.write = (blob) => {
    // The connection in use, or (while it connects) as it comes up, before this request.
    server.sock(false, (socket) => {
      if (socket.writableCorked > 0) return;
      socket.cork();
      setImmediate(() => socket.uncork());
    });
    write(blob);
  };
}
