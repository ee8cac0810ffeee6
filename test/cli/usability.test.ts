// What users of gcloud, zed and fga expect of a CLI: --version, `help CMD`, "did you mean" (completion scripts: completion.test.ts),
// confirmation of destructive commands, the audit log and TestIamPermissions, --format, Anyscale's -f/--config-file and
// output shapes (-o anyscale, style: anyscale), exit code 2 for local problems, and transport failures named as such.
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { main } from "../../src/cli/cli.js";
import { cli, runMain, tempFile, type CliResult } from "../helpers/cli.js";

vi.setConfig({ testTimeout: 120_000 });

let server: TestServer;
const policy = (args: string[]) => runMain([...args, "--server", server.url]);

function ok(result: CliResult): CliResult {
  expect(result.stderr, `exit ${result.code}; stdout: ${result.stdout}`).toBe("");
  expect(result.code).toBe(0);
  return result;
}

const POLICY_YAML = "bindings:\n  - role_name: collaborator\n    principals: [ug_abc123]\n  - role_name: readonly\n" +
  "    principals: [ug_def456, ada@example.com]\n";

beforeAll(async () => {
  server = await startTestServer();
  ok(await policy(["resources", "create", "--resource-type", "organization", "--organization", "acme"]));
  for (const id of ["cld_abc123", "cld_xyz789"]) ok(await policy(["resources", "create", "--resource-type", "cloud", "--resource-id", id]));
  ok(await policy(["resources", "create", "--resource-type", "project", "--resource-id", "prj_1", "--parent", "clouds/cld_xyz789"]));
});
afterAll(() => server?.stop());

test("--version prints the package's version, from the real bin too", async () => {
  const version = (await import("../../package.json", { with: { type: "json" } })).default.version;
  expect(await runMain(["--version"])).toEqual({ code: 0, stdout: `policy ${version}\n`, stderr: "" });
  const bin = await cli(["--version"]);
  expect(bin).toEqual({ code: 0, stdout: `policy ${version}\n`, stderr: "" });
});

test("help CMD is CMD --help; an unknown one suggests the closest", async () => {
  expect(ok(await runMain(["help", "resources", "delete"])).stdout).toBe((await runMain(["resources", "delete", "--help"])).stdout);
  expect(ok(await runMain(["help", "resources"])).stdout).toMatch(/^policy resources: /);
  expect(ok(await runMain(["help"])).stdout).toMatch(/^policy: /);
  const unknown = await runMain(["help", "resources", "craete"]);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/^error: unknown command "resources craete"; did you mean "resources create"\?/);
});

test("did you mean: mistyped commands and flags", async () => {
  const command = await runMain(["lsit", "--resource-type", "cloud"]);
  expect(command.code).toBe(2);
  expect(command.stderr).toMatch(/^error: unknown command "lsit"; did you mean "list"\?/);
  const flag = await runMain(["get", "--resource-tpye", "cloud"]);
  expect(flag.code).toBe(2);
  expect(flag.stderr).toMatch(/^error: unknown option --resource-tpye; did you mean --resource-type\?/);
  expect((await runMain(["get", "--zzzzzzzz"])).stderr).toMatch(/^error: unknown option --zzzzzzzz\n/);
});

test("resources delete --cascade needs --yes without a terminal; nothing is deleted", async () => {
  const refused = await policy(["resources", "delete", "--resource-type", "cloud", "--resource-id", "cld_xyz789", "--cascade"]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(/^error: --cascade deletes a whole subtree: confirm with --yes/);
  ok(await policy(["resources", "get", "--resource", "projects/prj_1"]));
});

test("resources delete --cascade on a terminal asks; no keeps everything, yes deletes the subtree", async () => {
  ok(await policy(["resources", "create", "--resource-type", "cloud", "--resource-id", "cld_doomed"]));
  ok(await policy(["resources", "create", "--resource-type", "project", "--resource-id", "prj_doomed", "--parent", "clouds/cld_doomed"]));
  const asked: string[] = [];
  const withAnswer = async (answer: boolean) => {
    let stdout = "";
    let stderr = "";
    const code = await main(
      ["resources", "delete", "--resource-type", "cloud", "--resource-id", "cld_doomed", "--cascade", "--server", server.url],
      { HOME: "/nonexistent", XDG_CONFIG_HOME: "/nonexistent" },
      {
        stdout: (t) => void (stdout += t),
        stderr: (t) => void (stderr += t),
        stdin: async () => "",
        confirm: async (question) => (asked.push(question), answer),
      },
    );
    return { code, stdout, stderr };
  };
  expect(await withAnswer(false)).toEqual({ code: 1, stdout: "", stderr: "Nothing deleted." });
  expect(asked[0]).toMatch(/^Delete clouds\/cld_doomed, every resource beneath it and their policies\?/);
  ok(await policy(["resources", "get", "--resource", "projects/prj_doomed"]));
  expect(await withAnswer(true)).toMatchObject({ code: 0, stdout: "Deleted clouds/cld_doomed and 1 descendant(s)." });
});

test("set -f/--config-file/--file, -o anyscale: Anyscale's shapes for set, get and list", async () => {
  const file = tempFile("policy.yaml", POLICY_YAML);
  const set = ok(await policy(["set", "--resource-type", "cloud", "--resource-id", "cld_abc123", "--config-file", file, "-o", "anyscale"]));
  expect(set.stdout).toBe("Policy for cloud cld_abc123 has been updated.\n");
  ok(await policy(["set", "--resource-type", "cloud", "--resource-id", "cld_xyz789", "--file", file]));

  const get = ok(await policy(["get", "--resource-type", "cloud", "--resource-id", "cld_abc123", "-o", "anyscale"]));
  expect(get.stdout).toBe(
    [
      "Policy for cloud cld_abc123:",
      "Role          Principal (User Group ID)  Process Status",
      "------------  -------------------------  --------------",
      "collaborator  ug_abc123                  success",
      "readonly      ug_def456                  success",
      "readonly      ada@example.com            success",
      "",
    ].join("\n"),
  );
  const list = ok(await policy(["list", "--resource-type", "cloud", "--format", "anyscale"]));
  expect(list.stdout.split("\n\n").map((block) => block.split("\n")[0])).toEqual(["cloud: cld_abc123", "cloud: cld_xyz789"]);
  expect(list.stdout.split("\n\n")[1]).toContain("--------------\ncollaborator  ug_abc123");

  const json = JSON.parse(ok(await policy(["list", "--resource-type", "cloud", "--style", "anyscale", "-o", "json"])).stdout);
  expect(json[0]).toEqual({
    resource_id: "cld_abc123",
    resource_type: "cloud",
    bindings: [
      { role_name: "collaborator", principals: ["ug_abc123"] },
      { role_name: "readonly", principals: ["ug_def456", "ada@example.com"] },
    ],
    sync_status: "success",
  });
  // The config file's `style: anyscale` makes it the default; the shapes read back by set.
  const config = tempFile("config.yaml", `server: ${server.url}\nstyle: anyscale\n`);
  const yaml = await cli(["get", "--resource-type", "cloud", "--resource-id", "cld_abc123", "-o", "yaml"], { env: { POLICY_CONFIG: config } });
  expect(yaml.stdout).toBe("bindings:\n  - role_name: collaborator\n    principals:\n      - ug_abc123\n  - role_name: readonly\n" +
    "    principals:\n      - ug_def456\n      - ada@example.com\nsync_status: success\n");
});

test("-o and --format are one option; giving both differently is a usage error", async () => {
  // The policy read back: this test's own, whatever ran before it.
  ok(await policy(["set", "--resource-type", "cloud", "--resource-id", "cld_abc123", "--config-file", tempFile("policy.yaml", POLICY_YAML)]));
  const both = await policy(["get", "--resource-type", "cloud", "--resource-id", "cld_abc123", "-o", "json", "--format", "yaml"]);
  expect(both.code).toBe(2);
  const format = ok(await policy(["get", "--resource-type", "cloud", "--resource-id", "cld_abc123", "--format", "json"]));
  expect(JSON.parse(format.stdout).bindings).toHaveLength(2);
});

test("local problems exit 2: a missing file, bad YAML, an unknown key", async () => {
  const base = ["set", "--resource-type", "cloud", "--resource-id", "cld_abc123", "--force", "-f"];
  for (const [file, message] of [
    ["/nonexistent/policy.yaml", /cannot read \/nonexistent\/policy\.yaml/],
    [tempFile("bad.yaml", "bindings: [\n"), /bad\.yaml: /],
    [tempFile("typo.yaml", "bindingz: []\n"), /unknown key "bindingz"/],
  ] as const) {
    const result = await policy([...base, file]);
    expect(result.code, file).toBe(2);
    expect(result.stderr).toMatch(message);
  }
});

test("a YAML syntax error names the line and column and shows the line, not a dangling colon", async () => {
  const file = tempFile("indent.yaml", "bindings:\n  - role_name: collaborator\n principals: [ug_abc123]\n");
  const result = await runMain(["set", "--resource-type", "cloud", "--resource-id", "cld_abc123", "-f", file]);
  expect(result.code).toBe(2);
  const [first, ...rest] = result.stderr.split("\n");
  expect(first).toBe(`error: ${file}: line 3, column 1: All mapping items must start at the same column`);
  expect(rest.join("\n")).toContain(" principals: [ug_abc123]\n");
  expect(result.stderr).not.toMatch(/:\n/);
  const config = tempFile("config.yaml", "server: [\n");
  const bad = await cli(["resources", "list"], { env: { POLICY_CONFIG: config } });
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/^error: config file .*config\.yaml: line 2, column 1: .*\n\s+server: \[/);
});

test("audit list and test-permissions", async () => {
  // A project of its own (no cloud listing of another test shows it): created, then one policy write.
  ok(await policy(["resources", "create", "--resource-type", "project", "--resource-id", "prj_audit", "--parent", "clouds/cld_xyz789"]));
  ok(await policy(["add-binding", "--resource-type", "project", "--resource-id", "prj_audit", "--role", "readonly", "--member", "ada@example.com"]));
  const audit = ok(await policy(["audit", "list", "--resource-type", "project", "--resource-id", "prj_audit", "-o", "json"]));
  expect(JSON.parse(audit.stdout).entries.map((e: { action: string }) => e.action)).toEqual(["resource.create", "policy.set"]);
  const limited = ok(await policy(["audit", "list", "--resource-type", "project", "--resource-id", "prj_audit", "--limit", "1"]));
  expect(limited.stdout.trim().split("\n")).toHaveLength(2);

  // Development mode: the caller may do everything.
  const granted = ok(await policy(["test-permissions", "--resource-type", "cloud", "--resource-id", "cld_abc123", "--permission", "clouds.get"]));
  expect(granted.stdout).toMatch(/clouds\.get\s+yes/);
});

test("a transport failure on the client's side is UNAVAILABLE with its cause, not INTERNAL", async () => {
  // The Connect protocol over HTTP/1.1 to the gRPC-only (HTTP/2) port.
  const wrong = await runMain(["get", "--resource-type", "cloud", "--resource-id", "cld_abc123", "--server",
    `http://127.0.0.1:${server.grpcPort}`, "--protocol", "connect"]);
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toMatch(/^error: UNAVAILABLE: http:\/\/127\.0\.0\.1:\d+ speaks gRPC over HTTP\/2 only, not the Connect protocol/);
  expect(wrong.stderr).toMatch(/\nhint: it is the server's gRPC port \(--grpc-port\), which serves gRPC alone: use --protocol grpc/);
  expect(wrong.stderr).not.toMatch(/INTERNAL|server bug/);
  const tls = await runMain(["get", "--resource-type", "cloud", "--resource-id", "cld_abc123", "--server", server.url.replace("http:", "https:")]);
  expect(tls.stderr).toMatch(/^error: UNAVAILABLE: transport failure on the client's side \(ERR_SSL_WRONG_VERSION_NUMBER\): wrong version number\nhint: .* does not answer TLS/);
});
