// A service process's V8, reached through its inspector (the Chrome DevTools Protocol over a
// WebSocket): the bench starts every process with `--inspect` on a local port (topology.ts)
// to profile it over a scenario (cpu-profile.ts) and to read its live heap after a full
// collection (the fan-out's memory per socket). An inspector nobody talks to costs the
// process nothing; one attached keeps it from exiting, so the topology leaves before it
// stops a process.
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";
import type { CpuProfile } from "./cpu-profile.js";

type Answer = { result?: unknown; error?: unknown };

/** A process's V8 heap in bytes, read without a collection (Inspector.heapSpaces). */
export interface HeapSpaces {
  /** Committed to the young generation: its semi-spaces, which V8 grows as it allocates. */
  youngCommitted: number;
  /** Committed to every other space (old, code, large objects). */
  restCommitted: number;
  /** In use in all spaces: live objects and garbage not yet collected. */
  used: number;
}

export class Inspector {
  #nextId = 1;
  readonly #pending = new Map<number, (answer: Answer) => void>();

  private constructor(private readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const message = JSON.parse(String(data)) as Answer & { id?: number };
      if (message.id === undefined) return;
      this.#pending.get(message.id)?.(message);
      this.#pending.delete(message.id);
    });
    socket.on("close", () => {
      for (const answer of this.#pending.values()) answer({ error: "inspector closed" });
      this.#pending.clear();
    });
  }

  /** Connects to the inspector on `port` (it may still be starting). */
  static async attach(port: number): Promise<Inspector> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/json/list`);
        const targets = (await response.json()) as Array<{ webSocketDebuggerUrl: string }>;
        const url = targets[0]?.webSocketDebuggerUrl;
        if (!url) throw new Error("no inspector target");
        const socket = new WebSocket(url);
        await new Promise<void>((resolve, reject) => {
          socket.once("open", () => resolve());
          socket.once("error", reject);
        });
        return new Inspector(socket);
      } catch (error) {
        lastError = error;
        await sleep(100);
      }
    }
    throw new Error(`no inspector on port ${port}: ${String(lastError)}`);
  }

  #call(method: string, params: object = {}): Promise<unknown> {
    if (this.socket.readyState !== WebSocket.OPEN)
      return Promise.reject(new Error("inspector closed"));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, (answer) =>
        answer.error ? reject(new Error(JSON.stringify(answer.error))) : resolve(answer.result),
      );
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  async startProfile() {
    await this.#call("Profiler.enable");
    await this.#call("Profiler.start");
  }

  /** The profile since startProfile(); undefined when the process is gone (killed on purpose). */
  async stopProfile(): Promise<CpuProfile | undefined> {
    const result = (await this.#call("Profiler.stop").catch(() => undefined)) as
      | { profile: CpuProfile }
      | undefined;
    return result?.profile;
  }

  /** Bytes of JavaScript heap in use right after a full collection: what is live. */
  async liveHeapBytes(): Promise<number> {
    await this.#call("HeapProfiler.collectGarbage");
    const answer = (await this.#call("Runtime.evaluate", {
      expression: "process.memoryUsage().heapUsed",
      returnByValue: true,
    })) as { result?: { value?: unknown } };
    const bytes = answer.result?.value;
    if (typeof bytes !== "number") throw new Error(`no heap figure: ${JSON.stringify(answer)}`);
    return bytes;
  }

  /**
   * V8's heap as it stands (no collection): bytes committed to the young generation (its
   * semi-spaces and their large objects) and to the rest of the heap, and bytes in use,
   * live or garbage not yet collected. `require` is the inspector's command-line API's
   * (the service is an ES module).
   */
  async heapSpaces(): Promise<HeapSpaces> {
    const answer = (await this.#call("Runtime.evaluate", {
      expression: `JSON.stringify(require("v8").getHeapSpaceStatistics())`,
      includeCommandLineAPI: true,
      returnByValue: true,
    })) as { result?: { value?: unknown } };
    const value = answer.result?.value;
    if (typeof value !== "string") throw new Error(`no heap spaces: ${JSON.stringify(answer)}`);
    const spaces = JSON.parse(value) as Array<{
      space_name: string;
      space_size: number;
      space_used_size: number;
    }>;
    const heap: HeapSpaces = { youngCommitted: 0, restCommitted: 0, used: 0 };
    for (const space of spaces) {
      if (space.space_name === "new_space" || space.space_name === "new_large_object_space")
        heap.youngCommitted += space.space_size;
      else heap.restCommitted += space.space_size;
      heap.used += space.space_used_size;
    }
    return heap;
  }

  close() {
    this.socket.close();
  }
}
