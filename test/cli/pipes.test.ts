// `policy ... | head -1`: when the reader of the output goes away, the command ends quietly (exit 0, nothing on
// stderr), whether it was printing one answer or following the change feed.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { BIN, cleanEnv } from "../helpers/cli.js";
import { REPO_ROOT } from "../helpers/child-server.js";

vi.setConfig({ testTimeout: 120_000 });

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  await server.grpc.resources.createResource({ resource: { name: "organizations/pipes" } });
  await server.grpc.resources.createResource({ resource: { name: "clouds/cld_pipes", parent: "organizations/pipes" } });
});
afterAll(() => server?.stop());

function start(args: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, ...args, "--server", server.url], { cwd: REPO_ROOT, env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
}

/** The exit status and what the command wrote to stderr. */
function ended(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once("close", (code, signal) => resolve({ code, signal, stderr })));
}

test("a command whose output is closed before it prints ends with status 0 and no stack trace", async () => {
  const child = start(["resources", "list", "--resource-type", "cloud"]);
  const result = ended(child);
  child.stdout!.destroy(); // the reader is gone before the first write
  expect(await result).toEqual({ code: 0, signal: null, stderr: "" });
});

test("policy watch --since 0 | head -1: the next change after the reader left ends the watch quietly", async () => {
  const child = start(["watch", "--since", "0"]);
  const result = ended(child);
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve) => lines.once("line", resolve));
  expect(first).toMatch(/^1 .* RESOURCE_CREATED {2}organizations\/pipes /);
  lines.close();
  child.stdout!.destroy(); // head -1 exits after its line
  // The watch learns that nobody reads when it next writes: make a change for it to print.
  await server.grpc.resources.createResource({ resource: { name: "projects/prj_pipes", parent: "clouds/cld_pipes" } });
  expect(await result).toEqual({ code: 0, signal: null, stderr: "" });
});
