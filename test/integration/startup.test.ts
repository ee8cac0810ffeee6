// Start-up as an operator sees it: the address printed on stdout, and problems that stop start-up with a message that
// names them (and a non-zero exit) instead of a server running with the wrong settings.
import { existsSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { runServerToExit, spawnServer, type ChildServer } from "../helpers/child-server.js";
import { apiClients } from "../helpers/clients.js";
import { removeDir, tempDir } from "../helpers/temp-dir.js";

let dir: string;
let child: ChildServer | undefined;

beforeEach(() => {
  dir = tempDir("policy-startup-");
});
afterEach(async () => {
  await child?.stop("SIGKILL");
  child = undefined;
  removeDir(dir);
});

test("prints the address it listens on, and answers there", async () => {
  child = await spawnServer(join(dir, "policy.db"));
  expect(child.url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
  const { resources } = apiClients(child.url);
  expect(await resources.createResource({ resource: { name: "organizations/acme" } })).toMatchObject({ type: "organization" });
});

test("creates the database file and its directory", async () => {
  const db = join(dir, "nested", "dir", "policy.db");
  child = await spawnServer(db);
  expect(existsSync(db)).toBe(true);
});

test("a bad schema file stops start-up with a message naming the file and the line", async () => {
  const schema = join(dir, "bad.yaml");
  writeFileSync(schema, ["types:", "  organization:", "    collection: organizations", "    parents: [nothing]",
    "    roles:", "      roles/owner: { permissions: [organizations.get] }", ""].join("\n"));
  const db = join(dir, "policy.db");
  const exit = await runServerToExit(["--port", "0", "--db", db, "--schema", schema]);
  expect(exit.code).toBe(1);
  expect(exit.stderr).toContain(`${schema}:4`);
  expect(exit.stderr).toContain('"nothing"');
  expect(exit.stdout).not.toContain("listening");
  expect(existsSync(db)).toBe(false);
});

test("an empty (0-byte) database file stops start-up with one line, instead of starting a new empty store", async () => {
  const db = join(dir, "policy.db");
  writeFileSync(db, "");
  const exit = await runServerToExit(["--port", "0", "--grpc-port", "0", "--db", db]);
  expect(exit.code).toBe(1);
  // One line after the development-mode banner.
  const problems = exit.stderr.split("\n").filter((line) => line.startsWith("policy server:"));
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatch(new RegExp(`^policy server: cannot open the database ${db}: it is empty \\(0 bytes\\).*backup`));
  expect(exit.stderr.endsWith(`${problems[0]}\n`)).toBe(true);
  expect(exit.stdout).not.toContain("listening");
  expect(statSync(db).size).toBe(0);
});

test("an invalid --port stops start-up with one line naming it and pointing to --help", async () => {
  const exit = await runServerToExit(["--port", "99999", "--db", join(dir, "policy.db")]);
  expect(exit.code).toBe(2);
  expect(exit.stderr).toBe('policy server: --port: "99999" is not a port number (`--help` lists the options)\n');
});

test("--tls-cert without --tls-key stops start-up", async () => {
  const exit = await runServerToExit(["--port", "0", "--db", join(dir, "policy.db"), "--tls-cert", join(dir, "cert.pem")]);
  expect(exit.code).toBe(2);
  expect(exit.stderr).toMatch(/--tls-cert and --tls-key/);
});

test("a port already in use stops start-up with a message saying so", async () => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  try {
    const port = (taken.address() as net.AddressInfo).port;
    const exit = await runServerToExit(["--port", String(port), "--db", join(dir, "policy.db")]);
    expect(exit.code).toBe(1);
    expect(exit.stderr).toMatch(/EADDRINUSE|in use/);
  } finally {
    await new Promise((resolve) => taken.close(resolve));
  }
});
