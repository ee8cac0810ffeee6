// The CLI against a server that requires bearer tokens: --token, POLICY_TOKEN and the config file's `token` are sent
// as `authorization: Bearer ...`; without one the call is UNAUTHENTICATED and the hint says how to give one.
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { cli, cliFor, tempFile } from "../helpers/cli.js";
import { removeDir, tempDir } from "../helpers/temp-dir.js";

// Each case runs the CLI as several child processes (~1 s each on a busy two-core machine).
vi.setConfig({ testTimeout: 120_000 });

const ISSUER = "https://issuer.cli.test";
const AUDIENCE = "policy-service";
let dir: string;
let privateKey: CryptoKey;
let server: TestServer;
let policy: ReturnType<typeof cliFor>;

function token(email: string): Promise<string> {
  return new SignJWT({ email, email_verified: true })
    .setProtectedHeader({ alg: "ES256", typ: "JWT" })
    .setSubject(`uid-${email}`)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(privateKey);
}

beforeAll(async () => {
  dir = tempDir("policy-cli-auth-");
  const keys = await generateKeyPair("ES256", { extractable: true });
  privateKey = keys.privateKey;
  const pem = join(dir, "key.pub.pem");
  writeFileSync(pem, await exportSPKI(keys.publicKey));
  server = await startTestServer({
    jwtPublicKeys: [pem],
    jwtIssuer: ISSUER,
    jwtAudience: AUDIENCE,
    jwtGroupsClaim: "groups",
    admins: ["user:root@example.com"],
  });
  policy = cliFor(server.url);
});
afterAll(async () => {
  await server?.stop();
  removeDir(dir);
});

test("with a token (flag, environment or config file) calls are authenticated as its subject", async () => {
  const root = await token("root@example.com");
  const created = await policy(["resources", "create", "--resource-type", "organization", "--organization", "acme", "--token", root]);
  expect(created.stderr).toBe("");
  expect(created.code).toBe(0);

  const added = await policy(["add-binding", "--resource-type", "organization", "--role", "collaborator", "--member", "ada@example.com"], {
    env: { POLICY_TOKEN: root },
  });
  expect(added.stderr).toBe("");
  expect(added.stdout).toContain("user:ada@example.com");

  const config = tempFile("config.yaml", `server: ${server.url}\ntoken: ${root}\norganization: acme\n`);
  const got = await cli(["get", "--resource-type", "organization", "-o", "json"], { env: { POLICY_CONFIG: config } });
  expect(got.stderr).toBe("");
  expect(JSON.parse(got.stdout).bindings).toEqual([{ role: "roles/collaborator", members: ["user:ada@example.com"] }]);
});

test("without a token: UNAUTHENTICATED, with a hint to give one", async () => {
  const result = await policy(["resources", "list"]);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^error: UNAUTHENTICATED: /);
  expect(result.stderr).toMatch(/hint: give a token with --token, POLICY_TOKEN or the config file/);
});

test("a caller without the permission is refused, and nothing changes", async () => {
  const ada = await token("ada@example.com");
  const result = await policy(
    ["add-binding", "--resource-type", "organization", "--organization", "acme", "--role", "owner", "--member", "ada@example.com"],
    { env: { POLICY_TOKEN: ada } },
  );
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^error: (PERMISSION_DENIED|NOT_FOUND): /);
  const root = await token("root@example.com");
  const got = await policy(["get", "--resource-type", "organization", "--organization", "acme", "-o", "json", "--token", root]);
  expect(JSON.parse(got.stdout).bindings).toEqual([{ role: "roles/collaborator", members: ["user:ada@example.com"] }]);
});
