// Where the machine's CPU (and the replicas' memory) went during a step: CPU time per part of the system (each
// service process, PostgreSQL, RabbitMQ, Memcached, the load generators), read from /proc
// before and after. Divided by the messages delivered it says which part binds, without
// a profiler's own overhead. Linux only; elsewhere it reports nothing.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface CpuPart {
  name: string;
  /** The part's processes now (servers fork backends, so they are looked up each time). */
  pids(): number[];
  /** Node processes (ours): a profile can name their JavaScript. */
  node?: boolean;
}

export interface CpuUsage {
  /** CPU milliseconds per part over the step. */
  partsMs: Record<string, number>;
  /** Share of all cores that was busy over the step (any process), in %. */
  machineBusyPercent: number;
}

let ticksPerSecond: number | undefined;
function clockTicks() {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of one process in ms; undefined when it is gone (or a zombie). */
function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z") return undefined;
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies of the whole machine. */
function machineTicks() {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  const total = values.reduce((sum, v) => sum + v, 0);
  return { busy: total - idle, total };
}

/** Processes whose command name (as `ps` shows it) is `name`. */
export function pidsNamed(name: string): number[] {
  try {
    return readdirSync("/proc")
      .filter((entry) => /^\d+$/.test(entry))
      .map(Number)
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === name;
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
}

/** Starts measuring; the returned function ends the step and says what each part spent. */
export function measureCpu(parts: CpuPart[]): () => CpuUsage | undefined {
  if (process.platform !== "linux") return () => undefined;
  const read = () => new Map(parts.map((part) => [part.name, perPid(part.pids())]));
  const perPid = (pids: number[]) =>
    new Map(
      pids.flatMap((pid) => {
        const ms = processCpuMs(pid);
        return ms === undefined ? [] : [[pid, ms] as const];
      }),
    );
  const before = read();
  const machineBefore = machineTicks();
  return () => {
    const after = read();
    const machineAfter = machineTicks();
    const partsMs: Record<string, number> = {};
    for (const part of parts) {
      const start = before.get(part.name) ?? new Map();
      let spent = 0;
      // A process that started during the step counts from zero; one that ended is lost.
      for (const [pid, ms] of after.get(part.name) ?? []) spent += ms - (start.get(pid) ?? 0);
      partsMs[part.name] = Math.round(spent);
    }
    const total = machineAfter.total - machineBefore.total;
    return {
      partsMs,
      machineBusyPercent:
        total > 0 ? Math.round((1000 * (machineAfter.busy - machineBefore.busy)) / total) / 10 : 0,
    };
  };
}

/** The parts of a benchmark run: each service process, the servers, the load generators. */
export function systemParts(
  topology: {
    replicas: Array<{ serverId: string; child: { pid?: number } }>;
    workers: Array<{ child: { pid?: number } }>;
  },
  generators: Array<{ process: { pid?: number } }>,
): CpuPart[] {
  const pid = (process: { pid?: number }) => (process.pid ? [process.pid] : []);
  return [
    ...topology.replicas.map((replica) => ({
      name: replica.serverId.replace(/^bench-/, ""),
      pids: () => pid(replica.child),
      node: true,
    })),
    { name: "worker", pids: () => topology.workers.flatMap((w) => pid(w.child)), node: true },
    { name: "postgres", pids: () => pidsNamed("postgres") },
    { name: "rabbitmq", pids: () => pidsNamed("beam.smp") },
    { name: "memcached", pids: () => pidsNamed("memcached") },
    { name: "clients", pids: () => generators.flatMap((g) => pid(g.process)), node: true },
  ];
}

/** Resident memory of processes in bytes (VmRSS; 0 for those gone or off Linux). */
export function residentBytes(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const kib = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
      total += Number(kib ?? 0) * 1024;
    } catch {
      // gone
    }
  }
  return total;
}
