// Real service processes (`node --import tsx src/main.ts`), as an operator runs them:
// replicas, workers, the embedded default. No test framework here: the tests
// (processes.ts) and the benchmark harness (bench/) both start services with it.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { until } from "./wait.js";

const projectRoot = fileURLToPath(new URL("../..", import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 15_000;

export interface ServiceProcess {
  child: ChildProcess;
  /** GraphQL endpoint (api and all roles; a worker serves only /health, /ready, /metrics). */
  url: string;
  wsUrl: string;
  port: number;
  /** Everything the process wrote so far (stdout and stderr), for failure messages. */
  output(): string;
}

/** Every child started here, so the caller can kill what is left when it ends. */
export const children = new Set<ChildProcess>();

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === "string") throw new Error("no port from the OS");
  return address.port;
}

export function exited(
  child: ChildProcess,
): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

/**
 * Starts `npm start`'s entry point with exactly `env` (plus PATH and HOME) and resolves
 * once it is ready: GET /ready answers 200 (every role serves it).
 */
export async function startProcess(
  env: Record<string, string>,
  /** Extra node flags, e.g. `--cpu-prof` (not allowed in NODE_OPTIONS). */
  nodeArgs: string[] = [],
  /** What node runs: the sources through tsx, or the production build (`["dist/main.js"]`). */
  entry: string[] = ["--import", "tsx", "src/main.ts"],
): Promise<ServiceProcess> {
  // A free port found here can be taken by another process before the service binds it
  // (test files run in parallel): then it is started again on another one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnPort(
        env,
        [...nodeArgs, ...entry],
        Number(env.PORT ?? (await freePort())),
      );
    } catch (error) {
      if (env.PORT || attempt === 3 || !String(error).includes("EADDRINUSE")) throw error;
    }
  }
}

async function startOnPort(
  env: Record<string, string>,
  /** Node's arguments: flags and the entry point. */
  nodeArgs: string[],
  port: number,
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, nodeArgs, {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOST: "127.0.0.1",
      ...env,
      PORT: String(port),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const service: ServiceProcess = {
    child,
    port,
    url: `http://127.0.0.1:${port}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    output: () => output,
  };
  // Every role answers /ready on its port (a worker serves only health and metrics).
  const ready = async () => {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `service exited (${child.exitCode ?? child.signalCode}) before ready:\n${output}`,
      );
    }
    const response = await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined);
    return response?.status === 200; // undefined: not listening yet
  };
  try {
    await until(ready, READY_TIMEOUT_MS, "the service to be ready");
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`${(error as Error).message}:\n${output}`);
  }
  return service;
}

/** SIGTERM, then the exit code (a clean shutdown exits 0; it throws otherwise). */
export async function stopProcess(service: ServiceProcess): Promise<number | null> {
  service.child.kill("SIGTERM");
  const timer = setTimeout(() => service.child.kill("SIGKILL"), EXIT_TIMEOUT_MS);
  const { code, signal } = await exited(service.child);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`exit code ${code}, signal ${signal}:\n${service.output()}`);
  return code;
}
