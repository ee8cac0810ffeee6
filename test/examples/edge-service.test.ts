// examples/edge-service.ts runs: its routes are guarded on a policy mirror — a granted request passes, a refused one
// and one for a resource that does not exist get the same 403 body, an unmapped public route passes, a request
// without a principal is refused; a policy written afterwards applies to the next request.
import { spawn } from "node:child_process";
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { REPO_ROOT } from "../helpers/child-server.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { waitFor } from "../helpers/wait.js";

vi.setConfig({ testTimeout: 120_000 });

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  await server.grpc.resources.createResource({ resource: { name: "organizations/acme" } });
  await server.grpc.resources.createResource({ resource: { name: "projects/prj_1", parent: "organizations/acme" } });
  await server.grpc.policies.setPolicy({
    resource: "projects/prj_1",
    policy: { bindings: [{ role: "roles/readonly", members: ["user:ada@example.com"] }] },
  });
});
afterAll(() => server?.stop());

test("the example service enforces the policies at its edge, leaking nothing in its refusals", async () => {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "examples/edge-service.ts", "--server", server.url, "--scope", "organizations/acme", "--port", "0"],
    { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let stdout = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /listening on (\S+)/.exec(stdout);
        if (match) resolve(match[1]!);
      });
      void exited.then((code) => reject(new Error(`the example exited (${code}):\n${stdout}`)));
    });
    const call = async (path: string, principal?: string, method = "GET") => {
      const response = await fetch(`${url}${path}`, { method, headers: principal ? { "x-principal": principal } : {} });
      return { status: response.status, body: await response.text() };
    };
    expect((await call("/projects/prj_1", "user:ada@example.com")).status).toBe(200);
    const refused = await call("/projects/prj_1", "user:ada@example.com", "DELETE");
    const absent = await call("/projects/nope", "user:ada@example.com");
    expect(refused).toEqual({ status: 403, body: '{"error":"permission denied"}' });
    expect(absent).toEqual(refused);
    expect((await call("/projects/prj_1")).status).toBe(403);
    expect((await call("/healthz")).status).toBe(200);
    expect((await call("/other", "user:ada@example.com")).status).toBe(403);
    await server.grpc.policies.setPolicy({
      resource: "projects/prj_1",
      policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] },
    });
    await waitFor(async () => (await call("/projects/prj_1", "user:ada@example.com", "DELETE")).status === 200, "the new policy at the edge");
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
});
