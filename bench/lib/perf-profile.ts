// On-CPU profiles of every part of the system (`npm run bench -- --perf`): Linux `perf`
// samples what each process runs while it runs, on every thread, in the kernel too, for
// the api replicas and the worker as for PostgreSQL, RabbitMQ and Memcached.
//
// Why beside `--profile` (V8's profiler, cpu-profile.ts): V8 samples wall time on the
// JavaScript thread only. On a busy machine a write that wakes another process often gives
// up the core, and the wait shows as the write; and what V8 does on its own threads (the
// optimizing compiler, concurrent marking, scavenging helpers) and libuv's pool (WebCrypto,
// file writes) is not in it at all. On these 2-core machines that made socket writes look
// like a fifth of an api replica's time; perf counts the CPU itself.
//
// JavaScript frames are named from V8's perf map (`--perf-basic-prof`, which the bench
// passes to the services it starts with `--perf`): a line per code object made, address,
// size and name. V8 reuses the addresses of code it freed, and perf names an address by
// the first line that covers it, so a busy replica's socket writes came out named after
// the module loader that ran there at startup. Naming it by the last line instead still
// misnamed whatever was freed during the scenario (a fan-out's socket writes as the
// presence tracker's code of its final disconnect). PerfMap names each frame by the code
// that was at its address when it was sampled: MapGrowth notes how long each map was,
// every 50 ms, on the clock perf stamps samples with.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { CpuPart } from "./cpu-usage.js";

/** Samples per second per thread: a 2-core machine gives about 1,000 per busy second. */
export const PERF_FREQUENCY = 499;

/** What the services started for `--perf` need: JavaScript frames named in perf's samples. */
export const PERF_NODE_OPTIONS = "--perf-basic-prof --interpreted-frames-native-stack";

export interface Share {
  name: string;
  percent: number;
}

export interface PerfPartSummary {
  /** CPU sampled over the scenario, in ms (samples × the sampling period). */
  cpuMs: number;
  /** Of it, in the kernel (syscalls, network stack, scheduling). */
  kernelPercent: number;
  /**
   * Node processes: by thread (the JavaScript thread, V8's compiler threads, its garbage
   * collector's helpers, libuv's pool).
   */
  threads?: Share[];
  /**
   * Node processes: each sample of the JavaScript thread is charged to the innermost
   * JavaScript frame outside Node's own internals (a socket write made for pg is pg's),
   * native and kernel frames under it included; garbage collection and compilation on
   * that thread apart. Other programs: by binary (the kernel, libc, the server itself).
   */
  topPackages: Share[];
  /** The innermost frame: a JavaScript function, a native one, or the kernel's syscall. */
  topFunctions: Share[];
}

interface Frame {
  address: bigint;
  symbol: string;
  dso: string;
}

interface MapEntry {
  start: bigint;
  end: bigint;
  name: string;
  /** Its place in the file. */
  line: number;
  /** The file's length once this line was written. */
  writtenBy: number;
}

/**
 * A V8 perf map (`/tmp/perf-<pid>.map`): every code object V8 made, in the order it made
 * them. An address is named by the code that was there when it was sampled: the newest
 * line covering it among those written by then (`writtenBy`, the file's length at the
 * sample's time: MapGrowth), unless a line written after that one, and also by then,
 * overlaps it (V8 freed that code and put other code in its place; the address belongs
 * to none we know).
 */
export class PerfMap {
  /** By start address, then in the file's order. */
  readonly #entries: MapEntry[] = [];
  /** The largest code object: how far below an address a covering start can be. */
  readonly #largest: bigint = 0n;
  readonly #named = new Map<string, string | undefined>();

  constructor(text: string) {
    let line = 0;
    let writtenBy = 0;
    for (const row of text.split("\n")) {
      writtenBy += Buffer.byteLength(row) + 1;
      const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(row);
      if (!match) continue;
      const start = BigInt(`0x${match[1]}`);
      const size = BigInt(`0x${match[2]}`);
      if (size > this.#largest) this.#largest = size;
      this.#entries.push({
        start,
        end: start + size,
        name: match[3] as string,
        line: line++,
        writtenBy,
      });
    }
    this.#entries.sort((a, b) =>
      a.start < b.start ? -1 : a.start > b.start ? 1 : a.line - b.line,
    );
  }

  /** Index of the first entry starting above `address`. */
  #after(address: bigint) {
    let low = 0;
    let high = this.#entries.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((this.#entries[mid] as MapEntry).start <= address) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** The code at `address` when the file was `writtenBy` bytes long (by default: now). */
  name(address: bigint, writtenBy = Number.POSITIVE_INFINITY): string | undefined {
    const key = `${address}@${writtenBy}`;
    if (this.#named.has(key)) return this.#named.get(key);
    const known = (entry: MapEntry) => entry.writtenBy <= writtenBy;
    let newest: MapEntry | undefined;
    for (let i = this.#after(address) - 1; i >= 0; i--) {
      const entry = this.#entries[i] as MapEntry;
      if (address - entry.start >= this.#largest) break;
      if (address < entry.end && known(entry) && (!newest || entry.line > newest.line))
        newest = entry;
    }
    // Freed by then: later code, known by then, overlaps it.
    if (newest) {
      const code = newest;
      for (let i = this.#after(code.end - 1n) - 1; i >= 0; i--) {
        const entry = this.#entries[i] as MapEntry;
        if (code.start - entry.start >= this.#largest) break;
        if (entry.line > code.line && known(entry) && entry.end > code.start) {
          newest = undefined;
          break;
        }
      }
    }
    this.#named.set(key, newest?.name);
    return newest?.name;
  }
}

/**
 * How long each perf map was, now and then, on the clock perf stamps its samples with
 * (CLOCK_MONOTONIC, which `process.hrtime` reads too): which of a map's lines existed when
 * a sample was taken. V8 frees code and puts new code at the same addresses, so a map
 * read after a scenario names a function that ran early on by whatever replaced it later
 * (in a fan-out, ws's and Node's socket writes came out as the presence tracker's
 * disconnect code, compiled at the end of the scenario where the write code had been).
 */
export class MapGrowth {
  readonly #marks = new Map<string, Array<{ at: number; bytes: number }>>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly paths: string[],
    everyMs = 50,
  ) {
    this.mark();
    this.#timer = setInterval(() => this.mark(), everyMs);
    this.#timer.unref();
  }

  static now() {
    return Number(process.hrtime.bigint()) / 1e9;
  }

  mark() {
    const at = MapGrowth.now();
    for (const path of this.paths) {
      if (!existsSync(path)) continue;
      let marks = this.#marks.get(path);
      if (!marks) {
        marks = [];
        this.#marks.set(path, marks);
      }
      marks.push({ at, bytes: statSync(path).size });
    }
  }

  stop() {
    clearInterval(this.#timer);
    this.mark();
  }

  /**
   * The map's length at the first mark at or after `at` (a line written in between may be
   * newer than the sample: the marks are `everyMs` apart); unknown after the last mark.
   */
  bytesAt(path: string, at: number | undefined): number | undefined {
    const marks = this.#marks.get(path);
    if (!marks || at === undefined) return undefined;
    let low = 0;
    let high = marks.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((marks[mid] as { at: number }).at < at) low = mid + 1;
      else high = mid;
    }
    return marks[low]?.bytes;
  }
}

interface Sample {
  pid: number;
  tid: number;
  /** When it was taken, in seconds (CLOCK_MONOTONIC), when perf script printed it. */
  time?: number;
  /** Innermost first. */
  frames: Frame[];
}

const KERNEL = "[kernel.kallsyms]";
/** `JS:*name url:line:col`, `JS:^name …`, `JS:~name …` (optimized, baseline, interpreted). */
const JS_FRAME = /^(?:JS|LazyCompile|Function|Eval|Script):[*^~+-]?(.*?)(?: (\S+?):(\d+):\d+)?$/;
const GC =
  /Heap::CollectGarbage|Scavenge|MarkCompact|ConcurrentMarking|Sweeper|MinorMark|IncrementalMarking|GCTracer/;
const COMPILE = /compiler::|Compiler|CompileLazy|OptimizingCompileDispatcher|Maglev/;
const project = /.*\/(src|bench|test)\//;
const compiled = /.*\/(\.bench-build|dist)\//;

function packageOfUrl(url: string): string {
  const inModules = url.match(/node_modules\/((@[^/]+\/)?[^/]+)/);
  if (inModules) return inModules[1] as string;
  if (url.startsWith("node:")) return "node internals";
  return url
    .replace(/^file:\/\//, "")
    .replace(compiled, "src/")
    .replace(project, "$1/");
}

function jsFrame(frame: Frame): { name: string; url?: string; line?: string } | undefined {
  if (!frame.dso.includes("perf-") || !frame.dso.endsWith(".map")) return undefined;
  const match = JS_FRAME.exec(frame.symbol);
  if (!match) return undefined;
  return { name: match[1] || "(anonymous)", url: match[2], line: match[3] };
}

/** `name package:line` (Node's own modules by their `node:` name). */
function jsLabel(js: { name: string; url?: string; line?: string }) {
  if (!js.url) return js.name;
  return `${js.name} ${js.url.startsWith("node:") ? js.url : packageOfUrl(js.url)}:${js.line}`;
}

function basename(dso: string) {
  if (dso === KERNEL) return "kernel";
  // RabbitMQ's (Erlang's) JIT writes its code to an anonymous file.
  if (dso.startsWith("/memfd:")) return "JIT code";
  return dso.slice(dso.lastIndexOf("/") + 1);
}

/** What a kernel sample was doing: the syscall it serves, a page fault, or the rest. */
function kernelActivity(frames: Frame[]): string {
  const kernel = frames.filter((frame) => frame.dso === KERNEL);
  if (kernel.some((frame) => /entry_SYSCALL|do_syscall_64/.test(frame.symbol))) {
    const sys = kernel.map((frame) => /^__(?:x64|ia32)_sys_(\w+)/.exec(frame.symbol)).find(Boolean);
    // Else the C library's wrapper that made it (`__GI___writev`, `__GI___libc_write`).
    const wrapper = frames[kernel.length]?.symbol
      .replace(/^(?:__GI_+)?(?:__)?(?:libc_)?/, "")
      .replace(/@.*/, "");
    return `kernel: ${sys?.[1] ?? wrapper ?? "syscall"}`;
  }
  if (kernel.some((frame) => frame.symbol.includes("page_fault"))) return "kernel: page faults";
  return "kernel: interrupts, scheduling";
}

function leafName(frames: Frame[]): string {
  const leaf = frames[0];
  if (!leaf) return "(no stack)";
  if (leaf.dso === KERNEL) return kernelActivity(frames);
  const js = jsFrame(leaf);
  if (js) return jsLabel(js);
  return `${leaf.symbol === "[unknown]" ? "(unknown)" : leaf.symbol} (${basename(leaf.dso)})`;
}

function threadOf(sample: Sample): string {
  if (sample.pid === sample.tid) return "JavaScript thread";
  const symbols = sample.frames.map((f) => f.symbol);
  if (symbols.some((s) => COMPILE.test(s))) return "V8 compiler threads";
  if (symbols.some((s) => GC.test(s))) return "V8 garbage collector threads";
  // libuv's pool runs `worker` (uv_threadpool), which runs WebCrypto jobs and fs writes.
  if (symbols.some((s) => s === "worker" || s.startsWith("uv__"))) return "libuv pool";
  return "other threads";
}

/** Where a Node sample's CPU belongs (see PerfPartSummary.topPackages). */
function nodePackageOf(sample: Sample): string {
  if (sample.pid !== sample.tid) return threadOf(sample);
  let internal: string | undefined;
  let belowJavaScript = true;
  for (const frame of sample.frames) {
    const js = jsFrame(frame);
    if (!js) {
      // Under the innermost JavaScript frame: the collector or the compiler, run on this thread.
      if (belowJavaScript) {
        if (GC.test(frame.symbol)) return "(garbage collection)";
        if (COMPILE.test(frame.symbol)) return "(compilation)";
      }
      continue;
    }
    belowJavaScript = false;
    if (!js.url) continue;
    const pkg = packageOfUrl(js.url);
    if (pkg !== "node internals") return pkg;
    internal ??= pkg;
  }
  return internal ?? "(no JavaScript frame: the event loop, native callbacks)";
}

const increment = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

/** Folds `perf script` samples into one part's summary and its flame-graph stacks. */
export class PerfAccumulator {
  #samples = 0;
  #kernel = 0;
  readonly #threads = new Map<string, number>();
  readonly #packages = new Map<string, number>();
  readonly #functions = new Map<string, number>();
  /** Stacks in the folded format flame-graph tools read (root first, `;`-joined). */
  readonly folded = new Map<string, number>();

  constructor(readonly node: boolean) {}

  get samples() {
    return this.#samples;
  }

  add(sample: Sample) {
    this.#samples++;
    if (sample.frames[0]?.dso === KERNEL) this.#kernel++;
    increment(this.#functions, leafName(sample.frames));
    if (this.node) {
      increment(this.#threads, threadOf(sample));
      increment(this.#packages, nodePackageOf(sample));
    } else {
      const leaf = sample.frames[0];
      increment(this.#packages, leaf ? basename(leaf.dso) : "(no stack)");
    }
    const names = sample.frames.map((frame) => {
      const js = jsFrame(frame);
      if (js) return jsLabel(js);
      return frame.symbol === "[unknown]" ? `(${basename(frame.dso)})` : frame.symbol;
    });
    increment(this.folded, names.reverse().join(";").replaceAll(" ", "_"));
  }

  summary(frequency: number, top = 10): PerfPartSummary {
    const percent = (count: number) => Math.round((1000 * count) / Math.max(1, this.#samples)) / 10;
    const ranked = (map: Map<string, number>) =>
      [...map]
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([name, count]) => ({ name, percent: percent(count) }));
    return {
      cpuMs: Math.round((this.#samples * 1000) / frequency),
      kernelPercent: percent(this.#kernel),
      ...(this.node ? { threads: ranked(this.#threads) } : {}),
      topPackages: ranked(this.#packages),
      topFunctions: ranked(this.#functions),
    };
  }
}

/**
 * Reads `perf script -F pid,tid,ip,sym,dso` output: a header line per sample
 * (`pid/tid`), then its call chain innermost first (`address symbol (dso)`), then a blank line.
 */
export async function readPerfScript(
  lines: AsyncIterable<string>,
  onSample: (sample: Sample) => void,
): Promise<void> {
  let current: Sample | undefined;
  for await (const line of lines) {
    if (line.trim() === "") {
      if (current) onSample(current);
      current = undefined;
      continue;
    }
    const header = /^\s*(\d+)\/(\d+)(?:\s+(\d+\.\d+):)?\s*$/.exec(line);
    if (header) {
      if (current) onSample(current);
      current = { pid: Number(header[1]), tid: Number(header[2]), frames: [] };
      if (header[3]) current.time = Number(header[3]);
      continue;
    }
    // The binary may itself hold parentheses: `(/memfd:vmem (deleted))`.
    const frame = /^\s+([0-9a-f]+) (.*?) \(((?:[^()]|\([^()]*\))*)\)$/.exec(line);
    if (current && frame)
      current.frames.push({
        address: BigInt(`0x${frame[1]}`),
        symbol: frame[2] as string,
        dso: frame[3] as string,
      });
  }
  if (current) onSample(current);
}

async function run(command: string, args: string[]) {
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`${command} ${args.join(" ")}: exit ${code}\n${stderr}`);
}

/**
 * `perf record` of `target` (a command, or `-p` pids) with call stacks, into `output`,
 * stamped with CLOCK_MONOTONIC (MapGrowth's clock).
 */
function recordArgs(output: string, target: string[]) {
  return [
    "record",
    "-q",
    "-F",
    String(PERF_FREQUENCY),
    "-g",
    "-k",
    "CLOCK_MONOTONIC",
    "-o",
    output,
    ...target,
  ];
}

/** Fails, saying why, when perf cannot sample here (not installed, not permitted). */
export async function checkPerf(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const probe = join(dir, "probe.data");
  try {
    await run("perf", recordArgs(probe, ["--", "true"]));
  } catch (error) {
    throw new Error(
      `--perf needs Linux perf, allowed to sample these processes (Debian: linux-perf; run as root or lower kernel.perf_event_paranoid): ${String(error)}`,
    );
  } finally {
    await rm(probe, { force: true });
  }
}

/** Where V8 writes a process's perf map (`--perf-basic-prof`). */
const perfMapPath = (pid: number) => `/tmp/perf-${pid}.map`;

/**
 * One perf recording per scenario of the whole machine, summarized for the given parts'
 * processes: those running when the scenario starts or when it ends (a PostgreSQL backend
 * a pool opens during the scenario counts; one that came and went does not). The summaries
 * land in `summaries`, the stacks in `dir/<scenario>/<part>.folded` (flame-graph tools,
 * speedscope); the recording itself is deleted once read (hundreds of MB).
 */
export class PerfProfiles {
  /** By scenario, then by part. */
  readonly summaries: Record<string, Record<string, PerfPartSummary>> = {};

  constructor(private readonly dir: string) {}

  async around<T>(scenario: string, parts: CpuPart[], work: () => Promise<T>): Promise<T> {
    const slug = scenario.replace(/[^a-z0-9-]+/gi, "-");
    await mkdir(this.dir, { recursive: true });
    const data = join(this.dir, `${slug}.data`);
    const partOf = new Map<number, CpuPart>();
    for (const part of parts) for (const pid of part.pids()) partOf.set(pid, part);
    const growth = new MapGrowth(
      [...partOf].filter(([, part]) => part.node).map(([pid]) => perfMapPath(pid)),
    );
    // The whole machine (-a), not the parts' pids (-p): perf follows no process forked after
    // it attached, and PostgreSQL serves every new connection from one.
    const recorder = spawn("perf", recordArgs(data, ["-a"]), {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    recorder.stderr.on("data", (chunk) => (stderr += chunk));
    const exited = once(recorder, "exit");
    // perf writes its file's header once it has started sampling.
    const deadline = Date.now() + 10_000;
    while (!(existsSync(data) && statSync(data).size > 0)) {
      if (recorder.exitCode !== null || Date.now() > deadline)
        throw new Error(`perf record did not start: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    try {
      return await work();
    } finally {
      recorder.kill("SIGINT");
      await exited;
      growth.stop();
      for (const part of parts) for (const pid of part.pids()) partOf.set(pid, part);
      await this.#summarize(scenario, slug, data, partOf, growth);
    }
  }

  async #summarize(
    scenario: string,
    slug: string,
    data: string,
    partOf: Map<number, CpuPart>,
    growth: MapGrowth,
  ) {
    const byPart = new Map<string, PerfAccumulator>();
    const script = spawn("perf", ["script", "-i", data, "-F", "pid,tid,time,ip,sym,dso"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    const scriptExited = once(script, "exit");
    // perf names JavaScript frames by a map's first line for the address: name them by the
    // code that was there when the sample was taken.
    const maps = new Map<string, PerfMap | undefined>();
    const mapAt = (path: string) => {
      if (!maps.has(path))
        maps.set(path, existsSync(path) ? new PerfMap(readFileSync(path, "utf8")) : undefined);
      return maps.get(path);
    };
    await readPerfScript(createInterface({ input: script.stdout }), (sample) => {
      const part = partOf.get(sample.pid);
      if (!part) return;
      for (const frame of sample.frames)
        if (/\/perf-\d+\.map$/.test(frame.dso))
          frame.symbol =
            mapAt(frame.dso)?.name(frame.address, growth.bytesAt(frame.dso, sample.time)) ??
            "JS:(code no longer mapped)";
      let accumulator = byPart.get(part.name);
      if (!accumulator) {
        accumulator = new PerfAccumulator(part.node === true);
        byPart.set(part.name, accumulator);
      }
      accumulator.add(sample);
    });
    await scriptExited;
    const folder = join(this.dir, slug);
    await mkdir(folder, { recursive: true });
    const summaries: Record<string, PerfPartSummary> = {};
    // In the order the parts were given.
    const order = [...new Set([...partOf.values()].map((part) => part.name))];
    const sorted = [...byPart].sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]));
    for (const [part, accumulator] of sorted) {
      summaries[part] = accumulator.summary(PERF_FREQUENCY);
      const out = createWriteStream(join(folder, `${part}.folded`));
      for (const [stack, count] of accumulator.folded) out.write(`${stack} ${count}\n`);
      out.end();
      await once(out, "finish");
    }
    this.summaries[scenario] = summaries;
    await rm(data, { force: true });
  }
}
