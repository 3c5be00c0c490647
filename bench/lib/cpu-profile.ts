// Summarizes a V8 CPU profile (`node --cpu-prof`) into where the time went: self time by
// package (or our own file) and by function, so a report can show which cost binds.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  idlePercent: number;
  topPackages: Array<{ name: string; percent: number }>;
  topFunctions: Array<{ name: string; percent: number }>;
}

const project = /.*\/(src|bench|test)\//;

function packageOf(frame: ProfileNode["callFrame"]) {
  if (!frame.url) return frame.functionName || "(native)";
  const inModules = frame.url.match(/node_modules\/((@[^/]+\/)?[^/]+)/);
  if (inModules) return inModules[1] as string;
  if (frame.url.startsWith("node:")) return "node internals";
  return frame.url.replace(/^file:\/\//, "").replace(project, "$1/");
}

function functionOf(frame: ProfileNode["callFrame"]) {
  const where = frame.url
    ? `${packageOf(frame)}${frame.url.startsWith("node:") ? ` ${frame.url}` : ""}:${frame.lineNumber + 1}`
    : "";
  return `${frame.functionName || "(anonymous)"} ${where}`.trim();
}

export function summarizeProfile(profile: CpuProfile, file: string, top = 12): ProfileSummary {
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
  const ranked = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, time]) => ({ name, percent: Math.round((1000 * time) / total) / 10 }));
  return {
    file,
    totalMs: Math.round(total / 1000),
    idlePercent: Math.round((1000 * idle) / total) / 10,
    topPackages: ranked(packages),
    topFunctions: ranked(functions),
  };
}

/** The main thread's profile in `dir` (the largest file: loader threads write small ones). */
export async function summarizeProfileDir(dir: string): Promise<ProfileSummary | undefined> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) =>
    f.endsWith(".cpuprofile"),
  );
  if (files.length === 0) return undefined;
  const sized = await Promise.all(
    files.map(async (f) => ({ f, size: (await stat(join(dir, f))).size })),
  );
  const main = sized.sort((a, b) => b.size - a.size)[0]?.f as string;
  const profile = JSON.parse(await readFile(join(dir, main), "utf8")) as CpuProfile;
  return summarizeProfile(profile, join(dir, main));
}
