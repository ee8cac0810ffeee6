// `policy roles list | get | grantable` against a real server.
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { createPolicyClient } from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { cliFor, runMain, tableRows, type CliResult } from "../helpers/cli.js";

vi.setConfig({ testTimeout: 120_000 });

let server: TestServer;
let policy: ReturnType<typeof cliFor>;

beforeAll(async () => {
  server = await startTestServer();
  policy = cliFor(server.url);
  const api = createPolicyClient({ baseUrl: server.url });
  await api.resources.createResource({ resource: { name: "organizations/rolesorg" } });
  await api.resources.createResource({ resource: { name: "projects/prj_roles", parent: "organizations/rolesorg" } });
  await api.roles.createRole({
    parent: "organizations/rolesorg",
    roleId: "deployer",
    role: { title: "Deployer", includedPermissions: ["projects.get", "projects.update"] },
  });
  api.close();
});
afterAll(() => server?.stop());

function ok(result: CliResult): CliResult {
  expect(result.stderr, `exit ${result.code}; stdout: ${result.stdout}`).toBe("");
  expect(result.code).toBe(0);
  return result;
}

test("roles list, get and grantable", async () => {
  const predefined = tableRows(ok(await policy(["roles", "list"])).stdout);
  expect(predefined.map((row) => row[0])).toEqual(["Role", "roles/checker", "roles/collaborator", "roles/owner", "roles/readonly"]);
  const custom = JSON.parse(ok(await policy(["roles", "list", "--parent", "organizations/rolesorg", "-o", "json"])).stdout);
  expect(custom.roles.map((r: { name: string }) => r.name)).toEqual(["organizations/rolesorg/roles/deployer"]);
  const role = tableRows(ok(await policy(["roles", "get", "--role", "roles/readonly"])).stdout);
  expect(role).toContainEqual(["Grantable on", "cloud, project, shared_policy"]);
  const grantable = tableRows(ok(await policy(["roles", "grantable", "--resource-type", "project", "--resource-id", "prj_roles"])).stdout);
  expect(grantable.slice(1).map((row) => row[0])).toEqual(["roles/owner", "roles/collaborator", "roles/readonly", "organizations/rolesorg/roles/deployer"]);
  const missing = await policy(["roles", "get", "--role", "roles/nope"]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/not found/);
});

test("roles get takes a bare role name, as policy files and add-binding do; a missing role's hint is about roles", async () => {
  const bare = ok(await runMain(["roles", "get", "--role", "owner", "--server", server.url]));
  expect(tableRows(bare.stdout)).toContainEqual(["Name", "roles/owner"]);
  const missing = await runMain(["roles", "get", "--role", "nope", "--server", server.url]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/^error: NOT_FOUND: .*roles\/nope/);
  expect(missing.stderr).toMatch(/\nhint: .*policy roles list/);
  expect(missing.stderr).not.toMatch(/resource/);
});

test("roles list of an organization without custom roles says so, and how to list the predefined ones", async () => {
  const api = createPolicyClient({ baseUrl: server.url });
  await api.resources.createResource({ resource: { name: "organizations/plainorg" } });
  api.close();
  const none = ok(await runMain(["roles", "list", "--parent", "organizations/plainorg", "--server", server.url]));
  expect(none.stdout).toBe(
    "organizations/plainorg has no custom roles. `policy roles list` (without --parent) lists the predefined roles.\n",
  );
  // Scripts still get a document.
  const json = ok(await runMain(["roles", "list", "--parent", "organizations/plainorg", "-o", "json", "--server", server.url]));
  expect(JSON.parse(json.stdout)).toEqual({ roles: [] });
});
