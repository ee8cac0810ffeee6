// The hierarchy at scale: 100,000 generated resources ten levels deep. Asserts results (never times) and that the
// ancestry and ListPolicies queries find their rows through indexes (EXPLAIN QUERY PLAN), so their cost stays
// proportional to the depth or the page, not to the number of resources.
import { create } from "@bufbuild/protobuf";
import Sqlite from "better-sqlite3";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, onTestFinished, test, vi } from "vitest";
import { BindingSchema, type Binding } from "../../gen/policy/v1/policy_pb.js";
import { ANCESTRY_SQL } from "../../src/store/sqlite/statements.js";
import type { ApiClients } from "../helpers/clients.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { chainOf, generateHierarchy, type GeneratedHierarchy, type GeneratedResource } from "./generate-hierarchy.js";
import { viewBindings, viewEffective, writeFolderSchema, type EffectiveView, type FolderSchemaType } from "./support.js";
import { removeDir, tempDir } from "../helpers/temp-dir.js";

/** Resources per level, organizations first and projects last: 100,000 in all, ten levels deep. */
const LEVEL_SIZES = [10, 40, 160, 640, 2000, 5000, 10000, 17150, 25000, 40000];
const DEPTH = LEVEL_SIZES.length;

/** The project whose effective policy is looked up; its ancestors at CHAIN_POLICY_LEVELS have policies. */
const TARGET_INDEX = 12345;
const CHAIN_POLICY_LEVELS = [1, 3, 6, 9, 10];
/** An ancestor of the target whose policy row has no binding: it contributes nothing. */
const CHAIN_EMPTY_LEVEL = 5;

function binding(role: string, member: string): Binding {
  return create(BindingSchema, { role, members: [member] });
}

/** The policies written: the target's chain, every fifth project, some rows without binding, some level-9 folders. */
function policyOf(resource: GeneratedResource, levels: readonly GeneratedResource[][]): Binding[] | undefined {
  const onChain = chainOf(levels[DEPTH - 1]![TARGET_INDEX]!).includes(resource);
  if (onChain && CHAIN_POLICY_LEVELS.includes(resource.level)) {
    const role = resource.type === "organization" ? "roles/owner" : "roles/editor";
    return [binding(role, `user:level${resource.level}@example.com`)];
  }
  if (onChain && resource.level === CHAIN_EMPTY_LEVEL) return [];
  if (resource.type === "project" && resource.index % 5 === 0) return [binding("roles/viewer", `user:p${resource.index}@example.com`)];
  if (resource.type === "project" && resource.index % 5 === 1 && resource.index % 3 === 0) return [];
  if (resource.level === DEPTH - 1 && resource.index % 10 === 0) return [binding("roles/viewer", "group:level9")];
  return undefined;
}

let schema: ReturnType<typeof writeFolderSchema>;
let dir: string;
let hierarchy: GeneratedHierarchy;
let server: TestServer;
let c: ApiClients;
/** A second, read-only connection for EXPLAIN QUERY PLAN. */
let db: Sqlite.Database;

beforeAll(async () => {
  schema = writeFolderSchema();
  dir = tempDir("policy-scale-");
  const path = join(dir, "policy.db");
  // The server creates the database and runs its migrations; the generator then fills it while no server runs.
  await (await startTestServer({ db: path, schema: schema.path })).stop();
  const writer = new Sqlite(path);
  writer.pragma("foreign_keys = ON");
  hierarchy = generateHierarchy(writer, LEVEL_SIZES, policyOf);
  expect(writer.pragma("foreign_key_check")).toEqual([]);
  writer.close();

  server = await startTestServer({ db: path, schema: schema.path });
  c = server.connect;
  db = new Sqlite(path, { readonly: true });
}, 60_000);

afterAll(async () => {
  db?.close();
  await server?.stop();
  removeDir(dir);
  schema.remove();
});

function resourceAt(level: number, index: number): GeneratedResource {
  return hierarchy.levels[level - 1]![index]!;
}

function target(): GeneratedResource {
  return resourceAt(DEPTH, TARGET_INDEX);
}

function ancestorAt(resource: GeneratedResource, level: number): GeneratedResource {
  return chainOf(resource).find((r) => r.level === level)!;
}

function hasBindings(resource: GeneratedResource): boolean {
  return (hierarchy.policies.get(resource.name)?.length ?? 0) > 0;
}

/** The effective policy the generated data implies: every policy with a binding up the chain. */
function expectedEffective(resource: GeneratedResource): EffectiveView {
  return {
    resource: resource.name,
    policies: chainOf(resource)
      .filter(hasBindings)
      .map((r) => ({ resource: r.name, bindings: viewBindings(hierarchy.policies.get(r.name)!) })),
  };
}

/** The resources of `type` with a binding strictly beneath `parent`, as names (unordered). */
function expectedListing(type: FolderSchemaType, parent: GeneratedResource): string[] {
  return hierarchy.levels
    .flat()
    .filter((r) => r.type === type && r !== parent && chainOf(r).includes(parent) && hasBindings(r))
    .map((r) => r.name);
}

/** Every item of a listing, a page of `pageSize` at a time. */
async function listAllPages(resourceType: string, parent: string, pageSize: number): Promise<string[]> {
  const names: string[] = [];
  let pageToken = "";
  do {
    const page = await c.policies.listPolicies({ resourceType, parent, pageSize, pageToken });
    expect(page.resourcePolicies.length).toBeLessThanOrEqual(pageSize);
    names.push(...page.resourcePolicies.map((p) => p.resource));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return names;
}

async function expectLookup(resource: GeneratedResource): Promise<void> {
  const effective = await c.policies.lookupEffectivePolicy({ resource: resource.name });
  expect(viewEffective(effective), resource.name).toEqual(expectedEffective(resource));
}

/** The `detail` lines of the query plan of `sql`. */
function queryPlan(sql: string, params: Record<string, unknown>): string[] {
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((row) => row.detail);
}

/** No full scan of the resources table or of the policies' documents, under any alias. */
function expectNoTableScan(plan: readonly string[]): void {
  expect(plan.filter((detail) => /^SCAN (r|p|pol|resources|documents)\b/.test(detail)), plan.join("\n")).toEqual([]);
}

describe("100,000 resources, 10 levels deep", () => {
  test("the generated hierarchy is as intended", async () => {
    expect(hierarchy.byName.size).toBe(100_000);
    expect(chainOf(target())).toHaveLength(DEPTH);
    const count = (type: string) => db.prepare("SELECT count(*) FROM resources WHERE type = ?").pluck().get(type);
    expect([count("organization"), count("folder"), count("project")]).toEqual([10, 59_990, 40_000]);
    // The server reads the generated rows as it reads its own: names, parents, etags.
    const got = await c.resources.getResource({ name: target().name });
    expect(got.parent).toBe(target().parent!.name);
    expect(got.type).toBe("project");
  });

  test("LookupEffectivePolicy at depth 10 returns exactly the contributing policies, from the resource up", async () => {
    const effective = await c.policies.lookupEffectivePolicy({ resource: target().name });
    expect(effective.policies.map((p) => p.resource)).toEqual(
      [...CHAIN_POLICY_LEVELS].reverse().map((level) => ancestorAt(target(), level).name),
    );
    expect(effective.bindings.map((b) => b.binding!.members[0])).toEqual([
      "user:level10@example.com",
      "user:level9@example.com",
      "user:level6@example.com",
      "user:level3@example.com",
      "user:level1@example.com",
    ]);
    expect(viewEffective(effective)).toEqual(expectedEffective(target()));
    // Each contributing policy carries the etag GetPolicy gives.
    for (const p of effective.policies) {
      expect(p.policy!.etag).toEqual((await c.policies.getPolicy({ resource: p.resource })).etag);
    }
  });

  test("LookupEffectivePolicy of other resources at every level matches the generated data", async () => {
    const samples = [
      resourceAt(DEPTH, 0),
      resourceAt(DEPTH, 1),
      resourceAt(DEPTH, 39_999),
      resourceAt(DEPTH, 20_001),
      resourceAt(DEPTH - 1, 10),
      resourceAt(DEPTH - 1, 11),
      resourceAt(5, 1234),
      resourceAt(1, 9),
    ];
    for (const resource of samples) await expectLookup(resource);
    // One with no policy anywhere up its chain: empty, not an error.
    const bare = hierarchy.levels[DEPTH - 1]!.find((r) => expectedEffective(r).policies.length === 0)!;
    const effective = await c.policies.lookupEffectivePolicy({ resource: bare.name });
    expect(effective.policies).toEqual([]);
    expect(effective.bindings).toEqual([]);
  });

  test("ListPolicies beneath a mid-level resource pages through exactly the policies beneath it", async () => {
    const mid = ancestorAt(target(), 3);
    const expected = expectedListing("project", mid);
    expect(expected.length).toBeGreaterThan(40);
    const all = await listAllPages("project", mid.name, 1000);
    expect([...all].sort()).toEqual([...expected].sort());
    expect(await listAllPages("project", mid.name, 7), "page size 7").toEqual(all);
    // Another type beneath a node higher up: the level-9 folders with policies.
    const top = ancestorAt(target(), 2);
    const folders = await listAllPages("folder", top.name, 9);
    expect([...folders].sort()).toEqual(expectedListing("folder", top).sort());
  });

  test("ListPolicies over every project pages through each of them exactly once", async () => {
    const all = await listAllPages("project", "", 1000);
    expect(new Set(all).size).toBe(all.length);
    const expected = hierarchy.levels[DEPTH - 1]!.filter(hasBindings).map((r) => r.name);
    expect(all.length).toBe(expected.length);
    expect([...all].sort()).toEqual(expected.sort());
  });

  test("the ancestry query looks every row up by primary key or index: no scan of resources or policies", () => {
    const plan = queryPlan(ANCESTRY_SQL, { name: target().name });
    expectNoTableScan(plan);
    expect(plan).toContain("SEARCH r USING INTEGER PRIMARY KEY (rowid=?)");
    expect(plan.some((d) => /^SEARCH resources USING (COVERING )?INDEX \w+ \(name=\?\)$/.test(d)), plan.join("\n")).toBe(true);
    expect(plan.filter((d) => /^SEARCH p /.test(d)).every((d) => d.includes("USING INTEGER PRIMARY KEY")), plan.join("\n")).toBe(true);
    // A link's policy (a document of kind 'policy', key ''): one lookup of the documents' whole primary key.
    expect(plan).toContain("SEARCH pol USING PRIMARY KEY (resource_id=? AND kind=? AND key=?) LEFT-JOIN");
  });

  test("the ListPolicies query the server runs reads a range of the partial index of resources with bindings", async () => {
    const mid = ancestorAt(target(), 3);
    // The SQL the server runs for these requests (it runs in this process; statements are prepared once and cached,
    // so record the source of every statement run rather than of every statement prepared).
    const statementPrototype = Object.getPrototypeOf(db.prepare("SELECT 1")) as { all(...args: unknown[]): unknown[] };
    const run = vi.spyOn(statementPrototype, "all");
    let prepared: string[];
    try {
      const first = await c.policies.listPolicies({ resourceType: "project", parent: mid.name, pageSize: 5 });
      await c.policies.listPolicies({ resourceType: "project", parent: mid.name, pageSize: 5, pageToken: first.nextPageToken });
      await c.policies.listPolicies({ resourceType: "project", pageSize: 5 });
      prepared = run.mock.contexts.map((statement) => (statement as { source: string }).source);
    } finally {
      run.mockRestore();
    }
    const queries = prepared.filter((sql) => /JOIN documents pol /.test(sql));
    expect(queries.length).toBeGreaterThanOrEqual(3);
    for (const sql of queries) {
      // Plans do not depend on the values bound (no ANALYZE statistics): any text for each named parameter will do.
      const params = Object.fromEntries([...sql.matchAll(/@(\w+)/g)].map(([, name]) => [name, name === "limit" ? 10 : mid.path]));
      params.type = "project";
      const plan = queryPlan(sql, params);
      expectNoTableScan(plan);
      expect(plan.some((d) => /^SEARCH r USING (COVERING )?INDEX resources_with_bindings \(type=\?/.test(d)), plan.join("\n")).toBe(true);
      expect(plan.join("\n"), "rows come in index order: no sort").not.toContain("TEMP B-TREE");
    }
    const beneath = queries.filter((sql) => sql.includes("@prefix"));
    expect(beneath.length).toBeGreaterThanOrEqual(2);
  });

  test("a moved subtree of the big hierarchy has its new ancestors' policies at once", async () => {
    const moved = ancestorAt(target(), 4);
    const oldMid = ancestorAt(target(), 3);
    const destination = resourceAt(3, 159);
    expect(chainOf(destination).at(-1)).not.toBe(chainOf(target()).at(-1));
    const policy = await c.policies.setPolicy({
      resource: destination.name,
      policy: { bindings: [{ role: "roles/editor", members: ["user:destination@example.com"] }] },
    });
    hierarchy.policies.set(destination.name, policy.bindings);

    const move = async (parent: GeneratedResource) => {
      const { etag } = await c.resources.getResource({ name: moved.name });
      await c.resources.updateResource({ resource: { name: moved.name, parent: parent.name, etag }, updateMask: { paths: ["parent"] } });
      moved.parent = parent;
    };
    await move(destination);
    // Moved back afterwards: the other tests of the file judge the hierarchy as generated, whatever order they run in.
    onTestFinished(() => move(oldMid));

    const effective = await c.policies.lookupEffectivePolicy({ resource: target().name });
    expect(effective.policies.map((p) => p.resource)).toEqual([
      target().name,
      ancestorAt(target(), 9).name,
      ancestorAt(target(), 6).name,
      destination.name,
    ]);
    await expectLookup(target());
    await expectLookup(resourceAt(DEPTH, 12_300));
    // Listings beneath the old and the new ancestors follow the move.
    expect((await listAllPages("project", destination.name, 1000)).sort()).toEqual(expectedListing("project", destination).sort());
    expect((await listAllPages("project", oldMid.name, 1000)).sort()).toEqual(expectedListing("project", oldMid).sort());
    expect(expectedListing("project", destination)).toContain(target().name);
    expect(expectedListing("project", oldMid)).not.toContain(target().name);
  });
});
