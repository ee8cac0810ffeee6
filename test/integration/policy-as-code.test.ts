// Policies as code (issue 30): `policy export` writes a subtree as files, `policy apply` makes a server match them.
// A generated estate with every object kind survives export -> apply to an empty server -> export byte for byte;
// plans exit 0/2; a concurrent edit stops an apply; --prune deletes; re-applying changes nothing.
import { Code, ConnectError } from "@connectrpc/connect";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ApplyAborted, applyPlan, estateFiles, exportSubtree, planApply, readEstateDir, writeEstateDir } from "../../src/client/index.js";
import { main } from "../../src/cli/cli.js";
import { uniqueId } from "../helpers/ids.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/temp-dir.js";

let source: TestServer;
/** Every server a test started, stopped at the end. */
const servers: TestServer[] = [];
const seed = Number(process.env.TEST_SEED ?? Date.now() % 100_000);
console.log(`policy-as-code estate seed ${seed}`);

/** A small deterministic generator (mulberry32) from the printed seed. */
function random(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const org = `organizations/${uniqueId("pac")}`;
const role = `${org}/roles/viewer`;
const sharedId = uniqueId("guard");

/** An estate with every object kind: resources three deep, policies (conditions, custom roles, audit configs), deny
 * policies, a custom role, a shared policy with deny rules, its own access policy and bindings. */
async function generateEstate(server: TestServer): Promise<void> {
  const c = server.grpc;
  const rnd = random(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  await c.resources.createResource({ resource: { name: org, displayName: "Policies as code" } });
  await c.roles.createRole({ parent: org, roleId: "viewer", role: { title: "Viewer", includedPermissions: ["projects.get"] } });
  const clouds = Array.from({ length: 3 }, (_, i) => `clouds/${uniqueId(`c${i}`)}`);
  for (const cloud of clouds) await c.resources.createResource({ resource: { name: cloud, parent: org } });
  const projects: string[] = [];
  for (let i = 0; i < 8; i++) {
    const project = `projects/${uniqueId(`p${i}`)}`;
    projects.push(project);
    await c.resources.createResource({ resource: { name: project, parent: pick(clouds), displayName: rnd() < 0.5 ? `Project ${i}` : "" } });
    if (rnd() < 0.7) {
      await c.policies.setPolicy({
        resource: project,
        policy: {
          version: 3,
          bindings: [
            { role: pick(["roles/readonly", "roles/collaborator"]), members: [`user:u${Math.floor(rnd() * 5)}@example.com`, `group:g${i}`] },
            { role, members: [`user:viewer${i}@example.com`] },
            ...(rnd() < 0.5
              ? [{ role: "roles/readonly", members: ["user:temp@example.com"], condition: { title: "until 2031", expression: "request.time < timestamp('2031-01-01T00:00:00Z')" } }]
              : []),
          ],
        },
      });
    }
    if (rnd() < 0.4) {
      await c.denyPolicies.setDenyPolicy({
        resource: project,
        denyPolicy: { rules: [{ description: "no deletes", deniedPrincipals: ["principalSet://goog/public:all"], deniedPermissions: ["projects.delete"] }] },
      });
    }
  }
  await c.policies.setPolicy({
    resource: org,
    policy: { bindings: [{ role: "roles/owner", members: ["user:owner@example.com"] }], auditConfigs: [{ service: "allServices", auditLogConfigs: [{ logType: 3 }] }] },
    updateMask: { paths: ["bindings", "audit_configs"] },
  });
  const shared = await c.sharedPolicies.createSharedPolicy({
    parent: org,
    sharedPolicyId: sharedId,
    sharedPolicy: {
      displayName: "Guardrail",
      description: "read-only auditors, no deletes by contractors",
      bindings: [{ role: "roles/readonly", members: ["group:auditors"] }],
      denyRules: [{ deniedPrincipals: ["group:contractors"], deniedPermissions: ["projects.delete"] }],
    },
  });
  await c.policies.setPolicy({ resource: shared.name, policy: { bindings: [{ role: "roles/owner", members: ["user:security@example.com"] }] } });
  for (const t of [clouds[0]!, projects[0]!]) await c.sharedPolicies.createSharedPolicyBinding({ binding: { sharedPolicy: shared.name, target: t } });
}

/** Runs the CLI in process; returns its exit code and output. */
async function policy(server: TestServer, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await main([...args, "--server", server.url], { HOME: "/nonexistent", XDG_CONFIG_HOME: "/nonexistent" }, {
    stdout: (t) => void (stdout += `${t}\n`),
    stderr: (t) => void (stderr += `${t}\n`),
    stdin: async () => "",
    confirm: () => undefined,
  });
  return { code, stdout, stderr };
}

// The source estate is written once and only read; each test that applies gets a server of its own, so the tests
// pass in any order.
const exported = tempDir("pac-export-");

beforeAll(async () => {
  source = await startTestServer();
  await generateEstate(source);
  writeEstateDir(exported, await exportSubtree(source.grpc, org));
});

afterAll(async () => {
  await Promise.all([source?.stop(), ...servers.map((s) => s.stop())]);
});

async function emptyServer(): Promise<TestServer> {
  const server = await startTestServer();
  servers.push(server);
  return server;
}

/** A server holding the exported estate, applied through the SDK. */
async function appliedServer(): Promise<TestServer> {
  const server = await emptyServer();
  await applyPlan(server.grpc, await planApply(server.grpc, readEstateDir(exported)));
  return server;
}

describe("export and apply", () => {
  test("an export has every object kind in a stable layout; exporting again writes the same bytes", async () => {
    const cli = tempDir("pac-export-cli-");
    const again = tempDir("pac-export-again-");
    expect((await policy(source, "export", "--subtree", org, cli)).code).toBe(0);
    // The CLI's export and the SDK's are the same files.
    for (const [path, text] of estateFiles(readEstateDir(exported))) expect(readFileSync(join(cli, path), "utf8"), path).toBe(text);
    expect((await policy(source, "export", "--subtree", org, again)).code).toBe(0);
    const first = estateFiles(readEstateDir(exported));
    expect([...first.keys()]).toEqual(expect.arrayContaining(["estate.yaml", `resources/${org}.yaml`, `roles/${org}/viewer.yaml`, `shared-policies/${sharedId}.yaml`]));
    for (const [path, text] of first) expect(readFileSync(join(again, path), "utf8")).toBe(text);
    // No volatile field in any file.
    for (const text of first.values()) expect(text).not.toMatch(/etag|updateTime|createTime|syncStatus/i);
    const orgFile = readFileSync(join(exported, `resources/${org}.yaml`), "utf8");
    expect(orgFile).toContain("auditConfigs");
    expect(readFileSync(join(exported, `shared-policies/${sharedId}.yaml`), "utf8")).toContain("targets:");
  });

  test("apply to an empty server reproduces the subtree: a plan exits 2, apply, then a plan exits 0 and the export is byte-identical", async () => {
    const target = await emptyServer();
    const roundTrip = tempDir("pac-roundtrip-");
    const plan = await policy(target, "apply", exported, "--plan");
    expect(plan.code).toBe(2);
    const json = await policy(target, "apply", exported, "--plan", "-o", "json");
    expect(json.code).toBe(2);
    const parsed = JSON.parse(json.stdout) as { changes: { kind: string; target: string }[]; summary: { create: number } };
    expect(parsed.changes[0]).toEqual({ kind: "createResource", target: `resource ${org}` });
    expect(parsed.summary.create).toBeGreaterThan(10);
    expect(plan.stdout).toContain(`+ create resource ${org}`);
    expect(plan.stdout).toMatch(/Plan: \d+ to create/);
    const applied = await policy(target, "apply", exported);
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    const noop = await policy(target, "apply", exported, "--plan");
    expect(noop.stdout).toContain("No changes");
    expect(noop.code).toBe(0);
    expect((await policy(target, "export", "--subtree", org, roundTrip)).code).toBe(0);
    const want = estateFiles(readEstateDir(exported));
    const got = estateFiles(readEstateDir(roundTrip));
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [path, text] of want) expect(readFileSync(join(roundTrip, path), "utf8"), path).toBe(text);
  });

  test("re-applying is a no-op: nothing is written", async () => {
    const target = await appliedServer();
    const before = await target.grpc.policies.getPolicy({ resource: org });
    const again = await policy(target, "apply", exported);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("No changes");
    expect((await target.grpc.policies.getPolicy({ resource: org })).etag).toEqual(before.etag);
  });

  test("a change to a file plans as a per-binding diff and a move, and applies", async () => {
    const target = await appliedServer();
    const dir = tempDir("pac-edit-");
    writeEstateDir(dir, await exportSubtree(target.grpc, org));
    const estate = readEstateDir(dir);
    const project = estate.resources.find((r) => r.name.startsWith("projects/"))!;
    const otherCloud = estate.resources.find((r) => r.name.startsWith("clouds/") && r.name !== project.parent)!;
    project.parent = otherCloud.name;
    const orgResource = estate.resources.find((r) => r.name === org)!;
    orgResource.policy!.bindings[0]!.members.push("user:new-owner@example.com");
    writeEstateDir(dir, estate);
    const plan = await policy(target, "apply", dir, "--plan");
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain(`> move resource ${project.name}`);
    expect(plan.stdout).toContain("roles/owner: +user:new-owner@example.com");
    expect(plan.stdout).toContain("1 to update, 1 to move");
    expect((await policy(target, "apply", dir)).code).toBe(0);
    expect((await target.grpc.resources.getResource({ name: project.name })).parent).toBe(otherCloud.name);
    expect((await policy(target, "apply", dir, "--plan")).code).toBe(0);
  });

  test("a concurrent edit after the plan stops the apply instead of being overwritten", async () => {
    const target = await appliedServer();
    const estate = await exportSubtree(target.grpc, org);
    estate.resources.find((r) => r.name === org)!.policy!.bindings[0]!.members.push("user:from-git@example.com");
    const plan = await planApply(target.grpc, estate);
    expect(plan.changes.map((c) => c.kind)).toEqual(["setPolicy"]);
    // Someone edits the same policy between plan and apply.
    const current = await target.grpc.policies.getPolicy({ resource: org });
    await target.grpc.policies.setPolicy({
      resource: org,
      policy: { etag: current.etag, bindings: [...current.bindings, { role: "roles/collaborator", members: ["user:hotfix@example.com"] }] },
    });
    const failure = await applyPlan(target.grpc, plan).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplyAborted);
    expect((failure as ApplyAborted).error.code).toBe(Code.Aborted);
    expect((failure as Error).message).toContain(`policy of ${org} changed since the plan read it`);
    const after = await target.grpc.policies.getPolicy({ resource: org });
    expect(after.bindings.flatMap((b) => b.members)).toContain("user:hotfix@example.com");
    expect(after.bindings.flatMap((b) => b.members)).not.toContain("user:from-git@example.com");
  });

  test("what the files do not have is deleted only with --prune, children first", async () => {
    const target = await appliedServer();
    const dir = tempDir("pac-prune-");
    writeEstateDir(dir, await exportSubtree(target.grpc, org));
    const estate = readEstateDir(dir);
    const cloud = estate.resources.find((r) => r.name.startsWith("clouds/") && estate.resources.some((p) => p.parent === r.name))!;
    const children = estate.resources.filter((r) => r.parent === cloud.name).map((r) => r.name);
    for (const name of [cloud.name, ...children]) rmSync(join(dir, `resources/${name}.yaml`));
    // The shared policy's binding to a removed resource goes with it.
    const sharedFile = join(dir, `shared-policies/${sharedId}.yaml`);
    const shared = readEstateDir(dir).sharedPolicies[0]!;
    shared.targets = shared.targets.filter((t) => t !== cloud.name && !children.includes(t));
    const kept = readEstateDir(dir);
    kept.sharedPolicies[0] = shared;
    writeEstateDir(dir, kept);
    expect(readFileSync(sharedFile, "utf8")).toBeTruthy();

    const withoutPrune = await policy(target, "apply", dir, "--plan");
    expect(withoutPrune.code).toBe(0);
    expect(withoutPrune.stdout).toContain("--prune deletes them");
    const plan = await policy(target, "apply", dir, "--plan", "--prune");
    expect(plan.code).toBe(2);
    const deletes = plan.stdout.split("\n").filter((l) => l.startsWith("- delete resource"));
    expect(deletes.at(-1)).toBe(`- delete resource ${cloud.name}`);
    expect(deletes).toHaveLength(1 + children.length);
    expect((await policy(target, "apply", dir, "--prune")).code).toBe(0);
    const gone = await target.grpc.resources.getResource({ name: cloud.name }).catch((e: unknown) => ConnectError.from(e).code);
    expect(gone).toBe(Code.NotFound);
    expect((await policy(target, "apply", dir, "--plan", "--prune")).code).toBe(0);
  });

  test("a bad file is a clear error naming it, and nothing is written", async () => {
    const target = await appliedServer();
    const dir = tempDir("pac-bad-");
    writeEstateDir(dir, await exportSubtree(target.grpc, org));
    writeFileSync(join(dir, `resources/${org}.yaml`), "parent: ''\nowner: someone\n");
    const result = await policy(target, "apply", dir, "--plan");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`resources/${org}.yaml: unknown key "owner"`);
  });
});
