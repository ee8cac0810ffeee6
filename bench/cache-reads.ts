// `npm run bench:cache` (or `node --import tsx bench/cache-reads.ts`): the read cache's hot paths in-process, warm
// (every read a hit): GetPolicy's getPolicy, a check's ancestry at depth 4 and 10, a listing page, a turn of many
// reads that share one freshness look, and reads a turn apart (each with its look; the loops of the others stay in
// one turn, so they share one look a round). Each is timed against a floor measured in the same rounds (an async Map.get:
// the least any cached read can cost), so the ratio, not the ops per CPU-second, is what compares across runs.
// `--baseline=<module>` (a module exporting an older `CachingStore` class, e.g. a copy of a previous
// src/store/caching-store.ts placed next to it) times that cache too, interleaved round by round with the current
// one: the ratio current/baseline on the same data, in the same rounds, is the regression check.
import { create } from "@bufbuild/protobuf";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { PolicySchema } from "../gen/policy/v1/policy_pb.js";
import { cachingStore } from "../src/store/caching-store.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import type { NewResourceWithPolicy, Store } from "../src/store/store.js";

const { values: flags } = parseArgs({ options: { baseline: { type: "string" }, rounds: { type: "string" }, ms: { type: "string" } } });
const ROUNDS = Number(flags.rounds ?? 7);
const ROUND_MS = Number(flags.ms ?? 300);
const actor = { principal: "user:bench@example.com" };
const DEPTH = 10;
const LISTED = 50;

/** An organization, a cloud, a chain of projects to depth 10, and 50 more projects under the cloud; a policy on each. */
function items(): NewResourceWithPolicy[] {
  const policy = (i: number) => create(PolicySchema, { version: 1, bindings: [{ role: "roles/readonly", members: [`user:u${i}@example.com`, `group:g${i}`] }] });
  const out: NewResourceWithPolicy[] = [
    { resource: { name: "organizations/o", parent: "", type: "organization", displayName: "" }, policy: policy(0) },
    { resource: { name: "clouds/c", parent: "organizations/o", type: "cloud", displayName: "" }, policy: policy(1) },
  ];
  for (let d = 3; d <= DEPTH; d++) {
    out.push({ resource: { name: `projects/d${d}`, parent: d === 3 ? "clouds/c" : `projects/d${d - 1}`, type: "project", displayName: "" }, policy: policy(d) });
  }
  for (let i = 0; i < LISTED; i++) out.push({ resource: { name: `projects/l${i}`, parent: "clouds/c", type: "project", displayName: "" }, policy: policy(100 + i) });
  return out;
}

type Read = (store: Store) => Promise<unknown>;
const READS: [string, Read][] = [
  ["getPolicy", (s) => s.getPolicy("projects/d3")],
  ["ancestry depth 4", (s) => s.ancestry("projects/d4")],
  ["ancestry depth 10", (s) => s.ancestry(`projects/d${DEPTH}`)],
  ["listPolicies (50 rows)", (s) => s.listPolicies({ type: "project", beneath: "clouds/c", limit: LISTED })],
  // Many reads in one turn, as a busy server has them: one freshness look serves them all.
  ["20 getPolicy in one turn", (s) => Promise.all(Array.from({ length: 20 }, () => s.getPolicy("projects/d3")))],
  // Each read in a turn of its own (after setImmediate), as a quiet server has them: every read pays for a look.
  ["getPolicy, a turn each", (s) => new Promise<void>((done) => setImmediate(done)).then(() => s.getPolicy("projects/d3"))],
];

/**
 * Operations per CPU-second of `read` (this process's user and system time), for about `ms` of wall time: on a shared,
 * loaded machine the time the process is not scheduled would otherwise count against whichever read ran then.
 * Sequential: each read waits for the last, as one caller's reads do.
 */
async function rate(read: () => Promise<unknown>, ms: number): Promise<number> {
  let n = 0;
  const start = performance.now();
  const cpu = process.cpuUsage();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 200; i++) await read();
    n += 200;
  }
  const used = process.cpuUsage(cpu);
  return n / ((used.user + used.system) / 1e6);
}

const floorMap = new Map([["projects/d3", 1]]);
const floor = async () => floorMap.get("projects/d3");

async function build(wrap: (s: Store) => Store): Promise<Store> {
  const store = wrap(new SqliteStore(":memory:"));
  await store.createResources(items(), actor);
  for (const [, read] of READS) await read(store); // warm: every timed read is a hit
  return store;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const candidates: [string, Store][] = [["current", await build((s) => cachingStore(s))]];
if (flags.baseline) {
  const module = (await import(pathToFileURL(resolve(flags.baseline)).href)) as { CachingStore: new (s: Store) => Store };
  candidates.push(["baseline", await build((s) => new module.CachingStore(s))]);
}

const results = new Map<string, number[]>();
const push = (key: string, value: number) => results.set(key, [...(results.get(key) ?? []), value]);
const load0 = loadavg()[0]!;
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, read] of READS) {
    push(`floor|${name}`, await rate(floor, ROUND_MS / 2));
    // Alternate which candidate goes first, so neither always runs warmer.
    const order = round % 2 ? [...candidates].reverse() : candidates;
    for (const [label, store] of order) push(`${label}|${name}`, await rate(() => read(store), ROUND_MS));
  }
}
const load1 = loadavg()[0]!;

console.log(`Cached reads, in-process, warm, in operations per CPU-second; median of ${ROUNDS} rounds of ~${ROUND_MS} ms; load average ${load0.toFixed(1)} → ${load1.toFixed(1)}.`);
console.log("");
const head = candidates.map(([label]) => `${label} ops/CPU-s | ${label}/floor`).join(" | ");
console.log(`| read | floor ops/CPU-s | ${head}${flags.baseline ? " | current/baseline (min–max of rounds) |" : ""}`);
console.log(`| --- | ---: | ${candidates.map(() => "---: | ---:").join(" | ")}${flags.baseline ? " | ---: |" : ""}`);
for (const [name] of READS) {
  const f = median(results.get(`floor|${name}`)!);
  const cells = candidates.map(([label]) => {
    const r = median(results.get(`${label}|${name}`)!);
    return `${Math.round(r).toLocaleString("en")} | ${(r / f).toFixed(3)}`;
  });
  let ratio = "";
  if (flags.baseline) {
    const cur = results.get(`current|${name}`)!;
    const base = results.get(`baseline|${name}`)!;
    const perRound = cur.map((c, i) => c / base[i]!);
    ratio = ` | ${median(perRound).toFixed(3)} (${Math.min(...perRound).toFixed(3)}–${Math.max(...perRound).toFixed(3)}) |`;
  }
  console.log(`| ${name} | ${Math.round(f).toLocaleString("en")} | ${cells.join(" | ")}${ratio}`);
}
for (const [, store] of candidates) await store.close();
