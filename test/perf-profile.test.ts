// The bench's on-CPU profiles (bench/lib/perf-profile.ts): the summary as pure logic, fed
// a `perf script` text of the shape perf prints, and V8's perf map; then a real recording
// of a Node process with Linux perf (which CI installs; elsewhere, without perf, that one
// case is skipped and says so).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import {
  MapGrowth,
  PERF_NODE_OPTIONS,
  PerfAccumulator,
  PerfMap,
  PerfProfiles,
  readPerfScript,
} from "../bench/lib/perf-profile.js";

const K = "[kernel.kallsyms]";
const NODE = "/usr/bin/node";
const MAP = "/tmp/perf-100.map";
const frames = (...list: Array<[string, string]>) =>
  list.map(([symbol, dso], i) => `\t${(0x1000 + i).toString(16)} ${symbol} (${dso})`).join("\n");

// Five samples of a Node process (pid 100), two of PostgreSQL (pid 200).
const script = [
  "   100/100 ",
  frames(
    ["pvm_irq_enable", K],
    ["do_writev", K],
    ["__x64_sys_writev", K],
    ["do_syscall_64", K],
    ["entry_SYSCALL_64_after_hwframe", K],
    ["__GI___writev", "/usr/lib/x86_64-linux-gnu/libc.so.6"],
    ["node::StreamBase::Writev", NODE],
    ["JS:*writevGeneric node:internal/stream_base_commons:123:23", MAP],
    ["JS:^submit /w/node_modules/pg/lib/query.js:152:9", MAP],
    ["JS:^query file:///w/.bench-build/db/sql.js:34:20", MAP],
  ),
  "",
  "   100/100 ",
  frames(
    ["Builtins_LoadIC", NODE],
    ["JS:*onConnect file:///w/.bench-build/server/websocket.js:38:20", MAP],
    ["JS:*emit node:events:471:44", MAP],
  ),
  "",
  "   100/100 ",
  frames(
    ["v8::internal::Scavenger::ScavengeObject", NODE],
    ["v8::internal::Heap::CollectGarbage", NODE],
    ["Builtins_AllocateInYoungGeneration", NODE],
    ["JS:*parse /w/node_modules/graphql/language/parser.js:1:1", MAP],
  ),
  "",
  "   100/101 ",
  frames(
    ["v8::internal::compiler::GraphReducer::ReduceTop", NODE],
    ["v8::platform::DefaultWorkerThreadsTaskRunner::WorkerThread::Run", NODE],
  ),
  "",
  "   100/102 ",
  frames(
    ["node::crypto::HmacTraits::DeriveBits", NODE],
    ["worker", NODE],
    ["start_thread", "libc.so.6"],
  ),
  "",
  "   200/200 ",
  frames(
    ["hash_search_with_hash_value", "/usr/lib/postgresql/15/bin/postgres"],
    ["PostgresMain", "/usr/lib/postgresql/15/bin/postgres"],
  ),
  "",
  "   200/200 ",
  frames(
    ["pvm_irq_enable", K],
    ["do_syscall_64", K],
    ["entry_SYSCALL_64_after_hwframe", K],
    ["__GI___libc_sendto", "/usr/lib/x86_64-linux-gnu/libc.so.6"],
    ["pq_flush", "/usr/lib/postgresql/15/bin/postgres"],
  ),
  "",
].join("\n");

async function summarize() {
  const node = new PerfAccumulator(true);
  const postgres = new PerfAccumulator(false);
  await readPerfScript(createInterface({ input: Readable.from([script]) }), (sample) =>
    (sample.pid === 100 ? node : postgres).add(sample),
  );
  return { node, postgres };
}

describe("perf profile summary", () => {
  it("charges a socket write to the package that made it, and names the kernel's syscall", async () => {
    const { node } = await summarize();
    const summary = node.summary(500);
    expect(node.samples).toBe(5);
    expect(summary.cpuMs).toBe(10); // 5 samples at 500 per second
    expect(summary.kernelPercent).toBe(20);
    expect(summary.topPackages).toEqual(
      expect.arrayContaining([
        { name: "pg", percent: 20 },
        { name: "src/server/websocket.js", percent: 20 },
        { name: "(garbage collection)", percent: 20 },
        { name: "V8 compiler threads", percent: 20 },
        { name: "libuv pool", percent: 20 },
      ]),
    );
    expect(summary.topFunctions).toContainEqual({ name: "kernel: writev", percent: 20 });
    expect(summary.threads).toEqual(
      expect.arrayContaining([
        { name: "JavaScript thread", percent: 60 },
        { name: "V8 compiler threads", percent: 20 },
        { name: "libuv pool", percent: 20 },
      ]),
    );
  });

  it("summarizes other programs by binary, names a syscall by its wrapper, and keeps every stack for flame graphs", async () => {
    const { node, postgres } = await summarize();
    const summary = postgres.summary(500);
    expect(summary.topPackages).toEqual([
      { name: "postgres", percent: 50 },
      { name: "kernel", percent: 50 },
    ]);
    // The kernel's stack names no syscall: the C library's wrapper says which it was.
    expect(summary.topFunctions).toContainEqual({ name: "kernel: sendto", percent: 50 });
    expect(summary.threads).toBeUndefined();
    expect(postgres.folded.get("PostgresMain;hash_search_with_hash_value")).toBe(1);
    const stacks = [...node.folded.keys()];
    expect(stacks).toHaveLength(5);
    expect(stacks).toContain(
      "emit_node:events:471;onConnect_src/server/websocket.js:38;Builtins_LoadIC",
    );
  });
});

const perfInstalled = (() => {
  try {
    execFileSync("perf", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** A Node process that spends its time in `spinTheWheel` until its stdin closes. */
const SPINNER = `
let stop = false;
process.stdin.on("end", () => { stop = true; }).resume();
function spinTheWheel() {
  const until = Date.now() + 20;
  let x = 0;
  while (Date.now() < until) x += Math.sqrt(x + 1);
  return x;
}
(function loop() { spinTheWheel(); if (stop) process.exit(0); else setImmediate(loop); })();
process.stdout.write("spinning\\n");
`;

/** utime + stime of a process in clock ticks. */
async function cpuTicks(pid: number) {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

describe("V8's perf map", () => {
  it("names an address by the newest code placed there, not the first", () => {
    const map = new PerfMap(
      [
        "1000 100 JS:*loadModule node:internal/modules/esm/loader:1:1",
        "2000 10 JS:*other x.js:1:1",
        "1000 40 JS:*writevGeneric node:internal/stream_base_commons:123:23", // reused
        "1040 20 JS:*send /w/node_modules/ws/lib/sender.js:354:7",
      ].join("\n"),
    );
    expect(map.name(0x1010n)).toBe("JS:*writevGeneric node:internal/stream_base_commons:123:23");
    expect(map.name(0x1045n)).toBe("JS:*send /w/node_modules/ws/lib/sender.js:354:7");
    // Only the older code, freed since (V8 placed new code at its start), covered this.
    expect(map.name(0x1070n)).toBeUndefined();
    expect(map.name(0x2010n)).toBeUndefined();
  });
});

describe("V8's perf map over time", () => {
  const lines = [
    "1000 40 JS:*writevGeneric node:internal/stream_base_commons:123:23",
    "2000 10 JS:*other x.js:1:1",
    // Later: the write code freed, the tracker's disconnect code put in its place.
    "1000 60 JS:* file:///w/.bench-build/presence/tracker.js:126:40",
  ];
  const map = new PerfMap(lines.join("\n"));
  const bytesOf = (n: number) => lines.slice(0, n).reduce((sum, l) => sum + l.length + 1, 0);

  it("names a frame by the code at its address when it was sampled, not by what came later", () => {
    expect(map.name(0x1010n, bytesOf(2))).toBe(
      "JS:*writevGeneric node:internal/stream_base_commons:123:23",
    );
    expect(map.name(0x1010n, bytesOf(3))).toBe(
      "JS:* file:///w/.bench-build/presence/tracker.js:126:40",
    );
    // Before any code was there, and past the write code's end before the tracker's came.
    expect(map.name(0x1010n, 0)).toBeUndefined();
    expect(map.name(0x1050n, bytesOf(2))).toBeUndefined();
    expect(map.name(0x1050n)).toBe("JS:* file:///w/.bench-build/presence/tracker.js:126:40");
  });

  it("reads a sample's time, and how long a map was by then from marks taken while it grew", async () => {
    const dir = await mkdtemp(join(tmpdir(), "perf-map-"));
    try {
      const path = join(dir, "perf-1.map");
      await writeFile(path, `${lines[0]}\n`);
      const growth = new MapGrowth([path], 60_000);
      const sampled = MapGrowth.now();
      await appendFile(path, `${lines[1]}\n${lines[2]}\n`);
      growth.stop();
      // The first mark at or after the sample saw the whole file; one before it, the first line.
      expect(growth.bytesAt(path, sampled)).toBe(bytesOf(3));
      expect(growth.bytesAt(path, sampled - 60)).toBe(bytesOf(1));
      expect(growth.bytesAt(path, MapGrowth.now() + 60)).toBeUndefined();
      expect(growth.bytesAt(join(dir, "perf-2.map"), sampled)).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const times: Array<number | undefined> = [];
    await readPerfScript(
      createInterface({
        input: Readable.from([
          "   100/100  3004.337804: \n\t1000 JS:*x y.js:1:1 (/tmp/perf-100.map)\n\n",
        ]),
      }),
      (sample) => times.push(sample.time),
    );
    expect(times).toEqual([3004.337804]);
  });
});

describe("perf recording", () => {
  it.skipIf(!perfInstalled && !process.env.TEST_REQUIRE_SERVICES)(
    "records a Node process on CPU and names the JavaScript function it ran",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "perf-profile-"));
      let spinner: ChildProcess | undefined;
      try {
        spinner = spawn(process.execPath, [...PERF_NODE_OPTIONS.split(" "), "-e", SPINNER], {
          stdio: ["pipe", "pipe", "inherit"],
        });
        await once(spinner.stdout as NodeJS.ReadableStream, "data");
        const pid = spinner.pid as number;
        const profiles = new PerfProfiles(dir);
        await profiles.around(
          "spin",
          [{ name: "spinner", pids: () => [pid], node: true }],
          async () => {
            // Polled until the spinner has used half a second of CPU (Linux counts 100 ticks a second).
            const start = await cpuTicks(pid);
            while ((await cpuTicks(pid)) - start < 50) await new Promise((r) => setTimeout(r, 20));
          },
        );
        const summary = profiles.summaries.spin?.spinner;
        expect(summary?.cpuMs).toBeGreaterThan(200);
        expect(summary?.threads?.[0]?.name).toBe("JavaScript thread");
        const folded = await readFile(join(dir, "spin", "spinner.folded"), "utf8");
        const counts = folded
          .trim()
          .split("\n")
          .map((line) => ({
            stack: line.slice(0, line.lastIndexOf(" ")),
            n: Number(line.slice(line.lastIndexOf(" ") + 1)),
          }));
        const total = counts.reduce((sum, c) => sum + c.n, 0);
        const spinning = counts
          .filter((c) => c.stack.includes("spinTheWheel"))
          .reduce((sum, c) => sum + c.n, 0);
        expect(spinning / total).toBeGreaterThan(0.5);
      } finally {
        spinner?.stdin?.end();
        if (spinner && spinner.exitCode === null) await once(spinner, "exit");
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
