// Limits on both ports: a request over 4 MiB is RESOURCE_EXHAUSTED and changes nothing; deadlines end calls with
// DEADLINE_EXCEEDED (the client's own, and the server's: a stream that outlives its deadline, and on the gRPC port a
// request message that does not arrive in time); each HTTP/2 connection may open a bounded number of streams. The
// server stays healthy throughout. There is no slow RPC, so deadlines are tested with Health.Watch, which never ends
// by itself, and with a request whose message is withheld: the outcome is deterministic, and no durations are asserted.
import { Code } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { HealthCheckResponse_ServingStatus as Status } from "../../gen/health/v1/health_pb.js";
import { READ_MAX_BYTES } from "../../src/server.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { grpcJsCall, grpcJsClients, grpcJsError, type GrpcJsClients } from "../helpers/grpc-js.js";
import { apiClients, CALL_TIMEOUT_MS, expectCode, uniqueId, type Protocol } from "./support.js";

let server: TestServer;
let grpcJsMain: GrpcJsClients;
let grpcJsPort: GrpcJsClients;
beforeAll(async () => {
  server = await startTestServer();
  grpcJsMain = await grpcJsClients(new URL(server.url).host);
  grpcJsPort = await grpcJsClients(server.grpcAddress);
});
afterAll(async () => {
  grpcJsMain?.close();
  grpcJsPort?.close();
  await server?.stop();
});

const grpcUrl = () => `http://${server.grpcAddress}`;

/** The connect-es clients to try: every protocol of the main port, and gRPC on the gRPC port. */
const CONNECT_CASES: [string, () => string, Protocol][] = [
  ["main port, Connect over HTTP/2", () => server.url, "connect-h2"],
  ["main port, Connect over HTTP/1.1", () => server.url, "connect-h1"],
  ["main port, gRPC", () => server.url, "grpc"],
  ["main port, gRPC-Web", () => server.url, "grpc-web"],
  ["gRPC port, gRPC", grpcUrl, "grpc"],
];

async function organizationWithPolicy(): Promise<{ org: string; etag: Uint8Array }> {
  const clients = apiClients(server.url);
  const org = `organizations/${uniqueId("lim")}`;
  await clients.resources.createResource({ resource: { name: org } });
  const policy = await clients.policies.setPolicy({
    resource: org,
    policy: { bindings: [{ role: "roles/owner", members: ["user:ada@example.com"] }] },
  });
  return { org, etag: policy.etag };
}

/** A SetPolicy request over READ_MAX_BYTES: a conditional binding with a huge description, or a huge member list. */
function oversized(org: string, shape: "description" | "members") {
  if (shape === "description") {
    return {
      resource: org,
      policy: {
        version: 3,
        bindings: [
          {
            role: "roles/owner",
            members: ["user:bob@example.com"],
            condition: { expression: "true", title: "big", description: "x".repeat(READ_MAX_BYTES + 1024) },
          },
        ],
      },
    };
  }
  const member = (i: number) => `user:member-${String(i).padStart(8, "0")}-${"m".repeat(40)}@example.com`;
  const count = Math.ceil(READ_MAX_BYTES / member(0).length) + 100;
  return { resource: org, policy: { bindings: [{ role: "roles/owner", members: Array.from({ length: count }, (_, i) => member(i)) }] } };
}

async function expectUnchanged(org: string, etag: Uint8Array): Promise<void> {
  const policy = await apiClients(server.url).policies.getPolicy({ resource: org });
  expect(Buffer.from(policy.etag).equals(Buffer.from(etag))).toBe(true);
  expect(policy.bindings.map((b) => [b.role, b.members])).toEqual([["roles/owner", ["user:ada@example.com"]]]);
}

async function expectHealthy(): Promise<void> {
  for (const url of [server.url, grpcUrl()]) {
    const clients = apiClients(url);
    expect(Status[(await clients.health.check({})).status]).toBe("SERVING");
    const org = `organizations/${uniqueId("ok")}`;
    await clients.resources.createResource({ resource: { name: org } });
    expect((await clients.policies.getPolicy({ resource: org })).etag.length).toBeGreaterThan(0);
  }
}

describe("a request over 4 MiB", () => {
  describe.each(["description", "members"] as const)("(a huge %s)", (shape) => {
    test.each(CONNECT_CASES)("is RESOURCE_EXHAUSTED on the %s, and nothing changes", async (_, url, kind) => {
      const { org, etag } = await organizationWithPolicy();
      const clients = apiClients(url(), kind);
      await expectCode(clients.policies.setPolicy(oversized(org, shape)), Code.ResourceExhausted);
      await expectUnchanged(org, etag);
      // The same client (and connection) still works.
      expect((await clients.policies.getPolicy({ resource: org })).etag).toEqual(etag);
    });

    test.each(["main", "grpc"] as const)("is RESOURCE_EXHAUSTED for a grpc-js client on the %s port", async (port) => {
      const { org, etag } = await organizationWithPolicy();
      const clients = port === "main" ? grpcJsMain : grpcJsPort;
      const error = await grpcJsError(grpcJsCall(clients.policies, "SetPolicy", oversized(org, shape)));
      expect(grpc.status[error.code]).toBe("RESOURCE_EXHAUSTED");
      await expectUnchanged(org, etag);
      const { response } = await grpcJsCall(clients.policies, "GetPolicy", { resource: org });
      expect(Buffer.from(response.etag).equals(Buffer.from(etag))).toBe(true);
    });
  });

  test("the server is healthy afterwards", expectHealthy);
});

describe("deadlines", () => {
  // Health.Watch never ends by itself, so only the deadline can end it: the answer is DEADLINE_EXCEEDED, deterministically.
  test.each(CONNECT_CASES)("a Watch stream ends at its deadline with DEADLINE_EXCEEDED (%s)", async (_, url, kind) => {
    const statuses: string[] = [];
    const watch = (async () => {
      for await (const res of apiClients(url(), kind).health.watch({ service: "" }, { timeoutMs: 300 })) {
        statuses.push(Status[res.status]);
      }
    })();
    await expectCode(watch, Code.DeadlineExceeded);
    expect(statuses).toEqual(["SERVING"]);
  });

  test.each(["main", "grpc"] as const)("a grpc-js call with a deadline in the past is DEADLINE_EXCEEDED (%s port)", async (port) => {
    const { org } = await organizationWithPolicy();
    const clients = port === "main" ? grpcJsMain : grpcJsPort;
    const error = await grpcJsError(grpcJsCall(clients.policies, "GetPolicy", { resource: org }, { deadline: Date.now() - 1000 }));
    expect(grpc.status[error.code]).toBe("DEADLINE_EXCEEDED");
  });

  // The server's own deadline, seen by a bare HTTP/2 client that enforces none: the server must end the call.
  test.each(["main", "grpc"] as const)("the server ends a gRPC Watch at its grpc-timeout with DEADLINE_EXCEEDED (%s port)", async (port) => {
    const res = await rawCall(
      port === "main" ? server.url : grpcUrl(),
      "/grpc.health.v1.Health/Watch",
      { "content-type": "application/grpc", te: "trailers", "grpc-timeout": "300m" },
      Buffer.from([0, 0, 0, 0, 0]), // one empty HealthCheckRequest: the server's status
    );
    expect(res.headers["grpc-status"]).toBe(String(grpc.status.DEADLINE_EXCEEDED));
  });

  test("the server ends a Connect-protocol Watch at its connect-timeout-ms with deadline_exceeded", async () => {
    const json = Buffer.from("{}");
    const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, json.length]), json]);
    const res = await rawCall(
      server.url,
      "/grpc.health.v1.Health/Watch",
      { "content-type": "application/connect+json", "connect-protocol-version": "1", "connect-timeout-ms": "300" },
      envelope,
    );
    // The last envelope (flag 0x02) is the end-of-stream message, carrying the error.
    let offset = 0;
    let end: unknown;
    while (offset + 5 <= res.body.length) {
      const length = res.body.readUInt32BE(offset + 1);
      if (res.body[offset] === 2) end = JSON.parse(res.body.subarray(offset + 5, offset + 5 + length).toString());
      offset += 5 + length;
    }
    expect(end).toMatchObject({ error: { code: "deadline_exceeded" } });
  });

  test("the gRPC port ends a unary call whose request message has not arrived by its grpc-timeout with DEADLINE_EXCEEDED", async () => {
    const res = await rawCall(grpcUrl(), "/policy.v1.PolicyService/GetPolicy", {
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": "300m",
    });
    expect(res.headers["grpc-status"]).toBe(String(grpc.status.DEADLINE_EXCEEDED));
  });

  test("the server is healthy afterwards", expectHealthy);
});

/**
 * A call by a bare HTTP/2 client that has no deadline of its own. `body` undefined: the request stream stays open with
 * no message. Resolves with the response headers and trailers (merged) and the body once the server has answered
 * with a gRPC status or ended its response.
 */
async function rawCall(
  authority: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<{ headers: Record<string, string>; body: Buffer }> {
  const session = http2.connect(authority);
  session.on("error", () => undefined);
  try {
    return await new Promise((resolve, reject) => {
      const limit = setTimeout(() => reject(new Error("the server did not end the call")), CALL_TIMEOUT_MS);
      const stream = session.request({ ":method": "POST", ":path": path, ...headers }, { endStream: false });
      if (body) stream.end(body);
      const merged: Record<string, string> = {};
      const chunks: Buffer[] = [];
      const done = () => {
        clearTimeout(limit);
        resolve({ headers: merged, body: Buffer.concat(chunks) });
      };
      const add = (h: http2.IncomingHttpHeaders) => {
        for (const [k, v] of Object.entries(h)) merged[k] = String(v);
        if ("grpc-status" in h) done();
      };
      stream.on("response", add);
      stream.on("trailers", add);
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", done);
      stream.on("error", () => undefined);
      stream.on("close", () => (Object.keys(merged).length > 0 ? done() : reject(new Error(`stream reset (${stream.rstCode})`))));
    });
  } finally {
    session.destroy();
  }
}

describe("per-connection stream limits", () => {
  test.each(["main", "grpc"] as const)("the %s port advertises a bounded SETTINGS_MAX_CONCURRENT_STREAMS", async (port) => {
    const session = http2.connect(port === "main" ? server.url : grpcUrl());
    session.on("error", () => undefined);
    try {
      const settings = await new Promise<http2.Settings>((resolve, reject) => {
        const limit = setTimeout(() => reject(new Error("no SETTINGS from the server")), CALL_TIMEOUT_MS);
        session.once("remoteSettings", (s) => {
          clearTimeout(limit);
          resolve(s);
        });
      });
      expect(settings.maxConcurrentStreams).toBeGreaterThan(0);
      expect(settings.maxConcurrentStreams).toBeLessThanOrEqual(1000);
    } finally {
      session.destroy();
    }
  });
});
