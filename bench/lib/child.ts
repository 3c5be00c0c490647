// Load generators and baseline servers run in processes of their own (a client in the
// measured process would steal its CPU). A child is a tsx script spoken to over IPC:
// the parent sends commands, the child answers with typed messages.
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

export interface ChildMessage {
  type: string;
  [key: string]: unknown;
}

export class Child {
  readonly #inbox: ChildMessage[] = [];
  readonly #waiting: Array<{ type: string; resolve: (m: ChildMessage) => void }> = [];
  #exitError: Error | undefined;
  #stderr = "";

  private constructor(readonly process: ChildProcess) {
    process.on("message", (message: ChildMessage) => {
      if (message.type === "error") {
        this.#fail(new Error(`child ${String(message.message)}`));
        return;
      }
      const at = this.#waiting.findIndex((w) => w.type === message.type);
      if (at >= 0) this.#waiting.splice(at, 1)[0]?.resolve(message);
      else this.#inbox.push(message);
    });
    process.stderr?.on("data", (chunk) => {
      this.#stderr = (this.#stderr + chunk).slice(-4000);
    });
    process.on("exit", (code, signal) => {
      if (code !== 0) this.#fail(new Error(`child exited (${code ?? signal}): ${this.#stderr}`));
    });
  }

  /**
   * Starts `script` (a path relative to bench/) with tsx; resolves once it listens (a
   * message sent before the child's handler is attached would be lost).
   */
  static async start(script: string, nodeArgs: string[] = []): Promise<Child> {
    const path = fileURLToPath(new URL(`../${script}`, import.meta.url));
    const child = new Child(
      fork(path, [], {
        execArgv: ["--import", "tsx", ...nodeArgs],
        stdio: ["ignore", "inherit", "pipe", "ipc"],
      }),
    );
    await child.next("listening");
    return child;
  }

  send(message: ChildMessage) {
    this.process.send(message);
  }

  /** The next message of this type (already received or still to come). */
  next<T extends ChildMessage>(type: string): Promise<T> {
    if (this.#exitError) return Promise.reject(this.#exitError);
    const at = this.#inbox.findIndex((m) => m.type === type);
    if (at >= 0) return Promise.resolve(this.#inbox.splice(at, 1)[0] as T);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ type, resolve: resolve as (m: ChildMessage) => void });
      this.#rejectors.push(reject);
    });
  }

  readonly #rejectors: Array<(error: Error) => void> = [];

  #fail(error: Error) {
    this.#exitError ??= error;
    for (const reject of this.#rejectors.splice(0)) reject(error);
  }

  async stop() {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill("SIGTERM");
    await once(this.process, "exit");
  }
}

/** Asks each child to close what it opened, then stops it. */
export async function closeChildren(children: Child[]) {
  await Promise.all(
    children.map(async (child) => {
      child.send({ type: "close" });
      await child.next("closed").catch(() => {});
      await child.stop();
    }),
  );
}

/** In a child: answers the parent's commands with `handle`, reporting failures. */
export function serveParent(handle: (message: ChildMessage) => Promise<ChildMessage | undefined>) {
  process.on("message", (message: ChildMessage) => {
    handle(message)
      .then((reply) => {
        if (reply) process.send?.(reply);
      })
      .catch((error: unknown) => {
        process.send?.({ type: "error", message: String((error as Error)?.stack ?? error) });
      });
  });
  // A failure in work the child started on its own (a voided promise) reaches the parent
  // too, instead of leaving it waiting for an answer that will not come.
  process.on("unhandledRejection", (error: unknown) => {
    process.send?.({ type: "error", message: String((error as Error)?.stack ?? error) });
  });
  process.on("SIGTERM", () => process.exit(0));
  process.send?.({ type: "listening" });
}
