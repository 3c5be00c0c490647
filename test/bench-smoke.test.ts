// The benchmark harness on tiny numbers (`npm run bench -- --tiny --profile`): it must
// start its own topology on the real services, run every scenario and baseline, deliver
// every message it sent, profile every service process over every scenario, and write a
// complete report. No figure is judged here: benchmarks are not tests.
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { BenchReport } from "../bench/report.js";
import { amqpUrl } from "./harness/broker.js";
import { memcachedServers } from "./harness/memcached.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const broker = await amqpUrl();
const memcached = await memcachedServers();
const postgres = process.env.TEST_DATABASE_URL;

describe.skipIf(!broker || !memcached || !postgres)("npm run bench -- --tiny --profile", () => {
  it("runs every scenario and baseline, receives every message sent (a reconnect storm's included), profiles each scenario, and writes JSON, Markdown and SVG", async () => {
    const out = await mkdtemp(join(tmpdir(), "bench-"));
    try {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "bench/run.ts", "--tiny", "--profile", "--out", out],
        {
          cwd: root,
          env: {
            ...process.env,
            BENCH_DATABASE_URL: postgres,
            BENCH_AMQP_URL: broker,
            BENCH_MEMCACHED_SERVERS: memcached,
          },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let output = "";
      child.stdout.on("data", (chunk) => (output += chunk));
      child.stderr.on("data", (chunk) => (output += chunk));
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      expect(code, output).toBe(0);

      const files = await readdir(out);
      const json = files.find((f) => f.endsWith(".json")) as string;
      expect(files.filter((f) => /\.(json|md|svg)$/.test(f)).length, files.join(", ")).toBe(3);
      const report = JSON.parse(await readFile(join(out, json), "utf8")) as BenchReport;
      expect(report.direct.length).toBeGreaterThan(0);
      for (const step of report.direct) {
        expect(step.failed).toBe(0);
        expect(step.received).toBe(step.sent);
        expect(step.sent).toBeGreaterThan(0);
      }
      for (const { result } of report.rawPipeline) expect(result.received).toBe(result.sent);
      for (const fanout of report.fanout) expect(fanout.missing).toBe(0);
      // Every ingest size ran to the end (the run waits until all its messages are stored).
      expect(report.ingest.map((i) => i.members)).toEqual([2, 10]);
      for (const ingest of report.ingest) {
        expect(ingest.messagesPerSecond).toBeGreaterThan(0);
        expect(ingest.copyCeiling.messagesPerSecond).toBeGreaterThan(0);
        // The publisher (the bench itself) is charged beside the services.
        expect(ingest.cpu?.partsMs).toHaveProperty("publisher");
      }
      // The ingest's shape through the thinnest code, with and without the database.
      const { pipeline, brokerAlone } = report.ingestBaselines ?? {};
      expect(pipeline?.received).toBe(report.ingest[0]?.messages);
      expect(brokerAlone?.received).toBe(report.ingest[0]?.messages);
      // Worker scaling persisted its spread sends with one worker, then with two.
      expect(report.workerScaling?.byWorkers.map((w) => w.workers)).toEqual([1, 2]);
      // Search ran every query through the API and on pg, and never crossed a membership.
      expect(report.search?.queries.length).toBeGreaterThan(0);
      expect(report.search?.foreignHits).toBe(0);
      for (const viewers of ["busy", "quiet"])
        expect(report.search?.queries.some((q) => q.viewers === viewers && q.hits > 0)).toBe(true);
      // The fan-out measured its sockets sitting idle too, and all of them closing at once
      // until every user was announced offline.
      for (const fanout of report.fanout) {
        expect(fanout.cpu?.idle?.partsMs).toBeDefined();
        expect(fanout.disconnectMs).toBeGreaterThan(0);
        // Read through each replica's inspector, after a full collection.
        expect(Number.isFinite(fanout.liveHeapKiBPerIdleSocket)).toBe(true);
        // And the resident memory right after it (from /proc), as the baselines are read.
        expect(Number.isFinite(fanout.collectedKiBPerIdleSocket)).toBe(true);
        // The idle growth split by where it went (each replica's V8 heap spaces, no
        // collection): its three parts add up to the growth they split.
        const growth = fanout.idleGrowthKiBPerSocket;
        expect(growth).toBeDefined();
        const { youngGeneration = 0, restOfHeap = 0, outsideHeap = 0 } = growth ?? {};
        expect(youngGeneration + restOfHeap + outsideHeap).toBeCloseTo(
          fanout.replicaKiBPerIdleSocket ?? Number.NaN,
          0,
        );
        expect(growth?.heapInUse).toSatisfy(Number.isFinite);
        expect(fanout.cpu?.disconnect?.partsMs).toBeDefined();
      }
      // The reconnect storm: every socket of the killed replica came back on the other and
      // had both the message sent while it was away and the next one, once each.
      expect(report.storm).toMatchObject({ sockets: 10, missing: 0, repeated: 0 });
      expect(report.storm?.reconnected).toBeGreaterThanOrEqual(10);
      const yoga = report.yogaBroadcast ?? [];
      for (const b of [...report.wsBroadcast, ...report.socketIoBroadcast, ...yoga]) {
        expect(b.missing).toBe(0);
        // The server's own CPU over its broadcasts, per delivery, was read.
        expect(b.serverCpuUsPerDelivery).toBeGreaterThan(0);
      }
      const deliveries = report.targets.find((t) => t.name.endsWith(": deliveries/s"));
      expect(deliveries?.measured).toMatch(
        /server CPU per delivery: the replicas [\d.]+ µs, Socket\.IO [\d.]+ µs/,
      );
      expect(report.wsBroadcast.length).toBe(report.fanout.length);
      expect(report.socketIoBroadcast.length).toBe(report.fanout.length);
      expect(yoga.length).toBe(report.fanout.length);
      // Each scenario profiled every service process alive through it (the storm kills
      // replica A: only B and the worker have a profile to give), and kept the profiles.
      const everyProcess = ["bench-api-a", "bench-api-b", "bench-worker-1"];
      expect(Object.keys(report.profiles)).toEqual([
        "direct messages",
        "fan-out to 10",
        "worker ingest",
        "worker scaling",
        "search",
        "reconnect storm",
      ]);
      for (const [scenario, byServer] of Object.entries(report.profiles)) {
        const expected = scenario === "reconnect storm" ? everyProcess.slice(1) : everyProcess;
        expect(Object.keys(byServer).sort(), scenario).toEqual(expected);
        for (const summary of Object.values(byServer)) {
          expect(summary.totalMs).toBeGreaterThan(0);
          expect(summary.topFunctions.length).toBeGreaterThan(0);
        }
      }
      const profileDir = files.find((f) => f.endsWith("-profiles")) as string;
      expect((await readdir(join(out, profileDir, "direct-messages"))).sort()).toEqual(
        everyProcess.map((id) => `${id}.cpuprofile`),
      );
      expect(report.targets.length).toBeGreaterThan(0);
      // The throughput target reads the closed loop measured warm, not its warm-up.
      const [warmUp, measured] = report.direct;
      expect(warmUp?.warmUp).toBe(true);
      expect(measured?.warmUp).toBeUndefined();
      const throughput = report.targets.find((t) => t.name === "throughput vs the raw pipeline");
      expect(throughput?.measured).toMatch(
        new RegExp(
          `^${measured?.deliveredPerSecond} / .*the warm-up before it, on cold processes, ${warmUp?.deliveredPerSecond}/s$`,
        ),
      );
      expect(report.versions.postgres).toMatch(/^\d+/);
      const markdown = await readFile(join(out, json.replace(/json$/, "md")), "utf8");
      expect(markdown).toContain("## Targets");
      expect(markdown).toContain("per scenario (`--profile`)");
      expect(markdown).toContain("Where the resident growth after the idle window went");
      expect(markdown).toContain(json.replace(/json$/, "svg"));
      const svg = await readFile(join(out, json.replace(/json$/, "svg")), "utf8");
      expect(svg).toMatch(/^<svg[\s\S]*<rect[\s\S]*<\/svg>\n$/);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 240_000);
});
