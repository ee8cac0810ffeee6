// `npm run bench:edge [-- --resources=100000 --mirrors=100 --writes=40 --runs=3 --snapshot-only --cpu-prof=DIR]`: the
// edge, in one run against one built server (dist/, its own process; --cpu-prof=DIR writes its CPU profile there).
// - Snapshot: a subtree of `resources` resources (one organization, 100 clouds, projects under them, a policy of two
//   bindings on every project) streamed over gRPC on loopback, pages consumed and dropped (target < 5 s), `runs` times
//   on each port: wall time, the server's CPU time and the client's apart, the load average of each run.
// - Mirror memory: the heap a mirror of that subtree holds after its bootstrap (after GC), and its bootstrap time.
// - Checks: the mirror's checkAccess against the RPC CheckAccess, same requests, same run: p50/p99 per check and the
//   ratio of their medians (target ≥ 100×).
// - Write to decision: from the moment a write is sent to the moment a mirror answers the new decision, with 1 and
//   with `mirrors` mirrors of a small organization following the same server (p50/p99 over writes × mirrors).
// Baseline for the snapshot, same run: the store's own read of the same pages (SqliteSnapshot, in process).
// Server and client share two cores with whatever else the machine runs: read the CPU times and ratios more than the
// wall times.
import { create, toBinary } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { AccessState } from "../gen/policy/v1/access_service_pb.js";
import { BindingSchema, PolicySchema } from "../gen/policy/v1/policy_pb.js";
import { createPolicyClient, createPolicyMirror, type PolicyMirror } from "../src/client/index.js";
import { openDatabase } from "../src/store/sqlite/database.js";
import { SqliteSnapshot } from "../src/store/sqlite/snapshot.js";
import { cpuSecondsOfTree, rssMbOfTree, startBuiltServer } from "./built-server.js";
import { writeDocSection } from "./doc-section.js";

const { values } = parseArgs({
  options: {
    resources: { type: "string", default: "100000" },
    mirrors: { type: "string", default: "100" },
    writes: { type: "string", default: "40" },
    checks: { type: "string", default: "2000" },
    runs: { type: "string", default: "3" },
    "cpu-prof": { type: "string" },
    "snapshot-only": { type: "boolean", default: false },
    "no-doc": { type: "boolean", default: false },
  },
});
const RESOURCES = Number(values.resources);
const MIRRORS = Number(values.mirrors);
const WRITES = Number(values.writes);
const CHECKS = Number(values.checks);
const RUNS = Number(values.runs);
const ORG = "organizations/edge";
const SMALL = "organizations/edge_small";
const CLOUDS = 100;

/** The database: the big subtree inserted straight into the store's tables (one transaction), and a small org. */
function generate(path: string): void {
  const db = openDatabase(path);
  const insertResource = db.prepare(
    `INSERT INTO resources (id, name, parent_id, path, type, display_name, create_seq, revision, create_time, update_time)
     VALUES (?, ?, ?, ?, ?, '', 1, 1, ?, ?)`,
  );
  const insertPolicy = db.prepare(`INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time) VALUES (?, 'policy', '', ?, 2, 1, ?)`);
  const now = Date.now();
  db.transaction(() => {
    let id = 0;
    const add = (name: string, type: string, parentId: number | null, parentPath: string): [number, string] => {
      id++;
      const path = `${parentPath}${id}/`;
      insertResource.run(id, name, parentId, path, type, now, now);
      return [id, path];
    };
    const [orgId, orgPath] = add(ORG, "organization", null, "/");
    const clouds = Array.from({ length: CLOUDS }, (_, i) => add(`clouds/edge_${i}`, "cloud", orgId, orgPath));
    for (let i = 0; i < RESOURCES - 1 - CLOUDS; i++) {
      const [cloudId, cloudPath] = clouds[i % CLOUDS]!;
      const [projectId] = add(`projects/edge_${i}`, "project", cloudId, cloudPath);
      const policy = create(PolicySchema, {
        version: 1,
        bindings: [
          create(BindingSchema, { role: "roles/collaborator", members: [`user:u${i}@example.com`] }),
          create(BindingSchema, { role: "roles/readonly", members: [`group:g${i % 50}`] }),
        ],
      });
      insertPolicy.run(projectId, toBinary(PolicySchema, policy), now);
    }
  })();
  db.close();
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
const stats = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
};
const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;
const ms = (value: number) => `${value.toFixed(1)} ms`;
const gc = () => (globalThis as { gc?: () => void }).gc?.();
const heapMb = () => (gc(), process.memoryUsage().heapUsed / 1024 / 1024);

const dir = mkdtempSync(join(tmpdir(), "bench-edge-"));
const dbPath = join(dir, "policy.db");
const generateStarted = performance.now();
generate(dbPath);
console.log(`generated ${RESOURCES} resources in ${((performance.now() - generateStarted) / 1000).toFixed(1)} s`);
// The built server in a process of its own (as `npm start` runs it): its CPU time and the client's are measured apart.
const server = await startBuiltServer(
  ["--port", "0", "--grpc-port", "0", "--db", dbPath, "--log-level", "silent"],
  values["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${values["cpu-prof"]}`] : [],
);
const serverPid = server.process.pid!;
const client = createPolicyClient({ baseUrl: server.main });
const lines: string[] = [];
try {
  await client.resources.createResource({ resource: { name: SMALL } });
  for (let i = 0; i < 10; i++) await client.resources.createResource({ resource: { name: `projects/edge_small_${i}`, parent: SMALL } });

  // Snapshot of the big subtree, pages dropped as they arrive, RUNS times on each port: wall time, the server's CPU
  // time (its process) and the client's (this process, which does nothing else meanwhile).
  const snapshotRun = async (url: string) => {
    const snapshotClient = createPolicyClient({ baseUrl: url });
    try {
      let streamed = 0;
      // The server's RSS, sampled while it streams: bounded memory means a peak near the start, whatever the size.
      const rssBefore = rssMbOfTree(serverPid);
      let rssPeak = rssBefore;
      const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMbOfTree(serverPid))), 50);
      const serverCpu = cpuSecondsOfTree(serverPid);
      const clientCpu = process.cpuUsage();
      const started = performance.now();
      for await (const page of snapshotClient.snapshots.snapshot({ subtree: ORG, pageSize: 1000 })) streamed += page.resources.length;
      const wallMs = performance.now() - started;
      const client = process.cpuUsage(clientCpu);
      clearInterval(sampler);
      return {
        streamed,
        wallMs,
        serverCpuMs: (cpuSecondsOfTree(serverPid) - serverCpu) * 1000,
        clientCpuMs: (client.user + client.system) / 1000,
        rssBefore,
        rssPeak,
        load: loadavg()[0]!,
      };
    } finally {
      snapshotClient.close();
    }
  };
  type SnapshotRun = Awaited<ReturnType<typeof snapshotRun>>;
  const snapshotRuns: { port: string; runs: SnapshotRun[] }[] = [];
  for (const [port, url] of [["main port", server.main], ["gRPC port", server.grpc]] as const) {
    const runs: SnapshotRun[] = [];
    for (let r = 0; r < RUNS; r++) {
      const run = await snapshotRun(url);
      if (run.streamed !== RESOURCES) throw new Error(`the snapshot streamed ${run.streamed} resources, not ${RESOURCES}`);
      console.log(
        `snapshot (${port}) run ${r + 1}: ${(run.wallMs / 1000).toFixed(2)} s wall, server CPU ${(run.serverCpuMs / 1000).toFixed(2)} s, client CPU ${(run.clientCpuMs / 1000).toFixed(2)} s, server RSS ${run.rssBefore.toFixed(0)} → peak ${run.rssPeak.toFixed(0)} MB, load ${run.load.toFixed(1)}`,
      );
      runs.push(run);
    }
    snapshotRuns.push({ port, runs });
  }
  if (values["snapshot-only"]) {
    // Profiling the snapshot alone (--cpu-prof): the server writes its profile when it stops.
    client.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }

  // Baseline, same run: the store's own read of the same pages (one read transaction, decoded), without RPC.
  const readStarted = performance.now();
  const read = SqliteSnapshot.open(dbPath);
  let cursor: string | undefined;
  for (let rows = await read.subtree(ORG, undefined, 1000); rows.length > 0; rows = await read.subtree(ORG, cursor, 1000)) cursor = rows.at(-1)!.cursor;
  await read.close();
  const storeReadMs = performance.now() - readStarted;

  // A mirror of it: bootstrap time and heap.
  const heapBefore = heapMb();
  const bootStarted = performance.now();
  const mirror = createPolicyMirror({ client, scope: ORG, snapshotPageSize: 1000 });
  await mirror.ready;
  const bootMs = performance.now() - bootStarted;
  const heapAfter = heapMb();

  // Checks: the same requests on the mirror and by the RPC.
  const requests = Array.from({ length: CHECKS }, (_, n) => {
    const i = (n * 7919) % (RESOURCES - 1 - CLOUDS);
    return { resource: `projects/edge_${i}`, principals: [n % 2 === 0 ? `user:u${i}@example.com` : "user:nobody@example.com"], permissions: ["projects.update"] };
  });
  for (const request of requests.slice(0, 200)) {
    const [local, remote] = [await mirror.checkAccess(request), await client.access.checkAccess(request)];
    if (local.results[0]!.state !== remote.results[0]!.state) throw new Error(`the mirror and the server disagree on ${request.resource}`);
  }
  const rpcTimes: number[] = [];
  for (const request of requests) {
    const t = performance.now();
    await client.access.checkAccess(request);
    rpcTimes.push(performance.now() - t);
  }
  const mirrorTimes: number[] = [];
  for (let round = 0; round < 10; round++) {
    for (const request of requests) {
      const t = performance.now();
      await mirror.checkAccess(request);
      mirrorTimes.push(performance.now() - t);
    }
  }
  if (mirror.metrics().answeredByRpc > 0) throw new Error("the mirror fell back to the RPC during the benchmark");
  const rpc = stats(rpcTimes);
  const local = stats(mirrorTimes);
  await mirror.close();

  // Write to decision, with 1 and with MIRRORS mirrors of the small organization.
  const writeToDecision = async (count: number) => {
    const mirrors: PolicyMirror[] = Array.from({ length: count }, () => createPolicyMirror({ client, scope: SMALL }));
    await Promise.all(mirrors.map((m) => m.ready));
    const samples: number[] = [];
    for (let w = 0; w < WRITES; w++) {
      const principal = `user:w${count}_${w}@example.com`;
      const resource = `projects/edge_small_${w % 10}`;
      const sent = performance.now();
      const written = await client.policies.setPolicy({ resource, policy: { bindings: [{ role: "roles/readonly", members: [principal] }] } });
      await Promise.all(
        mirrors.map(async (m) => {
          if (!(await m.waitFor(written.etag, 30_000))) throw new Error("a mirror did not reach the write");
          const answer = await m.checkAccess({ resource, principals: [principal], permissions: ["projects.get"] });
          if (answer.results[0]!.state !== AccessState.GRANTED) throw new Error("a mirror answered the old decision");
          samples.push(performance.now() - sent);
        }),
      );
    }
    await Promise.all(mirrors.map((m) => m.close()));
    return stats(samples);
  };
  const one = await writeToDecision(1);
  const many = await writeToDecision(MIRRORS);

  lines.push(
    `Run: ${new Date().toISOString().slice(0, 10)}, \`npm run bench:edge\` (${RESOURCES.toLocaleString("en")} resources, ${CHECKS} checks, ${WRITES} writes; the built server in its own process, SQLite, 2 shared cores; load average ${loadavg()[0]!.toFixed(1)} at the end).`,
    "",
    "| measure | value |",
    "| --- | --- |",
    ...snapshotRuns.map(({ port, runs }) => {
      const median = (pick: (run: SnapshotRun) => number) => (stats(runs.map(pick)).p50 / 1000).toFixed(2);
      const each = runs.map((run) => `${(run.wallMs / 1000).toFixed(2)}`).join(", ");
      return `| Snapshot of a ${RESOURCES.toLocaleString("en")}-resource subtree, ${port} (loopback), pages dropped: wall, median of ${runs.length} (each) | **${median((r) => r.wallMs)} s** (${each} s; load ${runs.map((r) => r.load.toFixed(1)).join(", ")}; target < 5 s) |
| Its CPU time, median: server / client | ${median((r) => r.serverCpuMs)} s / ${median((r) => r.clientCpuMs)} s (${((stats(runs.map((r) => r.serverCpuMs)).p50 * 1000) / RESOURCES).toFixed(1)} / ${((stats(runs.map((r) => r.clientCpuMs)).p50 * 1000) / RESOURCES).toFixed(1)} µs per resource) |
| The server's RSS while it streams: before → peak, each run | ${runs.map((r) => `${r.rssBefore.toFixed(0)} → ${r.rssPeak.toFixed(0)} MB`).join("; ")} |`;
    }),
    `| Baseline: the store's read of the same pages in process (no RPC) | ${(storeReadMs / 1000).toFixed(2)} s (main port's median wall ÷ store read: ${(stats(snapshotRuns[0]!.runs.map((r) => r.wallMs)).p50 / storeReadMs).toFixed(1)}) |`,
    `| Mirror bootstrap of it (snapshot + state) | ${(bootMs / 1000).toFixed(2)} s |`,
    `| Mirror heap for ${(RESOURCES - 1 - CLOUDS).toLocaleString("en")} policies (${RESOURCES.toLocaleString("en")} resources), after GC | ${(heapAfter - heapBefore).toFixed(0)} MiB |`,
    `| RPC CheckAccess (gRPC, loopback) p50 / p99 | ${us(rpc.p50)} / ${us(rpc.p99)} |`,
    `| Mirror checkAccess p50 / p99 | ${us(local.p50)} / ${us(local.p99)} |`,
    `| Mirror ÷ RPC, by median | **${(rpc.p50 / local.p50).toFixed(0)}×** faster (target ≥ 100×) |`,
    `| Write to mirror decision, 1 mirror, p50 / p99 | ${ms(one.p50)} / ${ms(one.p99)} |`,
    `| Write to mirror decision, ${MIRRORS} mirrors, p50 / p99 | ${ms(many.p50)} / ${ms(many.p99)} |`,
  );
  console.log(lines.join("\n"));
  if (!values["no-doc"]) writeDocSection("Edge: snapshot, mirror and write-to-decision (npm run bench:edge)", lines.join("\n"));
} finally {
  client.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
