// `policy add-binding | remove-binding` end to end, and concurrent add-binding from several processes.
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { cliFor, tableRows, type CliResult } from "../helpers/cli.js";

// Each case runs the CLI as several child processes (~1 s each on a busy two-core machine).
vi.setConfig({ testTimeout: 120_000 });

let server: TestServer;
let policy: ReturnType<typeof cliFor>;

beforeAll(async () => {
  server = await startTestServer();
  policy = cliFor(server.url);
  const r = server.grpc.resources;
  await r.createResource({ resource: { name: "organizations/acme" } });
  await r.createResource({ resource: { name: "clouds/cld_abc123", parent: "organizations/acme" } });
  await r.createResource({ resource: { name: "clouds/cld_busy", parent: "organizations/acme" } });
  await r.createResource({ resource: { name: "projects/prj_xyz789", parent: "clouds/cld_abc123" } });
});
afterAll(() => server?.stop());

function ok(result: CliResult): CliResult {
  expect(result.stderr, `exit ${result.code}; stdout: ${result.stdout}`).toBe("");
  expect(result.code).toBe(0);
  return result;
}

const CLOUD = ["--resource-type", "cloud", "--resource-id", "cld_abc123"];

async function membersOf(resource: string): Promise<Record<string, string[]>> {
  const p = await server.grpc.policies.getPolicy({ resource, options: { requestedPolicyVersion: 3 } });
  return Object.fromEntries(p.bindings.map((b) => [b.condition ? `${b.role} if ${b.condition.expression}` : b.role, b.members]));
}

test("add-binding grants a role (bare role and members normalised) and prints the policy", async () => {
  const result = ok(
    await policy(["add-binding", ...CLOUD, "--role", "collaborator", "--member", "ug_abc123", "--member", "Ada@Example.com"]),
  );
  expect(tableRows(result.stdout)).toEqual([
    ["Role", "Principal", "Status"],
    ["roles/collaborator", "group:ug_abc123", "SUCCESS"],
    ["roles/collaborator", "user:ada@example.com", "SUCCESS"],
  ]);
  ok(await policy(["add-binding", ...CLOUD, "--role", "roles/collaborator", "--member", "group:ug_abc123", "--member", "bob@example.com"]));
  expect(await membersOf("clouds/cld_abc123")).toEqual({
    "roles/collaborator": ["group:ug_abc123", "user:ada@example.com", "user:bob@example.com"],
  });
});

test("add-binding with a condition makes a version-3 policy; remove-binding takes members out", async () => {
  // A cloud of its own, with the collaborators the test above adds (it does not depend on that test running first).
  await server.grpc.resources.createResource({ resource: { name: "clouds/cld_cond", parent: "organizations/acme" } });
  await server.grpc.policies.setPolicy({
    resource: "clouds/cld_cond",
    policy: { bindings: [{ role: "roles/collaborator", members: ["group:ug_abc123", "user:ada@example.com", "user:bob@example.com"] }] },
  });
  const CLOUD = ["--resource-type", "cloud", "--resource-id", "cld_cond"];
  const condition = 'request.time < timestamp("2030-01-01T00:00:00Z")';
  const args = ["--role", "readonly", "--member", "carol@example.com", "--condition", condition];
  const added = ok(await policy(["add-binding", ...CLOUD, ...args, "--condition-title", "until 2030", "-o", "json"]));
  const json = JSON.parse(added.stdout);
  expect(json.version).toBe(3);
  expect(json.bindings).toContainEqual({
    role: "roles/readonly",
    members: ["user:carol@example.com"],
    condition: { expression: condition, title: "until 2030" },
  });

  // Without --condition, only the unconditional binding is looked at: carol is not there.
  const missing = await policy(["remove-binding", ...CLOUD, "--role", "readonly", "--member", "carol@example.com"]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/^error: NOT_FOUND: no binding of roles\/readonly without condition on clouds\/cld_cond has user:carol@example.com/);

  ok(await policy(["remove-binding", ...CLOUD, ...args]));
  ok(await policy(["remove-binding", ...CLOUD, "--role", "collaborator", "--member", "bob@example.com"]));
  expect(await membersOf("clouds/cld_cond")).toEqual({
    "roles/collaborator": ["group:ug_abc123", "user:ada@example.com"],
  });
});

test("add-binding reports the server's refusal of a role the type does not have", async () => {
  const result = await policy(["add-binding", ...CLOUD, "--role", "owner", "--member", "ada@example.com"]);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^error: INVALID_ARGUMENT: /);
  expect(result.stderr).toMatch(/roles\/owner" cannot be granted on a cloud/);
});

test("add-binding on the organization needs no --resource-id", async () => {
  ok(await policy(["add-binding", "--resource-type", "organization", "--organization", "acme", "--role", "owner", "--member", "ada@example.com"]));
  expect(await membersOf("organizations/acme")).toEqual({ "roles/owner": ["user:ada@example.com"] });
});

test("usage errors: a missing --role or --member, --condition-title without --condition", async () => {
  for (const args of [
    ["add-binding", ...CLOUD, "--member", "ada@example.com"],
    ["add-binding", ...CLOUD, "--role", "readonly"],
    ["add-binding", ...CLOUD, "--role", "readonly", "--member", "x@example.com", "--condition-title", "t"],
  ]) {
    const result = await policy(args);
    expect(result.code, args.join(" ")).toBe(2);
    expect(result.stderr).toMatch(/^error: .*\nrun `policy add-binding --help` for usage/);
  }
});

test("concurrent add-binding from 6 processes: every member lands", async () => {
  const members = Array.from({ length: 6 }, (_, i) => `user:writer${i}@example.com`);
  const results = await Promise.all(
    members.map((m) =>
      policy(["add-binding", "--resource-type", "cloud", "--resource-id", "cld_busy", "--role", "readonly", "--member", m, "-o", "json"]),
    ),
  );
  for (const r of results) ok(r);
  expect(await membersOf("clouds/cld_busy")).toEqual({ "roles/readonly": [...members].sort() });
});
