// `policy set | get | list | delete | lookup` end to end: the CLI as a child process against a real server.
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { parse } from "yaml";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { cliFor, runMain, tableRows, tempFile, type CliResult } from "../helpers/cli.js";

// Each case runs the CLI as several child processes (~1 s each on a busy two-core machine).
vi.setConfig({ testTimeout: 120_000 });

let server: TestServer;
let policy: ReturnType<typeof cliFor>;

const ORG = ["--organization", "acme"];

beforeAll(async () => {
  server = await startTestServer();
  policy = cliFor(server.url);
  const r = server.grpc.resources;
  await r.createResource({ resource: { name: "organizations/acme" } });
  await r.createResource({ resource: { name: "organizations/globex" } });
  await r.createResource({ resource: { name: "clouds/cld_abc123", parent: "organizations/acme", displayName: "Production" } });
  await r.createResource({ resource: { name: "clouds/cld_def456", parent: "organizations/acme" } });
  await r.createResource({ resource: { name: "clouds/cld_nobindings", parent: "organizations/acme" } });
  await r.createResource({ resource: { name: "clouds/cld_globex", parent: "organizations/globex" } });
  await r.createResource({ resource: { name: "projects/prj_xyz789", parent: "clouds/cld_abc123" } });
  await r.createResource({ resource: { name: "projects/prj_roundtrip", parent: "clouds/cld_abc123" } });
  await r.createResource({ resource: { name: "projects/prj_stale", parent: "clouds/cld_abc123" } });
  await r.createResource({ resource: { name: "projects/prj_force", parent: "clouds/cld_abc123" } });
  // The policies the first three tests set through the CLI, set here too: the listing and lookup tests do not depend
  // on those running first (the CLI writes the same bindings again).
  const p = server.grpc.policies;
  const grant = (role: string, ...members: string[]) => ({ role, members });
  await p.setPolicy({ resource: "clouds/cld_abc123", policy: { bindings: [grant("roles/collaborator", "group:ug_abc123", "user:ada@example.com"), grant("roles/readonly", "domain:example.com")] } });
  await p.setPolicy({ resource: "projects/prj_xyz789", policy: { bindings: [grant("roles/owner", "user:ada@example.com"), grant("roles/readonly", "group:ug_abc123", "serviceAccount:ci@example.com")] } });
  await p.setPolicy({ resource: "organizations/acme", policy: { bindings: [grant("roles/owner", "user:ada@example.com")] } });
});
afterAll(() => server?.stop());

function ok(result: CliResult): CliResult {
  expect(result.stderr, `exit ${result.code}; stdout: ${result.stdout}`).toBe("");
  expect(result.code).toBe(0);
  return result;
}

const ANYSCALE_CLOUD = `
bindings:
  - role_name: collaborator
    principals:
      - ug_abc123
      - ada@example.com
  - role_name: readonly
    principals: [domain:example.com]
`;

const IAM_PROJECT = `
version: 1
bindings:
  - role: roles/owner
    members: [user:ada@example.com]
  - role: roles/readonly
    members:
      - group:ug_abc123
      - serviceAccount:ci@example.com
`;

test("set a cloud's policy from Anyscale's YAML form: roles and principals are normalised; the table shows them", async () => {
  const file = tempFile("cloud.yaml", ANYSCALE_CLOUD);
  const set = ok(await policy(["set", "--resource-type", "cloud", "--resource-id", "cld_abc123", "-f", file]));
  expect(tableRows(set.stdout)).toEqual([
    ["Role", "Principal", "Status"],
    ["roles/collaborator", "group:ug_abc123", "SUCCESS"],
    ["roles/collaborator", "user:ada@example.com", "SUCCESS"],
    ["roles/readonly", "domain:example.com", "SUCCESS"],
  ]);
  const stored = await server.grpc.policies.getPolicy({ resource: "clouds/cld_abc123" });
  expect(stored.bindings.map((b) => [b.role, b.members])).toEqual([
    ["roles/collaborator", ["group:ug_abc123", "user:ada@example.com"]],
    ["roles/readonly", ["domain:example.com"]],
  ]);
  const get = ok(await policy(["get", "--resource-type", "cloud", "--resource-id", "cld_abc123"]));
  expect(get.stdout).toBe(set.stdout);
});

test("set a project's policy from IAM's form, on stdin (-f -); get -o json parses as the stored policy", async () => {
  ok(await policy(["set", "--resource-type", "project", "--resource-id", "prj_xyz789", "-f", "-"], { input: IAM_PROJECT }));
  const json = JSON.parse(ok(await policy(["get", "--resource-type", "project", "--resource-id", "prj_xyz789", "-o", "json"])).stdout);
  const stored = await server.grpc.policies.getPolicy({ resource: "projects/prj_xyz789" });
  expect(json).toEqual({
    version: 1,
    etag: Buffer.from(stored.etag).toString("base64"),
    bindings: [
      { role: "roles/owner", members: ["user:ada@example.com"] },
      { role: "roles/readonly", members: ["group:ug_abc123", "serviceAccount:ci@example.com"] },
    ],
    syncStatus: "SYNC_STATUS_SUCCESS",
    updateTime: expect.any(String),
  });
});

test("the organization takes no --resource-id: --organization names it", async () => {
  const file = tempFile("org.yaml", "bindings:\n  - role_name: owner\n    principals: [ada@example.com]\n");
  ok(await policy(["set", "--resource-type", "organization", ...ORG, "-f", file]));
  const get = ok(await policy(["get", "--resource-type", "organization", ...ORG]));
  expect(tableRows(get.stdout)).toEqual([
    ["Role", "Principal", "Status"],
    ["roles/owner", "user:ada@example.com", "SUCCESS"],
  ]);
  expect((await server.grpc.policies.getPolicy({ resource: "organizations/acme" })).bindings[0]?.role).toBe("roles/owner");
  // POLICY_ORGANIZATION works as well as the flag.
  const env = ok(await policy(["get", "--resource-type", "organization"], { env: { POLICY_ORGANIZATION: "acme" } }));
  expect(env.stdout).toBe(get.stdout);
});

test("--resource-id with --resource-type organization is a clear usage error, and nothing is sent", async () => {
  const result = await policy(["get", "--resource-type", "organization", "--resource-id", "acme"]);
  expect(result.code).toBe(2);
  expect(result.stdout).toBe("");
  expect(result.stderr).toMatch(/--resource-id cannot be used with --resource-type organization/);
  expect(result.stderr).toMatch(/--organization/);
});

test("several organizations and none chosen: an error that lists them and says how to choose", async () => {
  const result = await policy(["get", "--resource-type", "organization"]);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/several organizations \(acme, globex\)/);
  expect(result.stderr).toMatch(/hint: .*--organization/);
});

test("list --resource-type cloud shows the clouds with bindings, in a table and as JSON", async () => {
  const file = tempFile("cloud2.yaml", "bindings:\n  - role_name: readonly\n    principals: [ug_ops]\n");
  ok(await policy(["set", "--resource-type", "cloud", "--resource-id", "cld_def456", "-f", file]));
  ok(await policy(["set", "--resource-type", "cloud", "--resource-id", "cld_globex", "-f", file]));

  const table = ok(await policy(["list", "--resource-type", "cloud", "--parent", "organizations/acme"]));
  expect(tableRows(table.stdout)).toEqual([
    ["Resource", "Role", "Principal", "Status"],
    ["clouds/cld_abc123", "roles/collaborator", "group:ug_abc123", "SUCCESS"],
    ["clouds/cld_abc123", "roles/collaborator", "user:ada@example.com", "SUCCESS"],
    ["clouds/cld_abc123", "roles/readonly", "domain:example.com", "SUCCESS"],
    ["clouds/cld_def456", "roles/readonly", "group:ug_ops", "SUCCESS"],
  ]);
  expect(table.stdout).not.toMatch(/cld_nobindings/);

  const json = JSON.parse(ok(await policy(["list", "--resource-type", "cloud", "-o", "json"])).stdout);
  expect(json.resourcePolicies.map((p: { resource: string }) => p.resource).sort()).toEqual([
    "clouds/cld_abc123",
    "clouds/cld_def456",
    "clouds/cld_globex",
  ]);
  expect(json.resourcePolicies[0]).toMatchObject({ resourceType: "cloud", policy: { bindings: expect.any(Array) } });
});

test("list --sync-status with nothing in that state says what was asked", async () => {
  const none = await runMain(["list", "--resource-type", "cloud", "--sync-status", "failed", "--server", server.url]);
  expect(none).toEqual({ code: 0, stdout: "No cloud has a policy with sync status FAILED.\n", stderr: "" });
  const beneath = await runMain(["list", "--resource-type", "cloud", "--sync-status", "failed", "--sync-status", "pending",
    "--parent", "organizations/acme", "--server", server.url]);
  expect(beneath.stdout).toBe("No cloud beneath organizations/acme has a policy with sync status FAILED or PENDING.\n");
  const anyscale = await runMain(["list", "--resource-type", "cloud", "--sync-status", "failed", "-o", "anyscale", "--server", server.url]);
  expect(anyscale.stdout).toBe("No cloud has a policy with sync status FAILED.\n");
});

test("get -o yaml | set -f - round-trips: only the etag changes", async () => {
  const args = ["--resource-type", "project", "--resource-id", "prj_roundtrip"];
  ok(await policy(["set", ...args, "-f", "-"], { input: IAM_PROJECT }));
  const yaml = ok(await policy(["get", ...args, "-o", "yaml"])).stdout;
  const before = parse(yaml);
  expect(before.etag).toEqual(expect.any(String));

  ok(await policy(["set", ...args, "-f", "-"], { input: yaml }));
  const after = parse(ok(await policy(["get", ...args, "-o", "yaml"])).stdout);
  expect(after.etag).not.toBe(before.etag);
  const { etag: _a, updateTime: _b, ...restBefore } = before;
  const { etag: _c, updateTime: _d, ...restAfter } = after;
  expect(restAfter).toEqual(restBefore);

  // The JSON output is accepted back too (JSON is YAML).
  const json = ok(await policy(["get", ...args, "-o", "json"])).stdout;
  ok(await policy(["set", ...args, "-f", "-"], { input: json }));
});

test("a stale file is rejected with ABORTED and a hint, exit status non-zero, and the policy is unchanged", async () => {
  const args = ["--resource-type", "project", "--resource-id", "prj_stale"];
  ok(await policy(["set", ...args, "-f", "-"], { input: IAM_PROJECT }));
  const stale = tempFile("stale.yaml", ok(await policy(["get", ...args, "-o", "yaml"])).stdout);
  ok(await policy(["add-binding", ...args, "--role", "readonly", "--member", "bob@example.com"]));
  const current = await server.grpc.policies.getPolicy({ resource: "projects/prj_stale" });

  const result = await policy(["set", ...args, "-f", stale]);
  expect(result.code).not.toBe(0);
  expect(result.stdout).toBe("");
  expect(result.stderr).toMatch(/^error: ABORTED: /);
  expect(result.stderr).toContain("hint: the policy changed since you read it: run `policy get` again, or use --force");
  expect(await server.grpc.policies.getPolicy({ resource: "projects/prj_stale" })).toEqual(current);

  // --force overwrites whatever is stored.
  ok(await policy(["set", ...args, "-f", stale, "--force"]));
  const forced = await server.grpc.policies.getPolicy({ resource: "projects/prj_stale" });
  expect(forced.bindings.flatMap((b) => b.members)).not.toContain("user:bob@example.com");
});

test("set without etag overwrites, as Anyscale's `policy set` and IAM's setIamPolicy do: the seed's command repeated", async () => {
  // Anyscale's documented command, verbatim, twice: the second run (the file edited) replaces the first's bindings.
  const args = ["--resource-type", "project", "--resource-id", "prj_force"];
  const file = tempFile("policy.yaml", "bindings:\n  - role_name: readonly\n    principals: [ug_first]\n");
  ok(await policy(["set", ...args, "-f", file]));
  writeFileSync(file, "bindings:\n  - role_name: collaborator\n    principals: [ug_second]\n");
  ok(await policy(["set", ...args, "-f", file]));
  const stored = await server.grpc.policies.getPolicy({ resource: "projects/prj_force" });
  expect(stored.bindings.map((b) => [b.role, b.members])).toEqual([["roles/collaborator", ["group:ug_second"]]]);
});

test("set --no-overwrite writes only a resource without bindings; --etag makes the write conditional", async () => {
  const args = ["--resource-type", "project", "--resource-id", "prj_force"];
  const before = await server.grpc.policies.getPolicy({ resource: "projects/prj_force" });
  const other = tempFile("other.yaml", "bindings:\n  - role_name: readonly\n    principals: [ug_third]\n");
  const refused = await policy(["set", ...args, "-f", other, "--no-overwrite"]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/^error: FAILED_PRECONDITION: projects\/prj_force already has a policy \(1 binding\(s\)\): not overwriting it \(--no-overwrite\)/);
  expect(await server.grpc.policies.getPolicy({ resource: "projects/prj_force" })).toEqual(before);

  const etag = Buffer.from(before.etag).toString("base64");
  ok(await policy(["set", ...args, "-f", other, "--etag", etag]));
  const stale = await policy(["set", ...args, "-f", other, "--etag", etag]);
  expect(stale.code).toBe(1);
  expect(stale.stderr).toMatch(/^error: ABORTED: /);
  const both = await policy(["set", ...args, "-f", other, "--etag", etag, "--force"]);
  expect(both.code).toBe(2);
  expect(both.stderr).toMatch(/^error: --force and --etag/);
});

test("a file the server rejects: INVALID_ARGUMENT with each field problem, exit 1", async () => {
  const file = tempFile("bad.yaml", "bindings:\n  - role_name: owner\n    principals: [ada@example.com]\n");
  const result = await policy(["set", "--resource-type", "cloud", "--resource-id", "cld_nobindings", "-f", file]);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^error: INVALID_ARGUMENT: a problem in the request:\n {2}policy\.bindings\[0\]\.role: role "roles\/owner" cannot be granted on a cloud/);
});

test("the article agrees with the type: cannot be granted on an organization", async () => {
  const file = tempFile("org-readonly.yaml", "bindings:\n  - role_name: readonly\n    principals: [ug_x]\n");
  const result = await runMain(["set", "--resource-type", "organization", ...ORG, "-f", file, "--server", server.url]);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/role "roles\/readonly" cannot be granted on an organization; grantable: /);
});

test("a malformed file is refused before anything is sent (exit 2: a local problem)", async () => {
  const file = tempFile("typo.yaml", "bindings:\n  - role_name: readonly\n    principles: [ug_x]\n");
  const result = await policy(["set", "--resource-type", "cloud", "--resource-id", "cld_nobindings", "-f", file, "--force"]);
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(/typo\.yaml: bindings\[0\]: unknown key "principles"/);
  expect((await server.grpc.policies.getPolicy({ resource: "clouds/cld_nobindings" })).bindings).toEqual([]);
});

test("an unknown resource is NOT_FOUND with a hint", async () => {
  const result = await policy(["get", "--resource-type", "cloud", "--resource-id", "cld_ghost"]);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^error: NOT_FOUND: .*clouds\/cld_ghost/);
  expect(result.stderr).toMatch(/hint: .*policy resources create/);
});

test("lookup shows the effective policy, from the resource up to the organization", async () => {
  const result = ok(await policy(["lookup", "--resource-type", "project", "--resource-id", "prj_xyz789"]));
  const rows = tableRows(result.stdout);
  expect(rows[0]).toEqual(["Role", "Principal", "From", "Status"]);
  expect(rows.slice(1).map((r) => r[2])).toEqual([
    "projects/prj_xyz789",
    "projects/prj_xyz789",
    "projects/prj_xyz789",
    "clouds/cld_abc123",
    "clouds/cld_abc123",
    "clouds/cld_abc123",
    "organizations/acme",
  ]);
  const json = JSON.parse(ok(await policy(["lookup", "--resource", "projects/prj_xyz789", "-o", "json"])).stdout);
  expect(json.policies.map((p: { resource: string }) => p.resource)).toEqual([
    "projects/prj_xyz789",
    "clouds/cld_abc123",
    "organizations/acme",
  ]);
});

test("delete removes the policy; the resource stays", async () => {
  const args = ["--resource-type", "cloud", "--resource-id", "cld_def456"];
  const result = ok(await policy(["delete", ...args]));
  expect(result.stdout.trim()).toBe("Deleted the policy of clouds/cld_def456.");
  expect(ok(await policy(["get", ...args])).stdout.trim()).toBe("clouds/cld_def456 has no bindings.");
  expect((await server.grpc.resources.getResource({ name: "clouds/cld_def456" })).name).toBe("clouds/cld_def456");
});

test("--protocol connect gives the same answers as gRPC", async () => {
  const args = ["get", "--resource-type", "cloud", "--resource-id", "cld_abc123", "-o", "json"];
  const grpc = ok(await policy(args));
  const connect = ok(await policy([...args, "--protocol", "connect"]));
  expect(JSON.parse(connect.stdout)).toEqual(JSON.parse(grpc.stdout));
});
