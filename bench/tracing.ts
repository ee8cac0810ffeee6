// `npm run bench:tracing` (or `-- --quick`, `--rounds N`, `--seconds S`): what OpenTelemetry tracing costs GetPolicy.
// Three built servers (as `npm start` runs them) on one database, in the same run: tracing off (no --otlp-endpoint),
// configured but not sampled (an endpoint, OTEL_TRACES_SAMPLER=parentbased_traceidratio with ratio 0: h2load sends no
// traceparent, so every call is a root the sampler drops), and sampled (always_on, every call exported to an OTLP/HTTP
// receiver in this process that reads and discards the export). h2load drives each in interleaved rounds on both ports
// (throughput drifts on a shared machine); the median requests/s of each and its ratio to tracing off are printed and
// written to docs/benchmarks.md. Target: not sampled ≥ 0.95 × off; sampled is reported.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { GetPolicyRequestSchema } from "../gen/policy/v1/policy_service_pb.js";
import { createPolicyClient } from "../src/client/index.js";
import { startBuiltServer, type BuiltServer } from "./built-server.js";
import { writeDocSection } from "./doc-section.js";
import { h2load, writeBody, type LoadOptions } from "./h2load.js";

const { values: flags } = parseArgs({
  options: { quick: { type: "boolean" }, rounds: { type: "string" }, seconds: { type: "string" }, "no-doc": { type: "boolean" } },
});
const quick = flags.quick ?? false;
const rounds = Number(flags.rounds ?? (quick ? 2 : 3));
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
}

const VARIANTS: Variant[] = [
  { name: "tracing off", flags: () => [], rps: { main: [], grpc: [] } },
  {
    name: "configured, not sampled",
    flags: (e) => ["--otlp-endpoint", e, "--traces-sampler", "parentbased_traceidratio", "--traces-sampler-arg", "0"],
    rps: { main: [], grpc: [] },
  },
  { name: "sampled (every call)", flags: (e) => ["--otlp-endpoint", e, "--traces-sampler", "always_on"], rps: { main: [], grpc: [] } },
];

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
      // A different order each round, so that no variant always runs first (or last) in a round.
      const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
      for (const v of order) {
        for (const port of ["grpc", "main"] as const) {
          const url = `${port === "grpc" ? v.server!.grpc : v.server!.main}/policy.v1.PolicyService/GetPolicy`;
          const result = await h2load(url, bodies.grpc, "grpc", load, join(dir, "h2load.log"));
          if (result.failed > 0) throw new Error(`${v.name} on the ${port} port: ${result.failed} calls failed`);
          v.rps[port].push(result.rps);
          if (v === VARIANTS[2]) sampledCalls += result.requests;
          console.log(`round ${round + 1}/${rounds}  ${v.name.padEnd(24)} ${port.padEnd(4)} port  ${fmt(result.rps)} req/s`);
        }
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

/** The median over rounds of a variant's requests/s over tracing off's in the same round (paired: drift cancels). */
function pairedRatio(v: Variant, port: "grpc" | "main"): number {
  const off = VARIANTS[0]!.rps[port];
  return median(v.rps[port].map((rps, round) => rps / off[round]!));
}

function report(spansPerCall: number, load1: number, seconds: number): void {
  const rows = (["grpc", "main"] as const).map((port) => {
    const cells = VARIANTS.map((v) => `${fmt(median(v.rps[port]))} (${pairedRatio(v, port).toFixed(2)})`);
    const spread = (v: Variant) => v.rps[port].map((rps, round) => (rps / VARIANTS[0]!.rps[port][round]!).toFixed(2)).join(", ");
    return { port, notSampled: pairedRatio(VARIANTS[1]!, port), sampled: pairedRatio(VARIANTS[2]!, port), cells, spread };
  });
  const met = rows.every((r) => r.notSampled >= TARGET);
  const body = [
    `\`npm run bench:tracing${quick ? " -- --quick" : ""}\` — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model.trim()}), load average ${load1.toFixed(2)} at start; ${rounds} interleaved rounds of ${load.seconds} s per variant and port (h2load, ${load.connections} connections × ${load.streams} streams, gRPC); ${seconds.toFixed(0)} s in all.`,
    "",
    "GetPolicy of an organization's policy (a cache hit), on three built servers sharing one database, measured in the same run: tracing off (no endpoint), configured but not sampled (`--traces-sampler parentbased_traceidratio --traces-sampler-arg 0`: the callers send no `traceparent`, every call is a root the sampler drops), and sampled (`always_on`: a server span and its child spans per call, exported over OTLP/HTTP to a receiver that discards them). Median requests/s, and in brackets the median over rounds of the ratio to tracing off on the same port in the same round (paired, so that the machine's drift between rounds cancels).",
    "",
    "| port | tracing off | configured, not sampled | sampled (every call) |",
    "| --- | ---: | ---: | ---: |",
    ...rows.map((r) => `| ${r.port === "grpc" ? "gRPC port (grpc-js)" : "main port (connect-node, gRPC)"} | ${r.cells.join(" | ")} |`),
    "",
    `- **target** configured but not sampled ≥ ${TARGET} × off: ${met ? "met" : "NOT met"} (${rows.map((r) => `${r.port} ${r.notSampled.toFixed(2)}`).join(", ")}); per round: ${rows.map((r) => `${r.port} ${r.spread(VARIANTS[1]!)}`).join("; ")}.`,
    `- **sampled:** ${rows.map((r) => `${r.port} ${r.sampled.toFixed(2)}`).join(", ")} of off (per round: ${rows.map((r) => `${r.port} ${r.spread(VARIANTS[2]!)}`).join("; ")}); ${spansPerCall.toFixed(2)} spans received per sampled call (the server span, the cache read, the freshness look when it ran; fewer than made when the batch processor's queue — OTEL_BSP_MAX_QUEUE_SIZE, 2,048 — was full and dropped spans).`,
    "- Off, no tracing code runs: no interceptor is installed and the store is not wrapped; what is left is one context lookup where a child span could start. Not sampled, a call pays the `traceparent` header lookup and the sampler's decision, and nothing else: no span object, no ids, no context switch (the decision is made before the SDK is asked for a span; asking it first cost ~2 µs a call). Sampled, a call pays its spans, Node's async hooks (AsyncLocalStorage carries the span through the call's awaits: on Node 20 every promise of a traced call is hooked) and the JSON export: sample a fraction of calls on a busy server.",
  ].join("\n");
  console.log(`\n${body}`);
  if (!flags["no-doc"]) writeDocSection("Tracing cost (OpenTelemetry)", body);
}

await main();
