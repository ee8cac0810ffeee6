// `npm run bench:import [-- --resources N] [--db postgres://…]`: bulk import through ResourceService.ImportResources
// into the built server (as `npm start` runs it) on a fresh database: N resources (organizations, clouds, projects:
// 100 projects a cloud) and a policy (two bindings) on every other one, in requests of 10,000 items, a few in flight.
// Reports the time, the rates, and the server's peak RSS (sampled every 250 ms); the section "Bulk import" of
// docs/benchmarks.md gets the numbers.
import { randomBytes } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { createPolicyClient } from "../src/client/index.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ImportItemSchema } from "../gen/policy/v1/resource_service_pb.js";
import { tempDir, removeDir } from "../test/helpers/temp-dir.js";
import { cpuSecondsOfTree, rssMbOfTree, startBuiltServer } from "./built-server.js";
import { writeDocSection } from "./doc-section.js";

const { values: flags } = parseArgs({
  options: {
    resources: { type: "string" },
    db: { type: "string" },
    batch: { type: "string" },
    inflight: { type: "string" },
    doc: { type: "boolean" },
    /** Also create this many resources (and every other one's policy) one call at a time, 32 at once: the baseline. */
    baseline: { type: "string" },
    /** Writes a CPU profile of the server into this directory. */
    "cpu-prof": { type: "string" },
  },
});
const total = Number(flags.resources ?? 1_000_000);
const batch = Number(flags.batch ?? 10_000);
const inflight = Number(flags.inflight ?? 3);
const PROJECTS_PER_CLOUD = 100;
type Item = MessageInitShape<typeof ImportItemSchema>;
const CLOUDS_PER_ORG = 1_000;

/** The estate, in order: every organization and cloud first (parents), then the projects. */
function* items(): Generator<Item> {
  const clouds = Math.max(1, Math.floor(total / (PROJECTS_PER_CLOUD + 1)));
  const orgs = Math.max(1, Math.ceil(clouds / CLOUDS_PER_ORG));
  let n = 0;
  const policy = (i: number) =>
    i % 2 === 0
      ? { bindings: [{ role: "roles/collaborator", members: [`user:owner${i % 997}@example.com`] }, { role: "roles/collaborator", members: [`group:team${i % 101}`] }] }
      : undefined;
  for (let o = 0; o < orgs && n < total; o++, n++) yield { resource: { name: `organizations/o${o}` }, policy: policy(n) };
  for (let c = 0; c < clouds && n < total; c++, n++) yield { resource: { name: `clouds/c${c}`, parent: `organizations/o${c % orgs}` }, policy: policy(n) };
  for (let p = 0; n < total; p++, n++) yield { resource: { name: `projects/p${p}`, parent: `clouds/c${p % clouds}` }, policy: policy(n) };
}

const dir = tempDir("policy-bench-import-");
let pgName: string | undefined;
let db = join(dir, "import.db");
if (flags.db) {
  pgName = `policy_bench_import_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: flags.db });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${pgName}`);
  await admin.end();
  const url = new URL(flags.db);
  url.pathname = `/${pgName}`;
  db = url.toString();
}
const profile = flags["cpu-prof"] ? ["--cpu-prof", "--cpu-prof-dir", flags["cpu-prof"]] : [];
const server = await startBuiltServer(["--port", "0", "--grpc-port", "0", "--db", db, "--log-level", "warn"], profile);
const client = createPolicyClient({ baseUrl: server.grpc, protocol: "grpc" });
let peakRss = rssMbOfTree(server.process.pid!);
const rssAtStart = peakRss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMbOfTree(server.process.pid!))), 250);
const load = loadavg()[0]!;
const cpuAtStart = cpuSecondsOfTree(server.process.pid!);
let cpu = 0;
let seconds = 0;
let baseline: { seconds: number; cpu: number; count: number } | undefined;

/** The same kind of estate through CreateResource and SetPolicy, one resource per call, 32 calls at once. */
async function singleWrites(count: number): Promise<{ seconds: number; cpu: number; count: number }> {
  const cpuBefore = cpuSecondsOfTree(server.process.pid!);
  const began = performance.now();
  const org = `organizations/single${randomBytes(3).toString("hex")}`;
  await client.resources.createResource({ resource: { name: org } });
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (let i = next++; i < count; i = next++) {
        const name = `clouds/single${i}-${org.slice(-6)}`;
        await client.resources.createResource({ resource: { name, parent: org } });
        if (i % 2 === 0) await client.policies.setPolicy({ resource: name, policy: { bindings: [{ role: "roles/collaborator", members: [`group:team${i % 101}`] }] } });
      }
    }),
  );
  return { seconds: (performance.now() - began) / 1000, cpu: cpuSecondsOfTree(server.process.pid!) - cpuBefore, count };
}

let imported = 0;
let policies = 0;
let errors = 0;
const started = performance.now();
try {
  const all = items();
  const next = (): Item[] => {
    const chunk: Item[] = [];
    for (let r = all.next(); !r.done; r = all.next()) {
      chunk.push(r.value);
      if (chunk.length === batch) break;
    }
    return chunk;
  };
  // Parents first, one request at a time until the projects (whose parents are then all committed) begin.
  let chunk = next();
  const send = async (c: Item[]) => {
    const response = await client.resources.importResources({ items: c });
    imported += response.imported;
    policies += c.filter((i) => i.policy).length;
    errors += response.errors.length;
    if (response.errors.length > 0 && errors <= response.errors.length) console.error("first errors:", response.errors.slice(0, 2).map((e) => `${c[e.index]?.resource?.name}: ${e.message}`));
  };
  while (chunk.length > 0 && !chunk.every((i) => i.resource!.name!.startsWith("projects/"))) {
    await send(chunk);
    chunk = next();
  }
  const workers = Array.from({ length: inflight }, async () => {
    while (chunk.length > 0) {
      const mine = chunk;
      chunk = next();
      await send(mine);
      if (imported % 100_000 < batch) console.log(`${imported} imported, ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  });
  await Promise.all(workers);
  cpu = cpuSecondsOfTree(server.process.pid!) - cpuAtStart;
  seconds = (performance.now() - started) / 1000;
  if (flags.baseline) baseline = await singleWrites(Number(flags.baseline));
} finally {
  clearInterval(sampler);
  client.close();
  await server.stop();
  removeDir(dir);
  if (pgName) {
    const admin = new pg.Client({ connectionString: flags.db });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${pgName}`);
    await admin.end();
  }
}
const store = flags.db ? "PostgreSQL" : "SQLite";
const line = `${store}: ${total.toLocaleString("en-US")} resources and ${policies.toLocaleString("en-US")} policies in ${seconds.toFixed(1)} s — ${(total / seconds).toFixed(0)} resources/s (with their policies); the server used ${cpu.toFixed(1)} CPU-seconds (${(total / cpu).toFixed(0)} resources per CPU-second: the rate of an otherwise idle core); ${imported.toLocaleString("en-US")} items whole, ${errors} errors; server RSS ${rssAtStart.toFixed(0)} MB at start, ${peakRss.toFixed(0)} MB at peak; requests of ${batch.toLocaleString("en-US")} items, ${inflight} in flight; load average ${load.toFixed(1)} at the start (${cpus().length} cores)`;
const baselineLine = baseline
  ? `Same run, one call per write (CreateResource, and SetPolicy on every other one; 32 calls at once): ${baseline.count.toLocaleString("en-US")} resources in ${baseline.seconds.toFixed(1)} s — ${(baseline.count / baseline.seconds).toFixed(0)} resources/s, ${(baseline.count / baseline.cpu).toFixed(0)} per server CPU-second; the import is ${((total / seconds) / (baseline.count / baseline.seconds)).toFixed(1)}x its rate (${((total / cpu) / (baseline.count / baseline.cpu)).toFixed(1)}x per CPU-second)`
  : "";
console.log(line);
if (baselineLine) console.log(baselineLine);
if (flags.doc) {
  writeDocSection(
    `Bulk import (${store})`,
    `Generated by \`npm run bench:import -- --resources ${total}${flags.baseline ? ` --baseline ${flags.baseline}` : ""}${flags.db ? " --db postgres://…" : ""} --doc\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}.\n\n${line}.\n${baselineLine ? `\n${baselineLine}.\n` : ""}`,
  );
}
