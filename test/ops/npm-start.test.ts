// `npm start` runs the compiled server with node directly (building first when a source is newer than dist/): the
// server is npm's own child, not behind sh and tsx, so a SIGTERM to `npm start` reaches it and it shuts down cleanly
// with its ports closed, instead of being orphaned.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { REPO_ROOT } from "../helpers/child-server.js";
import { tempDir } from "../helpers/temp-dir.js";

const children = (pid: number): number[] =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
const commandLine = (pid: number): string => readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();

test.skipIf(process.platform !== "linux")("SIGTERM to `npm start` stops the compiled server it runs", { timeout: 180_000 }, async () => {
  const dir = tempDir("policy-npm-start-");
  const npm = spawn("npm", ["start", "--", "--port", "0", "--grpc-port", "0", "--db", join(dir, "policy.db"), "--log-level", "info"], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  npm.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  npm.stderr!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => npm.once("exit", (code) => resolve(code)));
  await expect.poll(() => /policy server listening on/.test(out), { timeout: 150_000, interval: 200 }).toBe(true);

  // npm -> node dist/src/main.js: `exec` in the script leaves no shell (nor tsx) in between.
  const [server] = children(npm.pid!);
  expect(commandLine(server!)).toMatch(/^\S*node dist\/src\/main\.js --port 0/);

  npm.kill("SIGTERM");
  await exited;
  await expect.poll(() => existsSync(`/proc/${server}`), { timeout: 20_000, interval: 100 }).toBe(false);
  expect(out).toMatch(/"signal":"SIGTERM","msg":"shutting down"/);
});
