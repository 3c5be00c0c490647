// The harness shared by the fan-out baselines (ws-broadcast, socketio-broadcast): it starts
// a server child and client children, has the clients open their sockets, has the server
// broadcast, collects every arrival and turns them into one result. The server and the
// clients are separate processes, so the server's event loop and memory are its own (the
// clients still share the machine's cores with it: on a small machine they cost the
// server CPU, which makes the figures conservative).
//
// Broadcasts go back to back: the server stamps sentAt, hands the frame to every socket,
// yields one event-loop turn, then starts the next; it does not wait for arrivals. A
// broadcast's delivery time is its latest arrival (Date.now() at the client's message
// event; all processes share the clock) minus its sentAt.

import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ascending, percentile } from "../lib/stats.js";

export interface BroadcastOptions {
  sockets: number;
  clientProcesses: number;
  broadcasts: number;
  /** Size of the JSON frame in bytes (default 300). */
  payloadBytes?: number;
}

export interface BroadcastResult {
  /** Sockets the server counted as subscribed when the broadcasts started. */
  subscribers: number;
  broadcasts: number;
  /** The slowest broadcast: its latest arrival minus its sentAt. */
  lastDeliveryMs: number;
  /** The median over broadcasts of (latest arrival - sentAt). */
  p50LastDeliveryMs: number;
  /** Deliveries / (latest arrival of all - sentAt of the first broadcast). */
  deliveredPerSecond: number;
  /** From telling the clients to connect to every socket open. */
  connectMs: number;
  /** Server RSS growth from listening to all sockets connected, per socket. */
  serverRssPerSocketKiB: number;
  /**
   * The server process's CPU per delivery, in µs, from the first broadcast until every
   * arrival (the clients' CPU is theirs): what one delivery costs the server.
   */
  serverCpuUsPerDelivery: number;
  /** sockets x broadcasts - deliveries: 0 when every socket got every broadcast. */
  missing: number;
}

/** What a broadcast frame carries (padded to payloadBytes when serialized). */
export interface Broadcast {
  id: number;
  sentAt: number;
  pad: string;
}

/** Parent -> server child. */
export type ToServer =
  | { type: "stats" }
  | { type: "cpu" }
  | { type: "broadcast"; count: number; payloadBytes: number }
  | { type: "close" };
/** Server child -> parent. */
export type FromServer =
  | { type: "listening"; port: number }
  | { type: "stats"; subscribers: number; rss: number }
  | { type: "cpu"; cpuMs: number }
  | { type: "sent"; sentAt: number[] }
  | { type: "error"; message: string };
/** Parent -> client child. */
export type ToClient =
  | { type: "connect"; port: number; sockets: number; broadcasts: number }
  | { type: "report" }
  | { type: "close" };
/** Client child -> parent: per broadcast id, the sockets that got it and its latest arrival. */
export type FromClient =
  | { type: "ready" }
  | { type: "connected" }
  | { type: "complete" }
  | { type: "report"; counts: number[]; lastArrivals: number[] }
  | { type: "error"; message: string };

/** Waiting for the clients to open their sockets. */
const CONNECT_TIMEOUT_MS = 60_000;
/** Waiting for the deliveries once the server has sent everything. */
const DELIVERY_TIMEOUT_MS = 10_000;
/** Waiting for a child to exit after "close" before killing it. */
const EXIT_TIMEOUT_MS = 5_000;

export async function runBroadcast(
  files: { server: string; client: string },
  o: BroadcastOptions,
): Promise<BroadcastResult> {
  const payloadBytes = o.payloadBytes ?? 300;
  const children: Array<{ close(): Promise<void> }> = [];
  try {
    const server = new Child<ToServer, FromServer>(files.server, ["--expose-gc"]);
    children.push(server);
    const { port } = await server.next("listening", CONNECT_TIMEOUT_MS);

    const clients = Array.from(
      { length: o.clientProcesses },
      () => new Child<ToClient, FromClient>(files.client),
    );
    children.push(...clients);
    await Promise.all(clients.map((c) => c.next("ready", CONNECT_TIMEOUT_MS)));
    const { rss: rssBefore } = await server.request({ type: "stats" }, "stats");
    const startedAt = Date.now();
    clients.forEach((client, i) => {
      const sockets =
        Math.floor(o.sockets / o.clientProcesses) + (i < o.sockets % o.clientProcesses ? 1 : 0);
      client.send({ type: "connect", port, sockets, broadcasts: o.broadcasts });
    });
    await Promise.all(clients.map((c) => c.next("connected", CONNECT_TIMEOUT_MS)));
    const connectMs = Date.now() - startedAt;

    // The server may count a socket a moment after its client saw it open.
    let stats = await server.request({ type: "stats" }, "stats");
    while (stats.subscribers < o.sockets && Date.now() - startedAt < CONNECT_TIMEOUT_MS) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      stats = await server.request({ type: "stats" }, "stats");
    }

    const { cpuMs: cpuBefore } = await server.request({ type: "cpu" }, "cpu");
    const complete = Promise.all(clients.map((c) => c.next("complete", Number.POSITIVE_INFINITY)));
    complete.catch(() => {}); // awaited below, unless the broadcast itself fails
    const { sentAt } = await server.request(
      { type: "broadcast", count: o.broadcasts, payloadBytes },
      "sent",
    );
    let deadline: NodeJS.Timeout | undefined;
    await Promise.race([
      complete,
      new Promise((resolve) => {
        deadline = setTimeout(resolve, DELIVERY_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(deadline);
    const { cpuMs: cpuAfter } = await server.request({ type: "cpu" }, "cpu");
    const reports = await Promise.all(clients.map((c) => c.request({ type: "report" }, "report")));

    const lastDeliveries: number[] = [];
    let delivered = 0;
    let lastArrival = 0;
    sentAt.forEach((sent, id) => {
      let last = 0;
      for (const report of reports) {
        delivered += report.counts[id] ?? 0;
        last = Math.max(last, report.lastArrivals[id] ?? 0);
      }
      if (last > 0) lastDeliveries.push(last - sent);
      lastArrival = Math.max(lastArrival, last);
    });
    const sorted = ascending(lastDeliveries);
    const spanMs = lastArrival - (sentAt[0] ?? lastArrival);
    return {
      subscribers: stats.subscribers,
      broadcasts: o.broadcasts,
      lastDeliveryMs: percentile(sorted, 100),
      p50LastDeliveryMs: percentile(sorted, 50),
      deliveredPerSecond: spanMs > 0 ? Math.round((delivered / spanMs) * 1000) : 0,
      connectMs,
      serverRssPerSocketKiB: Math.round(((stats.rss - rssBefore) / 1024 / o.sockets) * 10) / 10,
      serverCpuUsPerDelivery:
        delivered > 0 ? Math.round(((cpuAfter - cpuBefore) * 10_000) / delivered) / 10 : 0,
      missing: o.sockets * o.broadcasts - delivered,
    };
  } finally {
    await Promise.all(children.map((child) => child.close()));
  }
}

/** A TypeScript module run as a child process, spoken to over IPC. */
class Child<In, Out extends { type: string }> {
  readonly #process: ChildProcess;
  readonly #inbox: Out[] = [];
  readonly #waiters = new Set<() => void>();
  #failure: Error | undefined;
  readonly #exited: Promise<void>;

  constructor(file: string, nodeOptions: string[] = []) {
    // The child's stdout goes to our stderr: our stdout carries only the result.
    this.#process = spawn(
      process.execPath,
      [...nodeOptions, "--import", import.meta.resolve("tsx"), fileURLToPath(file)],
      { stdio: ["ignore", 2, 2, "ipc"] },
    );
    this.#process.on("error", (error) => {
      this.#fail(error);
      this.#wake();
    });
    this.#process.on("message", (message: Out) => {
      if (message.type === "error") this.#fail(new Error(`${file}: ${JSON.stringify(message)}`));
      else this.#inbox.push(message);
      this.#wake();
    });
    this.#exited = new Promise((resolve) => {
      this.#process.on("exit", (code, signal) => {
        this.#fail(new Error(`${file} exited (code ${code}, signal ${signal})`));
        this.#wake();
        resolve();
      });
    });
  }

  send(message: In): void {
    this.#process.send(message as object);
  }

  /** The next message of this type (messages of other types wait for their own next). */
  next<T extends Out["type"]>(type: T, timeoutMs: number): Promise<Extract<Out, { type: T }>> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const check = () => {
        const index = this.#inbox.findIndex((m) => m.type === type);
        if (index >= 0) {
          finish();
          resolve(this.#inbox.splice(index, 1)[0] as Extract<Out, { type: T }>);
        } else if (this.#failure) {
          finish();
          reject(this.#failure);
        }
      };
      const finish = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          finish();
          reject(new Error(`no "${type}" within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.#waiters.add(check);
      check();
    });
  }

  request<T extends Out["type"]>(message: In, reply: T): Promise<Extract<Out, { type: T }>> {
    this.send(message);
    return this.next(reply, CONNECT_TIMEOUT_MS);
  }

  /** Asks the child to close and exit; kills it if it has not exited in time. */
  async close(): Promise<void> {
    if (this.#process.exitCode !== null || this.#process.signalCode !== null) return;
    if (this.#process.connected) this.send({ type: "close" } as In);
    const timer = setTimeout(() => this.#process.kill("SIGKILL"), EXIT_TIMEOUT_MS);
    await this.#exited;
    clearTimeout(timer);
  }

  #fail(error: Error) {
    this.#failure ??= error;
  }

  #wake() {
    for (const waiter of this.#waiters) waiter();
  }
}
