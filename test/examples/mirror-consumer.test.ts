// examples/mirror-consumer.ts cleans up after itself: the consumer it registers (which makes every policy of its
// subtree read PENDING) is deleted when it stops on Ctrl-C or SIGTERM; --keep leaves it registered, and says so.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { SyncStatus } from "../../gen/policy/v1/policy_pb.js";
import { REPO_ROOT } from "../helpers/child-server.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/temp-dir.js";

vi.setConfig({ testTimeout: 120_000 });

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  await server.grpc.resources.createResource({ resource: { name: "organizations/acme" } });
  await server.grpc.resources.createResource({ resource: { name: "clouds/cld_abc123", parent: "organizations/acme" } });
});
afterAll(() => server?.stop());

/** Runs the example until it has acknowledged its snapshot, then stops it with `signal`; resolves with its output. */
async function runMirror(signal: NodeJS.Signals, extra: string[] = []): Promise<{ code: number | null; stdout: string; dir: string }> {
  const dir = join(tempDir("policy-mirror-"), "mirror");
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "examples/mirror-consumer.ts", "--server", server.url, "--subtree", "organizations/acme", "--dir", dir, ...extra],
    { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] },
  );
  let stdout = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (/^acknowledged \d+/m.test(stdout)) resolve();
    });
    void exited.then((code) => reject(new Error(`the example exited (${code}) before acknowledging:\n${stdout}`)));
  });
  expect((await server.grpc.sync.listConsumers({})).consumers.map((c) => c.name)).toEqual(["consumers/mirror"]);
  child.kill(signal);
  const code = await exited;
  return { code, stdout, dir };
}

test("Ctrl-C: the example deletes the consumer it registered; nothing is left PENDING", async () => {
  const { code, stdout, dir } = await runMirror("SIGINT");
  expect(code).toBe(0);
  expect(stdout).toMatch(/^deleted consumers\/mirror: nothing waits for this mirror any more/m);
  expect(existsSync(join(dir, "clouds_cld_abc123.json"))).toBe(true);
  expect((await server.grpc.sync.listConsumers({})).consumers).toEqual([]);
  const stored = await server.grpc.policies.setPolicy({
    resource: "clouds/cld_abc123",
    policy: { bindings: [{ role: "roles/readonly", members: ["group:ug_x"] }] },
  });
  expect(stored.syncStatus).toBe(SyncStatus.SUCCESS);
});

test("--keep leaves the consumer registered and says how to remove it (SIGTERM)", async () => {
  const { code, stdout } = await runMirror("SIGTERM", ["--keep"]);
  expect(code).toBe(0);
  expect(stdout).toMatch(/^kept consumers\/mirror: .* \(policy sync consumers delete --name consumers\/mirror removes it\)$/m);
  expect((await server.grpc.sync.listConsumers({})).consumers.map((c) => c.name)).toEqual(["consumers/mirror"]);
  await server.grpc.sync.deleteConsumer({ name: "consumers/mirror" });
});
