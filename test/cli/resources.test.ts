// `policy resources ...`, `policy check`, the current organization (flag, environment, config file, the only one),
// and `--help` on every command.
import { afterAll, expect, test, vi } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { cli, cliFor, tableRows, tempFile, type CliResult } from "../helpers/cli.js";

// Each case runs the CLI as several child processes (~1 s each on a busy two-core machine).
vi.setConfig({ testTimeout: 120_000 });

// Each test has a server of its own, so that the tests pass in any order.
const servers: TestServer[] = [];
afterAll(() => Promise.all(servers.map((s) => s.stop())));

async function emptyServer(): Promise<{ server: TestServer; policy: ReturnType<typeof cliFor> }> {
  const server = await startTestServer();
  servers.push(server);
  return { server, policy: cliFor(server.url) };
}

/** What the create test makes through the CLI, made through the API: acme (ada owns it), two clouds, a project. */
async function acme(): Promise<{ server: TestServer; policy: ReturnType<typeof cliFor> }> {
  const made = await emptyServer();
  const { resources, policies } = made.server.grpc;
  await resources.createResource({ resource: { name: "organizations/acme" } });
  await resources.createResource({ resource: { name: "clouds/cld_abc123", parent: "organizations/acme", displayName: "Production" } });
  await resources.createResource({ resource: { name: "projects/prj_xyz789", parent: "clouds/cld_abc123" } });
  await resources.createResource({ resource: { name: "clouds/cld_other", parent: "organizations/acme" } });
  await policies.setPolicy({ resource: "organizations/acme", policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] } });
  return made;
}

/** The project moved under cld_other, where group:ug_other reads. */
async function moved(policy: ReturnType<typeof cliFor>): Promise<void> {
  ok(await policy(["add-binding", "--resource-type", "cloud", "--resource-id", "cld_other", "--role", "readonly", "--member", "ug_other"]));
  ok(await policy(["resources", "move", "--resource-type", "project", "--resource-id", "prj_xyz789", "--parent", "clouds/cld_other"]));
}

function ok(result: CliResult): CliResult {
  expect(result.stderr, `exit ${result.code}; stdout: ${result.stdout}`).toBe("");
  expect(result.code).toBe(0);
  return result;
}

test("with no organization on the server, organization commands say how to create one", async () => {
  const { policy } = await emptyServer();
  const result = await policy(["get", "--resource-type", "organization"]);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/no organization on the server\nhint: .*policy resources create --resource-type organization --organization ID/);
});

test("resources create: an organization by --organization, then clouds and projects in it without --parent", async () => {
  const { server, policy } = await emptyServer();
  const org = JSON.parse(ok(await policy(["resources", "create", "--resource-type", "organization", "--organization", "acme", "-o", "json"])).stdout);
  expect(org).toMatchObject({ name: "organizations/acme", type: "organization" });

  // The only organization is the current one: a cloud goes into it.
  const cloud = ok(
    await policy(["resources", "create", "--resource-type", "cloud", "--resource-id", "cld_abc123", "--display-name", "Production"]),
  );
  expect(tableRows(cloud.stdout).slice(0, 5)).toEqual([
    ["Field", "Value"],
    ["Name", "clouds/cld_abc123"],
    ["Type", "cloud"],
    ["Parent", "organizations/acme"],
    ["Display name", "Production"],
  ]);
  ok(await policy(["resources", "create", "--resource-type", "project", "--resource-id", "prj_xyz789", "--parent", "clouds/cld_abc123"]));
  ok(await policy(["resources", "create", "--resource-type", "cloud", "--resource-id", "cld_other"]));

  // The only organization is found for organization commands, too.
  ok(await policy(["set", "--resource-type", "organization", "-f", "-"], { input: "bindings:\n  - role_name: owner\n    principals: [ada@example.com]\n" }));
  expect((await server.grpc.policies.getPolicy({ resource: "organizations/acme" })).bindings[0]?.members).toEqual(["user:ada@example.com"]);

  const dup = await policy(["resources", "create", "--resource-type", "cloud", "--resource-id", "cld_abc123"]);
  expect(dup.code).toBe(1);
  expect(dup.stderr).toMatch(/^error: ALREADY_EXISTS: /);
});

test("resources list and get, in a table and as JSON", async () => {
  const { policy } = await acme();
  const table = ok(await policy(["resources", "list"]));
  expect(tableRows(table.stdout)).toEqual([
    ["Name", "Type", "Parent", "Display name"],
    ["clouds/cld_abc123", "cloud", "organizations/acme", "Production"],
    ["clouds/cld_other", "cloud", "organizations/acme"],
    ["organizations/acme", "organization", "-"],
    ["projects/prj_xyz789", "project", "clouds/cld_abc123"],
  ]);
  const clouds = JSON.parse(ok(await policy(["resources", "list", "--resource-type", "cloud", "-o", "json"])).stdout);
  expect(clouds.resources.map((r: { name: string }) => r.name)).toEqual(["clouds/cld_abc123", "clouds/cld_other"]);
  const children = JSON.parse(ok(await policy(["resources", "list", "--parent", "clouds/cld_abc123", "-o", "yaml", "-o", "json"])).stdout);
  expect(children.resources.map((r: { name: string }) => r.name)).toEqual(["projects/prj_xyz789"]);

  const got = JSON.parse(ok(await policy(["resources", "get", "--resource", "projects/prj_xyz789", "-o", "json"])).stdout);
  expect(got).toMatchObject({ name: "projects/prj_xyz789", parent: "clouds/cld_abc123", type: "project", etag: expect.any(String) });
  const org = JSON.parse(ok(await policy(["resources", "get", "--resource-type", "organization", "-o", "json"])).stdout);
  expect(org.name).toBe("organizations/acme");
});

test("resources move changes the effective policy; a stale --etag is ABORTED with a resource hint", async () => {
  const { policy } = await acme();
  ok(await policy(["add-binding", "--resource-type", "cloud", "--resource-id", "cld_other", "--role", "readonly", "--member", "ug_other"]));
  const before = JSON.parse(ok(await policy(["resources", "get", "--resource-type", "project", "--resource-id", "prj_xyz789", "-o", "json"])).stdout);
  const moved = JSON.parse(
    ok(await policy(["resources", "move", "--resource-type", "project", "--resource-id", "prj_xyz789", "--parent", "clouds/cld_other", "--etag", before.etag, "-o", "json"])).stdout,
  );
  expect(moved.parent).toBe("clouds/cld_other");
  const lookup = ok(await policy(["lookup", "--resource-type", "project", "--resource-id", "prj_xyz789"]));
  expect(lookup.stdout).toContain("group:ug_other");

  const stale = await policy(["resources", "move", "--resource-type", "project", "--resource-id", "prj_xyz789", "--parent", "clouds/cld_abc123", "--etag", before.etag]);
  expect(stale.code).toBe(1);
  expect(stale.stderr).toMatch(/^error: ABORTED: /);
  expect(stale.stderr).toMatch(/hint: the resource changed since you read its etag/);
});

test("policy check: granted permissions exit 0, a denied one exits 3; --explain names the deciding binding", async () => {
  const { policy } = await acme();
  await moved(policy);
  const project = ["--resource-type", "project", "--resource-id", "prj_xyz789"];
  const granted = ok(await policy(["check", ...project, "--principal", "user:ada@example.com", "--permission", "projects.get", "--permission", "projects.delete"]));
  expect(tableRows(granted.stdout)).toEqual([
    ["Permission", "Access"],
    ["projects.get", "GRANTED"],
    ["projects.delete", "GRANTED"],
  ]);

  const denied = await policy(["check", ...project, "--principal", "user:bob@example.com", "--permission", "projects.get"]);
  expect(denied.code).toBe(3);
  expect(tableRows(denied.stdout)).toEqual([["Permission", "Access"], ["projects.get", "NOT_GRANTED"]]);

  const explained = ok(await policy(["check", ...project, "--principal", "group:ug_other", "--permission", "projects.get", "--explain", "-o", "json"]));
  const json = JSON.parse(explained.stdout);
  expect(json.grantedPermissions).toEqual(["projects.get"]);
  expect(json.results[0].explanations).toContainEqual(
    expect.objectContaining({ role: "roles/readonly", resource: "clouds/cld_other", state: "ACCESS_STATE_GRANTED", matchedMember: "group:ug_other" }),
  );

  const conditional = ["--role", "readonly", "--member", "dave@example.com", "--condition", 'request.attributes.ip == "10.1.2.3"'];
  ok(await policy(["add-binding", "--resource-type", "cloud", "--resource-id", "cld_other", ...conditional]));
  const check = ["check", ...project, "--principal", "dave@example.com", "--permission", "projects.get"];
  expect((await policy([...check, "--attribute", "ip=10.1.2.3"])).code).toBe(0);
  expect((await policy([...check, "--attribute", "ip=10.9.9.9"])).code).toBe(3);
});

test("resources delete refuses a parent with children unless --cascade", async () => {
  const { policy } = await acme();
  await moved(policy);
  const refused = await policy(["resources", "delete", "--resource-type", "cloud", "--resource-id", "cld_other"]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/^error: FAILED_PRECONDITION: .*\nhint: .*--cascade/);
  const deleted = ok(await policy(["resources", "delete", "--resource-type", "cloud", "--resource-id", "cld_other", "--cascade", "--yes"]));
  expect(deleted.stdout.trim()).toBe("Deleted clouds/cld_other and 1 descendant(s).");
});

test("the config file gives the server and the organization; flags and the environment win over it", async () => {
  const { server } = await acme();
  const config = tempFile("config.yaml", `server: ${server.url}\nprotocol: connect\norganization: acme\n`);
  const viaConfig = ok(await cli(["get", "--resource-type", "organization", "-o", "json"], { env: { POLICY_CONFIG: config } }));
  expect(JSON.parse(viaConfig.stdout).bindings[0].role).toBe("roles/owner");

  // POLICY_SERVER beats the config file: nothing listens on port 1.
  const env = await cli(["get", "--resource-type", "organization"], { env: { POLICY_CONFIG: config, POLICY_SERVER: "http://127.0.0.1:1" } });
  expect(env.code).toBe(1);
  expect(env.stderr).toMatch(/^error: UNAVAILABLE: .*\nhint: is the server running at http:\/\/127\.0\.0\.1:1\?/);

  const bad = tempFile("bad-config.yaml", "sever: http://x\n");
  const badResult = await cli(["get", "--resource-type", "organization"], { env: { POLICY_CONFIG: bad } });
  expect(badResult.code).toBe(2);
  expect(badResult.stderr).toMatch(/unknown key "sever"/);
});

test("a token is sent as a bearer token without disturbing a server that does not ask for one", async () => {
  const { policy } = await acme();
  ok(await policy(["resources", "get", "--resource", "organizations/acme", "--token", "t0ken"]));
});
