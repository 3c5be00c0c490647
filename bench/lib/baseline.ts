// Runs a baseline (bench/baselines/*.ts) in a process of its own and returns the JSON it
// prints as its last line.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export async function runBaseline<T>(script: string, options: object): Promise<T> {
  const path = fileURLToPath(new URL(`../${script}`, import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", path, JSON.stringify(options)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  const last = stdout.trim().split("\n").at(-1) ?? "";
  if (code !== 0) throw new Error(`${script} exited ${code}: ${stderr}`);
  return JSON.parse(last) as T;
}
