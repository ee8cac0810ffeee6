// TLS on the main port: ALPN offers h2 and http/1.1, so gRPC (HTTP/2) and Connect/curl (HTTP/1.1) share one port.
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, expect, test } from "vitest";
import { PolicyService } from "../../gen/policy/v1/policy_service_pb.js";
import { apiClients } from "../helpers/clients.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { grpcJsClients, grpcJsResponse } from "../helpers/grpc-js.js";
import { expectCode, uniqueId } from "./support.js";
import { removeDir, tempDir } from "../helpers/temp-dir.js";

let dir: string;
let ca: Buffer;
let server: TestServer;

beforeAll(async () => {
  dir = tempDir("policy-tls-");
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
      "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert],
    { stdio: "ignore", timeout: 20_000 },
  );
  ca = readFileSync(cert);
  server = await startTestServer({ tlsCert: cert, tlsKey: key });
});
afterAll(async () => {
  await server?.stop();
  removeDir(dir);
});

/** The protocol the server picks when the client offers `protocols` in ALPN. */
function negotiate(protocols: string[]): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", servername: "localhost", port: server.port, ca, ALPNProtocols: protocols }, () => {
      resolve(socket.alpnProtocol ?? false);
      socket.end();
    });
    socket.once("error", reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error("TLS handshake timed out")));
  });
}

test("the server URL is https", () => {
  expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
});

test("ALPN picks h2 when offered, and http/1.1 for a client that only speaks HTTP/1.1", async () => {
  expect(await negotiate(["h2", "http/1.1"])).toBe("h2");
  expect(await negotiate(["http/1.1"])).toBe("http/1.1");
});

test("gRPC over HTTP/2 with TLS: create, set and get", async () => {
  const { resources, policies } = apiClients(server.url, { protocol: "grpc", tls: { ca } });
  const org = `organizations/${uniqueId("org")}`;
  await resources.createResource({ resource: { name: org } });
  const set = await policies.setPolicy({ resource: org, policy: { bindings: [{ role: "roles/owner", members: ["allUsers"] }] } });
  expect((await policies.getPolicy({ resource: org })).etag).toEqual(set.etag);
});

test("Connect JSON over HTTP/1.1 with TLS: create, set and get", async () => {
  const { resources, policies } = apiClients(server.url, { protocol: "connect-h1", tls: { ca } });
  const org = `organizations/${uniqueId("org")}`;
  await resources.createResource({ resource: { name: org } });
  const set = await policies.setPolicy({ resource: org, policy: { bindings: [{ role: "roles/owner", members: ["allUsers"] }] } });
  expect((await policies.getPolicy({ resource: org })).etag).toEqual(set.etag);
  await expectCode(policies.getPolicy({ resource: `organizations/${uniqueId("ghost")}` }), Code.NotFound);
});

test("gRPC-Web over HTTP/1.1 with TLS reads what gRPC wrote", async () => {
  const { policies: grpcPolicies, resources: grpcResources } = apiClients(server.url, { protocol: "grpc", tls: { ca } });
  const web = createClient(PolicyService, createGrpcWebTransport({ baseUrl: server.url, httpVersion: "1.1", nodeOptions: { ca } }));
  const org = `organizations/${uniqueId("org")}`;
  await grpcResources.createResource({ resource: { name: org } });
  const set = await grpcPolicies.setPolicy({ resource: org, policy: { bindings: [{ role: "roles/owner", members: ["allUsers"] }] } });
  expect((await web.getPolicy({ resource: org })).etag).toEqual(set.etag);
});

test("grpc-js with TLS credentials: create and get", async () => {
  const clients = await grpcJsClients(`localhost:${server.port}`, grpc.credentials.createSsl(ca));
  try {
    const org = `organizations/${uniqueId("org")}`;
    await grpcJsResponse(clients.resources, "CreateResource", { resource: { name: org } });
    expect(await grpcJsResponse(clients.resources, "GetResource", { name: org })).toMatchObject({ name: org, type: "organization" });
  } finally {
    clients.close();
  }
});
