// What the server says when it cannot start: one line naming the flag (a port in use, a missing file, a bad value),
// no JSON record with a stack; and `--help` in aligned columns.
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { tempDir } from "../helpers/temp-dir.js";
import { run } from "./support.js";

let taken: Server;
let port: number;
const dir = tempDir("policy-startup-");

beforeAll(async () => {
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  port = (taken.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

const server = (args: string[]) =>
  run(process.execPath, ["--import", "tsx", "src/main.ts", "--db", join(dir, "policy.db"), "--log-level", "info", ...args]);

test("a port in use names its flag, in one line, for either port", async () => {
  for (const [flag, other] of [["--port", "--grpc-port"], ["--grpc-port", "--port"]] as const) {
    const result = await server([flag, String(port), other, "0"]);
    expect(result.code).toBe(1);
    const lines = result.stderr.split("\n").filter((line) => line.startsWith("policy server:") || line.startsWith("{"));
    expect(lines).toEqual([`policy server: ${flag} ${port} is in use: stop what listens there, or choose another port (0 picks a free one)`]);
    expect(result.stderr + result.stdout).not.toMatch(/"level":60|\n\s+at /);
  }
});

test("a configuration error is one line; a missing file names its flag", async () => {
  const bad = await server(["--port", "eighty"]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toBe('policy server: --port: "eighty" is not a port number (`--help` lists the options)\n');
  const missing = await server(["--port", "0", "--grpc-port", "0", "--schema", "/nonexistent/schema.yaml"]);
  expect(missing.code).toBe(1);
  expect(missing.stderr.trim().split("\n").filter((line) => !line.includes("DEVELOPMENT MODE"))).toEqual([
    "policy server: --schema /nonexistent/schema.yaml: no such file",
  ]);
});

test("--help lists every option in aligned columns", async () => {
  const help = await server(["--help"]);
  expect(help.code).toBe(0);
  const options = help.stdout.trim().split("\n").slice(1);
  // Where the environment variable and the help text start: the same on every line.
  const columns = (line: string) => {
    // The variable is POLICY_… or, for tracing, the standard OTEL_… one.
    const [, flag, env] = /^(\s+--\S+\s+)((?:POLICY|OTEL)_\S+\s+)/.exec(line) ?? [];
    return `${flag?.length},${(flag?.length ?? 0) + (env?.length ?? 0)}`;
  };
  expect(new Set(options.map(columns))).toEqual(new Set([columns(options[0]!)]));
  expect(columns(options[0]!)).not.toMatch(/undefined/);
});
