// migrate-store's copy through the contract (store/copy-store.ts) timed on the benchmark dataset (its member index
// included), both ways between SQLite and PostgreSQL and each to its own kind — and with --baseline, beside the raw
// table copy it replaced, in the same run, alternating. The raw copy is not in the tree any more: put its two files
// back, untracked, first —
//   git show 2ac86c4:src/store/postgres/copy.ts > src/store/postgres/baseline-copy.ts
//   git show 2ac86c4:src/store/postgres/copy-to-sqlite.ts | sed 's|"./copy.js"|"./baseline-copy.js"|' \
//     > src/store/postgres/baseline-copy-to-sqlite.ts
// Each copy runs in a process of its own, which reports its time and peak resident memory (the copy must stay
// bounded: a page at a time).
//   npm run bench:migrate -- [resources=100000] [--rounds=2] [--baseline]
//   (--db postgres://root@127.0.0.1:5432/postgres: the server that holds the databases made and dropped)
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { copyStore } from "../src/store/copy-store.js";
import { PostgresStore } from "../src/store/postgres/postgres-store.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import type { Store } from "../src/store/store.js";
import { generateDataset } from "./dataset.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: "string", default: "2" },
    baseline: { type: "boolean", default: false },
    db: { type: "string", default: "postgres://root@127.0.0.1:5432/postgres" },
    step: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
  },
});

const open = (db: string): Promise<Store> =>
  db.startsWith("postgres") ? PostgresStore.open({ url: db, poolSize: 2, statementTimeoutMs: 600_000 }) : Promise.resolve(new SqliteStore(db));

/** One copy, in this (child) process: prints its seconds and peak resident memory as JSON. */
async function step(kind: string, from: string, to: string): Promise<void> {
  const started = performance.now();
  let parts: object = {};
  if (kind === "contract") {
    const [source, target] = [await open(from), await open(to)];
    try {
      parts = (await copyStore(source, target)).seconds;
    } finally {
      await source.close();
      await target.close();
    }
  } else if (to.startsWith("postgres")) {
    const Sqlite = (await import("better-sqlite3")).default;
    const { copySqliteToPostgres } = await import(`../src/store/postgres/${"baseline-copy.js"}`);
    const { createPool } = await import("../src/store/postgres/database.js");
    const source = new Sqlite(from, { readonly: true });
    const pool = createPool({ url: to, poolSize: 2, statementTimeoutMs: 600_000 });
    await copySqliteToPostgres(source, pool).finally(async () => (source.close(), await pool.end()));
  } else {
    const Sqlite = (await import("better-sqlite3")).default;
    const { copyPostgresToSqlite } = await import(`../src/store/postgres/${"baseline-copy-to-sqlite.js"}`);
    const { createPool } = await import("../src/store/postgres/database.js");
    await (await open(to)).close();
    const target = new Sqlite(to);
    const pool = createPool({ url: from, poolSize: 2, statementTimeoutMs: 600_000 });
    await copyPostgresToSqlite(pool, target).finally(async () => (target.close(), await pool.end()));
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ seconds, parts, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: values.db });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  if (values.step) return step(values.step, values.from!, values.to!);
  const resources = Number(positionals[0] ?? 100_000);
  const dir = tmpdir();
  const source = join(dir, `migrate-bench-${process.pid}.db`);
  const made: string[] = [];
  const files: string[] = [source];
  const newDb = async () => {
    const name = `migrate_bench_${randomBytes(4).toString("hex")}`;
    await admin(`CREATE DATABASE ${name}`);
    made.push(name);
    const url = new URL(values.db);
    url.pathname = `/${name}`;
    return url.toString();
  };
  const newFile = () => {
    const file = join(dir, `migrate-bench-${process.pid}-${files.length}.db`);
    files.push(file);
    return file;
  };
  const run = (kind: string, from: string, to: string) => {
    const before = loadavg()[0]!;
    const out = execFileSync(process.execPath, ["--import", "tsx", "bench/migrate-store.ts", "--step", kind, "--from", from, "--to", to], { encoding: "utf8" });
    const result = JSON.parse(out.trim().split("\n").at(-1)!) as { seconds: number; maxRssMiB: number; parts: { copy?: number; verify?: number } };
    const parts = result.parts.copy === undefined ? "" : ` (copy ${result.parts.copy.toFixed(1)}, verify ${result.parts.verify!.toFixed(1)})`;
    return { ...result, seconds: `${result.seconds.toFixed(1)}${parts}`, load: `${before.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}` };
  };
  try {
    const data = generateDataset(source, resources, 20, { memberIndex: true });
    const counts = new SqliteStore(source);
    await counts.close();
    console.log(
      `dataset: ${data.resources.toLocaleString("en-US")} resources, ${data.policies.toLocaleString("en-US")} policies, member index included; ` +
        `${(statSync(source).size / 2 ** 20).toFixed(0)} MiB (generated in ${data.seconds.toFixed(1)} s); load ${loadavg().map((l) => l.toFixed(1)).join(" ")}`,
    );
    console.log("| round | copy | how | seconds | peak RSS (MiB) | load (1 min) |\n| --- | --- | --- | --- | --- | --- |");
    const kinds = values.baseline ? ["contract", "raw"] : ["contract"];
    for (let round = 1; round <= Number(values.rounds); round++) {
      // Alternate which goes first, so drift in the machine's load falls on both.
      for (const kind of round % 2 ? kinds : [...kinds].reverse()) {
        const pgCopy = await newDb();
        const toPg = run(kind, source, pgCopy);
        console.log(`| ${round} | SQLite → PostgreSQL | ${kind} | ${toPg.seconds} | ${toPg.maxRssMiB.toFixed(0)} | ${toPg.load} |`);
        const back = newFile();
        const toSqlite = run(kind, pgCopy, back);
        console.log(`| ${round} | PostgreSQL → SQLite | ${kind} | ${toSqlite.seconds} | ${toSqlite.maxRssMiB.toFixed(0)} | ${toSqlite.load} |`);
        if (kind === "contract") {
          const same = run(kind, source, newFile());
          console.log(`| ${round} | SQLite → SQLite | ${kind} | ${same.seconds} | ${same.maxRssMiB.toFixed(0)} | ${same.load} |`);
          const pgPg = run(kind, pgCopy, await newDb());
          console.log(`| ${round} | PostgreSQL → PostgreSQL | ${kind} | ${pgPg.seconds} | ${pgPg.maxRssMiB.toFixed(0)} | ${pgPg.load} |`);
        }
        // Free the disk between rounds: at 1M resources each copy is hundreds of MiB.
        for (const name of made.splice(0)) await admin(`DROP DATABASE ${name}`);
        for (const file of files.splice(1)) for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
      }
    }
  } finally {
    for (const name of made) await admin(`DROP DATABASE IF EXISTS ${name}`);
    for (const file of files) for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
  }
}

await main();
