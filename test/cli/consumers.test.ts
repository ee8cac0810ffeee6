// `policy sync consumers list | get | create | delete`: a consumer that no longer runs keeps every policy of its scope
// PENDING; the CLI finds it and removes it, after which the policies are SUCCESS again.
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { runMain, tableRows, type CliResult } from "../helpers/cli.js";

vi.setConfig({ testTimeout: 120_000 });

let server: TestServer;
const policy = (args: string[]) => runMain([...args, "--server", server.url]);

function ok(result: CliResult): CliResult {
  expect(result.stderr, `exit ${result.code}; stdout: ${result.stdout}`).toBe("");
  expect(result.code).toBe(0);
  return result;
}

beforeAll(async () => {
  server = await startTestServer();
  await server.grpc.resources.createResource({ resource: { name: "organizations/acme" } });
  await server.grpc.resources.createResource({ resource: { name: "clouds/cld_abc123", parent: "organizations/acme" } });
});
afterAll(() => server?.stop());

const status = async () => {
  const rows = tableRows(ok(await policy(["get", "--resource-type", "cloud", "--resource-id", "cld_abc123"])).stdout);
  return rows.slice(1).map((row) => row.at(-1));
};

test("a registered consumer keeps its scope PENDING until deleted; list and get show it", async () => {
  expect(ok(await policy(["sync", "consumers", "list"])).stdout).toBe(
    "No consumer is registered: no policy waits for one (every sync status is SUCCESS).\n",
  );
  const created = ok(await policy(["sync", "consumers", "create", "--name", "mirror", "--subtree", "organizations/acme",
    "--type", "cloud", "--display-name", "a mirror that stopped"]));
  expect(tableRows(created.stdout)).toContainEqual(["Scope", "organizations/acme (cloud)"]);
  ok(await policy(["add-binding", "--resource-type", "cloud", "--resource-id", "cld_abc123", "--role", "readonly", "--member", "ug_x"]));
  expect(await status()).toEqual(["PENDING"]);

  const listed = tableRows(ok(await policy(["sync", "consumers", "list"])).stdout);
  expect(listed[0]).toEqual(["Consumer", "Scope", "Acknowledged", "Lag", "Failures", "Last acknowledged"]);
  expect(listed[1]).toEqual(["consumers/mirror", "organizations/acme (cloud)", "0", expect.stringMatching(/^[1-9]\d*$/), "0", "never"]);
  const json = JSON.parse(ok(await policy(["sync", "consumers", "get", "--name", "consumers/mirror", "-o", "json"])).stdout);
  expect(json).toMatchObject({ name: "consumers/mirror", subtree: "organizations/acme", resourceTypes: ["cloud"] });

  const deleted = ok(await policy(["sync", "consumers", "delete", "--name", "mirror"]));
  expect(deleted.stdout).toBe("Deleted consumers/mirror: the policies in its scope no longer wait for it.\n");
  expect(await status()).toEqual(["SUCCESS"]);
  const gone = await policy(["sync", "consumers", "get", "--name", "mirror"]);
  expect(gone.code).toBe(1);
  expect(gone.stderr).toMatch(/^error: NOT_FOUND: /);
  expect(gone.stderr).toMatch(/hint: .*policy sync consumers list/);
});

test("a consumer name is an id or consumers/ID", async () => {
  const bad = await policy(["sync", "consumers", "get", "--name", "consumers/a/b"]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/^error: --name "consumers\/a\/b" is not a consumer id/);
});
