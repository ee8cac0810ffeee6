// `npm run bench:pg-outage`: how long after PostgreSQL comes back each replica serves again. Three server processes
// (default pool and timeouts) on a private PostgreSQL cluster (test/helpers/private-postgres.ts: initdb in a temporary
// folder; the machine's PostgreSQL is not touched) under a steady load of writes and reads; PostgreSQL is stopped
// (`pg_ctl stop -m immediate`, an abrupt stop, then `-m fast`, an orderly one), kept down for --outage-ms and started.
// Per replica: from the stop to health NOT_SERVING; from PostgreSQL accepting connections again (a probe connection
// every 10 ms) to its first GetPolicy and SetPolicy answered OK (each retried every 10 ms) and to health SERVING (a
// Watch stream). Also: the codes the load saw, whether every process survived, acknowledged writes lost. Results go
// to stdout and the "PostgreSQL outage (issue 25)" section of docs/benchmarks.md.
import { Code, ConnectError } from "@connectrpc/connect";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import pg from "pg";
import { spawnServer, type ChildServer } from "../test/helpers/child-server.js";
import { apiClients, type ApiClients } from "../test/helpers/clients.js";
import { Status, watchHealth, type HealthWatch } from "../test/helpers/health-watch.js";
import { startPrivateCluster } from "../test/helpers/private-postgres.js";
import { writeDocSection } from "./doc-section.js";

const { values: flags } = parseArgs({
  options: { rounds: { type: "string" }, writers: { type: "string" }, "outage-ms": { type: "string" }, replicas: { type: "string" }, "no-doc": { type: "boolean" } },
});
const ROUNDS = Number(flags.rounds ?? 3);
const OUTAGE_MS = Number(flags["outage-ms"] ?? 3000);
const REPLICAS = Number(flags.replicas ?? 3);
const WRITERS_PER_REPLICA = Number(flags.writers ?? 2);
const ORG = "organizations/outage";
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const codeName = (e: unknown) => Code[ConnectError.from(e).code];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Milliseconds from `from` until `call` first succeeds, asking every 10 ms. */
async function firstSuccess(from: number, call: () => Promise<unknown>, codes: Map<string, number>): Promise<number> {
  for (;;) {
    try {
      await call();
      return performance.now() - from;
    } catch (e) {
      codes.set(codeName(e), (codes.get(codeName(e)) ?? 0) + 1);
      await pause(10);
    }
  }
}

/**
 * Milliseconds from `from` until a new connection to `url` answers (trying every 10 ms), and how long that one
 * connection took to open and answer.
 */
async function firstConnection(url: string, from: number): Promise<{ up: number; connectMs: number }> {
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    client.on("error", () => undefined);
    const attempt = performance.now();
    try {
      await client.connect();
      await client.query("SELECT 1");
      return { up: performance.now() - from, connectMs: performance.now() - attempt };
    } catch {
      await pause(10);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/** Milliseconds from `from` until `health` sends `status` after its `seen`-th message. */
async function healthAt(health: HealthWatch, status: Status, seen: number, from: number): Promise<number> {
  await health.reaches(status, seen);
  return performance.now() - from;
}

const started = performance.now();
const loadBefore = loadavg()[0]!;
const cluster = await startPrivateCluster();
const replicas: ChildServer[] = [];
// Interrupted: the cluster and the replicas go with the benchmark.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    for (const replica of replicas) replica.process.kill("SIGKILL");
    void cluster.destroy().finally(() => process.exit(1));
  });
}
const lines: string[] = [];
const say = (line: string) => {
  lines.push(line);
  console.log(line);
};
try {
  const url = await cluster.createDatabase();
  for (let i = 0; i < REPLICAS; i++) replicas.push(await spawnServer(url, ["--log-level", "warn"]));
  const apis: ApiClients[] = replicas.map((replica) => apiClients(replica.url, { timeoutMs: 30_000 }));
  const healths = replicas.map((replica) => watchHealth(apiClients(replica.url).health));
  await apis[0]!.resources.createResource({ resource: { name: ORG } });
  for (let i = 0; i < REPLICAS; i++) await apis[0]!.resources.createResource({ resource: { name: `projects/probe${i}`, parent: ORG } });
  await Promise.all(healths.map((health) => health.reaches(Status.SERVING)));

  const rows: string[] = [];
  const results: { mode: string; notServing: number[]; read: number[]; write: number[]; serving: number[]; pgStart: number[] }[] = [];
  const codes = new Map<string, number>();
  const connectTimes: number[] = [];
  const steadyTimes: number[] = [];
  const acknowledged = new Map<string, Uint8Array | undefined>();
  for (const mode of ["immediate", "fast"] as const) {
    const result = { mode, notServing: [] as number[], read: [] as number[], write: [] as number[], serving: [] as number[], pgStart: [] as number[] };
    results.push(result);
    for (let round = 0; round < ROUNDS; round++) {
      let loading = true;
      const acks = apis.map(() => 0);
      const load = apis.flatMap((api, i) =>
        Array.from({ length: WRITERS_PER_REPLICA }, async (_, w) => {
          for (let n = 0; loading; n++) {
            const name = `projects/${mode}${round}_${i}_${w}_${n}`;
            try {
              await api.resources.createResource({ resource: { name, parent: ORG } });
              acknowledged.set(name, undefined);
              const set = await api.policies.setPolicy({ resource: name, policy: { bindings: [{ role: "roles/readonly", members: ["user:b@example.com"] }] } });
              acknowledged.set(name, set.etag);
              await api.policies.getPolicy({ resource: ORG });
              acks[i]!++;
            } catch (e) {
              codes.set(codeName(e), (codes.get(codeName(e)) ?? 0) + 1);
              await pause(20);
            }
          }
        }),
      );
      while (WRITERS_PER_REPLICA > 0 && acks.some((count) => count < 5)) await pause(10);

      // A GetPolicy's latency under the same load, for scale.
      for (let k = 0; k < 10; k++) {
        const asked = performance.now();
        await apis[0]!.policies.getPolicy({ resource: ORG });
        steadyTimes.push(performance.now() - asked);
      }
      const before = healths.map((health) => health.seen.length);
      const stopped = performance.now();
      await cluster.stop(mode);
      const notServing = await Promise.all(healths.map((health, i) => healthAt(health, Status.NOT_SERVING, before[i]!, stopped)));
      await pause(OUTAGE_MS);

      const down = healths.map((health) => health.seen.length);
      const starting = performance.now();
      const restart = cluster.start();
      const { up, connectMs } = await firstConnection(url, starting);
      connectTimes.push(connectMs);
      const back = starting + up;
      const probes = apis.map(async (api, i) => {
        const [read, write, serving] = await Promise.all([
          firstSuccess(back, () => api.policies.getPolicy({ resource: ORG }), codes),
          firstSuccess(back, () => api.policies.setPolicy({ resource: `projects/probe${i}`, policy: { bindings: [] } }), codes),
          healthAt(healths[i]!, Status.SERVING, down[i]!, back),
        ]);
        return { read, write, serving };
      });
      const measured = await Promise.all(probes);
      await restart;
      loading = false;
      await Promise.all(load);
      result.pgStart.push(up);
      measured.forEach((m, i) => {
        result.notServing.push(notServing[i]!);
        result.read.push(m.read);
        result.write.push(m.write);
        result.serving.push(m.serving);
        rows.push(
          `| ${mode} | ${round + 1} | ${i + 1} | ${notServing[i]!.toFixed(0)} | ${up.toFixed(0)} | ${m.read.toFixed(0)} | ${m.write.toFixed(0)} | ${m.serving.toFixed(0)} |`,
        );
      });
      console.error(rows.slice(-REPLICAS).join("\n"));
    }
  }

  let lost = 0;
  for (const [name, etag] of acknowledged) {
    const api = apis[0]!;
    const found = await api.resources.getResource({ name }).then(
      () => true,
      () => false,
    );
    const same = etag === undefined || Buffer.from((await api.policies.getPolicy({ resource: name })).etag).equals(Buffer.from(etag));
    if (!found || !same) lost++;
  }
  const alive = replicas.filter((replica) => replica.process.exitCode === null && replica.process.signalCode === null).length;

  say(
    `Measured by \`npm run bench:pg-outage\` on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, Node ${process.version}; ` +
      `${REPLICAS} replicas with the default \`--db-pool 10\` and \`--db-statement-timeout-ms 5000\` on a private PostgreSQL 15 cluster ` +
      `(loopback), ${WRITERS_PER_REPLICA} writers per replica (create, SetPolicy, GetPolicy, without pause); PostgreSQL down ${OUTAGE_MS} ms per ` +
      `round, ${ROUNDS} rounds per stop mode; ${((performance.now() - started) / 1000).toFixed(0)} s in all; load average ` +
      `${loadBefore.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end (above the core count, other processes competed).`,
  );
  say("");
  say("Times in milliseconds. *NOT_SERVING*: from the stop to the replica's health Watch sending NOT_SERVING (the store is asked");
  say("every second). *PostgreSQL up*: from `pg_ctl start` to a new connection answering (crash recovery included). The last three:");
  say("from PostgreSQL answering to the replica's first GetPolicy and SetPolicy answered OK (retried every 10 ms) and to health SERVING.");
  say("");
  say("| stop mode | round | replica | NOT_SERVING after stop | PostgreSQL up after start | first GetPolicy OK | first SetPolicy OK | health SERVING |");
  say("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const row of rows) say(row);
  say("");
  say("| stop mode | NOT_SERVING median / max | GetPolicy OK median / max | SetPolicy OK median / max | health SERVING median / max |");
  say("| --- | ---: | ---: | ---: | ---: |");
  for (const r of results) {
    const cell = (values: number[]) => `${median(values).toFixed(0)} / ${Math.max(...values).toFixed(0)}`;
    say(`| ${r.mode} | ${cell(r.notServing)} | ${cell(r.read)} | ${cell(r.write)} | ${cell(r.serving)} |`);
  }
  say("");
  say(
    `For scale, in the same runs: a GetPolicy under this load took ${median(steadyTimes).toFixed(0)} ms (median) before each stop, and ` +
      `the probe's first connection to the just-restarted PostgreSQL took ${median(connectTimes).toFixed(0)} ms (median) to open and answer ` +
      "(a replica's first call after the outage opens several, for the reads it makes at once).",
  );
  say("");
  const seen = [...codes.entries()].map(([code, n]) => `${code} ${n.toLocaleString("en-US")}`).join(", ");
  say(
    `Failed calls during the outages (the load's and the probes' retries), by code: ${seen || "none"}. Processes alive at the end: ${alive} of ${REPLICAS}. ` +
      `Acknowledged writes: ${acknowledged.size.toLocaleString("en-US")}, lost: ${lost}.`,
  );
  for (const health of healths) await health.stop();
} finally {
  for (const replica of replicas) await replica.stop("SIGKILL");
  await cluster.destroy();
}
if (!flags["no-doc"]) writeDocSection("PostgreSQL outage (issue 25)", lines.join("\n"));
