// CPU profiles of the service processes, one per scenario, and their summaries: self time
// by package (or our own file) and by function, so a report can show which cost binds.
//
// `--cpu-prof` writes one profile per process at exit: the whole run in one, startup
// included, and nothing from a process killed on purpose (the reconnect storm's). The
// bench therefore asks each process's V8 profiler, through its inspector (inspector.ts),
// to start and stop around every scenario.
//
// V8 samples wall time: a sample is charged to whatever the main thread was running,
// even while the thread waits for a core. On a machine that is busy, a write that wakes
// another process (PostgreSQL, RabbitMQ, a socket's reader) often gives up the core, and
// that wait shows as the write (`writeBuffer`, `writev`). The CPU per part from /proc is
// the CPU; a profile says where within a process the time went.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Inspector } from "./inspector.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Wall time profiled. */
  totalMs: number;
  idlePercent: number;
  topPackages: Array<{ name: string; percent: number }>;
  topFunctions: Array<{ name: string; percent: number }>;
}

const project = /.*\/(src|bench|test)\//;
/** The build the bench runs (topology.ts) and the image's: named as their sources. */
const compiled = /.*\/(\.bench-build|dist)\//;

function packageOf(frame: ProfileNode["callFrame"]) {
  if (!frame.url) return frame.functionName || "(native)";
  const inModules = frame.url.match(/node_modules\/((@[^/]+\/)?[^/]+)/);
  if (inModules) return inModules[1] as string;
  if (frame.url.startsWith("node:")) return "node internals";
  return frame.url
    .replace(/^file:\/\//, "")
    .replace(compiled, "src/")
    .replace(project, "$1/");
}

function functionOf(frame: ProfileNode["callFrame"]) {
  const where = frame.url
    ? `${packageOf(frame)}${frame.url.startsWith("node:") ? ` ${frame.url}` : ""}:${frame.lineNumber + 1}`
    : "";
  return `${frame.functionName || "(anonymous)"} ${where}`.trim();
}

export function summarizeProfile(profile: CpuProfile, top = 12): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + delta);
    total += delta;
  });
  const packages = new Map<string, number>();
  const functions = new Map<string, number>();
  let idle = 0;
  for (const [id, time] of self) {
    const frame = (byId.get(id) as ProfileNode).callFrame;
    if (frame.functionName === "(idle)") {
      idle += time;
      continue;
    }
    packages.set(packageOf(frame), (packages.get(packageOf(frame)) ?? 0) + time);
    functions.set(functionOf(frame), (functions.get(functionOf(frame)) ?? 0) + time);
  }
  // Shares of the time the process was not idle: what a scenario made it do.
  const busy = Math.max(1, total - idle);
  const ranked = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, time]) => ({ name, percent: Math.round((1000 * time) / busy) / 10 }));
  return {
    totalMs: Math.round(total / 1000),
    idlePercent: Math.round((1000 * idle) / total) / 10,
    topPackages: ranked(packages),
    topFunctions: ranked(functions),
  };
}

/**
 * One profile per scenario and process: `around` profiles every process given over a
 * scenario, keeps the .cpuprofile files under `dir/<scenario>/` and the summaries here.
 */
export class ScenarioProfiles {
  /** By scenario, then by server id. */
  readonly summaries: Record<string, Record<string, ProfileSummary>> = {};

  constructor(private readonly dir: string) {}

  async around<T>(
    scenario: string,
    processes: Array<{ serverId: string; inspector(): Promise<Inspector> }>,
    run: () => Promise<T>,
  ): Promise<T> {
    const running = await Promise.all(
      processes.map(async (p) => ({ serverId: p.serverId, profiler: await p.inspector() })),
    );
    await Promise.all(running.map(({ profiler }) => profiler.startProfile()));
    try {
      return await run();
    } finally {
      const dir = join(this.dir, scenario.replace(/[^a-z0-9-]+/gi, "-"));
      await mkdir(dir, { recursive: true });
      const summaries: Record<string, ProfileSummary> = {};
      for (const { serverId, profiler } of running) {
        // A process killed on purpose (the storm's replica) has no profile to give.
        const profile = await profiler.stopProfile();
        if (!profile) continue;
        await writeFile(join(dir, `${serverId}.cpuprofile`), JSON.stringify(profile));
        summaries[serverId] = summarizeProfile(profile);
      }
      this.summaries[scenario] = summaries;
    }
  }
}
