// What users install, installed as they would: the SDK package and the CLI package packed with `npm pack`, installed
// from the tarballs into a fresh project outside the repository (offline: the SDK's dependencies are packed from this
// repository's node_modules), then a plain-JavaScript program, a TypeScript program type-checked without @types/node
// and `policy` installed with `npm install -g` run against a real server.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { REPO_ROOT } from "../helpers/child-server.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/temp-dir.js";

vi.setConfig({ testTimeout: 240_000, hookTimeout: 240_000 });
const run = promisify(execFile);
/** The SDK's dependencies, packed from node_modules so that the install needs no registry. */
const SDK_DEPENDENCIES = ["@bufbuild/cel", "@bufbuild/protobuf", "@connectrpc/connect", "@connectrpc/connect-node", "@opentelemetry/api", "re2js", "yaml"];
/** What the dependencies depend on, packed too. */
const TRANSITIVE = ["@bufbuild/cel-spec", "@bufbuild/re2"];
/** No repository node_modules/.bin, no POLICY_* settings, no user config. */
const env = (home: string) => ({ PATH: process.env.PATH!, HOME: home, XDG_CONFIG_HOME: join(home, ".config"), npm_config_cache: join(home, ".npm") });

let server: TestServer;
let dir: string;
let tarballs: Record<string, string>;

async function pack(target: string): Promise<string> {
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", join(dir, "tarballs"), target], {
    cwd: REPO_ROOT,
    maxBuffer: 16 << 20,
  });
  return join(dir, "tarballs", (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
}

beforeAll(async () => {
  server = await startTestServer();
  dir = tempDir("policy-packages-");
  mkdirSync(join(dir, "tarballs"));
  tarballs = {
    client: await pack("./packages/client"),
    cli: await pack("./packages/cli"),
    ...Object.fromEntries(await Promise.all([...SDK_DEPENDENCIES, ...TRANSITIVE].map(async (d) => [d, await pack(`./node_modules/${d}`)]))),
  };
});
afterAll(() => server?.stop());

test("the SDK tarball holds compiled JavaScript, declarations and the generated code, and nothing else", async () => {
  const { stdout } = await run("tar", ["-tzf", tarballs.client!]);
  const files = stdout.trim().split("\n");
  expect(files).toContain("package/dist/src/client/index.js");
  expect(files).toContain("package/dist/src/client/index.d.ts");
  expect(files).toContain("package/dist/gen/policy/v1/policy_service_pb.js");
  expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith(".d.ts"))).toEqual([]);
  // The mirror runs the server's decision code (src/domain), compiled into the package; never a store implementation.
  expect(files).toContain("package/dist/src/domain/access/chain-check.js");
  expect(files).toContain("package/dist/schema/default.yaml");
  expect(files.filter((f) => /test|bench|sqlite|postgres|caching-store|server\.js|\/cli\//.test(f))).toEqual([]);
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "packages/client/package.json"), "utf8"));
  expect(Object.keys(pkg.dependencies).sort()).toEqual(SDK_DEPENDENCIES);
});

test("each tarball carries its package's README", async () => {
  for (const name of ["client", "cli"]) {
    const { stdout } = await run("tar", ["-xzOf", tarballs[name]!, "package/README.md"]);
    expect(stdout, name).toBe(readFileSync(join(REPO_ROOT, `packages/${name}/README.md`), "utf8"));
  }
});

/** The ```ts blocks of a markdown file, or of its `## section` only. */
function typescriptBlocks(file: string, section?: string): string[] {
  let text = readFileSync(join(REPO_ROOT, file), "utf8");
  if (section) {
    const start = text.indexOf(`\n## ${section}\n`);
    const end = text.indexOf("\n## ", start + 1);
    text = text.slice(start, end === -1 ? undefined : end);
  }
  return [...text.matchAll(/^```ts\n(.*?)^```$/gms)].map((m) => m[1]!);
}

test("the READMEs' TypeScript snippets type-check without @types/node and run as written", async () => {
  const snippets = [...typescriptBlocks("README.md", "SDK"), ...typescriptBlocks("packages/client/README.md")];
  expect(snippets.length).toBeGreaterThanOrEqual(2);
  const project = join(dir, "snippets");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "snippets", private: true, type: "module" }));
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", tarballs.client!, ...[...SDK_DEPENDENCIES, ...TRANSITIVE].map((d) => tarballs[d]!)], {
    cwd: project,
    env: env(dir),
  });
  const files = snippets.map((snippet, i) => {
    writeFileSync(join(project, `snippet${i}.ts`), snippet);
    return `snippet${i}.ts`;
  });
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, skipLibCheck: false, types: [], outDir: "out" },
      files,
    }),
  );
  const tsc = await run(process.execPath, [join(REPO_ROOT, "node_modules/typescript/bin/tsc"), "-p", project], { cwd: project }).catch(
    (e: { stdout: string }) => expect.fail(`the snippets do not type-check:\n${e.stdout}`),
  );
  expect(tsc.stdout).toBe("");
  // As written, against the walk-through's organization; only the server's address is this test's.
  await server.grpc.resources.createResource({ resource: { name: "organizations/acme" } });
  for (const [i, snippet] of snippets.entries()) {
    const compiled = join(project, "out", `snippet${i}.js`);
    writeFileSync(compiled, readFileSync(compiled, "utf8").replaceAll('"http://127.0.0.1:8080"', JSON.stringify(server.url)));
    const result = await run(process.execPath, [compiled], { cwd: project });
    expect(result.stderr, snippet).toBe("");
  }
});

test("installed into a fresh project: a JavaScript program under plain node and a TypeScript program without @types/node", async () => {
  const project = join(dir, "app");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", tarballs.client!, ...[...SDK_DEPENDENCIES, ...TRANSITIVE].map((d) => tarballs[d]!)], {
    cwd: project,
    env: env(dir),
  });

  writeFileSync(
    join(project, "main.js"),
    `import { createPolicyClient, createPolicyMirror, modifyPolicy, BindingSchema } from "@policy-service/client";
import { create } from "@bufbuild/protobuf";
const client = createPolicyClient({ baseUrl: process.argv[2] });
await client.resources.createResource({ resource: { name: "organizations/js_org" } });
const stored = await modifyPolicy(client, "organizations/js_org", (policy) => {
  policy.bindings.push(create(BindingSchema, { role: "roles/owner", members: ["user:ada@example.com"] }));
  return policy;
});
console.log(JSON.stringify(stored.bindings.map((b) => [b.role, ...b.members])));
// The mirror, from the package: the server's decision code in process.
const mirror = createPolicyMirror({ client, scope: "organizations/js_org" });
await mirror.ready;
const answer = await mirror.checkAccess({ resource: "organizations/js_org", principals: ["user:ada@example.com"], permissions: ["organizations.delete"] });
console.log(JSON.stringify(answer.grantedPermissions));
await mirror.close();
client.close();
`,
  );
  const js = await run(process.execPath, ["main.js", server.url], { cwd: project });
  const [bindings, granted] = js.stdout.trim().split("\n").map((line) => JSON.parse(line));
  expect(bindings).toEqual([["roles/owner", "user:ada@example.com"]]);
  expect(granted).toEqual(["organizations.delete"]);

  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        skipLibCheck: false,
        types: [],
        outDir: "out",
      },
      files: ["main.ts"],
    }),
  );
  writeFileSync(
    join(project, "main.ts"),
    `import { createPolicyClient, AccessState, type Policy } from "@policy-service/client";
declare const process: { argv: string[] };
const client = createPolicyClient({ baseUrl: process.argv[2]!, protocol: "connect" });
const policy: Policy = await client.policies.getPolicy({ resource: "organizations/js_org" });
const { results } = await client.access.checkAccess({
  resource: "organizations/js_org", principals: ["user:ada@example.com"], permissions: ["organizations.delete"],
});
console.log(JSON.stringify({ members: policy.bindings.flatMap((b) => b.members), granted: results[0]!.state === AccessState.GRANTED }));
`,
  );
  // The repository's compiler, but only the project's node_modules: no @types/node anywhere above /tmp.
  await run(process.execPath, [join(REPO_ROOT, "node_modules/typescript/bin/tsc"), "-p", project], { cwd: project });
  const ts = await run(process.execPath, ["out/main.js", server.url], { cwd: project });
  expect(JSON.parse(ts.stdout)).toEqual({ members: ["user:ada@example.com"], granted: true });
});

test("the CLI installs with npm install -g from its tarball and runs as one file under plain node, without tsx", async () => {
  const prefix = join(dir, "global");
  await run("npm", ["install", "-g", "--offline", "--no-audit", "--no-fund", "--prefix", prefix, tarballs.cli!], { env: env(dir) });
  const policy = join(prefix, "bin/policy");
  const version = JSON.parse(readFileSync(join(REPO_ROOT, "packages/cli/package.json"), "utf8")).version;
  const { stdout } = await run(policy, ["--version"], { env: env(dir) });
  expect(stdout).toBe(`policy ${version}\n`);
  // What keeps --version fast (its speed is measured in bench/, not here): the installed command is one bundled file
  // that node runs as it is — no tsx, nothing imported from outside the package.
  const installed = join(prefix, "lib/node_modules/@policy-service/cli");
  const entry = readFileSync(join(installed, "dist/policy.js"), "utf8");
  expect(entry.split("\n")[0]).toBe("#!/usr/bin/env node");
  expect(entry).not.toMatch(/(from |import\(|require\()"tsx/);
  expect(existsSync(join(installed, "node_modules"))).toBe(false);

  const created = await run(policy, ["resources", "create", "--resource-type", "organization", "--organization", "cli_org", "-o", "json", "--server", server.url], { env: env(dir) });
  expect(JSON.parse(created.stdout)).toMatchObject({ name: "organizations/cli_org" });
  const { stdout: listed } = await run(policy, ["resources", "list", "--resource-type", "organization", "--server", server.url], { env: env(dir) });
  expect(listed).toContain("organizations/cli_org");
});
