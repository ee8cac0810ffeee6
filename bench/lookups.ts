// `npm run bench:lookups` (flags: --sizes=1000,100000,1000000; --iterations=N): reverse-lookup page latency as the
// number of stored resources grows. For each size it writes a database straight into the store's tables (resources,
// policies and the member index, one transaction), then times, in-process through the Lookups facade:
//   - what-can for a principal granted at the organization (every project matches): the first page of 100, and a
//     page 50 pages in (the position must not cost either);
//   - what-can for a principal granted on 1,000 scattered projects: the first page of 100;
//   - who-can on a project at depth 10 with a policy on every level above it.
// Each is timed with the read cache (as the server runs) and on the bare SQLite store (every chain read from SQLite).
// Results go to stdout and to docs/benchmarks.md (the "Reverse lookups" section).
import { create, toBinary } from "@bufbuild/protobuf";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  LookupMembersRequestSchema,
  LookupResourcesRequestSchema,
} from "../gen/policy/v1/access_service_pb.js";
import { BindingSchema, PolicySchema } from "../gen/policy/v1/policy_pb.js";
import { Lookups } from "../src/domain/access/lookups.js";
import { ResolvedResource } from "../src/domain/access/resolved.js";
import { PageTokens } from "../src/domain/page-token.js";
import { parseSchema } from "../src/schema/schema-loader.js";
import { cachingStore } from "../src/store/caching-store.js";
import { openDatabase } from "../src/store/sqlite/database.js";
import { grantRows } from "../src/store/rows.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import type { Store } from "../src/store/store.js";

const { values: flags } = parseArgs({ options: { sizes: { type: "string" }, iterations: { type: "string" } } });
const SIZES = (flags.sizes ?? "1000,100000,1000000").split(",").map(Number);
const ITERATIONS = Number(flags.iterations ?? 200);
const PAGE = 100;
const FOLDERS = 8;
const PER_BRANCH = 100;
const ORG_USER = "user:ada@example.com";
const SCATTER_USER = "user:scatter@example.com";
const schema = parseSchema(readFileSync(new URL("./schema.yaml", import.meta.url), "utf8"), "bench/schema.yaml");

interface Generated {
  resources: number;
  projects: number;
  grantRows: number;
  deepProject: string;
  seconds: number;
}

/**
 * One organization; beneath it, branches of 8 nested folders (depths 2-9) with projects at every depth 2-10. Every
 * folder has a policy, every other project one; ORG_USER is a viewer of the organization, SCATTER_USER of 1,000
 * projects spread evenly over the hierarchy.
 */
function generate(path: string, total: number): Generated {
  const started = performance.now();
  const db = openDatabase(path);
  const insertResource = db.prepare(
    `INSERT INTO resources (id, name, parent_id, path, type, display_name, create_seq, revision, create_time, update_time)
     VALUES (?, ?, ?, ?, ?, '', 1, 1, 0, 0)`,
  );
  const insertPolicy = db.prepare(`INSERT INTO documents (resource_id, kind, key, body, entries, revision, update_time) VALUES (?, 'policy', '', ?, ?, 1, 0)`);
  const insertGrant = db.prepare(`INSERT OR IGNORE INTO member_grants (member, role, path, resource_id) VALUES (?, ?, ?, ?)`);
  let id = 0;
  let projects = 0;
  let rows = 0;
  const projectsTotal = Math.floor(total * ((PER_BRANCH - FOLDERS) / PER_BRANCH));
  const scatterEvery = Math.max(1, Math.floor(projectsTotal / 1000));
  const setPolicy = (resourceId: number, path: string, bindings: { role: string; members: string[] }[]) => {
    const policy = create(PolicySchema, { version: 1, bindings: bindings.map((b) => create(BindingSchema, b)) });
    insertPolicy.run(resourceId, toBinary(PolicySchema, policy), bindings.length);
    for (const g of grantRows(policy.bindings)) {
      insertGrant.run(g.member, g.role, path, resourceId);
      rows++;
    }
  };
  const add = (name: string, type: string, parent: [number, string] | undefined): [number, string] => {
    id++;
    const path = `${parent?.[1] ?? "/"}${id}/`;
    insertResource.run(id, name, parent?.[0] ?? null, path, type);
    return [id, path];
  };
  let deepProject = "";
  db.transaction(() => {
    const org = add("organizations/o0", "organization", undefined);
    setPolicy(...org, [
      { role: "roles/owner", members: ["group:admins"] },
      { role: "roles/viewer", members: [ORG_USER] },
    ]);
    for (let branch = 0; id < total; branch++) {
      const chain: [number, string][] = [org];
      for (let depth = 2; depth <= FOLDERS + 1 && id < total; depth++) {
        const folder = add(`folders/b${branch}_f${depth}`, "folder", chain.at(-1));
        setPolicy(...folder, [{ role: "roles/viewer", members: [`user:f${folder[0]}@example.com`, `group:g${folder[0] % 50}`] }]);
        chain.push(folder);
      }
      for (let p = 0; p < PER_BRANCH - FOLDERS && id < total; p++) {
        // Depth 2 (under the organization) to 10 (under the deepest folder).
        const parent = chain[p % chain.length]!;
        const name = `projects/b${branch}_p${p}`;
        const project = add(name, "project", parent);
        const bindings = p % 2 === 0 ? [{ role: "roles/owner", members: [`user:p${project[0]}@example.com`] }] : [];
        if (projects % scatterEvery === 0 && projects / scatterEvery < 1000) bindings.push({ role: "roles/viewer", members: [SCATTER_USER] });
        if (bindings.length > 0) setPolicy(...project, bindings);
        if (deepProject === "" && parent === chain[FOLDERS]) deepProject = name;
        projects++;
      }
    }
    db.prepare(`INSERT INTO change_log (seq, time, principal, action, resource, change) VALUES (2, 0, 'bench', 'bulk.load', '', NULL)`).run();
  })();
  db.close();
  return { resources: id, projects, grantRows: rows, deepProject, seconds: (performance.now() - started) / 1000 };
}

interface Latency {
  p50: number;
  p99: number;
}

async function time(run: () => Promise<unknown>): Promise<Latency> {
  for (let i = 0; i < Math.min(20, ITERATIONS); i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const start = performance.now();
    await run();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

type Scenario = "org first page" | "org page 51" | "scattered first page" | "who-can depth 10";
const SCENARIOS: readonly Scenario[] = ["org first page", "org page 51", "scattered first page", "who-can depth 10"];

async function measure(store: Store, data: Generated): Promise<Map<Scenario, Latency>> {
  const lookups = new Lookups(store, schema, new PageTokens(await store.pageTokenKey()));
  const whatCan = (init: { principals: string[]; pageToken?: string }) =>
    lookups.resources(create(LookupResourcesRequestSchema, { permission: "projects.get", resourceType: "project", pageSize: PAGE, ...init }));
  const orgFirst = await whatCan({ principals: [ORG_USER] });
  if (orgFirst.resources.length !== PAGE) throw new Error(`org grant: expected a full page, got ${orgFirst.resources.length}`);
  let token = orgFirst.nextPageToken;
  for (let page = 2; page <= 50 && token; page++) token = (await whatCan({ principals: [ORG_USER], pageToken: token })).nextPageToken;
  const scattered = await whatCan({ principals: [SCATTER_USER] });
  if (scattered.resources.length !== Math.min(PAGE, Math.min(1000, data.projects))) {
    throw new Error(`scattered grant: expected a full page, got ${scattered.resources.length}`);
  }
  const who = () =>
    lookups.members(
      create(LookupMembersRequestSchema, { resource: data.deepProject, permission: "projects.get", pageSize: PAGE }),
      new ResolvedResource(data.deepProject, schema, store),
    );
  const grants = (await who()).grants.length;
  if (grants < 19) throw new Error(`who-can at depth 10: expected every level's grants, got ${grants}`);
  const results = new Map<Scenario, Latency>();
  results.set("org first page", await time(() => whatCan({ principals: [ORG_USER] })));
  if (token) results.set("org page 51", await time(() => whatCan({ principals: [ORG_USER], pageToken: token })));
  results.set("scattered first page", await time(() => whatCan({ principals: [SCATTER_USER] })));
  results.set("who-can depth 10", await time(who));
  return results;
}

const out: string[] = [];
const say = (line: string) => {
  out.push(line);
  console.log(line);
};
const table = new Map<number, { data: Generated; cached: Map<Scenario, Latency>; bare: Map<Scenario, Latency> }>();
for (const size of SIZES) {
  const dir = join(tmpdir(), `bench-lookups-${process.pid}-${size}`);
  rmSync(dir, { recursive: true, force: true });
  const path = join(dir, "policy.db");
  console.error(`generating ${size} resources...`);
  const data = generate(path, size);
  console.error(`  ${data.resources} resources, ${data.grantRows} index rows in ${data.seconds.toFixed(1)} s; measuring`);
  const bare = new SqliteStore(path);
  const bareResults = await measure(bare, data);
  await bare.close();
  const cached = cachingStore(new SqliteStore(path));
  const cachedResults = await measure(cached, data);
  await cached.close();
  table.set(size, { data, cached: cachedResults, bare: bareResults });
  rmSync(dir, { recursive: true, force: true });
}

const ms = (l: Latency | undefined) => (l ? `${l.p50.toFixed(2)} / ${l.p99.toFixed(2)}` : "-");
const [load1, load5] = loadavg();
say(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}; shared and loaded while measured `
  + `(load average ${load1!.toFixed(1)} / ${load5!.toFixed(1)} over 1 / 5 min at the end): read the ratios more than the milliseconds.`);
say(`In-process through the Lookups facade (no RPC), ${ITERATIONS} timed calls per cell after a warm-up; page size ${PAGE}; `
  + `p50 / p99 in ms. Command: \`npm run bench:lookups -- --sizes=${SIZES.join(",")}\`.`);
say("`cache`: the read cache as the server runs it, warm (the same page asked again); `SQLite`: the bare store, every "
  + "candidate's chain read from SQLite (the OS page cache warm). Org: one principal granted at the organization, so "
  + "every project matches (1M resources: ~920k results); scattered: one principal granted on 1,000 projects spread over "
  + "the hierarchy (at 1k resources, on every project); who-can: a project at depth 10 with a policy on every level.");
say("");
say(`| resources (index rows, load s) | store | ${SCENARIOS.join(" | ")} |`);
say(`| --- | --- | ${SCENARIOS.map(() => "---:").join(" | ")} |`);
for (const [size, { data, cached, bare }] of table) {
  const label = `${size.toLocaleString("en")} (${data.grantRows.toLocaleString("en")}, ${data.seconds.toFixed(0)} s)`;
  say(`| ${label} | cache | ${SCENARIOS.map((s) => ms(cached.get(s))).join(" | ")} |`);
  say(`| | SQLite | ${SCENARIOS.map((s) => ms(bare.get(s))).join(" | ")} |`);
}
const smallest = table.get(Math.min(...table.keys()));
const largest = table.get(Math.max(...table.keys()));
if (smallest && largest && smallest !== largest) {
  say("");
  say(`p50 ratio, ${Math.max(...table.keys()).toLocaleString("en")} over ${Math.min(...table.keys()).toLocaleString("en")} resources (target: within 2x):`);
  for (const store of ["cached", "bare"] as const) {
    const ratios = SCENARIOS.map((s) => {
      const a = smallest[store].get(s);
      const b = largest[store].get(s);
      return a && b ? `${s} ${(b.p50 / a.p50).toFixed(2)}x` : `${s} -`;
    });
    say(`- ${store === "cached" ? "cache" : "SQLite"}: ${ratios.join(", ")}`);
  }
}

const doc = "docs/benchmarks.md";
const text = readFileSync(doc, "utf8");
const section = `## Reverse lookups (\`npm run bench:lookups\`)\n\n${out.join("\n")}\n`;
const marker = /## Reverse lookups \(`npm run bench:lookups`\)\n[\s\S]*?(?=\n## |$)/;
writeFileSync(doc, marker.test(text) ? text.replace(marker, section) : `${text.trimEnd()}\n\n${section}`);
