// `npm run bench -- --db postgres://root@127.0.0.1/postgres`: the PostgreSQL rows. For each size, the generated SQLite
// dataset is copied into a fresh PostgreSQL database (store/copy-store.ts, as migrate-store does) and measured on
// the gRPC port: one replica, then two replicas on the same database (h2load split over both, rates summed). Measured
// in the same run: GetPolicy on SQLite (the read target: PostgreSQL >= 80% of it), and PostgreSQL's own ceiling for
// the write — a bare node-postgres loop doing the same single-row transactional update at the same concurrency (the
// write target: SetPolicy >= 50% of it). The section goes into docs/benchmarks.md between its markers.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { copyStore } from "../src/store/copy-store.js";
import { createPool } from "../src/store/postgres/database.js";
import { PostgresStore } from "../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { generateDataset, type Dataset } from "./dataset.js";
import { h2load, type LoadOptions, type LoadResult, type Protocol } from "./h2load.js";
import type { Row, Rpc, Server } from "./run.js";

const BEGIN_MARK = "<!-- postgres: written by npm run bench -- --db postgres://… -->";
const END_MARK = "<!-- /postgres -->";
/** The server's default pool (--db-pool), used by the ceiling loop too. */
const POOL = 10;

export interface PostgresBenchDeps {
  url: string;
  sizes: number[];
  quick: boolean;
  load: LoadOptions;
  dir: string;
  rpcs: (data: Dataset) => Rpc[];
  startServer: (db: string, extra?: string[]) => Promise<Server>;
  stop: (server: Server) => Promise<void>;
  measure: (server: Server, size: number, list: Rpc[], targets: { port: string; url: string; protocol: Protocol }[]) => Promise<Row[]>;
  format: (row: Row) => string;
  header: string;
}

/** One statement on its own connection (CREATE / DROP DATABASE: not in a transaction). */
export async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Same-row transactional updates per second with a bare pool of POOL connections, `concurrency` loops at once. */
async function driverCeiling(url: string, resource: string, concurrency: number, seconds: number): Promise<number> {
  const pool = createPool({ url, poolSize: POOL, statementTimeoutMs: 30_000 });
  try {
    const { rows } = await pool.query<{ id: number }>("SELECT id FROM resources WHERE name = $1", [resource]);
    const id = rows[0]!.id;
    let done = 0;
    const until = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < until) {
          const client = await pool.connect();
          try {
            await client.query("BEGIN");
            await client.query({
              name: "ceiling",
              text: "UPDATE documents SET revision = revision + 1, update_time = $2 WHERE resource_id = $1 AND kind = 'policy' AND key = ''",
              values: [id, Date.now()],
            });
            await client.query("COMMIT");
            done++;
          } finally {
            client.release();
          }
        }
      }),
    );
    return done / seconds;
  } finally {
    await pool.end();
  }
}

/** h2load against every server at once, the connections split between them; rates summed, latencies the worst. */
async function measureSplit(servers: Server[], rpc: Rpc, load: LoadOptions, dir: string): Promise<LoadResult> {
  const share = { ...load, connections: Math.max(1, Math.round(load.connections / servers.length)) };
  const body = rpc.body("grpc");
  const results = await Promise.all(
    servers.map((server, i) => h2load(`${server.grpc}${rpc.path}`, body, "grpc", share, join(dir, `split-${i}-${Date.now()}.log`))),
  );
  return {
    requests: results.reduce((sum, r) => sum + r.requests, 0),
    failed: results.reduce((sum, r) => sum + r.failed, 0),
    rps: results.reduce((sum, r) => sum + r.rps, 0),
    p50ms: Math.max(...results.map((r) => r.p50ms)),
    p99ms: Math.max(...results.map((r) => r.p99ms)),
  };
}

export async function postgresBench(deps: PostgresBenchDeps): Promise<void> {
  const { load, dir } = deps;
  const started = Date.now();
  const loadAtStart = loadavg()[0]!;
  const rows: Row[] = [];
  const datasets: string[] = [];
  const summary: string[] = [];
  console.log(deps.header);
  for (const size of deps.sizes) {
    const sqlitePath = join(dir, `pg-bench-${size}.db`);
    const data = generateDataset(sqlitePath, size);
    const name = `policy_bench_${randomBytes(4).toString("hex")}`;
    await adminQuery(deps.url, `CREATE DATABASE ${name}`);
    const url = new URL(deps.url);
    url.pathname = `/${name}`;
    const db = url.toString();
    try {
      const copyStarted = performance.now();
      const source = new SqliteStore(sqlitePath);
      const target = await PostgresStore.open({ url: db, poolSize: 2, statementTimeoutMs: 600_000 });
      try {
        await copyStore(source, target);
      } finally {
        await source.close();
        await target.close();
      }
      const pool = createPool({ url: db, poolSize: 1, statementTimeoutMs: 600_000 });
      try {
        await pool.query("VACUUM ANALYZE");
      } finally {
        await pool.end();
      }
      datasets.push(
        `${data.resources.toLocaleString("en-US")} resources, ${data.policies.toLocaleString("en-US")} policies ` +
          `(generated in ${data.seconds.toFixed(1)} s, copied into PostgreSQL in ${((performance.now() - copyStarted) / 1000).toFixed(1)} s)`,
      );
      const all = deps.rpcs(data);
      const pick = (...names: string[]) => all.filter((rpc) => names.some((n) => rpc.name.startsWith(n)));
      const grpcTarget = (port: string, server: Server) => [{ port, url: server.grpc, protocol: "grpc" as Protocol }];

      const sqlite = await deps.startServer(sqlitePath);
      const sqliteRows = await deps.measure(sqlite, data.resources, pick("noop", "GetPolicy"), grpcTarget("SQLite", sqlite)).finally(() => deps.stop(sqlite));
      rows.push(...sqliteRows);

      const one = await deps.startServer(db);
      const oneRows = await deps
        .measure(one, data.resources, pick("noop", "GetPolicy", "LookupEffectivePolicy depth 10", "CheckAccess", "SetPolicy"), grpcTarget("PostgreSQL, 1 replica", one))
        .finally(() => deps.stop(one));
      rows.push(...oneRows);

      const concurrency = load.connections * load.streams;
      const ceiling = await driverCeiling(db, data.targets.depth10, concurrency, load.seconds);
      console.log(`bare node-postgres ceiling, same-row update transactions, ${concurrency} at once on ${POOL} connections: ${ceiling.toFixed(0)}/s`);

      const two = [await deps.startServer(db), await deps.startServer(db)];
      const twoRows: Row[] = [];
      try {
        let noop = NaN;
        for (const rpc of pick("noop", "GetPolicy", "CheckAccess", "SetPolicy")) {
          if (rpc.verify) await rpc.verify(two[1]!.grpc);
          const result = await measureSplit(two, rpc, load, dir);
          if (rpc.name.startsWith("noop")) noop = result.rps;
          const row: Row = { size: data.resources, port: "PostgreSQL, 2 replicas", rpc: rpc.name, result, ratio: result.rps / noop, rssMb: two.reduce((sum, s) => sum + s.rssMb(), 0) };
          twoRows.push(row);
          console.log(deps.format(row));
        }
      } finally {
        for (const server of two) await deps.stop(server);
      }
      rows.push(...twoRows);

      const rps = (list: Row[], rpc: string) => list.find((r) => r.rpc.startsWith(rpc))!.result.rps;
      const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
      const n = data.resources.toLocaleString("en-US");
      summary.push(
        `${n} resources: bare-driver write ceiling ${ceiling.toFixed(0)}/s; SetPolicy ${rps(oneRows, "SetPolicy").toFixed(0)}/s on one replica = ` +
          `**${pct(rps(oneRows, "SetPolicy"), ceiling)}** of it, ${rps(twoRows, "SetPolicy").toFixed(0)}/s on two = ${pct(rps(twoRows, "SetPolicy"), ceiling)} (target >= 50%)`,
        `${n} resources: GetPolicy on PostgreSQL ${rps(oneRows, "GetPolicy").toFixed(0)}/s = **${pct(rps(oneRows, "GetPolicy"), rps(sqliteRows, "GetPolicy"))}** of ` +
          `SQLite's ${rps(sqliteRows, "GetPolicy").toFixed(0)}/s (target >= 80%); on two replicas ${rps(twoRows, "GetPolicy").toFixed(0)}/s`,
      );
    } finally {
      await adminQuery(deps.url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  }
  console.log(summary.join("\n"));
  const seconds = (Date.now() - started) / 1000;
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const redacted = new URL(deps.url);
  if (redacted.password) redacted.password = "***";
  const version = await pgVersion(deps.url);
  const section = `${BEGIN_MARK}
## PostgreSQL

Generated by \`npm run bench -- --db ${redacted.toString()}${deps.quick ? " --quick" : ""}\` on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${version} on the same machine (loopback, default settings: synchronous_commit on); ${seconds.toFixed(0)} s in all; load average ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end (anything above the core count means other processes competed for the cores, and rows of one run vary with them: compare the ratios, which are measured minutes apart).
Load: h2load on the gRPC port (grpc-js), ${load.connections} connections x ${load.streams} streams, ${load.seconds} s per row after ${load.warmupSeconds} s warm-up; with two replicas the connections are split between them and the rates summed. Each server has the default pool of ${POOL} connections and the default read cache.

Datasets: ${datasets.join("; ")}.

${deps.header}
${rows.map(deps.format).join("\n")}

${summary.map((s) => `- ${s}`).join("\n")}
${END_MARK}`;
  const file = deps.quick ? "docs/benchmarks-quick.md" : "docs/benchmarks.md";
  const text = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const start = text.indexOf(BEGIN_MARK);
  const end = text.indexOf(END_MARK);
  const next = start >= 0 && end > start ? text.slice(0, start) + section + text.slice(end + END_MARK.length) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
  console.log(`written to ${file}`);
}

async function pgVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ v: string }>("SELECT split_part(version(), ' ', 1) || ' ' || split_part(version(), ' ', 2) AS v");
    return rows[0]!.v;
  } finally {
    await client.end();
  }
}
