// `npm run bench:tracing` (or `-- --quick`, `--rounds N`, `--seconds S`): what OpenTelemetry tracing costs GetPolicy.
// Four built servers (as `npm start` runs them) on one database, in the same run: tracing off (no --otlp-endpoint),
// configured but not sampled (an endpoint, OTEL_TRACES_SAMPLER=parentbased_traceidratio with ratio 0: h2load sends no
// traceparent, so every call is a root the sampler drops), 1% sampled, and sampled (always_on, every call exported to
// an OTLP/HTTP receiver in this process that reads and discards the export). In each round h2load drives all four at
// once on one port (so that the machine's other load weighs on them alike); requests/s and calls per CPU-second of
// each, with their paired ratios to tracing off, are printed and written to docs/benchmarks.md. Target: not sampled ≥
// 0.95 × off.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { GetPolicyRequestSchema } from "../gen/policy/v1/policy_service_pb.js";
import { createPolicyClient } from "../src/client/index.js";
import { cpuSecondsOfTree, startBuiltServer, type BuiltServer } from "./built-server.js";
import { writeDocSection } from "./doc-section.js";
import { h2load, writeBody, type LoadOptions } from "./h2load.js";

const { values: flags } = parseArgs({
  options: { quick: { type: "boolean" }, rounds: { type: "string" }, seconds: { type: "string" }, "no-doc": { type: "boolean" } },
});
const quick = flags.quick ?? false;
const rounds = Number(flags.rounds ?? (quick ? 2 : 6));
const load: LoadOptions = { connections: 4, streams: 32, seconds: Number(flags.seconds ?? (quick ? 2 : 4)), warmupSeconds: 1 };
const RESOURCE = "organizations/bench-tracing";
const TARGET = 0.95;

/** An OTLP/HTTP sink: answers every export, counts the bytes and the spans (by their span ids), keeps nothing. */
async function startSink(): Promise<{ endpoint: string; spans: () => number; close: () => void }> {
  let spans = 0;
  const server = http.createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (text += chunk));
    req.on("end", () => {
      spans += text.split('"spanId"').length - 1;
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans: () => spans,
    close: () => server.close(),
  };
}

interface Variant {
  name: string;
  flags: (endpoint: string) => string[];
  server?: BuiltServer;
  rps: { main: number[]; grpc: number[] };
  /** Calls per CPU-second of the server process (what the machine's other load does not change much). */
  perCpu: { main: number[]; grpc: number[] };
}

const VARIANTS: Variant[] = [
  { name: "tracing off", flags: () => [], rps: { main: [], grpc: [] }, perCpu: { main: [], grpc: [] } },
  {
    name: "configured, not sampled",
    flags: (e) => ["--otlp-endpoint", e, "--traces-sampler", "parentbased_traceidratio", "--traces-sampler-arg", "0"],
    rps: { main: [], grpc: [] },
    perCpu: { main: [], grpc: [] },
  },
  {
    name: "1% sampled",
    flags: (e) => ["--otlp-endpoint", e, "--traces-sampler", "parentbased_traceidratio", "--traces-sampler-arg", "0.01"],
    rps: { main: [], grpc: [] },
    perCpu: { main: [], grpc: [] },
  },
  { name: "sampled (every call)", flags: (e) => ["--otlp-endpoint", e, "--traces-sampler", "always_on"], rps: { main: [], grpc: [] }, perCpu: { main: [], grpc: [] } },
];

const SAMPLED = VARIANTS[3]!;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

async function main(): Promise<void> {
  const started = performance.now();
  const load1 = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), "policy-bench-tracing-"));
  const db = join(dir, "bench.db");
  const sink = await startSink();
  try {
    for (const v of VARIANTS) v.server = await startBuiltServer(["--port", "0", "--grpc-port", "0", "--db", db, ...v.flags(sink.endpoint)]);
    const client = createPolicyClient({ baseUrl: VARIANTS[0]!.server!.grpc });
    await client.resources.createResource({ resource: { name: RESOURCE } });
    await client.policies.setPolicy({
      resource: RESOURCE,
      policy: { bindings: [{ role: "roles/owner", members: ["user:owner@example.com", "group:admins"] }, { role: "roles/collaborator", members: ["domain:example.com"] }] },
    });
    client.close();
    // Every server answers before it is measured (a failing call must not count as a fast one).
    for (const v of VARIANTS) {
      const c = createPolicyClient({ baseUrl: v.server!.grpc });
      await c.policies.getPolicy({ resource: RESOURCE });
      c.close();
    }
    const bodies = { grpc: writeBody(dir, "get", GetPolicyRequestSchema, { resource: RESOURCE }, "grpc") };
    let sampledCalls = 0;
    const spansBefore = sink.spans();
    for (let round = 0; round < rounds; round++) {
      for (const port of ["grpc", "main"] as const) {
        // Every variant under load at once, for the same seconds: whatever else the machine runs meanwhile weighs on
        // them alike (measured one after another, they moved ±30% between runs from the machine's other load alone).
        const results = await Promise.all(
          VARIANTS.map(async (v, i) => {
            const pid = v.server!.process.pid!;
            const cpuBefore = cpuSecondsOfTree(pid);
            const url = `${port === "grpc" ? v.server!.grpc : v.server!.main}/policy.v1.PolicyService/GetPolicy`;
            const result = await h2load(url, bodies.grpc, "grpc", load, join(dir, `h2load-${i}.log`));
            return { result, cpu: cpuSecondsOfTree(pid) - cpuBefore };
          }),
        );
        VARIANTS.forEach((v, i) => {
          const { result, cpu } = results[i]!;
          if (result.failed > 0) throw new Error(`${v.name} on the ${port} port: ${result.failed} calls failed`);
          v.rps[port].push(result.rps);
          // The warm-up's calls and CPU are counted together: h2load reports the measured calls only.
          v.perCpu[port].push((result.requests * (1 + load.warmupSeconds / load.seconds)) / cpu);
          if (v === SAMPLED) sampledCalls += result.requests;
          console.log(`round ${round + 1}/${rounds}  ${v.name.padEnd(24)} ${port.padEnd(4)} port  ${fmt(result.rps)} req/s  ${fmt(v.perCpu[port].at(-1)!)} calls/CPU-s`);
        });
      }
    }
    // The sampled server exports what it still buffers when it stops.
    for (const v of VARIANTS) await v.server!.stop();
    const spansPerCall = (sink.spans() - spansBefore) / Math.max(1, sampledCalls);
    report(spansPerCall, load1, (performance.now() - started) / 1000);
  } finally {
    for (const v of VARIANTS) await v.server?.stop().catch(() => undefined);
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

type Port = "grpc" | "main";
type Measure = "rps" | "perCpu";

/** The median over rounds of a variant's figure over tracing off's in the same round (paired: drift cancels). */
function pairedRatio(v: Variant, port: Port, measure: Measure): number {
  const off = VARIANTS[0]![measure][port];
  return median(v[measure][port].map((x, round) => x / off[round]!));
}

const PORT_NAMES: Record<Port, string> = { grpc: "gRPC port (grpc-js)", main: "main port (connect-node, gRPC)" };

function report(spansPerCall: number, load1: number, seconds: number): void {
  const NOT_SAMPLED = VARIANTS[1]!;
  const table = (measure: Measure, unit: string) => [
    `| ${unit} | ${VARIANTS.map((v) => v.name).join(" | ")} |`,
    `| --- | ${VARIANTS.map(() => "---:").join(" | ")} |`,
    ...(["grpc", "main"] as const).map(
      (port) => `| ${PORT_NAMES[port]} | ${VARIANTS.map((v) => `${fmt(median(v[measure][port]))} (${pairedRatio(v, port, measure).toFixed(2)})`).join(" | ")} |`,
    ),
  ];
  const ratios = (v: Variant, measure: Measure) => (["grpc", "main"] as const).map((p) => `${p} ${pairedRatio(v, p, measure).toFixed(2)}`).join(", ");
  const perRound = (v: Variant) =>
    (["grpc", "main"] as const).map((p) => `${p} ${v.rps[p].map((x, r) => (x / VARIANTS[0]!.rps[p][r]!).toFixed(2)).join(", ")}`).join("; ");
  const met = (["grpc", "main"] as const).every((p) => pairedRatio(NOT_SAMPLED, p, "rps") >= TARGET || pairedRatio(NOT_SAMPLED, p, "perCpu") >= TARGET);
  const body = [
    `\`npm run bench:tracing${quick ? " -- --quick" : ""}\` — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model.trim()}), load average ${load1.toFixed(2)} at start (the machine shared with other work); ${rounds} rounds of ${load.seconds} s per port, the four servers at once (h2load each, ${load.connections} connections × ${load.streams} streams, gRPC); ${seconds.toFixed(0)} s in all.`,
    "",
    "GetPolicy of an organization's policy (a cache hit), on four built servers sharing one database, measured in the same run: tracing off (no endpoint); configured but not sampled (`--traces-sampler parentbased_traceidratio --traces-sampler-arg 0`: the callers send no `traceparent`, every call is a root the sampler drops); 1% sampled (the same with `0.01`); sampled (`always_on`: a server span and its child spans for every call, exported over OTLP/HTTP to a receiver in the benchmark that discards them). In each round the four servers are loaded at the same time, on one port, so that the machine's other work weighs on them alike. Median over rounds, and in brackets the median of the ratio to tracing off in the same round.",
    "",
    "Requests/s:",
    "",
    ...table("rps", "port"),
    "",
    "Calls per CPU-second of the server process (the cost of a call, less sensitive than throughput to what else the machine runs):",
    "",
    ...table("perCpu", "port"),
    "",
    `- **target** configured but not sampled ≥ ${TARGET} × off: ${met ? "met" : "NOT met"} — requests/s ${ratios(NOT_SAMPLED, "rps")}; calls per CPU-second ${ratios(NOT_SAMPLED, "perCpu")}; requests/s per round: ${perRound(NOT_SAMPLED)}.`,
    `- **1% sampled:** requests/s ${ratios(VARIANTS[2]!, "rps")}; calls per CPU-second ${ratios(VARIANTS[2]!, "perCpu")} of off.`,
    `- **sampled (every call):** requests/s ${ratios(SAMPLED, "rps")}; calls per CPU-second ${ratios(SAMPLED, "perCpu")} of off; ${spansPerCall.toFixed(2)} spans received per sampled call (the server span, the cache read, the freshness look when it ran; fewer than made when the batch processor's queue — OTEL_BSP_MAX_QUEUE_SIZE, 2,048 — was full and dropped spans).`,
    "- Off, no tracing code runs: no interceptor, no store wrapper, the SDK not loaded; what is left is one context lookup where a child span could start. Not sampled, a call pays the `traceparent` header lookup and the sampler's decision: no span object, no ids, no context (the decision comes before the SDK is asked for a span — asking it first cost ~2 µs a call — and entering no context keeps AsyncLocalStorage switched off). Sampled, a call pays its spans, the JSON export, and Node 20's async hooks: once a first call is sampled, AsyncLocalStorage (which carries the span through the call's awaits) hooks every promise of the process, sampled or not, which is most of what the 1% column costs.",
  ].join("\n");
  console.log(`\n${body}`);
  if (!flags["no-doc"]) writeDocSection("Tracing cost (OpenTelemetry)", body);
}

await main();
