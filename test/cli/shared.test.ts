// `policy shared ...` against a real server: create from a file, get, update, list, bind, bindings, unbind, delete.
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { createPolicyClient } from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { cliFor, tableRows, type CliResult } from "../helpers/cli.js";

vi.setConfig({ testTimeout: 180_000 });

let server: TestServer;
let policy: ReturnType<typeof cliFor>;

beforeAll(async () => {
  server = await startTestServer();
  policy = cliFor(server.url);
  const api = createPolicyClient({ baseUrl: server.url });
  await api.resources.createResource({ resource: { name: "organizations/sharedorg" } });
  await api.resources.createResource({ resource: { name: "clouds/cld_prod", parent: "organizations/sharedorg" } });
  api.close();
});
afterAll(() => server?.stop());

function ok(result: CliResult): CliResult {
  expect(result.stderr, `exit ${result.code}; stdout: ${result.stdout}`).toBe("");
  expect(result.code).toBe(0);
  return result;
}

test("shared create, update, list, bind, bindings, unbind, delete", async () => {
  const file = [
    "display_name: Production baseline",
    "bindings:",
    "  - role_name: readonly",
    "    principals: [ada@example.com]",
    "deny_rules:",
    "  - deniedPrincipals: [group:contractors]",
    "    deniedPermissions: [projects.delete]",
    "",
  ].join("\n");
  const created = JSON.parse(ok(await policy(["shared", "create", "--id", "baseline", "-f", "-", "-o", "json"], { input: file })).stdout);
  expect(created).toMatchObject({ name: "sharedPolicies/baseline", parent: "organizations/sharedorg", displayName: "Production baseline" });
  expect(created.bindings).toEqual([{ role: "roles/readonly", members: ["user:ada@example.com"] }]);
  expect(created.denyRules[0].deniedPrincipals).toEqual(["group:contractors"]);

  const updated = JSON.parse(
    ok(await policy(["shared", "update", "--name", "baseline", "-f", "-", "-o", "json"], { input: "description: for prod\n" })).stdout,
  );
  expect(updated).toMatchObject({ description: "for prod", displayName: "Production baseline" });
  expect(updated.bindings).toHaveLength(1);

  expect(tableRows(ok(await policy(["shared", "list"])).stdout)[1]).toEqual(["sharedPolicies/baseline", "Production baseline", "1", "1"]);
  ok(await policy(["shared", "bind", "--policy", "baseline", "--resource", "clouds/cld_prod"]));
  expect(tableRows(ok(await policy(["shared", "bindings", "--resource", "clouds/cld_prod"])).stdout)).toEqual([
    ["Shared policy", "Bound to"],
    ["sharedPolicies/baseline", "clouds/cld_prod"],
  ]);
  const refused = await policy(["shared", "delete", "--name", "baseline"]);
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(/bound to 1 resource/);
  ok(await policy(["shared", "unbind", "--policy", "sharedPolicies/baseline", "--resource", "clouds/cld_prod"]));
  expect(JSON.parse(ok(await policy(["shared", "bindings", "--policy", "baseline", "-o", "json"])).stdout).bindings).toEqual([]);
  expect(ok(await policy(["shared", "delete", "--name", "baseline"])).stdout).toMatch(/Deleted sharedPolicies\/baseline/);
});
