// Runs a baseline as a child process: `npx tsx bench/baselines/<name>.ts '<json options>'`
// prints the result as one line of JSON, the last line on stdout. The process is left to
// exit by itself, so a connection or child process left open shows up as a hang.

import { pathToFileURL } from "node:url";

/** True when the module with this import.meta.url is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1];
  return script !== undefined && moduleUrl === pathToFileURL(script).href;
}

/** Parses argv[2] as the options, runs the baseline and prints its result. */
export function runCli<O, R>(run: (options: O) => Promise<R>): void {
  const options = JSON.parse(process.argv[2] ?? "{}") as O;
  run(options).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
