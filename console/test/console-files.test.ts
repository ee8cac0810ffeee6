// The server serves the console on its main port: the built files under /console/, the schema, a redirect from /.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestServer, type TestServer } from "../../test/helpers/server.js";
import { consoleFiles } from "../../src/rpc/console-files.js";
import { loadSchema } from "../../src/schema-file.js";
import http from "node:http";
import type { AddressInfo } from "node:net";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

test("GET / redirects to the console, which is served with a strict content security policy", async () => {
  const root = await fetch(`${server.url}/`, { redirect: "manual" });
  expect(root.status).toBe(302);
  expect(root.headers.get("location")).toBe("/console/");
  const page = await fetch(`${server.url}/console/`);
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
  expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
  expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  expect(await page.text()).toContain('<script type="module" src="console.js">');
  const js = await fetch(`${server.url}/console/console.js`);
  expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
  expect((await js.arrayBuffer()).byteLength).toBeGreaterThan(1000);
});

test("the schema: types, parents and the roles grantable on each", async () => {
  const schema = (await (await fetch(`${server.url}/console/schema.json`)).json()) as {
    types: { name: string; parents: string[]; roles: { name: string; permissions: string[] }[] }[];
  };
  const cloud = schema.types.find((t) => t.name === "cloud")!;
  expect(cloud.parents).toEqual(["organization"]);
  expect(cloud.roles.map((r) => r.name)).toEqual(["roles/collaborator", "roles/readonly"]);
  expect(cloud.roles[1]!.permissions).toContain("clouds.get");
});

test("only files of console/dist are served; RPCs and /metrics are untouched", async () => {
  for (const path of ["/console/../package.json", "/console/%2e%2e/package.json", "/console/src/main.tsx", "/console/nope.js"]) {
    expect((await fetch(`${server.url}${path}`)).status, path).toBe(404);
  }
  expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
  expect((await fetch(`${server.url}/console/`, { method: "POST" })).status).toBe(404);
  const head = await fetch(`${server.url}/console/`, { method: "HEAD" });
  expect(head.status).toBe(200);
  const res = await server.connect.resources.listResources({ type: "organization" });
  expect(res.resources).toEqual([]);
});

test("a server whose console is not built says how to build it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "console-empty-"));
  writeFileSync(join(dir, "other.txt"), "x");
  const handler = consoleFiles(loadSchema(undefined), (_req, res) => (res.writeHead(418), res.end()), join(dir, "missing"));
  const plain = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
  try {
    const url = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
    const res = await fetch(`${url}/console/`);
    expect(res.status).toBe(404);
    expect(await res.text()).toContain("npm run build:console");
    expect((await fetch(`${url}/other`)).status).toBe(418);
  } finally {
    plain.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
