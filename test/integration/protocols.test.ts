// The main port speaks every protocol a caller may use: gRPC over HTTP/2, Connect JSON over HTTP/1.1, gRPC-Web, and
// plain JSON POSTs as `curl` sends them. The same stored policy is seen identically through each of them.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import http from "node:http";
import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { PolicySchema } from "../../gen/policy/v1/policy_pb.js";
import { createPolicyClient, type PolicyClient } from "../../src/client/index.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { binding, expectCode, uniqueId } from "./support.js";

let server: TestServer;
beforeAll(async () => (server = await startTestServer()));
afterAll(() => server?.stop());

const transports: Record<string, (url: string) => Transport> = {
  "gRPC over HTTP/2": (url) => createGrpcTransport({ baseUrl: url }),
  "Connect JSON over HTTP/1.1": (url) => createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
  "Connect binary over HTTP/2": (url) =>
    createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: true }),
  "gRPC-Web over HTTP/1.1": (url) => createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }),
  "gRPC-Web over HTTP/2": (url) => createGrpcWebTransport({ baseUrl: url, httpVersion: "2" }),
};

/** A binding whose member is longer than the server's 4 MiB message limit. */
const HUGE_BINDING = binding("roles/owner", `user:${"a".repeat(5 * 1024 * 1024)}@example.com`);

/** Clients over `protocol`. Transports over HTTP/1.1 share Node's keep-alive agent, so connections are reused. */
function clientsOver(protocol: string): PolicyClient {
  return createPolicyClient({ baseUrl: server.url, transport: transports[protocol]!(server.url) });
}

describe.each(Object.keys(transports))("%s", (protocol) => {
  test("creates a resource, sets its policy and reads it back", async () => {
    const clients = clientsOver(protocol);
    const org = `organizations/${uniqueId("org")}`;
    const created = await clients.resources.createResource({ resource: { name: org, displayName: "Acme" } });
    expect(created).toMatchObject({ name: org, type: "organization", displayName: "Acme" });

    const set = await clients.policies.setPolicy({
      resource: org,
      policy: { bindings: [binding("roles/owner", "user:ada@example.com")] },
    });
    const got = await clients.policies.getPolicy({ resource: org });
    expect(got.bindings).toEqual([expect.objectContaining(binding("roles/owner", "user:ada@example.com"))]);
    expect(got.etag).toEqual(set.etag);
    expect(got.version).toBe(1);
  });

  test("refuses a request over the 4 MiB limit with RESOURCE_EXHAUSTED; the next call on the connection works", async () => {
    const clients = clientsOver(protocol);
    const org = `organizations/${uniqueId("org")}`;
    await clients.resources.createResource({ resource: { name: org } });
    await expectCode(clients.policies.setPolicy({ resource: org, policy: { bindings: [HUGE_BINDING] } }), Code.ResourceExhausted);
    const policy = await clients.policies.getPolicy({ resource: org });
    expect(policy.bindings).toEqual([]);
  });

  test("reports a stale etag as ABORTED", async () => {
    const clients = clientsOver(protocol);
    const org = `organizations/${uniqueId("org")}`;
    await clients.resources.createResource({ resource: { name: org } });
    const { etag } = await clients.policies.getPolicy({ resource: org });
    await clients.policies.setPolicy({ resource: org, policy: { bindings: [binding("roles/owner", "user:a@example.com")] } });
    await expectCode(
      clients.policies.setPolicy({ resource: org, policy: { etag, bindings: [binding("roles/owner", "user:b@example.com")] } }),
      Code.Aborted,
    );
  });
});

test("an HTTP/2 request refused before its body was sent in full is closed by the server, not left open", async () => {
  // A raw gRPC call whose envelope announces 5 MiB; the client sends only the start of it and waits, as clients do
  // once they have the response. Left open, such a stream would hold the connection and a graceful shutdown.
  const session = http2.connect(server.url);
  try {
    const stream = session.request({
      ":method": "POST",
      ":path": "/policy.v1.PolicyService/SetPolicy",
      "content-type": "application/grpc+proto",
      te: "trailers",
    });
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("trailers", resolve));
    const closed = new Promise<number>((resolve) => stream.once("close", () => resolve(stream.rstCode ?? -1)));
    stream.resume();
    const envelope = Buffer.alloc(5 + 16 * 1024);
    envelope.writeUInt32BE(5 * 1024 * 1024, 1);
    stream.write(envelope);

    expect((await trailers)["grpc-status"]).toBe(String(Code.ResourceExhausted));
    expect(await closed).toBe(http2.constants.NGHTTP2_NO_ERROR);
  } finally {
    session.destroy();
  }
});

test("a policy written over one protocol reads back byte for byte over every other", async () => {
  const org = `organizations/${uniqueId("org")}`;
  const writer = clientsOver("gRPC-Web over HTTP/1.1");
  await writer.resources.createResource({ resource: { name: org } });
  await writer.policies.setPolicy({
    resource: org,
    policy: {
      bindings: [binding("roles/owner", "user:ada@example.com"), binding("roles/collaborator", "group:ug_123")],
    },
  });
  const reads = await Promise.all(
    Object.keys(transports).map((protocol) => clientsOver(protocol).policies.getPolicy({ resource: org })),
  );
  const bytes = reads.map((policy) => Buffer.from(toBinary(PolicySchema, policy)).toString("base64"));
  expect(new Set(bytes).size).toBe(1);
});

describe("plain JSON POST over HTTP/1.1 (curl)", () => {
  async function post(method: string, body: unknown): Promise<{ status: number; json: any }> {
    const response = await fetch(`${server.url}/policy.v1.${method}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: response.status, json: await response.json() };
  }

  test("creates a resource, sets a policy and reads it back as JSON", async () => {
    const org = `organizations/${uniqueId("org")}`;
    const created = await post("ResourceService/CreateResource", { resource: { name: org } });
    expect(created).toMatchObject({ status: 200, json: { name: org, type: "organization" } });

    const set = await post("PolicyService/SetPolicy", {
      resource: org,
      policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] },
    });
    expect(set.status).toBe(200);
    expect(set.json.etag).toMatch(/^[A-Za-z0-9+/=_-]+$/);

    const got = await post("PolicyService/GetPolicy", { resource: org });
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({
      version: 1,
      etag: set.json.etag,
      bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }],
    });
  });

  test("a stale etag is HTTP 409 with code aborted", async () => {
    const org = `organizations/${uniqueId("org")}`;
    await post("ResourceService/CreateResource", { resource: { name: org } });
    const { json: before } = await post("PolicyService/GetPolicy", { resource: org });
    await post("PolicyService/SetPolicy", { resource: org, policy: { bindings: [{ role: "roles/owner", members: ["allUsers"] }] } });
    const stale = await post("PolicyService/SetPolicy", {
      resource: org,
      policy: { etag: before.etag, bindings: [{ role: "roles/owner", members: ["user:b@example.com"] }] },
    });
    expect(stale.status).toBe(409);
    expect(stale.json.code).toBe("aborted");
  });

  test("an unknown resource is HTTP 404 with code not_found", async () => {
    const missing = await post("PolicyService/GetPolicy", { resource: `organizations/${uniqueId("missing")}` });
    expect(missing.status).toBe(404);
    expect(missing.json.code).toBe("not_found");
  });

  test("an invalid member is HTTP 400 with a google.rpc.BadRequest detail naming the field", async () => {
    const org = `organizations/${uniqueId("org")}`;
    await post("ResourceService/CreateResource", { resource: { name: org } });
    const bad = await post("PolicyService/SetPolicy", {
      resource: org,
      policy: { bindings: [{ role: "roles/owner", members: ["ada@example.com"] }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.code).toBe("invalid_argument");
    const detail = bad.json.details.find((d: { type: string }) => d.type === "google.rpc.BadRequest");
    const badRequest = fromBinary(BadRequestSchema, Buffer.from(detail.value, "base64"));
    expect(badRequest.fieldViolations.map((v) => v.field)).toEqual(["policy.bindings[0].members[0]"]);
  });
});

test("many calls over one HTTP/1.1 keep-alive connection leak no socket listeners", async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on("warning", onWarning);
  try {
    const org = `organizations/${uniqueId("org")}`;
    await server.connect.resources.createResource({ resource: { name: org } });
    const localPorts = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const { status, localPort } = await postWith(agent, "PolicyService/GetPolicy", { resource: org });
      expect(status).toBe(200);
      localPorts.add(localPort);
    }
    expect(localPorts.size).toBe(1);
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
  } finally {
    process.off("warning", onWarning);
    agent.destroy();
  }
});

/** A Connect JSON POST through `agent`; resolves with the status and the client's local port. */
function postWith(agent: http.Agent, method: string, body: unknown): Promise<{ status: number; localPort: number }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${server.url}/policy.v1.${method}`,
      { method: "POST", agent, headers: { "Content-Type": "application/json" }, timeout: 10_000 },
      (response) => {
        response.resume();
        response.once("end", () => resolve({ status: response.statusCode!, localPort: request.socket!.localPort! }));
      },
    );
    request.once("error", reject);
    request.once("timeout", () => request.destroy(new Error("request timed out")));
    request.end(JSON.stringify(body));
  });
}
