// `node --import tsx bench/profile.ts [--seconds 5] [--rpcs noop,GetPolicy,...]`: the server under `node --cpu-prof`
// (default flags, 1k resources), one server process per RPC driven by h2load on the gRPC port, and each profile's top
// frames by self time, grouped the way docs/benchmarks.md reports them, and a flame graph of each (an SVG beside the
// .cpuprofile, bench/flamegraph.ts). The .cpuprofile files are kept (Chrome DevTools and speedscope open them too).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { HealthCheckRequestSchema } from "../gen/health/v1/health_pb.js";
import {
  GetPolicyRequestSchema,
  ListPoliciesRequestSchema,
  LookupEffectivePolicyRequestSchema,
} from "../gen/policy/v1/policy_service_pb.js";
import { generateDataset } from "./dataset.js";
import { startBuiltServer } from "./built-server.js";
import { flameGraphSvg, type CpuProfile } from "./flamegraph.js";
import { h2load, writeBody } from "./h2load.js";
import { PROFILE_PARTS } from "./profile-parts.js";

const { values: flags } = parseArgs({
  options: { seconds: { type: "string" }, rpcs: { type: "string" }, out: { type: "string" }, summarize: { type: "string" } },
});
const seconds = Number(flags.seconds ?? 5);
const dir = mkdtempSync(join(tmpdir(), "policy-profile-"));
const out = flags.out ?? join(dir, "profiles");
mkdirSync(out, { recursive: true });
const db = join(dir, "bench.db");
const data = generateDataset(db, 1000);

const RPCS = {
  noop: ["/grpc.health.v1.Health/Check", writeBody(dir, "noop", HealthCheckRequestSchema, { service: "policy.v1.PolicyService" }, "grpc")],
  GetPolicy: ["/policy.v1.PolicyService/GetPolicy", writeBody(dir, "get", GetPolicyRequestSchema, { resource: data.targets.depth1 }, "grpc")],
  LookupEffectivePolicy3: [
    "/policy.v1.PolicyService/LookupEffectivePolicy",
    writeBody(dir, "lookup", LookupEffectivePolicyRequestSchema, { resource: data.targets.depth3 }, "grpc"),
  ],
  ListPolicies50: [
    "/policy.v1.PolicyService/ListPolicies",
    writeBody(dir, "list", ListPoliciesRequestSchema, { resourceType: "project", parent: data.listParent, pageSize: 50 }, "grpc"),
  ],
} as const;

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}

/** Self-time share per frame (function, file:line), the top `n`. */
function topFrames(file: string, n: number): string[] {
  const profile = JSON.parse(readFileSync(file, "utf8")) as { nodes: Node[] };
  const total = profile.nodes.reduce((sum, node) => sum + node.hitCount, 0);
  const byFrame = new Map<string, number>();
  for (const { callFrame: f, hitCount } of profile.nodes) {
    const where = f.url ? `${f.url.replace(/^.*\/(node_modules|src)\//, "$1/")}:${f.lineNumber + 1}` : "";
    const key = `${f.functionName || "(anonymous)"} ${where}`.trim();
    byFrame.set(key, (byFrame.get(key) ?? 0) + hitCount);
  }
  return [...byFrame]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([frame, hits]) => `${((hits / total) * 100).toFixed(1).padStart(5)}%  ${frame}`);
}

// Where a sample's time goes: the first of these (in this order) that any frame of its stack belongs to.
const BUCKETS = PROFILE_PARTS.map((p): [bucket: string, test: (url: string) => boolean] => [p.name, p.test]);

/** Shares of the busy (non-idle) samples by bucket. */
function buckets(file: string): string[] {
  const profile = JSON.parse(readFileSync(file, "utf8")) as { nodes: Node[] };
  const parent = new Map<number, Node>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node);
  const sums = new Map<string, number>();
  let busy = 0;
  for (const node of profile.nodes) {
    if (node.hitCount === 0 || node.callFrame.functionName === "(idle)") continue;
    busy += node.hitCount;
    let bucket = ["(garbage collector)", "(program)"].includes(node.callFrame.functionName) ? node.callFrame.functionName : "";
    const stack: Node[] = [];
    for (let at: Node | undefined = node; at; at = parent.get(at.id)) stack.push(at);
    bucket ||= BUCKETS.find(([, test]) => stack.some((f) => test(f.callFrame.url)))?.[0] ?? "";
    bucket ||= "other (native, startup)";
    sums.set(bucket, (sums.get(bucket) ?? 0) + node.hitCount);
  }
  return [...sums].sort((a, b) => b[1] - a[1]).map(([b, hits]) => `${((hits / busy) * 100).toFixed(1).padStart(5)}%  ${b}`);
}

/** The main thread's profile: the largest (under tsx, the others are its loader thread). */
function largestProfile(dir: string): string[] {
  const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  return files.sort((a, b) => statSync(join(dir, b)).size - statSync(join(dir, a)).size).slice(0, 1);
}

/** The profile's report on stdout, and its flame graph beside it (`{file}.svg`). */
function report(file: string, title: string): void {
  const svg = `${file}.svg`;
  writeFileSync(svg, flameGraphSvg(JSON.parse(readFileSync(file, "utf8")) as CpuProfile, { title, subtitle: "(idle) left out; hover a frame for its samples" }));
  console.log(`flame graph: ${svg}`);
  console.log("busy time by part:");
  for (const line of buckets(file)) console.log(line);
  console.log("top frames by self time:");
  for (const line of topFrames(file, 20)) console.log(line);
}

// `--summarize DIR`: the report of profiles taken before (DIR/<rpc>/*.cpuprofile), without running anything.
if (flags.summarize) {
  for (const name of readdirSync(flags.summarize)) {
    const sub = join(flags.summarize, name);
    for (const f of largestProfile(sub)) {
      console.log(`\n## ${name}: ${join(sub, f)}`);
      report(join(sub, f), `${name} (the server on the gRPC port, default flags)`);
    }
  }
  process.exit(0);
}

for (const name of (flags.rpcs ?? Object.keys(RPCS).join(",")).split(",") as (keyof typeof RPCS)[]) {
  const [path, body] = RPCS[name];
  const profileDir = join(out, name);
  const server = await startBuiltServer(
    ["--port", "0", "--grpc-port", "0", "--db", db, "--schema", "bench/schema.yaml"],
    ["--cpu-prof", "--cpu-prof-dir", profileDir],
  );
  const result = await h2load(`${server.grpc}${path}`, body, "grpc", { connections: 4, streams: 32, seconds, warmupSeconds: 1 }, join(dir, `${name}.log`));
  await server.stop();
  const file = join(profileDir, largestProfile(profileDir)[0]!);
  console.log(`\n## ${name}: ${result.rps.toFixed(0)} req/s under the profiler, ${result.failed} failed; ${file}`);
  report(file, `${name}: ${result.rps.toFixed(0)} req/s under the profiler (the server on the gRPC port, default flags)`);
}
