// `policy who-can` and `policy what-can` end to end, in-process (runMain), against a real server.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { runMain, tableRows } from "../helpers/cli.js";

let server: TestServer;
const run = (...args: string[]) => runMain([...args, "--server", server.url]);

beforeAll(async () => {
  server = await startTestServer();
  const api = server.grpc;
  await api.resources.createResource({ resource: { name: "organizations/acme" } });
  await api.resources.createResource({ resource: { name: "clouds/cld_abc123", parent: "organizations/acme" } });
  for (const id of ["prj_a", "prj_b"]) await api.resources.createResource({ resource: { name: `projects/${id}`, parent: "clouds/cld_abc123" } });
  await api.resources.createResource({ resource: { name: "projects/prj_org", parent: "organizations/acme" } });
  await api.policies.setPolicy({ resource: "organizations/acme", policy: { bindings: [{ role: "roles/owner", members: ["user:olivia@example.com"] }] } });
  await api.policies.setPolicy({
    resource: "clouds/cld_abc123",
    policy: {
      version: 3,
      bindings: [
        { role: "roles/readonly", members: ["group:eng"] },
        { role: "roles/collaborator", members: ["user:carl@example.com"], condition: { expression: "request.attributes.ok == true" } },
      ],
    },
  });
});
afterAll(() => server?.stop());

test("who-can lists the members, roles, binding resources and conditions; attributes evaluate the conditions", async () => {
  const result = await run("who-can", "--resource-type", "project", "--resource-id", "prj_a", "--permission", "projects.update");
  expect(result.stderr).toBe("");
  expect(tableRows(result.stdout)).toEqual([
    ["Member", "Role", "From", "Condition", "Access"],
    ["user:carl@example.com", "roles/collaborator", "clouds/cld_abc123", "request.attributes.ok == true", "UNKNOWN_CONDITIONAL"],
    ["user:olivia@example.com", "roles/owner", "organizations/acme", "GRANTED"],
  ]);
  const evaluated = await run("who-can", "--resource", "projects/prj_a", "--permission", "projects.update", "--attribute", "ok=false", "--output", "json");
  expect(JSON.parse(evaluated.stdout).grants.map((g: { member: string }) => g.member)).toEqual(["user:olivia@example.com"]);
});

test("what-can lists the resources of a type through inheritance, optionally beneath an ancestor", async () => {
  const result = await run("what-can", "--type", "project", "--principal", "user:someone@example.com", "--principal", "group:eng", "--permission", "projects.get");
  expect(result.stderr).toBe("");
  expect(tableRows(result.stdout).slice(1).map((r) => r[0]).sort()).toEqual(["projects/prj_a", "projects/prj_b"]);
  const owner = await run("what-can", "--type", "project", "--principal", "olivia@example.com", "--permission", "projects.delete", "--ancestor", "organizations/acme", "--output", "json");
  expect(JSON.parse(owner.stdout).resources.map((r: { resource: string }) => r.resource).sort()).toEqual(["projects/prj_a", "projects/prj_b", "projects/prj_org"]);
  const none = await run("what-can", "--type", "cloud", "--principal", "user:nobody@example.com", "--permission", "clouds.get");
  expect(none.stdout.trim()).toBe("No cloud grants clouds.get to them.");
});
