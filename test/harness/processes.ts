// Service processes for the tests: those of service-process.ts, each killed in afterAll
// if the test left it running.
import { afterAll } from "vitest";
import { children } from "./service-process.js";

export {
  exited,
  freePort,
  type ServiceProcess,
  startProcess,
  stopProcess,
} from "./service-process.js";

afterAll(() => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});
