// `npm run bench` (or `npm run bench -- --quick`): starts the server on fresh generated databases, drives each RPC with
// h2load on both ports, and prints requests/s, p50/p99 latency, server RSS and the ratio to the no-op RPC (health
// Check) on the same port in the same run; also SQLite's durable-commit ceiling on this machine, and how read costs
// grow from 1k to 100k to 1M resources. Results go to stdout and docs/benchmarks.md.
// The server starts as a user starts it: `npm start`'s compiled dist/ (bench/built-server.ts), default flags, so the
// call log at info level. Issue 20's ratios — our
// gRPC port against a bare grpc-js no-op — are measured in interleaved rounds (the baseline, then our four RPCs, per
// round; `--rounds N`), because on a shared machine throughput drifts between rows; `--ratios` runs only those.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { HealthCheckRequestSchema } from "../gen/health/v1/health_pb.js";
import { AccessService, CheckAccessRequestSchema } from "../gen/policy/v1/access_service_pb.js";
import {
  GetPolicyRequestSchema,
  ListPoliciesRequestSchema,
  LookupEffectivePolicyRequestSchema,
  PolicyService,
  SetPolicyRequestSchema,
} from "../gen/policy/v1/policy_service_pb.js";
import { generateDataset, type Dataset } from "./dataset.js";
import { h2load, writeBody, type LoadOptions, type LoadResult, type Protocol } from "./h2load.js";
import { cpuSecondsOfTree, rssMbOfTree, startBuiltServer } from "./built-server.js";
import { durableCommitCeiling } from "./commit-ceiling.js";
import { postgresBench } from "./postgres.js";

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean" },
    sizes: { type: "string" },
    workers: { type: "string" },
    rounds: { type: "string" },
    ratios: { type: "boolean" },
    seconds: { type: "string" },
    db: { type: "string" },
  },
});
const quick = flags.quick ?? false;
/** --db postgres://…: the PostgreSQL rows (bench/postgres.ts) instead of SQLite's; the URL names a database to create others from. */
const postgresUrl = flags.db;
const sizes = (flags.sizes ?? (quick ? "1000" : postgresUrl ? "1000,100000" : "1000,100000,1000000")).split(",").map(Number);
const load: LoadOptions = { connections: 4, streams: 32, seconds: Number(flags.seconds ?? (quick ? 2 : 4)), warmupSeconds: 1 };
const rounds = Number(flags.rounds ?? 4);
const ratiosOnly = flags.ratios ?? false;
const workers = Number(flags.workers ?? 0);
const dir = mkdtempSync(join(tmpdir(), "policy-bench-"));

export interface Rpc {
  name: string;
  path: string;
  body: (protocol: Protocol) => string;
  /** Calls it once with a real client, so that a failing call is not measured as a fast one. */
  verify?: (baseUrl: string) => Promise<unknown>;
}

function rpcs(data: Dataset): Rpc[] {
  const t = data.targets;
  const body = <T extends Parameters<typeof writeBody>[2]>(name: string, schema: T, init: Parameters<typeof writeBody<T>>[3]) =>
    (protocol: Protocol) => writeBody(dir, name, schema, init, protocol);
  const policy = (u: string) => createClient(PolicyService, createGrpcTransport({ baseUrl: u }));
  const checkRequest = {
    resource: t.depth10,
    principals: ["user:nobody@example.com", "group:g3"],
    permissions: ["projects.get", "projects.delete"],
  };
  return [
    // A named service, so that the Connect body is not empty (h2load cannot send an empty file).
    { name: "noop (health Check)", path: "/grpc.health.v1.Health/Check", body: body("noop", HealthCheckRequestSchema, { service: "policy.v1.PolicyService" }) },
    {
      name: "GetPolicy",
      path: "/policy.v1.PolicyService/GetPolicy",
      body: body("get", GetPolicyRequestSchema, { resource: t.depth1 }),
      verify: (u) => policy(u).getPolicy({ resource: t.depth1 }),
    },
    ...(["depth1", "depth3", "depth4", "depth10"] as const).map((depth) => ({
      name: `LookupEffectivePolicy ${depth.replace("depth", "depth ")}`,
      path: "/policy.v1.PolicyService/LookupEffectivePolicy",
      body: body(`lookup-${depth}`, LookupEffectivePolicyRequestSchema, { resource: t[depth] }),
      verify: (u: string) => policy(u).lookupEffectivePolicy({ resource: t[depth] }),
    })),
    {
      name: "CheckAccess depth 10",
      path: "/policy.v1.AccessService/CheckAccess",
      body: body("check", CheckAccessRequestSchema, checkRequest),
      verify: (u) => createClient(AccessService, createGrpcTransport({ baseUrl: u })).checkAccess(checkRequest),
    },
    {
      name: "ListPolicies page of 50",
      path: "/policy.v1.PolicyService/ListPolicies",
      body: body("list", ListPoliciesRequestSchema, { resourceType: "project", parent: data.listParent, pageSize: 50 }),
      verify: (u) => policy(u).listPolicies({ resourceType: "project", parent: data.listParent, pageSize: 50 }),
    },
    {
      name: "SetPolicy (durable write)",
      path: "/policy.v1.PolicyService/SetPolicy",
      body: body("set", SetPolicyRequestSchema, {
        resource: t.depth10,
        policy: { bindings: [{ role: "roles/viewer", members: ["user:bench@example.com", "group:g1"] }] },
      }),
      verify: (u) =>
        policy(u).setPolicy({ resource: t.depth10, policy: { bindings: [{ role: "roles/viewer", members: ["user:bench@example.com"] }] } }),
    },
  ];
}

export interface Server {
  process: ChildProcess;
  main: string;
  grpc: string;
  rssMb(): number;
}

async function startServer(db: string, extra: string[] = []): Promise<Server> {
  // Default flags otherwise: the call log at info level is part of what a user's server pays per call.
  const args = ["--port", "0", "--grpc-port", "0", "--db", db, "--schema", "bench/schema.yaml", ...extra];
  if (workers > 0) args.push("--workers", String(workers));
  const server = await startBuiltServer(args);
  return { process: server.process, main: server.main, grpc: server.grpc, rssMb: () => rssMbOfTree(server.process.pid!) };
}

/** A bare grpc-js server answering the no-op (a canned response, no service code): the floor any Node gRPC service stands on. */
async function startBaseline(): Promise<{ url: string; pid: number; stop: () => void }> {
  const child = spawn(process.execPath, ["bench/grpc-js-baseline.mjs"], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<string>((resolve) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      const match = /baseline listening on (\d+)/.exec(chunk.toString());
      if (match) resolve(match[1]!);
    });
  });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => child.kill("SIGTERM") };
}

async function loadNoop(url: string, seconds = load.seconds): Promise<LoadResult> {
  const body = writeBody(dir, "baseline", HealthCheckRequestSchema, { service: "policy.v1.PolicyService" }, "grpc");
  const log = join(dir, `baseline-${Date.now()}.log`);
  try {
    return await h2load(`${url}/grpc.health.v1.Health/Check`, body, "grpc", { ...load, seconds }, log);
  } finally {
    rmSync(log, { force: true });
  }
}

async function measureBaseline(): Promise<LoadResult> {
  const baseline = await startBaseline();
  try {
    return await loadNoop(baseline.url);
  } finally {
    baseline.stop();
  }
}

/** Issue 20's rows and targets: our gRPC port's throughput as a share of the bare grpc-js no-op's, same run. */
const RATIO_TARGETS: [rpc: string, target: number][] = [
  ["noop (health Check)", 0.85],
  ["GetPolicy", 0.75],
  ["LookupEffectivePolicy depth 3", 0.65],
  ["ListPolicies page of 50", 0.3],
];

interface RatioRound {
  baselineRps: number;
  /** Throughput as a share of the bare no-op's. */
  shares: Map<string, number>;
  /**
   * The bare no-op's server CPU time per call over ours: what the throughput share would be if each server had the
   * cores to itself. Other processes' load on a shared machine moves throughput far more than CPU per call.
   */
  cpuShares: Map<string, number>;
}

/** Runs `drive` and returns its result with the CPU seconds the process `pid` used per measured call meanwhile. */
async function withCpu(pid: number, drive: () => Promise<LoadResult>): Promise<[LoadResult, number]> {
  const before = cpuSecondsOfTree(pid);
  const result = await drive();
  // h2load counts the calls after its warm-up, while the CPU time includes it: the same bias on both sides of a share.
  return [result, (cpuSecondsOfTree(pid) - before) / result.requests];
}

/**
 * Interleaved rounds: the bare grpc-js no-op, then each of our RPCs on the gRPC port (in a rotated order), so that
 * every share compares two measurements taken seconds apart under the same background load.
 */
async function measureRatios(server: Server, list: Rpc[]): Promise<RatioRound[]> {
  const baseline = await startBaseline();
  try {
    await loadNoop(baseline.url, 2);
    const rpcsByName = new Map(list.map((r) => [r.name, r]));
    // Warms our server's JIT on each measured path, and checks each call once with a real client.
    for (const [name] of RATIO_TARGETS) {
      const rpc = rpcsByName.get(name)!;
      await rpc.verify?.(server.grpc);
      const log = join(dir, `ratio-warm-${Date.now()}.log`);
      await h2load(`${server.grpc}${rpc.path}`, rpc.body("grpc"), "grpc", { ...load, seconds: 1 }, log);
      rmSync(log, { force: true });
    }
    const result: RatioRound[] = [];
    for (let round = 0; round < rounds; round++) {
      const [base, baseCpu] = await withCpu(baseline.pid, () => loadNoop(baseline.url));
      const shares = new Map<string, number>();
      const cpuShares = new Map<string, number>();
      // Rotated each round: the first RPC after the baseline meets a server idle for seconds (its heap shrunk), so
      // that place must not always fall to the same one.
      const order = RATIO_TARGETS.map((_, i) => RATIO_TARGETS[(i + round) % RATIO_TARGETS.length]!);
      for (const [name] of order) {
        const rpc = rpcsByName.get(name)!;
        const log = join(dir, `ratio-${round}-${Date.now()}.log`);
        const [r, cpu] = await withCpu(server.process.pid!, () => h2load(`${server.grpc}${rpc.path}`, rpc.body("grpc"), "grpc", load, log));
        rmSync(log, { force: true });
        if (r.failed > 0) throw new Error(`${name}: ${r.failed} calls failed`);
        shares.set(name, r.rps / base.rps);
        cpuShares.set(name, baseCpu / cpu);
      }
      const shown = (m: Map<string, number>) => [...m].map(([n, v]) => `${n} ${v.toFixed(2)}`).join(", ");
      console.log(`ratio round ${round + 1}: bare grpc-js ${base.rps.toFixed(0)} req/s, ${(baseCpu * 1e6).toFixed(0)} µs CPU per call; throughput: ${shown(shares)}; CPU per call: ${shown(cpuShares)}`);
      result.push({ baselineRps: base.rps, shares, cpuShares });
    }
    return result;
  } finally {
    baseline.stop();
  }
}

function ratioTable(result: RatioRound[]): string {
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const verdict = (xs: number[], target: number) => (Math.min(...xs) >= target ? "met" : Math.max(...xs) < target ? "not met" : "within the spread");
  const lines = RATIO_TARGETS.map(([name, target]) => {
    const shares = result.map((r) => r.shares.get(name)!);
    const cpu = result.map((r) => r.cpuShares.get(name)!);
    const list = (xs: number[]) => xs.map((v) => v.toFixed(2)).join(", ");
    return `| ${name} | ≥ ${target.toFixed(2)} | ${list(shares)} | ${median(shares).toFixed(2)} | ${verdict(shares, target)} | ${list(cpu)} | ${median(cpu).toFixed(2)} |`;
  });
  return [
    `Share of the bare grpc-js no-op, gRPC port, ${workers ? `--workers ${workers}` : "one process"}, default flags; ${result.length} interleaved rounds (bare grpc-js: ${result.map((r) => r.baselineRps.toFixed(0)).join(", ")} req/s). ` +
      "Throughput share as the issue defines it; CPU-per-call share = the bare server's CPU time per call over ours (robust to other load on the machine).",
    "",
    "| RPC | target | share per round | median | verdict | CPU-per-call share per round | median |",
    "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ...lines,
  ].join("\n");
}

async function stop(server: Server): Promise<void> {
  const exited = new Promise((resolve) => server.process.once("exit", resolve));
  server.process.kill("SIGTERM");
  await exited;
}

export interface Row {
  size: number;
  port: string;
  rpc: string;
  result: LoadResult;
  ratio: number;
  rssMb: number;
}

async function measure(server: Server, size: number, list: Rpc[], targets: { port: string; url: string; protocol: Protocol }[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const target of targets) {
    let noop = NaN;
    // Warms the JIT up on the shared path (transport, interceptors) first, so the no-op row is not measured cold.
    const warm = list[0]!;
    const warmLog = join(dir, `h2load-warm-${Date.now()}.log`);
    await h2load(`${target.url}${warm.path}`, warm.body(target.protocol), target.protocol, { ...load, seconds: 2 }, warmLog);
    rmSync(warmLog, { force: true });
    for (const rpc of list) {
      if (rpc.verify) await rpc.verify(target.protocol === "grpc" ? target.url : server.grpc);
      // A fresh log per run: h2load appends to an existing one.
      const log = join(dir, `h2load-${rows.length}-${Date.now()}.log`);
      const result = await h2load(`${target.url}${rpc.path}`, rpc.body(target.protocol), target.protocol, load, log);
      rmSync(log, { force: true });
      if (rpc.path.endsWith("Health/Check")) noop = result.rps;
      const row = { size, port: target.port, rpc: rpc.name, result, ratio: result.rps / noop, rssMb: server.rssMb() };
      rows.push(row);
      console.log(format(row));
    }
  }
  return rows;
}

function format(r: Row): string {
  const f = (n: number, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
  return `| ${f(r.size)} | ${r.port} | ${r.rpc} | ${f(r.result.rps)} | ${f(r.result.p50ms, 2)} | ${f(r.result.p99ms, 2)} | ${f(r.ratio * 100)}% | ${f(r.rssMb)} | ${r.result.failed} |`;
}

const HEADER = "| resources | port | RPC | req/s | p50 ms | p99 ms | vs no-op | RSS MB | failed |\n| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |";

/** `--ratios`: only issue 20's interleaved rounds, on the smallest dataset. */
async function ratiosMain(): Promise<void> {
  const db = join(dir, `bench-${sizes[0]}.db`);
  const data = generateDataset(db, sizes[0]!);
  const server = await startServer(db);
  try {
    const table = ratioTable(await measureRatios(server, rpcs(data)));
    console.log(`\n${table}`);
  } finally {
    await stop(server);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const ceiling = durableCommitCeiling(join(dir, "ceiling.db"), quick ? 300 : 2000);
  console.log(`durable-commit ceiling (SQLite WAL, synchronous=FULL, one row per transaction): ${ceiling.toFixed(0)} commits/s`);
  const baseline = await measureBaseline();
  console.log(`bare grpc-js no-op: ${baseline.rps.toFixed(0)} req/s (p50 ${baseline.p50ms.toFixed(2)} ms, p99 ${baseline.p99ms.toFixed(2)} ms)`);
  console.log(HEADER);
  const rows: Row[] = [];
  const datasets: string[] = [];
  let ratios = "";
  for (const [i, size] of sizes.entries()) {
    const db = join(dir, `bench-${size}.db`);
    const data = generateDataset(db, size);
    datasets.push(`${data.resources.toLocaleString("en-US")} resources, ${data.policies.toLocaleString("en-US")} policies generated in ${data.seconds.toFixed(1)} s`);
    const server = await startServer(db);
    try {
      // Both ports and every RPC on the first (smallest) database; the larger ones show how the reads grow.
      const all = rpcs(data);
      // Before the writes of the SetPolicy rows, on a freshly started server as a user runs it.
      if (i === 0) ratios = ratioTable(await measureRatios(server, all));
      const list = i === 0 ? all : all.filter((r) => !r.name.startsWith("SetPolicy"));
      const targets: { port: string; url: string; protocol: Protocol }[] = [{ port: "gRPC (grpc-js)", url: server.grpc, protocol: "grpc" }];
      if (i === 0) {
        targets.push({ port: "main, gRPC", url: server.main, protocol: "grpc" });
        targets.push({ port: "main, Connect", url: server.main, protocol: "connect" });
      }
      rows.push(...(await measure(server, data.resources, list, targets)));
    } finally {
      await stop(server);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  const writes = rows.filter((r) => r.rpc.startsWith("SetPolicy"));
  const grpcNoop = rows.find((r) => r.port.startsWith("gRPC") && r.rpc.startsWith("noop"))!.result.rps;
  const vsBaseline = rows
    .filter((r) => r.size === rows[0]!.size && r.port.startsWith("gRPC"))
    .map((r) => `${r.rpc}: ${((r.result.rps / baseline.rps) * 100).toFixed(0)}%`);
  const summary = [
    `bare grpc-js no-op (a canned response, no service code): ${baseline.rps.toFixed(0)} req/s; our no-op on the gRPC port is ${((grpcNoop / baseline.rps) * 100).toFixed(0)}% of it`,
    `gRPC port as a share of the bare grpc-js no-op — ${vsBaseline.join("; ")}`,
    `durable-commit ceiling: ${ceiling.toFixed(0)} commits/s`,
    ...writes.map((w) => `SetPolicy on ${w.port}: ${w.result.rps.toFixed(0)} req/s = ${((w.result.rps / ceiling) * 100).toFixed(0)}% of the ceiling`),
  ];
  console.log(summary.join("\n"));
  console.log(`\n${ratios}`);
  writeReport(rows, summary, ratios, datasets, (Date.now() - started) / 1000);
}

function writeReport(rows: Row[], summary: string[], ratios: string, datasets: string[], seconds: number): void {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const report = `# Benchmarks

Generated by \`npm run bench${quick ? " -- --quick" : ""}\`${workers ? ` with --workers ${workers}` : ""} on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ${seconds.toFixed(0)} s in all.
Load: h2load, ${load.connections} connections x ${load.streams} streams, ${load.seconds} s per row after ${load.warmupSeconds} s warm-up, loopback; the server runs as \`npm start\` runs it (dist/, default flags: call log at info, successful reads at debug).
"vs no-op" is the RPC's throughput as a share of \`grpc.health.v1.Health/Check\` on the same port in the same run.

Datasets: ${datasets.join("; ")}.

${HEADER}
${rows.map(format).join("\n")}

${summary.map((s) => `- ${s}`).join("\n")}

${ratios}
`;
  const file = quick ? "docs/benchmarks-quick.md" : "docs/benchmarks.md";
  // Only the generated head, up to the first `## ` section, is replaced: the sections after it are other benchmarks'
  // (the PostgreSQL one included) and the notes on these runs.
  const existing = existsSync(file) ? readFileSync(file, "utf8") : "";
  const sections = existing.indexOf("\n## ");
  writeFileSync(file, sections >= 0 ? `${report.trimEnd()}\n${existing.slice(sections)}` : report);
  console.log(`written to ${file}`);
}

if (postgresUrl) {
  await postgresBench({ url: postgresUrl, sizes, quick, load, dir, rpcs, startServer, stop, measure, format, header: HEADER });
  rmSync(dir, { recursive: true, force: true });
} else {
  await (ratiosOnly ? ratiosMain() : main());
}
