// The run's report: every figure with the machine, versions and command that produced
// it, as JSON (for tools), Markdown (for people and the README) and an SVG chart.
import type { BroadcastResult } from "./baselines/broadcast.js";
import type { RawPipelineResult } from "./baselines/raw-pipeline.js";
import type { ProfileSummary } from "./lib/cpu-profile.js";
import type { CpuUsage } from "./lib/cpu-usage.js";
import type { PerfPartSummary } from "./lib/perf-profile.js";
import type { DirectStepResult } from "./scenarios/direct.js";
import type { FanoutResult } from "./scenarios/fanout.js";
import type { IngestResult, WorkerScalingResult } from "./scenarios/ingest.js";
import type { StormResult } from "./scenarios/reconnect-storm.js";
import type { SearchResult } from "./scenarios/search.js";

export type LatencyBaseline = RawPipelineResult;
export type BroadcastBaseline = BroadcastResult;

export interface Target {
  name: string;
  target: string;
  measured: string;
  met: boolean;
}

export interface BenchReport {
  command: string;
  mode: string;
  startedAt: string;
  finishedAt: string;
  machine: Record<string, string | number>;
  versions: Record<string, string>;
  direct: DirectStepResult[];
  rawPipeline: { label: string; result: LatencyBaseline }[];
  fanout: FanoutResult[];
  ingest: IngestResult[];
  /**
   * The ingest's commands all at once through the raw pipeline (broker + plain pg, no
   * product code), and through the broker alone (no database): the thinnest code's ceiling.
   */
  ingestBaselines?: { pipeline: LatencyBaseline; brokerAlone: LatencyBaseline };
  workerScaling?: WorkerScalingResult;
  search?: SearchResult;
  storm?: StormResult;
  wsBroadcast: BroadcastBaseline[];
  socketIoBroadcast: BroadcastBaseline[];
  /** graphql-yoga + graphql-ws with Yoga's in-memory pubsub. */
  yogaBroadcast?: BroadcastBaseline[];
  targets: Target[];
  /** By scenario, then by server id, when run with --profile. */
  profiles: Record<string, Record<string, ProfileSummary>>;
  /** By scenario, then by part, when run with --perf. */
  perf?: Record<string, Record<string, PerfPartSummary>>;
}

const fmt = (n: number | null | undefined, digits = 1) =>
  n === null || n === undefined || Number.isNaN(n) ? "–" : n.toFixed(digits).replace(/\.0+$/, "");

export function toMarkdown(report: BenchReport): string {
  const lines: string[] = [];
  lines.push(`# Benchmark ${report.startedAt}`, "");
  lines.push(`Command: \`${report.command}\` (${report.mode})`, "");
  lines.push(
    `Machine: ${Object.entries(report.machine)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    "",
  );
  lines.push(
    `Versions: ${Object.entries(report.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    "",
  );
  lines.push("## Targets", "", "| target | wanted | measured | met |", "| --- | --- | --- | --- |");
  for (const t of report.targets)
    lines.push(`| ${t.name} | ${t.target} | ${t.measured} | ${t.met ? "yes" : "**no**"} |`);
  lines.push(
    "",
    "## Direct messages (sent on one replica, received on the other; half the pairs each way)",
    "",
  );
  lines.push(
    "| step | offered/s | delivered/s | p50 ms | p95 ms | p99 ms | answered p50 / p99 ms | received / sent | failed |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const s of report.direct)
    lines.push(
      `| ${s.label} | ${fmt(s.offeredPerSecond)} | ${fmt(s.deliveredPerSecond)} | ${fmt(s.latency.p50Ms)} | ${fmt(s.latency.p95Ms)} | ${fmt(s.latency.p99Ms)} | ${fmt(s.accept.p50Ms)} / ${fmt(s.accept.p99Ms)} | ${s.received} / ${s.sent} | ${s.failed} |`,
    );
  for (const s of report.direct)
    if (s.failures?.length) lines.push("", `Failed sends at ${s.label}: ${s.failures.join("; ")}`);
  const cpuSteps = report.direct.filter((s) => s.cpu && s.received > 0);
  const parts = Object.keys(cpuSteps[0]?.cpu?.partsMs ?? {});
  if (cpuSteps.length > 0) {
    lines.push(
      "",
      "CPU milliseconds per delivered message, by part (from /proc over each step and its drain; the machine has " +
        `${report.machine.cpus} cores):`,
      "",
      `| step | ${parts.join(" | ")} | machine busy |`,
      `| --- | ${parts.map(() => "---").join(" | ")} | --- |`,
    );
    for (const s of cpuSteps)
      lines.push(
        `| ${s.label} | ${parts.map((p) => fmt(Math.round((100 * (s.cpu?.partsMs[p] ?? 0)) / s.received) / 100)).join(" | ")} | ${s.cpu?.machineBusyPercent} % |`,
      );
  }
  lines.push("", "Baseline, raw pipeline (amqplib + pg, no GraphQL), same machine, same run:", "");
  lines.push("| step | delivered/s | p50 ms | p95 ms | p99 ms | received / sent |");
  lines.push("| --- | --- | --- | --- | --- | --- |");
  for (const { label, result: r } of report.rawPipeline)
    lines.push(
      `| ${label} | ${fmt(r.perSecond)} | ${fmt(r.p50Ms)} | ${fmt(r.p95Ms)} | ${fmt(r.p99Ms)} | ${r.received} / ${r.sent} |`,
    );
  lines.push("", "## Fan-out (one channel, subscribers split across both replicas)", "");
  lines.push(
    "| subscribers | connected ms | subscribed and live ms | last delivery ms (each message) | p50 delivery ms | burst deliveries/s | replicas' KiB per socket: resident right after connecting / resident after the idle window / after a full collection, resident and live heap | all closed at once: every user offline after ms | missing |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const f of report.fanout)
    lines.push(
      `| ${f.subscribers} | ${f.connectMs} | ${f.liveMs} | ${f.lastDeliveryMs.join(", ")} | ${fmt(f.p50DeliveryMs)} | ${fmt(f.burst.deliveredPerSecond)} | ${fmt(f.replicaKiBPerSocket)} / ${fmt(f.replicaKiBPerIdleSocket)} / ${fmt(f.collectedKiBPerIdleSocket)} and ${fmt(f.liveHeapKiBPerIdleSocket)} | ${f.disconnectMs ?? "not all"} | ${f.missing} |`,
    );
  const grown = report.fanout.filter((f) => f.idleGrowthKiBPerSocket);
  if (grown.length > 0) {
    lines.push(
      "",
      "Where the resident growth after the idle window went, KiB per socket (both replicas' V8 heaps read at the same moments, with no collection; the young generation's semi-spaces grow to a fixed ceiling per process):",
      "",
      "| subscribers | resident growth | V8 young generation, committed | rest of V8's heap, committed | V8 heap in use (live and not yet collected) | outside V8's heap | live heap after a full collection |",
      "| --- | --- | --- | --- | --- | --- | --- |",
    );
    for (const f of grown) {
      const g = f.idleGrowthKiBPerSocket as NonNullable<typeof f.idleGrowthKiBPerSocket>;
      lines.push(
        `| ${f.subscribers} | ${fmt(f.replicaKiBPerIdleSocket)} | ${fmt(g.youngGeneration)} | ${fmt(g.restOfHeap)} | ${fmt(g.heapInUse)} | ${fmt(g.outsideHeap)} | ${fmt(f.liveHeapKiBPerIdleSocket)} |`,
      );
    }
  }
  const fanoutCpu = report.fanout.filter((f) => f.cpu?.connect && f.cpu.burst);
  const fanoutParts = Object.keys(fanoutCpu[0]?.cpu?.connect?.partsMs ?? {});
  if (fanoutCpu.length > 0) {
    lines.push(
      "",
      "CPU by part: milliseconds per socket connected and subscribed, microseconds per burst delivery, milliseconds per socket closed until its user was offline (from /proc):",
      "",
      `| subscribers | phase | ${fanoutParts.join(" | ")} | machine busy |`,
      `| --- | --- | ${fanoutParts.map(() => "---").join(" | ")} | --- |`,
    );
    for (const f of fanoutCpu) {
      const row = (phase: string, usage: CpuUsage | undefined, per: number, scale: number) =>
        `| ${f.subscribers} | ${phase} | ${fanoutParts.map((p) => fmt(Math.round((scale * 100 * (usage?.partsMs[p] ?? 0)) / per) / 100)).join(" | ")} | ${usage?.machineBusyPercent} % |`;
      lines.push(row("connect, ms per socket", f.cpu?.connect, f.subscribers, 1));
      if (f.cpu?.idle && f.idleMs > 0)
        lines.push(
          row(
            `idle ${fmt(f.idleMs / 1000)} s, CPU ms per s per 1,000 sockets`,
            f.cpu.idle,
            (f.idleMs / 1000) * (f.subscribers / 1000),
            1,
          ),
        );
      lines.push(
        row("burst, µs per delivery", f.cpu?.burst, Math.max(1, f.burst.deliveries), 1000),
      );
      if (f.cpu?.disconnect)
        lines.push(row("disconnect, ms per socket", f.cpu.disconnect, f.subscribers, 1));
    }
  }
  lines.push(
    "",
    "Baselines, one server process broadcasting to the same number of sockets (clients in the same number of processes): plain ws and Socket.IO write one pre-serialized frame to each; graphql-yoga + graphql-ws with Yoga's in-memory pubsub execute and serialize per subscriber:",
    "",
  );
  lines.push(
    "| server | sockets | connect ms | last delivery ms (max / p50) | deliveries/s | server CPU µs per delivery | server KiB per socket | missing |",
  );
  lines.push("| --- | --- | --- | --- | --- | --- | --- | --- |");
  const broadcasts = [
    ...report.wsBroadcast.map((b) => ["plain ws", b] as const),
    ...report.socketIoBroadcast.map((b) => ["Socket.IO", b] as const),
    ...(report.yogaBroadcast ?? []).map((b) => ["Yoga + graphql-ws, in memory", b] as const),
  ];
  for (const [server, b] of broadcasts)
    lines.push(
      `| ${server} | ${b.subscribers} | ${b.connectMs} | ${fmt(b.lastDeliveryMs)} / ${fmt(b.p50LastDeliveryMs)} | ${fmt(b.deliveredPerSecond)} | ${fmt(b.serverCpuUsPerDelivery)} | ${fmt(b.serverRssPerSocketKiB)} | ${b.missing} |`,
    );
  lines.push(
    "",
    "## Worker ingest by channel size (send commands straight to the broker)",
    "",
    "| members | messages | ms | messages/s | CPU ms per message: worker / PostgreSQL / RabbitMQ / publisher | machine busy | plain pg batched INSERT, same rows: messages/s | plain pg with COPY: messages/s |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  const perMessage = (i: IngestResult, part: string) =>
    i.cpu ? fmt(Math.round((100 * (i.cpu.partsMs[part] ?? 0)) / i.messages) / 100, 2) : "–";
  for (const i of report.ingest ?? [])
    lines.push(
      `| ${i.members} | ${i.messages} | ${i.ms} | ${fmt(i.messagesPerSecond)} | ${["worker", "postgres", "rabbitmq", "publisher"].map((part) => perMessage(i, part)).join(" / ")} | ${i.cpu ? `${fmt(i.cpu.machineBusyPercent)} %` : "–"} | ${fmt(i.ceiling.messagesPerSecond)} | ${fmt(i.copyCeiling?.messagesPerSecond)} |`,
    );
  const ingestBaselines = report.ingestBaselines;
  if (ingestBaselines)
    lines.push(
      "",
      `The same ${ingestBaselines.pipeline.sent} commands published all at once, with no product code: the raw pipeline (broker and plain pg) ${fmt(ingestBaselines.pipeline.perSecond)} messages/s; the broker alone (publish with confirms, consume, an event each, ack; no database) ${fmt(ingestBaselines.brokerAlone.perSecond)} messages/s. Each runs in one process of its own.`,
    );
  const scaling = report.workerScaling;
  if (scaling) {
    const parts = Object.keys(scaling.byWorkers[0]?.cpu?.partsMs ?? {});
    lines.push(
      "",
      `Worker processes: ${scaling.messages} sends spread over ${scaling.channels} two-member channels (every shard busy), straight to the broker:`,
      "",
      `| workers | ms | messages/s | ${parts.map((p) => `${p} CPU ms`).join(" | ")} | machine busy |`,
      `| --- | --- | --- |${parts.map(() => " --- |").join("")} --- |`,
    );
    for (const w of scaling.byWorkers)
      lines.push(
        `| ${w.workers} | ${w.ms} | ${fmt(w.messagesPerSecond)} | ${parts.map((p) => fmt(w.cpu?.partsMs[p])).join(" | ")} | ${w.cpu ? `${fmt(w.cpu.machineBusyPercent)} %` : "–"} |`,
      );
  }
  const search = report.search;
  if (search) {
    lines.push(
      "",
      `## Search (${search.messages.toLocaleString("en")} messages, four in five in ${search.channels} busy channels, the rest in ${search.quietChannels} quiet ones; busy viewers are in ${search.viewerChannels} busy channels, quiet viewers in ${search.viewerChannels} quiet ones; streamed in by COPY in ${search.seedMs} ms with the tsvector and GIN index kept; each query ${search.queries[0]?.api.count ?? 0} times after a first search, which is reported on its own: it finds PostgreSQL's buffers and the api cold; first: 20 with snippets)`,
      "",
      "| query | viewers | hits | first search through the API ms | API p50 / p99 ms | same statements on plain pg p50 / p99 ms |",
      "| --- | --- | --- | --- | --- | --- |",
    );
    for (const q of search.queries)
      lines.push(
        `| \`${q.query}\` | ${q.viewers} | ${q.hits} | ${fmt(q.firstApiMs)} | ${fmt(q.api.p50Ms)} / ${fmt(q.api.p99Ms)} | ${fmt(q.sql.p50Ms)} / ${fmt(q.sql.p99Ms)} |`,
      );
    lines.push(
      `| all | | | | ${fmt(search.api.p50Ms)} / ${fmt(search.api.p99Ms)} | ${fmt(search.sql.p50Ms)} / ${fmt(search.sql.p99Ms)} |`,
      "",
      `Hits from channels the viewer is not in: ${search.foreignHits}.`,
    );
  }
  const storm = report.storm;
  if (storm) {
    const stormParts = Object.keys(storm.cpu?.partsMs ?? {});
    lines.push(
      "",
      `## Reconnect storm (${storm.sockets} sockets on replica A follow one channel; A is killed; they reconnect to B with graphql-ws's default backoff and resume with afterSeq)`,
      "",
      "| sockets | live on A ms | all resumed (had the message sent while away) ms after the kill | all live again (had the next one) ms | reconnected | closed or failed on the way | missing | repeated |",
      "| --- | --- | --- | --- | --- | --- | --- | --- |",
      `| ${storm.sockets} | ${storm.liveMs} | ${storm.resumedMs} | ${storm.recoveredMs} | ${storm.reconnected} | ${Object.entries(
        storm.closes ?? {},
      )
        .map(([what, n]) => `${what}: ${n}`)
        .join("; ")} | ${storm.missing} | ${storm.repeated} |`,
    );
    if (storm.cpu)
      lines.push(
        "",
        "CPU ms per socket, from the kill until all were live again:",
        "",
        `| ${stormParts.join(" | ")} | machine busy |`,
        `| ${stormParts.map(() => "---").join(" | ")} | --- |`,
        `| ${stormParts.map((p) => fmt(Math.round((100 * (storm.cpu?.partsMs[p] ?? 0)) / storm.sockets) / 100, 2)).join(" | ")} | ${storm.cpu.machineBusyPercent} % |`,
      );
  }
  const profiled = Object.entries(report.profiles ?? {});
  if (profiled.length > 0) {
    lines.push(
      "",
      "## Where the service processes spent their time, per scenario (`--profile`)",
      "",
      "V8's sampling profiler, started and stopped around each scenario. Shares are of the time the process was not idle. V8 samples wall time: on a busy machine a write that wakes another process often gives up the core, and the wait shows as the write (`writeBuffer`, `writev`). The CPU per part above, from /proc, is the CPU.",
    );
    for (const [scenario, byServer] of profiled) {
      lines.push(
        "",
        `**${scenario}**`,
        "",
        "| process | profiled s | not idle | self time by package | top functions (self) |",
        "| --- | --- | --- | --- | --- |",
      );
      for (const [serverId, p] of Object.entries(byServer))
        lines.push(
          `| ${serverId} | ${fmt(Math.round(p.totalMs / 100) / 10)} | ${fmt(Math.round(10 * (100 - p.idlePercent)) / 10)} % | ${shares(p.topPackages, 8)} | ${shares(p.topFunctions, 8)} |`,
        );
    }
  }
  const sampled = Object.entries(report.perf ?? {});
  if (sampled.length > 0) {
    lines.push(
      "",
      "## Where each part's CPU went, per scenario (`--perf`)",
      "",
      "Linux perf sampling every part's processes on CPU (all threads, the kernel included), started and stopped around each scenario: shares are of the CPU the part used, not of wall time. In our processes a sample of the JavaScript thread is charged to the innermost JavaScript frame outside Node's own internals, so a socket write made for pg is pg's; garbage collection and compilation on that thread, and V8's and libuv's own threads, are named apart. The other parts are split by binary. Each part's stacks are kept beside the report in the folded format flame-graph tools read. Parts that used less than 0.1 s of CPU in a scenario are left out.",
    );
    for (const [scenario, byPart] of sampled) {
      lines.push(
        "",
        `**${scenario}**`,
        "",
        "| part | CPU s | in the kernel | by thread | by package (or binary) | innermost frames |",
        "| --- | --- | --- | --- | --- | --- |",
      );
      for (const [part, p] of Object.entries(byPart).filter(([, p]) => p.cpuMs >= 100))
        lines.push(
          `| ${part} | ${fmt(Math.round(p.cpuMs / 100) / 10)} | ${fmt(p.kernelPercent)} % | ${shares(p.threads, 4) || "-"} | ${shares(p.topPackages, 8)} | ${shares(p.topFunctions, 6)} |`,
        );
    }
  }
  lines.push("", "![chart](./" + "CHART" + ")", "");
  return lines.join("\n");
}

interface Bar {
  label: string;
  value: number;
  baseline?: boolean;
}

/** The first `n` shares of a profile, for a table cell. */
function shares(list: Array<{ name: string; percent: number }> | undefined, n: number) {
  return (list ?? [])
    .slice(0, n)
    .map((x) => `${x.name.replaceAll("|", "\\|")} ${x.percent} %`)
    .join("; ");
}

/** Horizontal bars, product in blue and baselines in grey, one panel per unit. */
export function toSvg(panels: Array<{ title: string; unit: string; bars: Bar[] }>): string {
  const width = 720;
  const barHeight = 18;
  const labelWidth = 260;
  let y = 10;
  const parts: string[] = [];
  for (const panel of panels) {
    parts.push(
      `<text x="10" y="${y + 14}" font-weight="bold">${escapeXml(panel.title)} (${escapeXml(panel.unit)})</text>`,
    );
    y += 24;
    const max = Math.max(1, ...panel.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)));
    for (const bar of panel.bars) {
      const value = Number.isFinite(bar.value) ? bar.value : 0;
      const length = ((width - labelWidth - 90) * value) / max;
      parts.push(
        `<text x="10" y="${y + 13}">${escapeXml(bar.label)}</text>`,
        `<rect x="${labelWidth}" y="${y}" width="${length.toFixed(1)}" height="${barHeight - 4}" fill="${bar.baseline ? "#9e9e9e" : "#1e6fd9"}"/>`,
        `<text x="${(labelWidth + length + 6).toFixed(1)}" y="${y + 13}">${fmt(value)}</text>`,
      );
      y += barHeight;
    }
    y += 14;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" font-family="sans-serif" font-size="12">\n<title>Benchmark: product against baselines</title>\n<rect width="100%" height="100%" fill="white"/>\n${parts.join("\n")}\n</svg>\n`;
}

function escapeXml(text: string) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
